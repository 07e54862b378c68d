/*-------------------------------------------------------------------------
 *
 * inflate.c
 *	  Streaming gzip decompression of several members back to back, with
 *	  ISA-L (about 3x faster) or zlib.
 *
 * Firehose and most writers that append produce objects that are a series
 * of complete gzip members; "gzip -d" accepts that and so must we.  Between
 * members we look at the next bytes ourselves: they must be another gzip
 * header (1f 8b), or the end of the input.  Anything else is an error: we
 * would rather fail a scan than silently drop data after a corrupt member.
 *
 * Both decoders check the CRC-32 and length in each member's trailer.
 * With ISA-L we parse the gzip header ourselves and let ISA-L decode the
 * deflate data and verify the trailer (ISAL_GZIP_NO_HDR_VER): ISA-L 2.30's
 * own header parsing rejects a valid header CRC (FHCRC) when the header
 * arrives split over several calls, and a stream must decode the same
 * wherever the caller's reads happen to end.
 *
 * Pure C, no backend calls: also built into the unit tests and benchmark.
 *
 * IDENTIFICATION
 *	  src/decode/inflate.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#endif

#include "inflate.h"

/* Both decoders take 32-bit lengths: larger buffers are fed in pieces. */
#define MAX_STEP ((size_t) 1 << 30)

struct Inflater
{
	InflateImpl impl;			/* resolved: ZLIB or ISAL, never AUTO */
	bool		in_member;		/* inside a member (header seen) */
	int			members;		/* members started so far */
	bool		failed;
	uint64_t	total_in;		/* compressed bytes consumed */

	/* gzip header parser, used with ISA-L (see read_header) */
	int			hdr_state;
	uint32_t	hdr_need;		/* bytes still to read in this state */
	uint32_t	hdr_pos;
	uint8_t		hdr_fixed[10];
	uint8_t		hdr_flags;
	uint8_t		hdr_buf[2];
	uLong		hdr_crc;

	/* a member resumed at a restart point (inflater_resume): raw deflate */
	bool		resumed;		/* the current member is */
	bool		zs_raw;			/* zs was last reset to raw deflate */
	bool		raw_done;		/* its deflate data ended: trailer next */
	uint32_t	r_crc;			/* CRC-32 of the member's bytes so far (kept
								 * when resumed, or up to an expected point) */
	uint64_t	r_len;			/* bytes of the current member so far */
	uint64_t	r_out;			/* bytes handed out since reset or resume */
	bool		chk_active;		/* inflater_expect: the next point */
	uint32_t	chk_member;		/* its member, counted from the first read */
	uint64_t	chk_len;
	uint32_t	chk_crc;
	uint64_t	chk_out;
	uint8_t		trailer[8];
	int			trailer_pos;
	int			r_bits;			/* bits of the first byte to prime */
	bool		r_primed;

	z_stream	zs;
	bool		zs_ready;
#ifdef HAVE_ISAL
	struct inflate_state *isal; /* about 85 KiB: allocated only if used */
#endif
	char		errbuf[256];
};

static bool track_output(Inflater *z, const uint8_t *p, size_t n);

bool
inflater_have_isal(void)
{
#ifdef HAVE_ISAL
	return true;
#else
	return false;
#endif
}

Inflater *
inflater_create(InflateImpl impl)
{
	Inflater   *z = calloc(1, sizeof(Inflater));

	if (z == NULL)
		return NULL;
	if (impl == INFLATE_IMPL_AUTO)
		impl = inflater_have_isal() ? INFLATE_IMPL_ISAL : INFLATE_IMPL_ZLIB;
#ifndef HAVE_ISAL
	if (impl == INFLATE_IMPL_ISAL)
	{
		/* asked for explicitly but not built in: be honest, fail */
		free(z);
		return NULL;
	}
#endif
	z->impl = impl;

	if (impl == INFLATE_IMPL_ZLIB)
	{
		/* 16 + MAX_WBITS: gzip wrapper only (not zlib, not raw deflate) */
		if (inflateInit2(&z->zs, 16 + MAX_WBITS) != Z_OK)
		{
			free(z);
			return NULL;
		}
		z->zs_ready = true;
	}
#ifdef HAVE_ISAL
	else
	{
		z->isal = malloc(sizeof(struct inflate_state));
		if (z->isal == NULL)
		{
			free(z);
			return NULL;
		}
		isal_inflate_init(z->isal);
	}
#endif
	inflater_reset(z);
	return z;
}

