/*-------------------------------------------------------------------------
 *
 * test_gzindex.c
 *	  Unit tests of the gzip restart index (gzindex.c) and of resuming at
 *	  its points (inflater_resume in inflate.c), with zlib and ISA-L:
 *	  - the builder decodes like inflater_run at every input and output cut,
 *	    and the index it builds does not depend on the cuts;
 *	  - resuming at every point (block boundaries with 0-7 bits, member
 *	    starts) gives exactly the object's bytes from there, the trailer and
 *	    the CRC at the next point checked, at tiny cuts too;
 *	  - a part from one point to the next, checked at the next point;
 *	  - the file form read back equals what was written; every truncation,
 *	    every flipped byte, another identity or size is refused;
 *	  - forged indexes with a valid checksum (a window, a bit count, a CRC,
 *	    an offset changed): parsing refuses them or the resumed decoding
 *	    fails or gives exactly the right bytes, never other bytes.
 *
 * IDENTIFICATION
 *	  test/unit/test_gzindex.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "unit.h"
#include "gzindex.h"
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
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
gzip_member(Buf *out, const void *data, size_t n, int level)
{
	z_stream	zs;
	uint8_t		tmp[65536];
	int			rc;

	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
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

static void
make_text(Buf *b, size_t n, unsigned seed)
{
	char		line[128];
	size_t		start = b->len;

	while (b->len - start < n)
	{
		int			k;

		seed = seed * 1103515245 + 12345;
		k = snprintf(line, sizeof(line), "{\"id\":%u,\"v\":\"%08x\",\"ok\":true}\n",
					 seed % 100000, seed);
		buf_add(b, line, (size_t) k);
	}
	b->len = start + n;
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

/* The test object: a large member, noise, an empty member, a small one. */
static Buf	plain,
			gz;

static void
make_object(void)
{
	Buf			a = {0},
				b = {0},
				c = {0};

	make_text(&a, 1500000, 1);
	make_noise(&b, 200000, 2);
	make_text(&c, 90000, 3);
	gzip_member(&gz, a.p, a.len, 6);
	gzip_member(&gz, b.p, b.len, 1);
	gzip_member(&gz, "", 0, 6);
	gzip_member(&gz, c.p, c.len, 9);
	buf_add(&plain, a.p, a.len);
	buf_add(&plain, b.p, b.len);
	buf_add(&plain, c.p, c.len);
	free(a.p);
	free(b.p);
	free(c.p);
}

/* Build an index feeding in_chunk bytes and out_cap of room at a time. */
static GzIndex *
build(uint64_t span, uint32_t max_points, size_t in_chunk, size_t out_cap, bool *same_out, char *err)
{
	GzIndexBuilder *b = gzindex_builder_create(span, max_points);
	uint8_t    *obuf = malloc(out_cap);
	size_t		given = 0,
				avail = 0,
				got = 0;
	const uint8_t *p = gz.p;
	InflateResult rc;
	GzIndex    *ix;

	*same_out = true;
	err[0] = '\0';
	for (;;)
	{
		size_t		produced;

		if (avail == 0 && given < gz.len)
		{
			p = gz.p + given;
			avail = gz.len - given < in_chunk ? gz.len - given : in_chunk;
			given += avail;
		}
		rc = gzindex_builder_run(b, &p, &avail, given == gz.len, obuf, out_cap, &produced);
		if (got + produced > plain.len || memcmp(plain.p + got, obuf, produced) != 0)
			*same_out = false;
		got += produced;
		if (rc != INFLATE_OK)
			break;
	}
	if (rc == INFLATE_ERROR)
		snprintf(err, 256, "%s", gzindex_builder_error(b));
	if (got != plain.len)
		*same_out = false;
	ix = rc == INFLATE_END ? gzindex_builder_finish(b) : NULL;
	gzindex_builder_free(b);
	free(obuf);
	return ix;
}

