/*-------------------------------------------------------------------------
 *
 * infer.h
 *	  Schema inference: the columns and types a sample of records calls
 *	  for, as IMPORT FOREIGN SCHEMA proposes them.
 *
 * Records are given one at a time (JSON text of one object, or the fields
 * of one CSV record); the state kept is per distinct key path, never per
 * record, so memory is bounded by the options, not by the sample.  Then
 * infer_result() says what the columns are:
 *
 *	  JSON				column type
 *	  true/false		boolean
 *	  integers			integer, bigint, numeric (beyond bigint)
 *	  numbers			double precision; numeric if one has more than 15
 *						significant digits
 *	  ISO-8601 strings	timestamptz (with Z or an offset), timestamp
 *						(without), date (a date alone)
 *	  other strings		text
 *	  objects			one column per key, named by the dotted path
 *						("loc.lat" -> loc_lat); kept whole as jsonb when
 *						nested deeper than max_depth or holding more than
 *						max_keys distinct keys (a map, not a record)
 *	  arrays			text[], bigint[], double precision[], boolean[]
 *						when every element is such a scalar, else jsonb
 *	  several kinds		jsonb (a number here, a string there)
 *	  only null			text
 *
 * Epoch numbers: an integer (or number) column whose name says it is a
 * time (its words include ts, time, timestamp, epoch or datetime, or it
 * ends in "_at": created_at, eventTime) and whose every value is an
 * instant between 2000-01-01 and 2100-01-01 counted in seconds,
 * milliseconds, microseconds or nanoseconds becomes timestamptz with that
 * unit as its format (epoch_s, epoch_ms, epoch_us, epoch_ns).  Both tests
 * are needed: a counter of ~1.7e9 is not a time, and a "ts" of 42 is not
 * one either.
 *
 * CSV: every field is text; it is typed as above from its text (an empty
 * unquoted field is NULL; numbers with leading zeros stay text: they are
 * codes), and mixed kinds give text.
 *
 * Names: lower case, words of camelCase and other characters separated by
 * '_' (deviceId -> device_id, loc.lat -> loc_lat), at most 63 bytes,
 * unique (a second "a" becomes a_2).  With case_insensitive, keys that
 * differ only in the case of ASCII letters are one column (named after
 * the first spelling seen); without it, they are two.
 *
 * Pure C (malloc, no backend calls); JSON records are expected to be
 * valid (the JSON reader checks a record it returns whole), but anything
 * else is refused without reading past its end.
 *
 * IDENTIFICATION
 *	  src/decode/infer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_INFER_H
#define PIPELINE_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INFER_NAME_MAX	63

typedef struct InferOptions
{
	bool		case_insensitive;
	int			max_depth;		/* objects nested deeper are jsonb (default 4) */
	int			max_keys;		/* objects with more keys are jsonb (default 100) */
	int			max_columns;	/* at most this many columns (default 1000) */
} InferOptions;

typedef struct InferColumn
{
	char		name[INFER_NAME_MAX + 1];
	const char *path;			/* dotted JSON path, or CSV header name */
	const char *type;			/* SQL type, e.g. "double precision" */
	const char *format;			/* "epoch_ms", ... or NULL */
	int64_t		values;			/* records with a value other than null */
} InferColumn;

typedef struct Infer Infer;

/* NULL when out of memory.  Zeroed options fields take their defaults. */
extern Infer *infer_create(const InferOptions *options);
extern void infer_free(Infer *inf);

/* One JSON record (an object); false if it is not one (nothing counted). */
extern bool infer_json(Infer *inf, const char *text, size_t len);

/*
 * CSV: the header (names; NULL: none, columns are c1, c2, ...), then the
 * records.  A field is NULL when unquoted and equal to null_string.
 */
extern void infer_csv_header(Infer *inf, const char *const *fields, const size_t *lens, int n);
extern void infer_csv_record(Infer *inf, const char *const *fields, const size_t *lens,
							 const bool *quoted, int n, const char *null_string);

/* Records counted so far. */
extern int64_t infer_records(const Infer *inf);

/*
 * The columns, in the order their keys were first met (nested keys in
 * place).  Owned by inf; valid until infer_free.  -1 when out of memory.
 */
extern int	infer_result(Infer *inf, const InferColumn **columns);

/* What could not become a column, as sentences; owned by inf. */
extern int	infer_notes(const Infer *inf, const char *const **notes);

/* A column name for a key or dotted path, as above (not made unique). */
extern void infer_name(const char *path, size_t len, char *out);

/*
 * The type of a value of a Hive partition or a key template part given as
 * text: "date", "integer", "bigint" or "text".
 */
extern const char *infer_text_type(const char *v, size_t len);

#endif							/* PIPELINE_INFER_H */