void
inflater_free(Inflater *z)
{
	if (z == NULL)
		return;
	if (z->zs_ready)
		inflateEnd(&z->zs);
#ifdef HAVE_ISAL
	free(z->isal);
#endif
	free(z);
}

void
inflater_reset(Inflater *z)
{
	z->in_member = false;
	z->members = 0;
	z->failed = false;
	z->total_in = 0;
	z->errbuf[0] = '\0';
	z->resumed = false;
	z->chk_active = false;
	z->r_out = 0;
}

const char *
inflater_error(const Inflater *z)
{
	return z->errbuf;
}

uint64_t
inflater_total_in(const Inflater *z)
{
	return z->total_in;
}

const char *
inflater_impl(const Inflater *z)
{
	return z->impl == INFLATE_IMPL_ISAL ? "isa-l" : "zlib";
}

static InflateResult
fail(Inflater *z, const char *what, const char *detail)
{
	if (detail && detail[0])
		snprintf(z->errbuf, sizeof(z->errbuf),
				 "%s (%s) at compressed byte offset %llu", what, detail,
				 (unsigned long long) z->total_in);
	else
		snprintf(z->errbuf, sizeof(z->errbuf),
				 "%s at compressed byte offset %llu", what,
				 (unsigned long long) z->total_in);
	z->failed = true;
	return INFLATE_ERROR;
}

/* States of the gzip header parser (RFC 1952, section 2.3). */
enum
{
	HDR_FIXED,					/* ID1 ID2 CM FLG MTIME XFL OS */
	HDR_XLEN,					/* FEXTRA: 2-byte length */
	HDR_EXTRA,					/* FEXTRA: data */
	HDR_NAME,					/* FNAME: zero-terminated */
	HDR_COMMENT,				/* FCOMMENT: zero-terminated */
	HDR_HCRC,					/* FHCRC: 2 bytes */
	HDR_DONE
};

#define GZ_FHCRC	0x02
#define GZ_FEXTRA	0x04
#define GZ_FNAME	0x08
#define GZ_FCOMMENT 0x10
#define GZ_RESERVED 0xE0

/* The state that follows "st" given the header flags. */
static int
hdr_next_state(int st, uint8_t flags)
{
	if (st < HDR_XLEN && (flags & GZ_FEXTRA))
		return HDR_XLEN;
	if (st < HDR_NAME && (flags & GZ_FNAME))
		return HDR_NAME;
	if (st < HDR_COMMENT && (flags & GZ_FCOMMENT))
		return HDR_COMMENT;
	if (st < HDR_HCRC && (flags & GZ_FHCRC))
		return HDR_HCRC;
	return HDR_DONE;
}

/*
 * Consume gzip header bytes.  Returns 1 when the header is complete, 0 if
 * more input is needed, -1 on an invalid header (errbuf set).
 */
