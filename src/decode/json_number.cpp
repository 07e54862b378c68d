/*-------------------------------------------------------------------------
 *
 * json_number.cpp
 *	  JSON numbers: the entry point of the number parser for its unit tests
 *	  (json_number.h).
 *
 * The parser itself, parse_number, is inline in json_internal.hpp: the
 * walker calls it for every requested number, and always inlines it into
 * the conversions that ask for one kind of number, so that each call site
 * keeps only the conversions it wants.  How it converts: with at most 19
 * digits, a mantissa below 2^53 and a power of ten up to 22, one
 * multiplication or division of two exact values is correctly rounded
 * (Clinger's fast path, nearly every number in practice); anything else
 * goes to std::from_chars, which also rounds correctly.
 *
 * IDENTIFICATION
 *	  src/decode/json_number.cpp
 *
 *-------------------------------------------------------------------------
 */
#include "json_internal.hpp"
#include "json_number.h"

extern "C" const char *
json_number_parse(const char *p, bool want_int64, bool want_double, JsonNumber *n)
{
	n->ok_i = false;
	n->ok_d = false;
	n->i64 = 0;
	n->f64 = 0;
	return parse_number(p, want_int64, want_double, n);
}