static bool
same_index(const GzIndex *x, const GzIndex *y)
{
	if (x->npoints != y->npoints || x->comp_size != y->comp_size || x->out_size != y->out_size ||
		x->members != y->members)
		return false;
	for (uint32_t i = 0; i < x->npoints; i++)
	{
		const GzPoint *a = &x->points[i],
				   *b = &y->points[i];

		if (a->comp != b->comp || a->out != b->out || a->member_len != b->member_len ||
			a->member_crc != b->member_crc || a->member != b->member || a->bits != b->bits ||
			a->member_start != b->member_start || a->wlen != b->wlen ||
			(a->wlen && memcmp(a->window, b->window, a->wlen) != 0))
			return false;
	}
	return true;
}

/*
 * Decode from point i of ix (to the object's end, or to "stop" decompressed
 * bytes when stop > 0, checked at point i + 1 as a part is), in_chunk /
 * out_cap at a time.  Returns 1 if the bytes are exactly the object's from
 * the point (and the decoder ended, or passed "stop"), 0 on an error
 * (wrong bytes may have come before it, as they do from gzip -d before a
 * CRC mismatch), -1 on wrong bytes and no error: what must never happen.
 */
static int
resume(InflateImpl impl, const GzIndex *ix, uint32_t i, uint64_t stop, size_t in_chunk,
	   size_t out_cap, char *err)
{
	const GzPoint *pt = &ix->points[i];
	Inflater   *z = inflater_create(impl);
	uint8_t    *obuf = malloc(out_cap);
	uint64_t	first = pt->bits ? pt->comp - 1 : pt->comp;
	uint64_t	got = pt->out;
	size_t		given,
				avail = 0;
	const uint8_t *p;
	InflateResult rc = INFLATE_ERROR;
	int			result = 1;

	err[0] = '\0';
	if (first > gz.len)
	{
		inflater_free(z);
		free(obuf);
		return 0;
	}
	given = (size_t) first;
	p = gz.p + given;
	if (pt->member_start)
		inflater_reset(z);
	else if (!inflater_resume(z, pt->comp, pt->bits, pt->window, pt->wlen, pt->member_crc,
							  pt->member_len))
		goto out;
	if (stop > 0 && i + 1 < ix->npoints)
		inflater_expect(z, ix->points[i + 1].member - pt->member, ix->points[i + 1].member_len,
						ix->points[i + 1].member_crc, ix->points[i + 1].out - pt->out);
	for (;;)
	{
		size_t		produced;

		if (avail == 0 && given < gz.len)
		{
			p = gz.p + given;
			avail = gz.len - given < in_chunk ? gz.len - given : in_chunk;
			given += avail;
		}
		rc = inflater_run(z, &p, &avail, given == gz.len, obuf, out_cap, &produced);
		if (got + produced > plain.len || memcmp(plain.p + got, obuf, produced) != 0)
			result = -1;
		got += produced;
		if (rc != INFLATE_OK || got > plain.len)
			break;
		if (stop > 0 && got >= stop + 70000)
			break;				/* well past the next point: it was checked */
	}
	if (rc == INFLATE_ERROR)
	{
		snprintf(err, 256, "%s", inflater_error(z));
		result = 0;
	}
	else if (result > 0 && stop == 0 && got != plain.len)
		result = 0;
out:
	inflater_free(z);
	free(obuf);
	return result;
}