static int
read_header(Inflater *z, const uint8_t **in, size_t *in_len)
{
	while (*in_len > 0 && z->hdr_state != HDR_DONE)
	{
		uint8_t		c = **in;

		(*in)++;
		(*in_len)--;
		z->total_in++;
		if (z->hdr_state != HDR_HCRC)
			z->hdr_crc = crc32(z->hdr_crc, &c, 1);

		switch (z->hdr_state)
		{
			case HDR_FIXED:
				z->hdr_fixed[z->hdr_pos++] = c;
				/* checked at the member's start, unless it was cut there */
				if (z->hdr_pos == 2 && (z->hdr_fixed[0] != 0x1f || z->hdr_fixed[1] != 0x8b))
				{
					fail(z, z->members == 1 ? "not in gzip format" :
						 "trailing garbage after gzip member", NULL);
					return -1;
				}
				if (z->hdr_pos < 10)
					continue;
				if (z->hdr_fixed[2] != 8)
				{
					fail(z, "corrupt gzip data", "unknown compression method");
					return -1;
				}
				if (z->hdr_fixed[3] & GZ_RESERVED)
				{
					fail(z, "corrupt gzip data", "reserved header flags set");
					return -1;
				}
				z->hdr_flags = z->hdr_fixed[3];
				z->hdr_pos = 0;
				z->hdr_state = hdr_next_state(HDR_FIXED, z->hdr_flags);
				break;
			case HDR_XLEN:
				z->hdr_buf[z->hdr_pos++] = c;
				if (z->hdr_pos < 2)
					continue;
				z->hdr_need = z->hdr_buf[0] | ((uint32_t) z->hdr_buf[1] << 8);
				z->hdr_pos = 0;
				z->hdr_state = z->hdr_need ? HDR_EXTRA :
					hdr_next_state(HDR_EXTRA, z->hdr_flags);
				break;
			case HDR_EXTRA:
				if (--z->hdr_need == 0)
					z->hdr_state = hdr_next_state(HDR_EXTRA, z->hdr_flags);
				break;
			case HDR_NAME:
			case HDR_COMMENT:
				if (c == 0)
					z->hdr_state = hdr_next_state(z->hdr_state, z->hdr_flags);
				break;
			case HDR_HCRC:
				z->hdr_buf[z->hdr_pos++] = c;
				if (z->hdr_pos < 2)
					continue;
				if ((z->hdr_buf[0] | ((uLong) z->hdr_buf[1] << 8)) != (z->hdr_crc & 0xffff))
				{
					fail(z, "corrupt gzip data", "header crc mismatch");
					return -1;
				}
				z->hdr_state = HDR_DONE;
				break;
		}
	}
	return z->hdr_state == HDR_DONE ? 1 : 0;
}

/* Start the decoder on a new member. */
static void
start_member(Inflater *z)
{
	if (z->impl == INFLATE_IMPL_ZLIB)
	{
		if (z->zs_raw)
			inflateReset2(&z->zs, 16 + MAX_WBITS);
		else
			inflateReset(&z->zs);
		z->zs_raw = false;
	}
#ifdef HAVE_ISAL
	else
	{
		z->hdr_state = HDR_FIXED;
		z->hdr_pos = 0;
		z->hdr_crc = crc32(0, NULL, 0);
	}
#endif
	z->in_member = true;
	z->members++;
	z->r_len = 0;
	z->r_crc = 0;
}

#ifdef HAVE_ISAL
static const char *
isal_error_text(int rc)
{
	switch (rc)
	{
		case ISAL_INVALID_BLOCK:
			return "invalid deflate block";
		case ISAL_INVALID_SYMBOL:
			return "invalid deflate symbol";
		case ISAL_INVALID_LOOKBACK:
			return "invalid distance too far back";
		case ISAL_INVALID_WRAPPER:
			return "invalid gzip header";
		case ISAL_UNSUPPORTED_METHOD:
			return "unsupported compression method";
		case ISAL_INCORRECT_CHECKSUM:
			return "incorrect data check";
		case ISAL_NEED_DICT:
			return "needs a preset dictionary";
		default:
			return "decoder error";
	}
}
#endif

/*
 * Decode within the current member.  Sets *done when the member's trailer
 * was read and verified.  Returns false (with errbuf set) on corrupt data.
 */
/*
 * One call of the decoder over in[0..in_step) into out[0..out_step): what it
 * used and produced, and whether the deflate data ended; false (the
 * Inflater failed) on corrupt data.
 */
