/*-------------------------------------------------------------------------
 *
 * gzindex.c
 *	  Restart points into a gzip object: building them while the object is
 *	  decoded whole (zlib with Z_BLOCK, as zlib's examples/zran.c does),
 *	  writing them out and reading them back with every field checked.
 *
 * The builder is the decoder of the read that builds the index: it gives
 * the caller the decompressed bytes like inflater_run does, and checks each
 * member's CRC-32 and length (zlib's gzip wrapper), so an index is only
 * ever finished from an object that decoded whole and verified.  zlib is
 * about half as fast as ISA-L: the read that builds the index pays
 * that once; the reads that use it resume with whichever decoder is built
 * in (inflater_resume).
 *
 * Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/decode/gzindex.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "gzindex.h"

#define MAX_STEP		((size_t) 1 << 30)
#define MAX_POINTS		1024	/* then every other one is dropped */
#define MAGIC			"PLGZIX01"
#define MAGIC_LEN		8
#define POINT_BYTES		(8 + 8 + 8 + 4 + 4 + 1 + 1 + 4)

struct GzIndexBuilder
{
	z_stream	zs;
	bool		zs_ready;
	uint64_t	span;
	bool		in_member;
	bool		failed;
	bool		ended;
	uint32_t	members;
	uint64_t	total_in;
	uint64_t	total_out;
	uint64_t	member_len;
	uint64_t	last_point;		/* out of the last point */
	uint8_t    *ring;			/* the last GZINDEX_WINDOW bytes of output */
	GzIndex    *ix;
	uint32_t	cap;
	uint32_t	max_points;
	char		errbuf[256];
};

GzIndexBuilder *
gzindex_builder_create(uint64_t span, uint32_t max_points)
{
	GzIndexBuilder *b = calloc(1, sizeof(GzIndexBuilder));

	if (b == NULL)
		return NULL;
	b->span = span > 0 ? span : 1;
	b->max_points = max_points >= 2 && max_points <= MAX_POINTS ? max_points : MAX_POINTS;
	b->ring = malloc(GZINDEX_WINDOW);
	b->ix = calloc(1, sizeof(GzIndex));
	b->cap = 16;
	if (b->ring == NULL || b->ix == NULL ||
		(b->ix->points = calloc(b->cap, sizeof(GzPoint))) == NULL ||
		inflateInit2(&b->zs, 16 + MAX_WBITS) != Z_OK)
	{
		gzindex_builder_free(b);
		return NULL;
	}
	b->zs_ready = true;
	/* the object's start: a member start, wherever the data begins */
	b->ix->npoints = 1;
	b->ix->points[0].member_start = true;
	return b;
}

void
gzindex_builder_free(GzIndexBuilder *b)
{
	if (b == NULL)
		return;
	if (b->zs_ready)
		inflateEnd(&b->zs);
	free(b->ring);
	gzindex_free(b->ix);
	free(b);
}

void
gzindex_free(GzIndex *ix)
{
	if (ix == NULL)
		return;
	if (ix->points)
		for (uint32_t i = 0; i < ix->npoints; i++)
			free(ix->points[i].window);
	free(ix->points);
	free(ix);
}

const char *
gzindex_builder_error(const GzIndexBuilder *b)
{
	return b->errbuf;
}

static InflateResult
bfail(GzIndexBuilder *b, const char *what, const char *detail)
{
	snprintf(b->errbuf, sizeof(b->errbuf), "%s%s%s%s at compressed byte offset %llu", what,
			 detail ? " (" : "", detail ? detail : "", detail ? ")" : "",
			 (unsigned long long) b->total_in);
	b->failed = true;
	return INFLATE_ERROR;
}

/* Keep the last GZINDEX_WINDOW bytes of output. */
static void
ring_add(GzIndexBuilder *b, const uint8_t *p, size_t n)
{
	uint64_t	at = b->total_out;	/* of p[0] */

	if (n > GZINDEX_WINDOW)
	{
		at += n - GZINDEX_WINDOW;
		p += n - GZINDEX_WINDOW;
		n = GZINDEX_WINDOW;
	}
	while (n > 0)
	{
		size_t		off = (size_t) (at % GZINDEX_WINDOW);
		size_t		k = GZINDEX_WINDOW - off < n ? GZINDEX_WINDOW - off : n;

		memcpy(b->ring + off, p, k);
		p += k;
		at += k;
		n -= k;
	}
}

