/*-------------------------------------------------------------------------
 *
 * csv_reader.h
 *	  Streaming CSV record reader (RFC 4180: quoted fields, doubled quotes,
 *	  line breaks inside quotes, CRLF or LF), as Athena writes it.
 *
 * Pure C, no backend calls; memory is malloc'd.  Same feeding protocol as
 * json_reader.h: feed a buffer, take records until CSV_NEED_MORE, keep the
 * unconsumed tail, feed again.
 *
 * IDENTIFICATION
 *	  src/decode/csv_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CSV_READER_H
#define PIPELINE_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CsvResult
{
	CSV_RECORD,
	CSV_NEED_MORE,
	CSV_BAD_RECORD,				/* e.g. unterminated quote at end of input,
								 * character after closing quote; skipped */
	CSV_END,
	CSV_FATAL					/* cannot continue (out of memory) */
} CsvResult;

typedef struct CsvField
{
	const char *str;			/* unquoted text, not NUL-terminated; valid
								 * until the next call */
	size_t		len;
	bool		quoted;			/* was quoted (so "" is an empty string, and
								 * an unquoted empty field can mean NULL) */
} CsvField;

typedef struct CsvReader CsvReader;

extern CsvReader *csv_reader_create(char delimiter, char quote);

/*
 * Store at most "max_fields" fields of a record (default: all).  The
 * fields after them are still parsed, to find where the record ends, but
 * take no memory: a line of 32 million commas costs no more than the
 * caller needs from it.  csv_reader_next's *nfields is then at most
 * max_fields, and csv_reader_fields_seen() tells how many there were.
 */
extern void csv_reader_set_max_fields(CsvReader *r, int max_fields);
extern int64_t csv_reader_fields_seen(const CsvReader *r);

/* Bytes of memory a stored field takes (for callers' memory budgets). */
extern size_t csv_reader_field_bytes(void);
extern void csv_reader_free(CsvReader *r);
extern void csv_reader_reset(CsvReader *r);
extern void csv_reader_feed(CsvReader *r, const char *buf, size_t len, bool at_eof);

/*
 * Next record: *fields points to *nfields fields, valid until the next call.
 * An empty line is a record of one empty unquoted field.  After
 * CSV_BAD_RECORD the reader has skipped to the next line.
 */
extern CsvResult csv_reader_next(CsvReader *r, const CsvField **fields, int *nfields);
extern size_t csv_reader_consumed(const CsvReader *r);
extern size_t csv_reader_record_offset(const CsvReader *r);
extern const char *csv_reader_error(const CsvReader *r);

#endif							/* PIPELINE_CSV_READER_H */