static bool
decode_step(Inflater *z, const uint8_t *in, size_t in_step, uint8_t *out, size_t out_step,
			size_t *used, size_t *produced, bool *ended)
{
	*ended = false;
	if (z->impl == INFLATE_IMPL_ZLIB)
	{
		int			rc;

		z->zs.next_in = (Bytef *) in;
		z->zs.avail_in = (uInt) in_step;
		z->zs.next_out = out;
		z->zs.avail_out = (uInt) out_step;
		rc = inflate(&z->zs, Z_NO_FLUSH);
		*used = in_step - z->zs.avail_in;
		*produced = out_step - z->zs.avail_out;
		if (rc == Z_STREAM_END)
			*ended = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
		{
			const char *why = z->zs.msg;

			if (why == NULL)
				why = rc == Z_NEED_DICT ? "needs a preset dictionary" : "decoder error";
			z->total_in += *used;
			fail(z, "corrupt gzip data", why);
			return false;
		}
		return true;
	}
#ifdef HAVE_ISAL
	{
		struct inflate_state *s = z->isal;
		int			rc;

		s->next_in = (uint8_t *) in;
		s->avail_in = (uint32_t) in_step;
		s->next_out = out;
		s->avail_out = (uint32_t) out_step;
		rc = isal_inflate(s);
		*used = in_step - s->avail_in;
		*produced = out_step - s->avail_out;
		if (rc != ISAL_DECOMP_OK)
		{
			z->total_in += *used;
			fail(z, "corrupt gzip data", isal_error_text(rc));
			return false;
		}
		*ended = s->block_state == ISAL_BLOCK_FINISH;
		return true;
	}
#else
	abort();					/* not reachable: rejected at create */
#endif
}

static bool
run_member(Inflater *z, const uint8_t **in, size_t *in_len,
		   uint8_t *out, size_t out_cap, size_t *out_len, bool *done)
{
	size_t		in_step = *in_len < MAX_STEP ? *in_len : MAX_STEP;
	size_t		out_step = out_cap - *out_len < MAX_STEP ? out_cap - *out_len : MAX_STEP;
	size_t		used;
	size_t		produced;

	*done = false;
#ifdef HAVE_ISAL
	if (z->impl != INFLATE_IMPL_ZLIB && z->hdr_state != HDR_DONE)
	{
		int			h = read_header(z, in, in_len);

		if (h < 0)
			return false;
		if (h == 0)
			return true;		/* need more input */
		isal_inflate_reset(z->isal);
		/* raw deflate, then verify the CRC-32 and length trailer */
		z->isal->crc_flag = ISAL_GZIP_NO_HDR_VER;
		in_step = *in_len < MAX_STEP ? *in_len : MAX_STEP;
	}
#endif
	if (!decode_step(z, *in, in_step, out + *out_len, out_step, &used, &produced, done))
		return false;
	if (z->chk_active)
	{
		if (!track_output(z, out + *out_len, produced))
			return false;
	}
	else
		z->r_out += produced;
	*in += used;
	*in_len -= used;
	z->total_in += used;
	*out_len += produced;
	return true;
}

/* ----------------------------------------------------------------
 *		A member resumed at a restart point (inflater_resume)
 *
 * The rest of the member is raw deflate from a bit position, with the 32 KiB
 * before it as the dictionary; neither decoder can check the member's CRC
 * from there, so we do: the CRC-32 of the bytes before the point comes from
 * the index, the bytes after are added to it, and the trailer is compared
 * with both.  inflater_expect checks the CRC at the next restart point too,
 * so every byte a part hands out is checked against the whole read the
 * index was built from, even when the part stops before the member's end.
 * ----------------------------------------------------------------
 */

static uint32_t
crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
#ifdef HAVE_ISAL
	return crc32_gzip_refl(crc, (uint8_t *) p, (uint64_t) n);
#else
	while (n > 0)
	{
		uInt		k = n > (1u << 30) ? (1u << 30) : (uInt) n;

		crc = (uint32_t) crc32(crc, p, k);
		p += k;
		n -= k;
	}
	return crc;
#endif
}

bool
inflater_resume(Inflater *z, uint64_t comp, int bits, const uint8_t *window, size_t wlen,
				uint32_t member_crc, uint64_t member_len)
{
	inflater_reset(z);
	if (bits < 0 || bits > 7 || wlen > 32768 || (wlen > 0 && window == NULL) ||
		(bits > 0 && comp == 0))
	{
		fail(z, "invalid restart point", NULL);
		return false;
	}
	z->total_in = bits ? comp - 1 : comp;
	z->members = 1;
	z->in_member = true;
	z->resumed = true;
	z->raw_done = false;
	z->trailer_pos = 0;
	z->r_crc = member_crc;
	z->r_len = member_len;
	z->r_bits = bits;
	z->r_primed = bits == 0;
	if (z->impl == INFLATE_IMPL_ZLIB)
	{
		z->zs_raw = true;
		if (inflateReset2(&z->zs, -MAX_WBITS) != Z_OK ||
			(wlen > 0 && inflateSetDictionary(&z->zs, window, (uInt) wlen) != Z_OK))
		{
			fail(z, "invalid restart point", "dictionary refused");
			return false;
		}
	}
#ifdef HAVE_ISAL
	else
	{
		isal_inflate_reset(z->isal);
		z->isal->crc_flag = ISAL_DEFLATE;
		if (wlen > 0 && isal_inflate_set_dict(z->isal, (uint8_t *) window, (uint32_t) wlen) != COMP_OK)
		{
			fail(z, "invalid restart point", "dictionary refused");
			return false;
		}
	}
#endif
	return true;
}

