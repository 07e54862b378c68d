/*-------------------------------------------------------------------------
 *
 * gzsplit.h
 *	  One large gzip object read in parts by the participants of a parallel
 *	  scan, from the restart points of an index (decode/gzindex.h) built
 *	  the first time the object was read whole and kept in a cache under
 *	  the data directory.
 *
 * IDENTIFICATION
 *	  src/fdw/gzsplit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_GZSPLIT_H
#define PIPELINE_FDW_GZSPLIT_H

#include "decode/gzindex.h"
#include "fdw/stream.h"

/* The cache's directory, relative to the data directory. */
#define GZSPLIT_CACHE_DIR	"pipeline_gzindex"

/* Whether an index of the object (for this stream's role) is in the cache. */
extern bool gzsplit_cached(const ObjectStream *s, const S3Object *o);

/*
 * The object's index from the cache, checked (malloc'd: gzindex_free), or
 * NULL if there is none or it is not valid for this object (the reason in
 * *why, palloc'd, if not NULL).
 */
extern GzIndex *gzsplit_load(const ObjectStream *s, const S3Object *o, char **why);

/*
 * For a parallel scan deciding whether to split the object: its index
 * (malloc'd), checked, and its first decompressed bytes decoded from "buf"
 * (its first len compressed bytes) into *out (palloc'd, at most "cap"); NULL
 * if there is no usable index or the bytes do not decode.
 */
extern GzIndex *gzsplit_sniff(const ObjectStream *s, const S3Object *o, const char *buf,
							  size_t len, size_t cap, char **out, size_t *out_len);

/* Could a read of this whole object build an index (by its size)? */
extern bool gzsplit_worth_indexing(int64 size);

/* stream.c's hooks: after stream_begin, instead of inflater_run, at stream_end/free */
extern void gzsplit_begin(ObjectStream *s);
extern InflateResult gzsplit_decode(ObjectStream *s, const uint8_t **in, size_t *in_len,
									bool at_eof, uint8_t *out, size_t out_cap,
									size_t *out_len, const char **error);
extern void gzsplit_end(ObjectStream *s);
extern void gzsplit_free(ObjectStream *s);

#endif							/* PIPELINE_FDW_GZSPLIT_H */
