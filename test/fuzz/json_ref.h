/*-------------------------------------------------------------------------
 *
 * json_ref.h
 *	  The reference JSON parser of test/fuzz/fuzz_json_reader.c
 *	  (json_ref.c), written from RFC 8259.  Every function takes the text
 *	  p..e and returns the byte after what it read, or NULL if that is not
 *	  valid.
 *
 * IDENTIFICATION
 *	  test/fuzz/json_ref.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_JSON_REF_H
#define PIPELINE_JSON_REF_H

#include <stdbool.h>

#include "fuzz.h"

/* Nesting limit (the reader's, simdjson's). */
#define JSON_REF_MAX_DEPTH 1024

/* Past JSON white space. */
extern const char *ref_ws(const char *p, const char *e);

/*
 * The string whose quote is at p, unescaped into out (if given); *nul is
 * set if it holds \u0000.  A lone surrogate escape is refused.
 */
extern const char *ref_string(const char *p, const char *e, Str *out, bool *nul);

/* The value at p (no white space before it), nested at "depth". */
extern const char *ref_value(const char *p, const char *e, int depth);

/* A valid record (an object) at p. */
extern const char *ref_record(const char *p, const char *e);

/*
 * The value at a dotted path in the valid object at rec (the first member
 * with each key counts); NULL if absent.
 */
extern const char *ref_lookup(const char *rec, const char *e, const char *path);

#endif							/* PIPELINE_JSON_REF_H */