static void
test_build_and_resume(InflateImpl impl, const char *name, const GzIndex *ix, bool all_kinds)
{
	char		err[256];
	bool		all = true;
	int			bits_seen = 0;
	bool		member_point = false;

	for (uint32_t i = 0; i < ix->npoints; i++)
	{
		int			r = resume(impl, ix, i, 0, 65536, 256 * 1024, err);

		if (r != 1)
		{
			printf("#   %s: resuming at point %u (comp %llu, bits %u) gave %d [%s]\n", name, i,
				   (unsigned long long) ix->points[i].comp, ix->points[i].bits, r, err);
			all = false;
		}
		bits_seen |= 1 << ix->points[i].bits;
		if (i > 0 && ix->points[i].member_start)
			member_point = true;
	}
	UNIT_CHECK(all, "%s: resuming at each of %u points gives exactly the object's bytes from there, "
			   "every trailer checked", name, ix->npoints);
	if (all_kinds)
		UNIT_CHECK(member_point && bits_seen > 1, "%s: the points include member starts and bit positions "
			   "other than 0 (mask %02x)", name, bits_seen);

	/* tiny cuts: 1-byte input with 7 bytes of output, 1-byte output */
	all = true;
	for (uint32_t i = 1; i < ix->npoints; i += 3)
	{
		uint64_t	stop = i + 1 < ix->npoints ? ix->points[i + 1].out : 0;

		if (resume(impl, ix, i, stop, 1, 7, err) != 1 ||
			resume(impl, ix, i, stop, 4093, 1, err) != 1)
			all = false;
	}
	UNIT_CHECK(all, "%s: resuming with 1-byte input and 1-byte output buffers", name);

	/* parts: from each point past the next, checked there */
	all = true;
	for (uint32_t i = 0; i + 1 < ix->npoints; i++)
		if (resume(impl, ix, i, ix->points[i + 1].out, 100000, 256 * 1024, err) != 1)
			all = false;
	UNIT_CHECK(all, "%s: each part, decoded past the next point and checked there", name);
}

/* Forge: change one thing, keep the checksum valid, see what happens. */
static void
test_forged(InflateImpl impl, const char *name, const GzIndex *ix, const char *id)
{
	int			wrong = 0,
				refused = 0,
				failed = 0,
				right = 0;
	char		err[256];

	for (uint32_t i = 1; i < ix->npoints; i++)
	{
		for (int what = 0; what < 6; what++)
		{
			size_t		len;
			uint8_t    *buf;
			GzIndex    *copy,
					   *forged;
			GzPoint    *pt;

			buf = gzindex_serialize(ix, id, &len);
			copy = gzindex_parse(buf, len, id, gz.len, NULL);
			free(buf);
			pt = &copy->points[i];
			switch (what)
			{
				case 0:
					if (pt->wlen)
						pt->window[pt->wlen - 1 - (i * 7919) % pt->wlen] ^= 0x20;
					break;
				case 1:
					pt->bits = (uint8_t) ((pt->bits + 3) % 8);
					break;
				case 2:
					pt->member_crc ^= 1;
					break;
				case 3:
					pt->comp += 1;
					break;
				case 4:
					pt->out += 1;
					break;
				case 5:
					pt->member_len += 1;
					pt->out += 1;
					break;
			}
			buf = gzindex_serialize(copy, id, &len);
			forged = gzindex_parse(buf, len, id, gz.len, NULL);
			free(buf);
			if (forged == NULL)
				refused++;
			else
			{
				/*
				 * The part before the forged point is checked there; the
				 * part from it to the end.  The scan fails if either does.
				 */
				int			r0 = resume(impl, forged, i - 1, forged->points[i].out, 65536, 256 * 1024, err);
				int			r1 = resume(impl, forged, i, 0, 65536, 256 * 1024, err);
				int			r = r0 == 0 || r1 == 0 ? 0 : (r0 < 0 || r1 < 0 ? -1 : 1);

				if (r < 0)
				{
					wrong++;
					printf("#   %s: forged point %u (change %d) gave wrong bytes\n", name, i, what);
				}
				else if (r == 0)
					failed++;
				else
					right++;
			}
			gzindex_free(copy);
			gzindex_free(forged);
		}
	}
	UNIT_CHECK(wrong == 0, "%s: forged points with a valid checksum: %d refused, %d failed, %d "
			   "decoded right anyway, %d gave wrong bytes", name, refused, failed, right, wrong);
}

/*
 * A scan as parallel.c makes it: every part from its point past the next,
 * checked there.  1: every byte right; 0: some part failed (the statement
 * fails); -1: wrong bytes and no failure.
 */
