/*-------------------------------------------------------------------------
 *
 * fuzz_inflate.c
 *	  libFuzzer harness of the streaming gzip decoder (src/decode/inflate.c):
 *	  its ISA-L path and its zlib path against each other and against
 *	  zlib's own reading of the same bytes.
 *
 * An input is 8 option bytes and then data.  The first option bit says
 * what the data is:
 *
 *	- compressed bytes as they come (mutations of the seeds, which are gzip
 *	  members: corrupt headers, blocks, trailers, several members, garbage);
 *	- or text to compress here with zlib into one to four members, each
 *	  with its own level, strategy, window and header fields (FNAME,
 *	  FCOMMENT, FEXTRA, FHCRC), repeated to cross buffer sizes, and then
 *	  truncated, followed by garbage, by a lone 1f, by an empty member or by
 *	  zeros, or with one bit flipped.
 *
 * Each implementation decodes the bytes fed whole into a large output
 * buffer, and fed in pieces (a cut, or chunks) into a small one (1 byte to
 * 256 KiB), as stream.c calls it.  Checked: the calling contract of
 * inflate.h (OK asks for input or says the output is full; END comes alone,
 * with no output, after everything was consumed; no call that makes no
 * progress); both implementations, every feeding and zlib's own multi-
 * member decoding (the reference, written here on zlib's inflate()) agree
 * on success or failure, and on the bytes when they succeed (but ISA-L may
 * accept a stream zlib refuses: see check_agree_isal); what is decoded
 * before a failure is a prefix of what the others decode; and for
 * generated input, success means exactly the text that was compressed.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_inflate.c
 *
 *-------------------------------------------------------------------------
 */
#include <zlib.h>

#include "fuzz.h"
#include "inflate.h"

typedef enum
{
	R_END, R_ERROR
} Outcome;

typedef struct Result
{
	Outcome		outcome;
	Str			out;
} Result;

static const size_t out_caps[] = {1, 2, 7, 64, 1000, 4096, 32768, 262144};

/*
 * Decode comp[0..n) with one implementation, fed in pieces ending at
 * bounds[] (the last is n), into an output buffer of out_cap bytes.
 */
static Result
decode(InflateImpl impl, const uint8_t *comp, size_t n, const size_t *bounds, int nbounds,
	   size_t out_cap)
{
	Inflater   *z = inflater_create(impl);
	Result		res = {R_ERROR, {0}};
	uint8_t    *out = malloc(out_cap);
	size_t		pos = 0;		/* input consumed */
	size_t		avail_to = 0;	/* input given so far */
	int			b = 0;
	int			idle = 0;

	CHECK(z != NULL && out != NULL);
	for (;;)
	{
		const uint8_t *in;
		size_t		in_len;
		size_t		out_len = 12345;
		bool		eof;
		InflateResult r;

		/* more input only once everything given was consumed (stream.c) */
		if (pos == avail_to && avail_to < n)
		{
			avail_to = bounds[b] > avail_to ? bounds[b] : avail_to;
			if (b < nbounds - 1)
				b++;
		}
		eof = (avail_to == n);
		in = comp + pos;
		in_len = avail_to - pos;
		r = inflater_run(z, &in, &in_len, eof, out, out_cap, &out_len);
		CHECK(in == comp + avail_to - in_len);
		CHECK(in_len <= avail_to - pos);
		CHECK(out_len <= out_cap);
		str_add(&res.out, out, out_len);
		if (r == INFLATE_END)
		{
			CHECK(out_len == 0 && in_len == 0 && eof);
			CHECK(inflater_total_in(z) == n);
			res.outcome = R_END;
			break;
		}
		if (r == INFLATE_ERROR)
		{
			CHECK(inflater_error(z)[0] != '\0');
			CHECK(inflater_run(z, &in, &in_len, eof, out, out_cap, &out_len) == INFLATE_ERROR);
			res.outcome = R_ERROR;
			break;
		}
		/* OK: it wants input, or the output is full */
		CHECK(out_len == out_cap || in_len == 0);
		CHECK(!eof || in_len > 0 || out_len > 0);
		/* a call that neither consumed nor produced must not come twice */
		if (in_len == avail_to - pos && out_len == 0)
			CHECK(++idle < 2);
		else
			idle = 0;
		pos = avail_to - in_len;
	}
	inflater_free(z);
	free(out);
	return res;
}

/*
 * zlib's own reading: members back to back, each inflated by zlib with its
 * gzip wrapper, until the input ends after a member (nothing at all is no
 * member, and no error: an empty object).
 */
