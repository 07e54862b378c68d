/*-------------------------------------------------------------------------
 *
 * json_number.h
 *	  The JSON reader's number parser on its own: the grammar check and the
 *	  conversions to int64 and double that the walker makes of every
 *	  requested number, with an entry point for their unit tests.
 *
 * Pure C on the outside, like json_reader.h.
 *
 * IDENTIFICATION
 *	  src/decode/json_number.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_JSON_NUMBER_H
#define PIPELINE_JSON_NUMBER_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

/* What json_number_parse found; ok_i / ok_d only when asked for. */
typedef struct JsonNumber
{
	bool		ok_i;			/* i64 holds the number: an integer in range */
	bool		ok_d;			/* f64 holds the number: a double in range */
	int64_t		i64;
	double		f64;
} JsonNumber;

/*
 * The number at p: checked against the JSON grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and followed by a byte
 * that can end it (white space, '"', ',', ':', brackets); NULL when it is
 * not a number, else the byte after it.  Converted to int64 (integers in
 * range only: 1.0 and 1e3 are not) and to double (correctly rounded; an
 * underflow is zero, an overflow not a double) as asked.  Reads up to 8
 * bytes past the byte that ends the number: the text must have them.
 */
extern const char *json_number_parse(const char *p, bool want_int64, bool want_double,
									 JsonNumber *n);

#ifdef __cplusplus
}
#endif

#endif							/* PIPELINE_JSON_NUMBER_H */