static int
scan_parts(const GzIndex *ix)
{
	char		err[256];
	bool		failed = false,
				wrong = false;

	for (uint32_t i = 0; i < ix->npoints; i++)
	{
		int			r = resume(INFLATE_IMPL_AUTO, ix, i, i + 1 < ix->npoints ? ix->points[i + 1].out : 0,
							   65536, 256 * 1024, err);

		if (r == 0)
			failed = true;
		else if (r < 0)
			wrong = true;
	}
	return failed ? 0 : (wrong ? -1 : 1);
}

/*
 * Random changes to the file form with its checksum made right again (what
 * only a deliberate forgery or a bug could produce): parsing refuses it, or
 * a scan in parts fails, or gives exactly the object's bytes.
 */
static void
test_mutations(const GzIndex *ix, const char *id)
{
	size_t		len;
	uint8_t    *orig = gzindex_serialize(ix, id, &len);
	uint8_t    *buf = malloc(len);
	unsigned	seed = 12345;
	int			refused = 0,
				failed = 0,
				right = 0,
				wrong = 0;

	for (int round = 0; round < 300; round++)
	{
		GzIndex    *m;
		int			changes;

		memcpy(buf, orig, len);
		seed = seed * 1103515245 + 12345;
		changes = 1 + (seed >> 16) % 4;
		for (int k = 0; k < changes; k++)
		{
			size_t		at;

			seed = seed * 1103515245 + 12345;
			/* half of them in the header and the points' fields (the first 2,000 bytes hold the first point) */
			at = (round % 2 == 0) ? (seed >> 8) % 2000 : (seed >> 4) % (len - 4);
			seed = seed * 1103515245 + 12345;
			buf[at] ^= (uint8_t) (1 + (seed >> 16) % 255);
		}
		{
			uLong		c = crc32(0, buf, (uInt) (len - 4));

			buf[len - 4] = (uint8_t) c;
			buf[len - 3] = (uint8_t) (c >> 8);
			buf[len - 2] = (uint8_t) (c >> 16);
			buf[len - 1] = (uint8_t) (c >> 24);
		}
		m = gzindex_parse(buf, len, id, gz.len, NULL);
		if (m == NULL)
			refused++;
		else
		{
			int			r = scan_parts(m);

			if (r == 0)
				failed++;
			else if (r > 0)
				right++;
			else
			{
				wrong++;
				printf("#   mutation round %d gave wrong bytes without an error\n", round);
			}
			gzindex_free(m);
		}
	}
	UNIT_CHECK(wrong == 0, "300 random changes with the checksum made right: %d refused, %d scans failed, "
			   "%d scanned right anyway, %d gave wrong bytes", refused, failed, right, wrong);
	UNIT_CHECK(scan_parts(ix) == 1, "the unchanged index: a scan in parts gives every byte");
	free(orig);
	free(buf);
}

