/*-------------------------------------------------------------------------
 *
 * line_records.h
 *	  Does a sample of an object hold one record per line?  Such an object
 *	  can be read in byte ranges by several processes: each range starts
 *	  with the first record after its first line end.
 *
 * Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/decode/line_records.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_LINE_RECORDS_H
#define PIPELINE_LINE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * line_records_check: true if the complete lines of "buf" (the first
 * "len" bytes of an object; an incomplete last line is ignored) hold at
 * least two records, and every record starts a line (after blanks) and
 * ends on it: no record spans lines (pretty-printed JSON, a CSV field
 * quoted over a line end), no line holds two ({..}{..}), no top-level
 * array.  "buf" needs JSON_READER_PADDING readable bytes after "len".
 * CSV: with "header", *header_len is the length of the first line, line
 * end included (0 otherwise).
 */
extern bool line_records_check(bool csv, const char *buf, size_t len, char delimiter,
							   char quote, bool header, size_t *header_len);

/*
 * line_records_starts_line: does the record at buf[off] start its line,
 * with nothing but blanks (space, tab, CR) between it and the line end
 * before it?  "before" answers for off = 0 (or blanks back to buf[0]):
 * whether the bytes before buf[0] end that way (true at an object's
 * start).  A part of a split object stops at the first record at or
 * after its end that starts a line: where the next part begins.  A record
 * later on the same line (after a bad record, or a second record on the
 * line) belongs to the part in which its line starts.
 */
extern bool line_records_starts_line(const char *buf, size_t off, bool before);

#endif							/* PIPELINE_LINE_RECORDS_H */
