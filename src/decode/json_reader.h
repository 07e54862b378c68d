/*-------------------------------------------------------------------------
 *
 * json_reader.h
 *	  Streaming JSON record reader: turns a buffer of newline-delimited,
 *	  concatenated ({..}{..}) or array ([{..},{..}]) JSON into records, and
 *	  extracts the requested fields of each record.
 *
 * This is the hot path of every scan.  It is pure C on the outside (the
 * implementation is C++: our own SIMD record scanner and field walker,
 * with simdjson for UTF-8 validation) and never calls into the PostgreSQL
 * backend: no palloc, no ereport.  Errors are returned as codes and
 * messages; the caller decides how to report them.  Memory is malloc'd;
 * the caller frees the reader with json_reader_free() (the FDW does it
 * from a memory context reset callback).
 *
 * Usage, for one object (stream of bytes):
 *
 *	  r = json_reader_create(fields, nfields);
 *	  loop:
 *		  append decompressed bytes to buf (buf must have JSON_READER_PADDING
 *		  readable bytes after len);
 *		  json_reader_feed(r, buf, len, at_eof);
 *		  while ((rc = json_reader_next(r, values)) == JSON_RECORD)
 *			  use values[0..nfields-1]; (valid until the next call)
 *		  if rc == JSON_NEED_MORE: keep buf[json_reader_consumed(r)..len),
 *			  move it to the front, append more bytes, feed again
 *		  if rc == JSON_BAD_RECORD: json_reader_error(r) describes it; the
 *			  reader has skipped the record, calling next() again continues
 *		  if rc == JSON_END: done (only returned when at_eof was true)
 *		  if rc == JSON_FATAL: stop (out of memory); json_reader_error(r)
 *	  json_reader_reset(r) before the next object.
 *
 * Buffers: 256 KiB is a good size (measured: 64 KiB and 1-4 MiB are
 * slower; inflating into it and parsing it then stay in the L2 cache).
 * If next() says JSON_NEED_MORE with json_reader_consumed(r) == 0 while the
 * buffer is full, one record is larger than the buffer: grow it (up to a
 * limit of the caller's choosing) and feed again.  The records found do
 * not depend on where the buffers end: the same input gives the same
 * records and errors however it is cut.
 *
 * Layouts: records are objects, newline-delimited (blank lines, CRLF),
 * concatenated with or without white space ({..}{..}), or elements of
 * top-level arrays, which are streamed (never held whole) and may be mixed
 * with the other forms.  A UTF-8 byte order mark at the start is skipped.
 *
 * Bad records: invalid UTF-8, a raw control character in a string, bad
 * syntax, mismatched brackets, nesting deeper than 1024, a top-level
 * scalar, an array element that is not an object: JSON_BAD_RECORD, and
 * the reader goes on after the bad record's closing bracket - or at the
 * next line, when the input looks newline-delimited and the bad record
 * spans lines: a line break inside a string or a '{' at the start of a
 * line while a record is still open end that record as a broken line.  At
 * the end of input an unfinished record is a bad record ("truncated
 * record ...").
 *
 * What is checked beyond that: every requested value in full (a string's
 * escapes, a number's grammar, an array or object whose text is asked for
 * all the way down, the whole record when "" is requested), and the
 * syntax of the record's objects as far as the walk goes.  Values that
 * are not requested are skipped unchecked, as On-Demand parsers do (a
 * malformed number or literal there goes unnoticed), and once every
 * requested key of an object has been met, the rest of it is not looked
 * at: a missing comma after the last requested field, or any syntax error
 * when no field is requested (count(*)), is not a bad record.  A record
 * that lacks a requested key is walked, and checked, to its end.
 *
 * IDENTIFICATION
 *	  src/decode/json_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_JSON_READER_H
#define PIPELINE_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

/* Bytes that must be readable (any content) after the end of a fed buffer. */
#define JSON_READER_PADDING 64

/* What the caller wants from a field: decides which conversion is done. */
typedef enum JsonWant
{
	JSON_WANT_ANY = 0,			/* string unescaped; anything else as raw text */
	JSON_WANT_INT64,			/* numbers also parsed as int64 (if integral) */
	JSON_WANT_DOUBLE,			/* numbers also parsed as double */
	JSON_WANT_RAW				/* raw JSON text of any value (json/jsonb) */
} JsonWant;

/* The JSON type of a value found in a record. */
typedef enum JsonKind
{
	JSON_MISSING = 0,			/* key absent from the record */
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
} JsonKind;

/*
 * One requested field.  The same path may be requested up to 8 times (for
 * instance once as RAW and once as INT64); "loc" and "loc.lat" may both be
 * requested.  Keys that contain '.' cannot be named.  When a key appears
 * twice in an object the first one counts and later ones are ignored,
 * whatever their values are (so "o" and "o.x" always come from the same
 * object): this lets the reader stop reading a record as soon as it has
 * met every requested key.
 */
typedef struct JsonField
{
	const char *path;			/* key, or dotted path "loc.lat" into nested
								 * objects; "" means the whole record */
	JsonWant	want;
	bool		want_elements;	/* for arrays: also split the elements,
								 * each converted according to "want" */
} JsonField;

