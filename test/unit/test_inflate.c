/*-------------------------------------------------------------------------
 *
 * test_inflate.c
 *	  Unit tests of the streaming gzip decoder (inflate.c): several members,
 *	  truncation, corruption, trailing garbage, tiny buffers, and zlib and
 *	  ISA-L giving the same bytes.
 *
 * Test data is compressed here with zlib's deflate, so nothing depends on
 * files or on the gzip program.
 *
 * IDENTIFICATION
 *	  test/unit/test_inflate.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "unit.h"
#include "inflate.h"

typedef struct Buf
{
	uint8_t    *p;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_add(Buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 16;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Append one gzip member holding data; with_name adds FNAME and FEXTRA. */
static void
gzip_member(Buf *out, const void *data, size_t n, int level, bool with_name)
{
	z_stream	zs;
	gz_header	hdr;
	uint8_t		tmp[65536];
	int			rc;

	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
	if (with_name)
	{
		memset(&hdr, 0, sizeof(hdr));
		hdr.name = (Bytef *) "file.json";
		hdr.extra = (Bytef *) "XYZW";
		hdr.extra_len = 4;
		hdr.comment = (Bytef *) "a comment";
		hdr.hcrc = 1;
		deflateSetHeader(&zs, &hdr);
	}
	zs.next_in = (Bytef *) data;
	zs.avail_in = (uInt) n;
	do
	{
		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		rc = deflate(&zs, Z_FINISH);
		buf_add(out, tmp, sizeof(tmp) - zs.avail_out);
	} while (rc == Z_OK);
	deflateEnd(&zs);
}

/* Some text that compresses like JSON does, and some that does not. */
static void
make_text(Buf *b, size_t n, unsigned seed)
{
	char		line[128];

	while (b->len < n)
	{
		int			k;

		seed = seed * 1103515245 + 12345;
		k = snprintf(line, sizeof(line), "{\"id\":%u,\"v\":\"%08x\",\"ok\":true}\n",
					 seed % 100000, seed);
		buf_add(b, line, (size_t) k);
	}
	b->len = n;
}

static void
make_noise(Buf *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
	{
		uint8_t		c;

		seed = seed * 1103515245 + 12345;
		c = (uint8_t) (seed >> 16);
		buf_add(b, &c, 1);
	}
}

/*
 * Decompress in[0..n) giving the decoder in_chunk input bytes at a time
 * and out_cap bytes of output room per call.  Returns INFLATE_END or
 * INFLATE_ERROR (message copied to err); the output goes to out.
 */
static InflateResult
decompress(InflateImpl impl, const uint8_t *in, size_t n, size_t in_chunk,
		   size_t out_cap, Buf *out, char *err, size_t errlen)
{
	Inflater   *z = inflater_create(impl);
	uint8_t    *obuf = malloc(out_cap);
	size_t		given = 0;
	const uint8_t *p = in;
	size_t		avail = 0;
	InflateResult rc = INFLATE_ERROR;
	long		guard = 0;

	out->len = 0;
	if (err)
		err[0] = '\0';
	for (;;)
	{
		size_t		produced;

		if (avail == 0 && given < n)
		{
			size_t		add = n - given < in_chunk ? n - given : in_chunk;

			p = in + given;
			avail = add;
			given += add;
		}
		rc = inflater_run(z, &p, &avail, given == n, obuf, out_cap, &produced);
		buf_add(out, obuf, produced);
		if (rc != INFLATE_OK)
			break;
		if (++guard > 100000000L)
		{
			rc = INFLATE_ERROR;
			snprintf(err, errlen, "LOOP");
			goto done;
		}
	}
	if (rc == INFLATE_ERROR && err)
		snprintf(err, errlen, "%s", inflater_error(z));
done:
	inflater_free(z);
	free(obuf);
	return rc;
}