int
main(void)
{
	const char *id = "s3://bucket/key.json.gz\netag\n1234";
	GzIndex    *ix,
			   *ix2;
	bool		same_out;
	char		err[256];
	uint8_t    *buf;
	size_t		len;

	make_object();

	ix = build(100000, 0, 65536, 256 * 1024, &same_out, err);
	UNIT_CHECK(ix != NULL && same_out, "builder: decodes four members like gzip -d [%s]", err);
	if (ix == NULL)
		return unit_done();
	UNIT_CHECK(ix->npoints > 10 && ix->members == 4 && ix->comp_size == gz.len &&
			   ix->out_size == plain.len, "builder: %u points, %u members, sizes", ix->npoints,
			   ix->members);

	ix2 = build(100000, 0, 1, 7, &same_out, err);
	UNIT_CHECK(ix2 && same_out && same_index(ix, ix2), "builder: 1-byte input, 7-byte output: same bytes, same index");
	gzindex_free(ix2);
	ix2 = build(100000, 0, 4093, 1, &same_out, err);
	UNIT_CHECK(ix2 && same_out && same_index(ix, ix2), "builder: 1-byte output: same bytes, same index");
	gzindex_free(ix2);

	/* truncated, and garbage after: errors, like inflater_run */
	{
		size_t		full = gz.len;

		gz.len = full - 5;
		ix2 = build(100000, 0, 65536, 256 * 1024, &same_out, err);
		UNIT_CHECK(ix2 == NULL && strstr(err, "unexpected end") != NULL, "builder: a truncated object is an error [%s]", err);
		gz.len = full;
		buf_add(&gz, "xy", 2);
		ix2 = build(100000, 0, 65536, 256 * 1024, &same_out, err);
		UNIT_CHECK(ix2 == NULL && strstr(err, "trailing garbage") != NULL, "builder: garbage after the last member is an error [%s]", err);
		gz.len = full;
		gz.p[full / 2] ^= 0x55;
		ix2 = build(100000, 0, 65536, 256 * 1024, &same_out, err);
		UNIT_CHECK(ix2 == NULL, "builder: a corrupt member gives no index [%s]", err);
		gz.p[full / 2] ^= 0x55;
	}

	/* the thinning: every block boundary asked for, at most 8 points kept */
	ix2 = build(1, 8, 65536, 256 * 1024, &same_out, err);
	UNIT_CHECK(ix2 && same_out && ix2->npoints <= 8 && ix2->npoints >= 4,
			   "builder: a span of 1 byte with at most 8 points is thinned to %u points", ix2 ? ix2->npoints : 0);
	if (ix2)
		test_build_and_resume(INFLATE_IMPL_AUTO, "thinned", ix2, false);
	gzindex_free(ix2);

	test_build_and_resume(INFLATE_IMPL_ZLIB, "zlib", ix, true);
	if (inflater_have_isal())
		test_build_and_resume(INFLATE_IMPL_ISAL, "isa-l", ix, true);

	/* the file form */
	buf = gzindex_serialize(ix, id, &len);
	ix2 = gzindex_parse(buf, len, id, gz.len, err);
	UNIT_CHECK(ix2 && same_index(ix, ix2), "file form: read back equal (%zu bytes)", len);
	gzindex_free(ix2);
	UNIT_CHECK(gzindex_parse(buf, len, "s3://bucket/key.json.gz\nother\n1234", gz.len, err) == NULL,
			   "file form: another ETag is refused [%s]", err);
	UNIT_CHECK(gzindex_parse(buf, len, id, gz.len + 1, err) == NULL,
			   "file form: another size is refused [%s]", err);
	{
		bool		all = true;

		for (size_t n = 0; n < len; n += (n < 2000 || len - n < 2000) ? 1 : 97)
			if ((ix2 = gzindex_parse(buf, n, id, gz.len, NULL)) != NULL)
			{
				all = false;
				gzindex_free(ix2);
			}
		UNIT_CHECK(all, "file form: every truncation is refused");
		all = true;
		for (size_t k = 0; k < len; k += (k < 4000 || len - k < 200) ? 1 : 61)
		{
			buf[k] ^= 0x01;
			if ((ix2 = gzindex_parse(buf, len, id, gz.len, NULL)) != NULL)
			{
				all = false;
				gzindex_free(ix2);
			}
			buf[k] ^= 0x01;
		}
		UNIT_CHECK(all, "file form: a flipped bit anywhere is refused");
	}
	free(buf);

	test_forged(INFLATE_IMPL_ZLIB, "zlib", ix, id);
	if (inflater_have_isal())
		test_forged(INFLATE_IMPL_ISAL, "isa-l", ix, id);

	test_mutations(ix, id);

	/* inflater_resume refuses impossible arguments */
	{
		Inflater   *z = inflater_create(INFLATE_IMPL_AUTO);

		UNIT_CHECK(!inflater_resume(z, 10, 8, NULL, 0, 0, 1) && !inflater_resume(z, 0, 3, NULL, 0, 0, 1) &&
				   !inflater_resume(z, 10, 0, NULL, 40000, 0, 1), "inflater_resume: bits > 7, bits at offset 0, a window > 32 KiB are refused");
		inflater_free(z);
	}
	gzindex_free(ix);
	return unit_done();
}