/*
 * A value extracted from a record.  What "str" holds:
 *	  MISSING		NULL
 *	  NULL			NULL ("null" with JSON_WANT_RAW)
 *	  FALSE, TRUE	"false", "true"
 *	  NUMBER		the number's text, always checked against the JSON grammar
 *	  STRING		unescaped text; with JSON_WANT_RAW the raw text, quotes and
 *					escapes included
 *	  ARRAY, OBJECT the raw text
 * Strings and elements point into the fed buffer or into the reader; all
 * of it is valid until the next call of json_reader_next().
 */
typedef struct JsonValue
{
	JsonKind	kind;
	bool		num_ok;			/* JSON_NUMBER: i64/f64 holds the number
								 * (int64 when want was INT64 and the number
								 * is an integer in range, double when
								 * want was DOUBLE) */
	int64_t		i64;
	double		f64;
	const char *str;			/* STRING: unescaped UTF-8 (no NUL check);
								 * NUMBER: the number's text; ARRAY/OBJECT:
								 * raw JSON text; RAW want: raw text of any
								 * value. Not NUL-terminated. */
	size_t		len;
	bool		has_nul;		/* STRING: the unescaped text contains \u0000 */
	struct JsonValue *elems;	/* ARRAY with want_elements: the elements
								 * (never NULL then, even for []); nested
								 * arrays and objects in it as raw text */
	int			nelems;
} JsonValue;

typedef enum JsonResult
{
	JSON_RECORD,				/* a record is in values[] */
	JSON_NEED_MORE,				/* the rest of the buffer is an incomplete
								 * record: feed more bytes */
	JSON_BAD_RECORD,			/* a malformed record was skipped */
	JSON_END,					/* at_eof and everything consumed */
	JSON_FATAL					/* out of memory: cannot continue; every
								 * later next() says so again until
								 * json_reader_reset() */
} JsonResult;

/* Where and why the last JSON_BAD_RECORD / JSON_FATAL happened. */
typedef struct JsonError
{
	const char *message;		/* e.g. "unexpected character" */
	size_t		record_offset;	/* offset of the record's first byte in the
								 * fed buffer */
	size_t		error_offset;	/* offset of the offending byte in the fed
								 * buffer (>= record_offset) */
	const char *record_text;	/* the record's raw text (for rejects) */
	size_t		record_len;
	bool		too_large;		/* JSON_BAD_RECORD: not malformed, but more
								 * than the reader may take to decode it
								 * (json_reader_set_max_elements) */
} JsonError;

typedef struct JsonReader JsonReader;

/* NULL when out of memory or a path is requested more than 8 times. */
extern JsonReader *json_reader_create(const JsonField *fields, int nfields);

/*
 * The same, but a key matches a path's key whatever the case of its ASCII
 * letters ("UserId" is "userid"; other characters compare as they are),
 * as the JSON SerDes of Hive and Athena match keys.  Paths that differ
 * only in case are then the same path.  Keys that differ only in case in
 * one object are duplicates: the first one counts, as for any duplicate.
 * Keys written as requested cost what they always do; the others are
 * compared once more, without case.
 */
extern JsonReader *json_reader_create_folded(const JsonField *fields, int nfields);
extern void json_reader_free(JsonReader *r);

/*
 * Decode at most "max" array elements per record (default: no limit),
 * shared equally among the fields that split arrays (want_elements): each
 * such field may have max / (their number) elements.  Each element takes a
 * JsonValue (64 bytes) while the record is decoded, whatever its size in
 * the record ("1," is two bytes), so a record of small elements would
 * otherwise take 32 times its size.  A record with more is a
 * JSON_BAD_RECORD with err.too_large set.  The check is made only when an
 * element buffer grows: it costs nothing per element.
 */
extern void json_reader_set_max_elements(JsonReader *r, size_t max);

/* Forget any state of the previous object. */
extern void json_reader_reset(JsonReader *r);

/*
 * Hand the reader a buffer.  It must stay valid, unchanged, until
 * json_reader_next returns JSON_NEED_MORE or JSON_END.  at_eof says that no
 * more bytes follow: an incomplete record at the end is then an error.
 */
extern void json_reader_feed(JsonReader *r, const char *buf, size_t len,
							 bool at_eof);

/* Next record; values[] has one entry per requested field. */
extern JsonResult json_reader_next(JsonReader *r, JsonValue *values);

/* Bytes of the fed buffer that are done with (valid after JSON_NEED_MORE). */
extern size_t json_reader_consumed(const JsonReader *r);

/* Offset in the fed buffer of the first byte of the last record returned. */
extern size_t json_reader_record_offset(const JsonReader *r);

extern const JsonError *json_reader_error(const JsonReader *r);

/*
 * The record scanner's instruction set: "avx2" when the CPU has it, else
 * "sse2" (or "scalar" off x86-64).  For EXPLAIN, and for tests, which can
 * force the baseline scanner to check that both give the same records.
 */
extern const char *json_reader_simd(void);
extern void json_reader_force_baseline(bool on);

#ifdef __cplusplus
}
#endif

#endif							/* PIPELINE_JSON_READER_H */