static bool
same(const Buf *a, const Buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void
test_impl(InflateImpl impl, const char *name)
{
	Buf			t1 = {0},
				t2 = {0},
				t3 = {0},
				all = {0},
				gz = {0},
				out = {0};
	char		err[300];
	InflateResult rc;
	size_t		first_len;

	make_text(&t1, 300000, 1);
	make_noise(&t2, 70000, 2);
	make_text(&t3, 17, 3);
	buf_add(&all, t1.p, t1.len);
	buf_add(&all, t2.p, t2.len);
	buf_add(&all, t3.p, t3.len);
	gzip_member(&gz, t1.p, t1.len, 6, false);
	first_len = gz.len;
	gzip_member(&gz, t2.p, t2.len, 1, true);
	gzip_member(&gz, "", 0, 6, false);	/* an empty member */
	gzip_member(&gz, t3.p, t3.len, 9, false);

	rc = decompress(impl, gz.p, gz.len, gz.len, 256 * 1024, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_END && same(&out, &all),
			   "%s: four members (one empty, one with name/extra/comment/hcrc) [%s]", name, err);

	rc = decompress(impl, gz.p, gz.len, 1, 7, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_END && same(&out, &all), "%s: 1-byte input, 7-byte output", name);
	rc = decompress(impl, gz.p, gz.len, 4093, 1, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_END && same(&out, &all), "%s: 1-byte output buffer", name);
	rc = decompress(impl, gz.p, gz.len, 65536, 1 << 20, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_END && same(&out, &all), "%s: 64 KiB input, 1 MiB output", name);

	/* truncated: every cut of a small two-member stream fails, except 0 and the boundary */
	{
		Buf			small = {0};
		size_t		boundary;
		int			wrong = 0;

		gzip_member(&small, t3.p, t3.len, 6, true);
		boundary = small.len;
		gzip_member(&small, "hello world", 11, 6, false);
		for (size_t cut = 0; cut < small.len; cut++)
		{
			rc = decompress(impl, small.p, cut, 3, 5, &out, err, sizeof(err));
			if (cut == 0 || cut == boundary)
			{
				if (rc != INFLATE_END)
					wrong++;
			}
			else if (rc != INFLATE_ERROR || strstr(err, "unexpected end of compressed data") == NULL)
			{
				if (!wrong)
					printf("# cut %zu: rc %d, %s\n", cut, rc, err);
				wrong++;
			}
		}
		UNIT_CHECK(wrong == 0, "%s: every truncation is \"unexpected end\", clean cuts are END", name);
		free(small.p);
	}

	/* the big stream cut in the middle of member 2 */
	rc = decompress(impl, gz.p, first_len + 500, 1000, 4096, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_ERROR && strstr(err, "unexpected end of compressed data") != NULL &&
			   out.len >= t1.len && memcmp(out.p, t1.p, t1.len) == 0,
			   "%s: truncated second member: first member's data, then error [%s]", name, err);

	/*
	 * Corruption: flip bytes in the deflate data and in the trailer.  A flip
	 * may leave the output unchanged (a match distance changed to another
	 * copy of the same bytes); what must never happen is different output
	 * without an error.
	 */
	{
		Buf			small = {0};
		Buf			orig = {0};
		int			missed = 0;

		buf_add(&orig, t1.p, 5000);
		gzip_member(&small, t1.p, 5000, 6, false);
		for (size_t i = 10; i < small.len; i++)
		{
			Buf			bad = {0};

			buf_add(&bad, small.p, small.len);
			bad.p[i] ^= 0x55;
			rc = decompress(impl, bad.p, bad.len, bad.len, 4096, &out, err, sizeof(err));
			if (rc != INFLATE_ERROR && !(rc == INFLATE_END && same(&out, &orig)))
			{
				if (!missed)
					printf("# flip at %zu of %zu not detected\n", i, small.len);
				missed++;
			}
			free(bad.p);
		}
		UNIT_CHECK(missed == 0, "%s: no corrupted body or trailer byte gives wrong output", name);

		small.p[small.len - 6] ^= 1;	/* inside the CRC-32 */
		rc = decompress(impl, small.p, small.len, small.len, 1 << 16, &out, err, sizeof(err));
		UNIT_CHECK(rc == INFLATE_ERROR && strstr(err, "corrupt gzip data") != NULL,
				   "%s: bad CRC is corrupt data [%s]", name, err);
		small.p[small.len - 6] ^= 1;
		small.p[small.len - 2] ^= 1;	/* inside ISIZE */
		rc = decompress(impl, small.p, small.len, 7, 1 << 16, &out, err, sizeof(err));
		UNIT_CHECK(rc == INFLATE_ERROR, "%s: bad length in trailer is an error [%s]", name, err);
		free(small.p);
		free(orig.p);
	}

	/* garbage after a member */
	{
		static const char *garbage[] = {"\n", "abc", "\x1f\x00", "\x00\x00\x00\x00", "\x1f"};
		static const size_t glen[] = {1, 3, 2, 4, 1};

		for (int g = 0; g < 5; g++)
		{
			Buf			bad = {0};

			gzip_member(&bad, t3.p, t3.len, 6, false);
			buf_add(&bad, garbage[g], glen[g]);
			rc = decompress(impl, bad.p, bad.len, bad.len, 4096, &out, err, sizeof(err));
			UNIT_CHECK(rc == INFLATE_ERROR && same(&out, &t3) &&
					   (strstr(err, "trailing garbage") || strstr(err, "unexpected end") ||
						strstr(err, "gzip header")),
					   "%s: garbage %d after a member is an error [%s]", name, g, err);
			rc = decompress(impl, bad.p, bad.len, 1, 3, &out, err, sizeof(err));
			UNIT_CHECK(rc == INFLATE_ERROR, "%s: garbage %d, fed a byte at a time [%s]", name, g, err);
			free(bad.p);
		}
	}

	/* empty input, not gzip, error sticks */
	rc = decompress(impl, (const uint8_t *) "", 0, 1, 16, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_END && out.len == 0, "%s: empty input is END", name);
	rc = decompress(impl, (const uint8_t *) "{\"a\":1}", 7, 7, 16, &out, err, sizeof(err));
	UNIT_CHECK(rc == INFLATE_ERROR && strstr(err, "not in gzip format") != NULL,
			   "%s: plain JSON is not gzip [%s]", name, err);
	{
		Inflater   *z = inflater_create(impl);
		const uint8_t *p = (const uint8_t *) "xx";
		size_t		n = 2;
		uint8_t		o[8];
		size_t		ol;
		InflateResult r1 = inflater_run(z, &p, &n, true, o, sizeof(o), &ol);
		InflateResult r2 = inflater_run(z, &p, &n, true, o, sizeof(o), &ol);

		UNIT_CHECK(r1 == INFLATE_ERROR && r2 == INFLATE_ERROR, "%s: an error sticks", name);
		UNIT_CHECK_STR(inflater_impl(z), impl == INFLATE_IMPL_ISAL ? "isa-l" : "zlib",
					   "%s: impl name", name);
		inflater_reset(z);
		p = gz.p;
		n = 0;
		r1 = inflater_run(z, &p, &n, true, o, sizeof(o), &ol);
		UNIT_CHECK(r1 == INFLATE_END, "%s: reset clears the error", name);
		inflater_free(z);
	}
	/* END comes with no output, after everything was handed out */
	{
		Inflater   *z = inflater_create(impl);
		const uint8_t *p = gz.p;
		size_t		n = gz.len;
		static uint8_t o[1 << 20];
		size_t		ol = 0;
		size_t		total = 0;
		InflateResult r;
		bool		end_empty = true;

		while ((r = inflater_run(z, &p, &n, true, o, sizeof(o), &ol)) == INFLATE_OK)
			total += ol;
		end_empty = (r == INFLATE_END && ol == 0);
		UNIT_CHECK(end_empty && total == all.len && inflater_total_in(z) == gz.len,
				   "%s: END has no output; total_in counts every byte", name);
		inflater_free(z);
	}

	free(t1.p);
	free(t2.p);
	free(t3.p);
	free(all.p);
	free(gz.p);
	free(out.p);
}

static void
test_same_output(void)
{
	Buf			text = {0},
				gz = {0},
				a = {0},
				b = {0};
	char		err[300];
	InflateResult ra,
				rb;

	if (!inflater_have_isal())
	{
		UNIT_CHECK(inflater_create(INFLATE_IMPL_ISAL) == NULL,
				   "no ISA-L in this build: asking for it fails");
		return;
	}
	make_text(&text, 3000000, 7);
	for (int i = 0; i < 5; i++)
		gzip_member(&gz, text.p + i * 600000, 600000, i + 1, i == 2);
	ra = decompress(INFLATE_IMPL_ZLIB, gz.p, gz.len, 100000, 256 * 1024, &a, err, sizeof(err));
	rb = decompress(INFLATE_IMPL_ISAL, gz.p, gz.len, 77777, 100000, &b, err, sizeof(err));
	UNIT_CHECK(ra == INFLATE_END && rb == INFLATE_END && same(&a, &b) && same(&a, &text),
			   "zlib and ISA-L give identical output (3 MB, 5 members)");
	{
		Inflater   *z = inflater_create(INFLATE_IMPL_AUTO);

		UNIT_CHECK_STR(inflater_impl(z), "isa-l", "AUTO picks ISA-L when built with it");
		inflater_free(z);
	}
	free(text.p);
	free(gz.p);
	free(a.p);
	free(b.p);
}

/*
 * A gzip member whose dynamic block declares an incomplete set of
 * distance codes (one bit of a zlib-made member flipped; found by
 * test/fuzz/fuzz_inflate).  zlib refuses it ("invalid distances set");
 * ISA-L decodes it, since the missing codes are never used, and the
 * member's CRC-32 and length then vouch for the text.  Whatever the cut
 * and the output room, each implementation gives its one answer, and no
 * answer is wrong text.
 */
static const uint8_t lenient_member[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x05, 0xc1,
	0x49, 0x0d, 0x00, 0x20, 0x0c, 0x00, 0xc1, 0x4d, 0x30, 0xd3, 0x84, 0x0f,
	0x77, 0xcb, 0xab, 0x5a, 0x00, 0x1d, 0x48, 0xc5, 0x0b, 0x3b, 0xb5, 0xab,
	0x5d, 0x17, 0x00, 0x08, 0x71, 0xed, 0xf3, 0x52, 0x69, 0x63, 0xe6, 0xda,
	0xd5, 0xae, 0x0b, 0x00, 0x84, 0xb8, 0xf6, 0x79, 0xa9, 0xb4, 0x31, 0x73,
	0xed, 0x6a, 0xd7, 0xe5, 0x03, 0x7a, 0x87, 0x0a, 0x0a, 0x39, 0x00, 0x00,
	0x00,
};
static const uint8_t lenient_text[] = {
	0x33, 0x35, 0x37, 0x38, 0x7d, 0x3f, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x03, 0x2b, 0x61, 0x62, 0x63, 0xdd, 0x30, 0x32, 0x34, 0x36, 0x39,
	0x31, 0x33, 0x35, 0x37, 0x38, 0x7d, 0x3f, 0x28, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x03, 0x2b, 0x61, 0x62, 0x63, 0xdd, 0x30, 0x32, 0x34, 0x36,
	0x39, 0x31, 0x33, 0x35, 0x37, 0x38, 0x7d, 0x3f, 0x28,
};

static void
test_incomplete_codes(void)
{
	Buf			want = {0};
	bool		zlib_ok = true;
	bool		isal_ok = true;
	bool		isal_end = false;

	buf_add(&want, lenient_text, sizeof(lenient_text));
	for (size_t chunk = 1; chunk <= sizeof(lenient_member); chunk++)
	{
		for (int big = 0; big < 2; big++)
		{
			Buf			out = {0};
			InflateResult rc;
			char		err[256];

			rc = decompress(INFLATE_IMPL_ZLIB, lenient_member, sizeof(lenient_member), chunk,
							big ? 262144 : 1, &out, err, sizeof(err));
			if (rc != INFLATE_ERROR || strstr(err, "invalid distances set") == NULL)
				zlib_ok = false;
			free(out.p);
			if (!inflater_have_isal())
				continue;
			out = (Buf) {0};
			rc = decompress(INFLATE_IMPL_ISAL, lenient_member, sizeof(lenient_member), chunk,
							big ? 262144 : 1, &out, err, sizeof(err));
			if (chunk == 1 && big == 0)
				isal_end = rc == INFLATE_END;
			if ((rc == INFLATE_END) != isal_end || (rc == INFLATE_END && !same(&out, &want)))
				isal_ok = false;
			free(out.p);
		}
	}
	UNIT_CHECK(zlib_ok, "zlib: a member with an incomplete distance code set is an error, at every cut");
	if (inflater_have_isal())
		UNIT_CHECK(isal_ok, "isa-l: the same member gives the one answer at every cut (%s), "
				   "and decoded it is the text its CRC vouches for",
				   isal_end ? "decoded" : "an error");
	free(want.p);
}

int
main(void)
{
	UNIT_CHECK(inflate_is_gzip("\x1f\x8b", 2) && !inflate_is_gzip("\x1f", 1) &&
			   !inflate_is_gzip("{}", 2), "inflate_is_gzip");
	test_impl(INFLATE_IMPL_ZLIB, "zlib");
	if (inflater_have_isal())
		test_impl(INFLATE_IMPL_ISAL, "isa-l");
	else
		fprintf(stderr,
				"\n*** test_inflate: built WITHOUT ISA-L (no /usr/include/isa-l/igzip_lib.h: install libisal-dev).\n"
				"*** The ISA-L inflate tests are SKIPPED, and the extension built here inflates gzip with zlib.\n\n");
	test_same_output();
	test_incomplete_codes();
	return unit_done();
}
