/*-------------------------------------------------------------------------
 *
 * gzindex.h
 *	  An index of restart points into a gzip object (zran-style), so that
 *	  parts of one large gzip object can be decompressed by different
 *	  processes: built while the object is read whole once, kept, and read
 *	  back with every field checked.
 *
 * A restart point is either the start of a gzip member (decoding begins
 * afresh there: several members back to back, as appending writers make),
 * or a deflate block boundary inside a member: the compressed byte offset
 * and bit position, the 32 KiB of decompressed data before it (the window
 * back-references may reach into), and the CRC-32 and length of the
 * member's decompressed bytes before it, so that whoever resumes there can
 * still check the member's trailer (inflater_resume in inflate.h) and the
 * CRC at the next point.
 *
 * Pure C, no backend calls: built into the unit tests too.  Memory is
 * malloc'd; gzindex_free releases an index, gzindex_builder_free a builder.
 *
 * IDENTIFICATION
 *	  src/decode/gzindex.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_GZINDEX_H
#define PIPELINE_GZINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inflate.h"

#define GZINDEX_WINDOW	32768

typedef struct GzPoint
{
	uint64_t	comp;			/* compressed offset: the first whole byte */
	uint64_t	out;			/* decompressed offset in the whole object */
	uint64_t	member_len;		/* the member's decompressed bytes before it */
	uint32_t	member_crc;		/* their CRC-32 */
	uint32_t	member;			/* number of the member, from 0 */
	uint8_t		bits;			/* 0-7: bits of byte comp - 1 still to decode */
	bool		member_start;	/* at a member's header: bits 0, no CRC */
	uint32_t	wlen;			/* bytes of window: min(out, 32 KiB) */
	uint8_t    *window;			/* the wlen decompressed bytes before "out"
								 * (at a member's start only the last one is
								 * used: where a part's first line starts) */
} GzPoint;

typedef struct GzIndex
{
	uint64_t	comp_size;		/* the object's compressed size */
	uint64_t	out_size;		/* and decompressed */
	uint32_t	members;
	uint32_t	npoints;		/* at least 1: points[0] is the object's start */
	GzPoint    *points;
} GzIndex;

typedef struct GzIndexBuilder GzIndexBuilder;

/*
 * A builder that decodes the object (zlib, one block at a time) and notes a
 * restart point about every "span" decompressed bytes: at the first block
 * boundary or member start after span bytes.  Past max_points (0: 1024,
 * the most an index may have) every other point is dropped and the span
 * doubled.  NULL when out of memory.
 */
extern GzIndexBuilder *gzindex_builder_create(uint64_t span, uint32_t max_points);
extern void gzindex_builder_free(GzIndexBuilder *b);

/*
 * Decode, with the contract of inflater_run (inflate.h): input cut
 * anywhere, END only after the last member with no output, ERROR with
 * gzindex_builder_error().  Members' CRCs and lengths are checked.
 */
extern InflateResult gzindex_builder_run(GzIndexBuilder *b,
										 const uint8_t **in, size_t *in_len, bool at_eof,
										 uint8_t *out, size_t out_cap, size_t *out_len);
extern const char *gzindex_builder_error(const GzIndexBuilder *b);

/*
 * After gzindex_builder_run returned INFLATE_END: the index (the builder
 * gives it up), or NULL (out of memory, or not at the end).
 */
extern GzIndex *gzindex_builder_finish(GzIndexBuilder *b);

extern void gzindex_free(GzIndex *ix);

/*
 * The file form: a magic number, the identity of the object it was built
 * from (the caller's string: bucket, key, ETag, size), the points with
 * their windows, and a CRC-32 of all of it.  gzindex_serialize returns a
 * malloc'd buffer (NULL: out of memory).
 */
extern uint8_t *gzindex_serialize(const GzIndex *ix, const char *identity, size_t *len);

/*
 * Read an index back: NULL, with the reason in why (if not NULL, at least
 * 128 bytes), unless every field is consistent: the magic, the CRC, the
 * identity equal to "identity", comp_size equal to "comp_size", points in
 * increasing order inside the object, windows as long as they must be.
 * An index that is read back can still be wrong only if its CRC-32 matches
 * by chance; the CRC checks at the points (inflater_expect) then fail the
 * read rather than give wrong data.
 */
extern GzIndex *gzindex_parse(const uint8_t *buf, size_t len, const char *identity,
							  uint64_t comp_size, char *why);

#endif							/* PIPELINE_GZINDEX_H */