/* Too many points: keep every other one (the first stays), double the span. */
static void
thin(GzIndexBuilder *b)
{
	GzIndex    *ix = b->ix;
	uint32_t	j = 1;

	for (uint32_t i = 1; i < ix->npoints; i++)
	{
		if (i % 2 == 0)
			ix->points[j++] = ix->points[i];
		else
			free(ix->points[i].window);
	}
	ix->npoints = j;
	b->span *= 2;
}

/* Note a point at the current position; false when out of memory. */
static bool
add_point(GzIndexBuilder *b, bool member_start, int bits, uint32_t crc)
{
	GzIndex    *ix = b->ix;
	GzPoint    *pt;

	if (ix->npoints >= b->max_points)
		thin(b);
	if (ix->npoints == b->cap)
	{
		GzPoint    *np = realloc(ix->points, sizeof(GzPoint) * b->cap * 2);

		if (np == NULL)
			return false;
		ix->points = np;
		b->cap *= 2;
	}
	pt = &ix->points[ix->npoints];
	memset(pt, 0, sizeof(GzPoint));
	pt->comp = b->total_in;
	pt->out = b->total_out;
	pt->member = b->members - 1;
	pt->member_start = member_start;
	if (!member_start)
	{
		pt->bits = (uint8_t) bits;
		pt->member_len = b->member_len;
		pt->member_crc = crc;
	}
	/* the window: at a member's start only its last byte is used (by the caller) */
	{
		uint32_t	wlen = b->total_out < GZINDEX_WINDOW ? (uint32_t) b->total_out : GZINDEX_WINDOW;
		uint64_t	from = b->total_out - wlen;

		pt->wlen = wlen;
		pt->window = malloc(wlen > 0 ? wlen : 1);
		if (pt->window == NULL)
			return false;
		for (uint32_t k = 0; k < wlen;)
		{
			size_t		off = (size_t) ((from + k) % GZINDEX_WINDOW);
			size_t		n = GZINDEX_WINDOW - off < wlen - k ? GZINDEX_WINDOW - off : wlen - k;

			memcpy(pt->window + k, b->ring + off, n);
			k += (uint32_t) n;
		}
	}
	ix->npoints++;
	b->last_point = b->total_out;
	return true;
}

InflateResult
gzindex_builder_run(GzIndexBuilder *b, const uint8_t **in, size_t *in_len, bool at_eof,
					uint8_t *out, size_t out_cap, size_t *out_len)
{
	*out_len = 0;
	if (b->failed)
		return INFLATE_ERROR;

	for (;;)
	{
		size_t		in_step,
					out_step,
					used,
					produced;
		int			rc;

		if (!b->in_member)
		{
			const uint8_t *p = *in;

			if (*in_len == 0)
			{
				if (at_eof && *out_len == 0)
				{
					b->ended = true;
					return INFLATE_END;
				}
				return INFLATE_OK;
			}
			if (p[0] != 0x1f || (*in_len >= 2 && p[1] != 0x8b))
				return bfail(b, b->members == 0 ? "not in gzip format" :
							 "trailing garbage after gzip member", NULL);
			if (*in_len == 1 && at_eof)
				return bfail(b, "unexpected end of compressed data", "truncated gzip header");
			if (b->members > 0)
				inflateReset(&b->zs);
			b->members++;
			b->in_member = true;
			b->member_len = 0;
			if (b->members > 1 && b->total_out - b->last_point >= b->span &&
				!add_point(b, true, 0, 0))
				return bfail(b, "out of memory", NULL);
		}
		if (*out_len == out_cap)
			return INFLATE_OK;

		in_step = *in_len < MAX_STEP ? *in_len : MAX_STEP;
		out_step = out_cap - *out_len < MAX_STEP ? out_cap - *out_len : MAX_STEP;
		b->zs.next_in = (Bytef *) *in;
		b->zs.avail_in = (uInt) in_step;
		b->zs.next_out = out + *out_len;
		b->zs.avail_out = (uInt) out_step;
		rc = inflate(&b->zs, Z_BLOCK);
		used = in_step - b->zs.avail_in;
		produced = out_step - b->zs.avail_out;
		ring_add(b, out + *out_len, produced);
		*in += used;
		*in_len -= used;
		b->total_in += used;
		*out_len += produced;
		b->total_out += produced;
		b->member_len += produced;
		if (rc == Z_STREAM_END)
		{
			b->in_member = false;
			continue;
		}
		if (rc != Z_OK && !(rc == Z_BUF_ERROR && used == 0 && produced == 0))
			return bfail(b, "corrupt gzip data", b->zs.msg ? b->zs.msg : "decoder error");

		/*
		 * At the end of a block that is not the member's last: a restart
		 * point, if far enough from the last.  (128 is also set after the
		 * header, before any data: that is the member's start, noted above.)
		 */
		if ((b->zs.data_type & 128) && !(b->zs.data_type & 64) && b->member_len > 0 &&
			b->total_out - b->last_point >= b->span &&
			!add_point(b, false, b->zs.data_type & 7, (uint32_t) b->zs.adler))
			return bfail(b, "out of memory", NULL);

		if (*out_len == out_cap)
			return INFLATE_OK;
		if (*in_len == 0)
		{
			if (at_eof)
				return bfail(b, "unexpected end of compressed data", "truncated gzip member");
			return INFLATE_OK;
		}
		if (used == 0 && produced == 0)
			return bfail(b, "corrupt gzip data", "decoder made no progress");
	}
}