static Result
reference(const uint8_t *comp, size_t n)
{
	Result		res = {R_ERROR, {0}};
	z_stream	zs;
	uint8_t		out[16384];
	size_t		pos = 0;

	memset(&zs, 0, sizeof(zs));
	CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
	for (;;)
	{
		int			rc;

		if (pos == n)
		{
			res.outcome = R_END;
			break;
		}
		if (comp[pos] != 0x1f || pos + 1 == n || comp[pos + 1] != 0x8b)
			break;
		inflateReset(&zs);
		zs.next_in = (Bytef *) comp + pos;
		zs.avail_in = (uInt) (n - pos);
		do
		{
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			rc = inflate(&zs, Z_NO_FLUSH);
			str_add(&res.out, out, sizeof(out) - zs.avail_out);
		} while (rc == Z_OK);
		if (rc != Z_STREAM_END)
			break;
		pos = n - zs.avail_in;
	}
	inflateEnd(&zs);
	return res;
}

static bool
is_prefix(const Str *a, const Str *b)
{
	return a->len <= b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

static void
check_agree(const char *what, const Result *got, const Result *want)
{
	if (got->outcome != want->outcome)
	{
		fprintf(stderr, "%s: %s, the reference %s\n", what,
				got->outcome == R_END ? "decoded" : "failed",
				want->outcome == R_END ? "decoded" : "failed");
		CHECK(got->outcome == want->outcome);
	}
	if (got->outcome == R_END)
		CHECK(got->out.len == want->out.len &&
			  (got->out.len == 0 || memcmp(got->out.s, want->out.s, got->out.len) == 0));
	else
		CHECK(is_prefix(&got->out, &want->out) || is_prefix(&want->out, &got->out));
}

/*
 * ISA-L against zlib's reading.  ISA-L accepts some deflate streams zlib
 * refuses: a dynamic block whose literal/length or distance code set is
 * incomplete (zlib: "invalid distances set") decodes in ISA-L when the
 * missing codes are never used.  What it decodes still passes the
 * member's CRC-32 and length check, so such a stream is accepted here when
 * what zlib decoded before refusing is a prefix of ISA-L's output, and, for
 * generated input, ISA-L's output is exactly the text compressed.
 */
static void
check_agree_isal(const char *what, const Result *got, const Result *want, bool lenient,
				 const Str *text)
{
	if (lenient && got->outcome == R_END && want->outcome == R_ERROR)
	{
		CHECK(is_prefix(&want->out, &got->out));
		if (text)
			CHECK(got->out.len == text->len &&
				  (text->len == 0 || memcmp(got->out.s, text->s, text->len) == 0));
		return;
	}
	check_agree(what, got, want);
}

/* One gzip member of data[0..n), compressed here with zlib. */
static void
gzip_member(Str *out, const uint8_t *data, size_t n, uint8_t how, uint8_t hdrflags)
{
	static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
	z_stream	zs;
	gz_header	hdr;
	uint8_t		tmp[16384];
	int			rc;
	int			wbits = 9 + (how >> 5) % 7;

	memset(&zs, 0, sizeof(zs));
	CHECK(deflateInit2(&zs, how % 10, Z_DEFLATED, 16 + wbits, 1 + (how >> 4) % 9,
					   strategies[(how / 10) % 5]) == Z_OK);
	if (hdrflags)
	{
		memset(&hdr, 0, sizeof(hdr));
		if (hdrflags & 1)
			hdr.name = (Bytef *) "objects/2026/11/25/part-0001.json";
		if (hdrflags & 2)
			hdr.comment = (Bytef *) "";
		if (hdrflags & 4)
		{
			hdr.extra = (Bytef *) "AP\x04\0abcd";
			hdr.extra_len = 8;
		}
		hdr.hcrc = (hdrflags & 8) != 0;
		hdr.time = 0x5f5e1000;
		hdr.os = 3;
		CHECK(deflateSetHeader(&zs, &hdr) == Z_OK);
	}
	zs.next_in = (Bytef *) data;
	zs.avail_in = (uInt) n;
	do
	{
		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		rc = deflate(&zs, Z_FINISH);
		str_add(out, tmp, sizeof(tmp) - zs.avail_out);
	} while (rc == Z_OK);
	CHECK(rc == Z_STREAM_END);
	deflateEnd(&zs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};
	uint8_t		mode = take_u8(&in);
	uint8_t		chunk = take_u8(&in);
	uint16_t	cut = take_u16(&in);
	uint8_t		members = take_u8(&in);
	uint8_t		how = take_u8(&in);
	uint8_t		tail = take_u8(&in);
	uint8_t		repeat = take_u8(&in);
	Str			comp = {0};
	Str			text = {0};
	bool		generated = mode & 1;
	bool		intact = true;
	size_t		out_cap = out_caps[(mode >> 1) & 7];
	size_t		whole;
	size_t	   *bounds;
	int			nbounds;
	Result		ref;
	Result		r_zlib;

	if (!generated)
		str_add(&comp, in.p, in.len);
	else
	{
		int			m = members % 4 + 1;

		for (int i = 0; i < repeat % 16 + 1; i++)
			str_add(&text, in.p, in.len);
		for (int i = 0; i < m; i++)
		{
			size_t		from = text.len * i / m;
			size_t		to = text.len * (i + 1) / m;

			gzip_member(&comp, (const uint8_t *) text.s + from, to - from,
						(uint8_t) (how + 37 * i), (uint8_t) ((members >> 2) >> i));
		}
		switch (tail % 8)
		{
			case 1:				/* truncated */
				if (comp.len > 0)
				{
					comp.len = cut % comp.len;
					intact = false;
				}
				break;
			case 2:				/* garbage */
				str_add(&comp, "\n\x1f", 2);
				intact = false;
				break;
			case 3:				/* a lone first magic byte */
				str_add(&comp, "\x1f", 1);
				intact = false;
				break;
			case 4:				/* an empty member */
				gzip_member(&comp, NULL, 0, how, 0);
				break;
			case 5:				/* zeros, as some writers pad */
				str_add(&comp, "\0\0\0\0", 4);
				intact = false;
				break;
			case 6:				/* one bit flipped */
				if (comp.len > 0)
					comp.s[cut % comp.len] ^= (char) (1 << (tail >> 5));
				intact = false;
				break;
		}
	}

	ref = reference((const uint8_t *) comp.s, comp.len);
	if (generated && intact)
		CHECK(ref.outcome == R_END && ref.out.len == text.len &&
			  (text.len == 0 || memcmp(ref.out.s, text.s, text.len) == 0));

	/* fed whole, into a large buffer */
	whole = comp.len;
	r_zlib = decode(INFLATE_IMPL_ZLIB, (const uint8_t *) comp.s, comp.len, &whole, 1, 262144);
	check_agree("zlib", &r_zlib, &ref);
	/* (cut between members, or to nothing, a truncated input decodes) */
	if (generated && r_zlib.outcome == R_END && tail % 8 == 1)
		CHECK(is_prefix(&r_zlib.out, &text));
	else if (generated && r_zlib.outcome == R_END)
		CHECK(r_zlib.out.len == text.len &&
			  (text.len == 0 || memcmp(r_zlib.out.s, text.s, text.len) == 0));

	/* fed in pieces, into the chosen buffer */
	if (chunk == 0 || comp.len / (chunk % 32 + 1) > 20000)
	{
		size_t		c = comp.len ? cut % (comp.len + 1) : 0;

		bounds = malloc(2 * sizeof(size_t));
		bounds[0] = c;
		bounds[1] = comp.len;
		nbounds = 2;
	}
	else
	{
		size_t		step = chunk % 32 + 1;

		nbounds = (int) (comp.len / step) + 1;
		bounds = malloc(nbounds * sizeof(size_t));
		for (int i = 0; i < nbounds; i++)
			bounds[i] = (size_t) (i + 1) * step < comp.len ? (size_t) (i + 1) * step : comp.len;
	}
	{
		Result		r = decode(INFLATE_IMPL_ZLIB, (const uint8_t *) comp.s, comp.len,
							   bounds, nbounds, out_cap);

		check_agree("zlib in pieces", &r, &ref);
		str_free(&r.out);
	}
	if (inflater_have_isal())
	{
		/*
		 * ISA-L's leniency, for what is not made wrong on purpose after the
		 * members (garbage, a lone magic byte, zeros); for a flipped bit,
		 * the text is what a stream that decodes must give
		 */
		bool		lenient = !generated || !(tail % 8 == 2 || tail % 8 == 3 || tail % 8 == 5);
		const Str  *want_text = generated && tail % 8 != 1 ? &text : NULL;
		Result		r = decode(INFLATE_IMPL_ISAL, (const uint8_t *) comp.s, comp.len,
							   &whole, 1, 262144);
		Result		r2 = decode(INFLATE_IMPL_ISAL, (const uint8_t *) comp.s, comp.len,
								bounds, nbounds, out_cap);

		check_agree_isal("ISA-L", &r, &ref, lenient, want_text);
		check_agree_isal("ISA-L in pieces", &r2, &ref, lenient, want_text);
		check_agree("ISA-L in pieces against ISA-L whole", &r2, &r);
		str_free(&r.out);
		str_free(&r2.out);
	}
	free(bounds);
	str_free(&r_zlib.out);
	str_free(&ref.out);
	str_free(&comp);
	str_free(&text);
	return 0;
}