void
inflater_expect(Inflater *z, uint32_t member, uint64_t member_len, uint32_t member_crc,
				uint64_t out)
{
	z->chk_active = true;
	z->chk_member = member;
	z->chk_len = member_len;
	z->chk_crc = member_crc;
	z->chk_out = out;
}

static bool
expect_failed(Inflater *z)
{
	z->chk_active = false;
	fail(z, "corrupt gzip data", "the restart index does not match the data");
	return false;
}

/* The member being read is the expected point's: checks at its start. */
#define AT_EXPECTED_MEMBER(z) ((z)->chk_active && (uint32_t) ((z)->members - 1) == (z)->chk_member)

/*
 * Count (and, when needed, add to the member's CRC) n bytes of output,
 * checking the expected point on the way: reached in the expected member
 * at the expected length, after the expected output, with the expected CRC.
 */
static bool
track_output(Inflater *z, const uint8_t *p, size_t n)
{
	if (AT_EXPECTED_MEMBER(z) && z->r_len + n >= z->chk_len)
	{
		size_t		k = (size_t) (z->chk_len - z->r_len);

		z->r_crc = crc_update(z->r_crc, p, k);
		z->r_len += k;
		z->r_out += k;
		p += k;
		n -= k;
		z->chk_active = false;
		if (z->r_crc != z->chk_crc || z->r_out != z->chk_out)
			return expect_failed(z);
	}
	if (z->resumed || AT_EXPECTED_MEMBER(z))
		z->r_crc = crc_update(z->r_crc, p, n);
	z->r_len += n;
	z->r_out += n;
	return true;
}

/* run_member for a resumed member. */
static bool
run_resumed(Inflater *z, const uint8_t **in, size_t *in_len,
			uint8_t *out, size_t out_cap, size_t *out_len, bool *done)
{
	size_t		in_step;
	size_t		out_step = out_cap - *out_len < MAX_STEP ? out_cap - *out_len : MAX_STEP;
	size_t		used = 0;
	size_t		produced = 0;

	*done = false;
	if (!z->r_primed)
	{
		uint8_t		b;

		if (*in_len == 0)
			return true;
		b = **in;
		(*in)++;
		(*in_len)--;
		z->total_in++;
		z->r_primed = true;
		if (z->impl == INFLATE_IMPL_ZLIB)
		{
			if (inflatePrime(&z->zs, z->r_bits, b >> (8 - z->r_bits)) != Z_OK)
			{
				fail(z, "invalid restart point", "could not prime the bits");
				return false;
			}
		}
#ifdef HAVE_ISAL
		else
		{
			z->isal->read_in = (uint64_t) (b >> (8 - z->r_bits));
			z->isal->read_in_length = z->r_bits;
		}
#endif
	}
	in_step = *in_len < MAX_STEP ? *in_len : MAX_STEP;
	if (!z->raw_done)
	{
		bool		ended;

		if (!decode_step(z, *in, in_step, out + *out_len, out_step, &used, &produced, &ended))
			return false;
		if (ended)
		{
#ifdef HAVE_ISAL
			if (z->impl != INFLATE_IMPL_ZLIB)
			{
				/*
				 * Raw deflate ended.  ISA-L keeps the bits it read ahead in
				 * read_in: the rest of the last byte (padding), then whole
				 * bytes, which are the trailer's first.
				 */
				struct inflate_state *s = z->isal;
				int			pad = s->read_in_length % 8;

				for (int k = 0; k < s->read_in_length / 8 && z->trailer_pos < 8; k++)
					z->trailer[z->trailer_pos++] = (uint8_t) (s->read_in >> (pad + 8 * k));
				s->read_in = 0;
				s->read_in_length = 0;
			}
#endif
			z->raw_done = true;
		}
		if (!track_output(z, out + *out_len, produced))
			return false;
		*in += used;
		*in_len -= used;
		z->total_in += used;
		*out_len += produced;
	}
	if (z->raw_done)
	{
		/* the trailer: CRC-32 and length (modulo 2^32), little-endian */
		while (*in_len > 0 && z->trailer_pos < 8)
		{
			z->trailer[z->trailer_pos++] = **in;
			(*in)++;
			(*in_len)--;
			z->total_in++;
		}
		if (z->trailer_pos < 8)
			return true;
		if ((z->trailer[0] | (uint32_t) z->trailer[1] << 8 | (uint32_t) z->trailer[2] << 16 |
			 (uint32_t) z->trailer[3] << 24) != z->r_crc)
		{
			fail(z, "corrupt gzip data", "incorrect data check");
			return false;
		}
		if ((z->trailer[4] | (uint32_t) z->trailer[5] << 8 | (uint32_t) z->trailer[6] << 16 |
			 (uint32_t) z->trailer[7] << 24) != (uint32_t) z->r_len)
		{
			fail(z, "corrupt gzip data", "incorrect length check");
			return false;
		}
		z->resumed = false;
		*done = true;
	}
	return true;
}