GzIndex *
gzindex_builder_finish(GzIndexBuilder *b)
{
	GzIndex    *ix;

	if (!b->ended || b->failed)
		return NULL;
	ix = b->ix;
	ix->comp_size = b->total_in;
	ix->out_size = b->total_out;
	ix->members = b->members;
	b->ix = NULL;
	return ix;
}

/* ----------------------------------------------------------------
 *		The file form (little-endian)
 *
 *	magic[8] comp_size:8 out_size:8 members:4 npoints:4 idlen:4 identity
 *	per point: comp:8 out:8 member_len:8 member_crc:4 member:4 bits:1
 *	           member_start:1 wlen:4 window[wlen]
 *	crc32 of all the above:4
 * ----------------------------------------------------------------
 */

static uint8_t *
put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		*p++ = (uint8_t) (v >> (8 * i));
	return p;
}

static uint64_t
get(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

uint8_t *
gzindex_serialize(const GzIndex *ix, const char *identity, size_t *len)
{
	size_t		idlen = strlen(identity);
	size_t		n = MAGIC_LEN + 8 + 8 + 4 + 4 + 4 + idlen + 4;
	uint8_t    *buf,
			   *p;

	for (uint32_t i = 0; i < ix->npoints; i++)
		n += POINT_BYTES + ix->points[i].wlen;
	buf = malloc(n);
	if (buf == NULL)
		return NULL;
	p = buf;
	memcpy(p, MAGIC, MAGIC_LEN);
	p += MAGIC_LEN;
	p = put(p, ix->comp_size, 8);
	p = put(p, ix->out_size, 8);
	p = put(p, ix->members, 4);
	p = put(p, ix->npoints, 4);
	p = put(p, idlen, 4);
	memcpy(p, identity, idlen);
	p += idlen;
	for (uint32_t i = 0; i < ix->npoints; i++)
	{
		const GzPoint *pt = &ix->points[i];

		p = put(p, pt->comp, 8);
		p = put(p, pt->out, 8);
		p = put(p, pt->member_len, 8);
		p = put(p, pt->member_crc, 4);
		p = put(p, pt->member, 4);
		p = put(p, pt->bits, 1);
		p = put(p, pt->member_start ? 1 : 0, 1);
		p = put(p, pt->wlen, 4);
		if (pt->wlen)
			memcpy(p, pt->window, pt->wlen);
		p += pt->wlen;
	}
	p = put(p, crc32(0, buf, (uInt) (p - buf)), 4);
	*len = n;
	return buf;
}

#define REJECT(...) \
	do { \
		if (why) \
			snprintf(why, 128, __VA_ARGS__); \
		gzindex_free(ix); \
		return NULL; \
	} while (0)

GzIndex *
gzindex_parse(const uint8_t *buf, size_t len, const char *identity, uint64_t comp_size, char *why)
{
	GzIndex    *ix = NULL;
	const uint8_t *p = buf;
	const uint8_t *end;
	size_t		idlen;
	uint32_t	npoints;

	if (len < MAGIC_LEN + 8 + 8 + 4 + 4 + 4 + 4 || memcmp(buf, MAGIC, MAGIC_LEN) != 0)
		REJECT("not an index of this version");
	if (len > (size_t) 1 << 31)
		REJECT("too large");
	end = buf + len - 4;
	if (get(end, 4) != crc32(0, buf, (uInt) (len - 4)))
		REJECT("checksum mismatch");
	p += MAGIC_LEN;
	ix = calloc(1, sizeof(GzIndex));
	if (ix == NULL)
		REJECT("out of memory");
	ix->comp_size = get(p, 8);
	ix->out_size = get(p + 8, 8);
	ix->members = (uint32_t) get(p + 16, 4);
	npoints = (uint32_t) get(p + 20, 4);
	idlen = (size_t) get(p + 24, 4);
	p += 28;
	if (idlen != strlen(identity) || idlen > (size_t) (end - p) || memcmp(p, identity, idlen) != 0)
		REJECT("built from another object or version");
	p += idlen;
	if (ix->comp_size != comp_size)
		REJECT("built from an object of %llu bytes, not %llu",
			   (unsigned long long) ix->comp_size, (unsigned long long) comp_size);
	if (npoints < 1 || npoints > MAX_POINTS || ix->members < 1)
		REJECT("%u points, %u members", npoints, ix->members);
	ix->points = calloc(npoints, sizeof(GzPoint));
	if (ix->points == NULL)
		REJECT("out of memory");
	for (uint32_t i = 0; i < npoints; i++)
	{
		GzPoint    *pt = &ix->points[i];
		const GzPoint *prev = i > 0 ? &ix->points[i - 1] : NULL;
		uint64_t	want_wlen;
		uint8_t		start;

		if ((size_t) (end - p) < POINT_BYTES)
			REJECT("truncated at point %u", i);
		pt->comp = get(p, 8);
		pt->out = get(p + 8, 8);
		pt->member_len = get(p + 16, 8);
		pt->member_crc = (uint32_t) get(p + 24, 4);
		pt->member = (uint32_t) get(p + 28, 4);
		pt->bits = (uint8_t) get(p + 32, 1);
		start = (uint8_t) get(p + 33, 1);
		pt->wlen = (uint32_t) get(p + 34, 4);
		p += POINT_BYTES;
		ix->npoints = i + 1;	/* what gzindex_free must free */
		if (start > 1 || pt->bits > 7 || pt->member >= ix->members ||
			pt->out > ix->out_size || pt->comp >= ix->comp_size)
			REJECT("point %u is out of range", i);
		pt->member_start = start == 1;
		if (prev == NULL)
		{
			if (pt->comp != 0 || pt->out != 0 || pt->member != 0 || !pt->member_start)
				REJECT("the first point is not the object's start");
		}
		else if (pt->comp <= prev->comp || pt->out <= prev->out || pt->member < prev->member)
			REJECT("point %u is not after point %u", i, i - 1);
		want_wlen = pt->out < GZINDEX_WINDOW ? pt->out : GZINDEX_WINDOW;
		if (pt->wlen != want_wlen)
			REJECT("point %u has a window of %u bytes", i, pt->wlen);
		if (pt->member_start)
		{
			if (pt->bits != 0 || pt->member_len != 0 || pt->member_crc != 0 ||
				(prev && pt->member == prev->member))
				REJECT("member start %u is inconsistent", i);
		}
		else if (pt->member_len == 0 || pt->member_len > pt->out ||
				 (pt->bits > 0 && pt->comp < 1) ||
				 (prev && prev->member == pt->member &&
				  pt->member_len - prev->member_len != pt->out - prev->out))
			REJECT("point %u is inconsistent", i);
		if ((size_t) (end - p) < pt->wlen)
			REJECT("truncated in the window of point %u", i);
		pt->window = malloc(pt->wlen > 0 ? pt->wlen : 1);
		if (pt->window == NULL)
			REJECT("out of memory");
		memcpy(pt->window, p, pt->wlen);
		p += pt->wlen;
	}
	if (p != end)
		REJECT("%zu bytes after the last point", (size_t) (end - p));
	return ix;
}