InflateResult
inflater_run(Inflater *z, const uint8_t **in, size_t *in_len, bool at_eof,
			 uint8_t *out, size_t out_cap, size_t *out_len)
{
	*out_len = 0;
	if (z->failed)
		return INFLATE_ERROR;

	for (;;)
	{
		bool		done;

		if (!z->in_member)
		{
			const uint8_t *p = *in;

			if (*in_len == 0)
			{
				/*
				 * Clean end between members.  END is only returned with no
				 * output, so a caller may stop at END without looking at
				 * *out_len.
				 */
				if (at_eof && *out_len == 0)
				{
					if (z->chk_active)
						return expect_failed(z) ? INFLATE_END : INFLATE_ERROR;
					return INFLATE_END;
				}
				return INFLATE_OK;
			}
			if (p[0] != 0x1f || (*in_len >= 2 && p[1] != 0x8b))
				return fail(z, z->members == 0 ? "not in gzip format" :
							"trailing garbage after gzip member", NULL);
			if (*in_len == 1 && at_eof)
			{
				z->total_in += 1;
				return fail(z, "unexpected end of compressed data", "truncated gzip header");
			}
			start_member(z);
			/* a point at a member's start: reached here, after the expected output */
			if (AT_EXPECTED_MEMBER(z) && z->chk_len == 0)
			{
				z->chk_active = false;
				if (z->r_out != z->chk_out)
					return expect_failed(z) ? INFLATE_OK : INFLATE_ERROR;
			}
			else if (z->chk_active && (uint32_t) (z->members - 1) > z->chk_member)
				return expect_failed(z) ? INFLATE_OK : INFLATE_ERROR;
		}

		if (*out_len == out_cap)
			return INFLATE_OK;	/* the caller makes room and calls again */

		{
			size_t		before_in = *in_len;
			size_t		before_out = *out_len;

			if (!(z->resumed ? run_resumed(z, in, in_len, out, out_cap, out_len, &done) :
				  run_member(z, in, in_len, out, out_cap, out_len, &done)))
				return INFLATE_ERROR;
			if (done)
			{
				/* the expected point is further in a member that ended */
				if (AT_EXPECTED_MEMBER(z))
					return expect_failed(z) ? INFLATE_OK : INFLATE_ERROR;
				z->in_member = false;
				continue;
			}
			if (*out_len == out_cap)
				return INFLATE_OK;

			/*
			 * Output space is left, so the decoder wants input.  At the end
			 * of the input that means the member is cut short.
			 */
			if (*in_len == 0)
			{
				if (at_eof)
					return fail(z, "unexpected end of compressed data", "truncated gzip member");
				return INFLATE_OK;
			}
			if (*in_len == before_in && *out_len == before_out)
				return fail(z, "corrupt gzip data", "decoder made no progress");
		}
	}
}
