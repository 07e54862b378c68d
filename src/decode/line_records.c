/*-------------------------------------------------------------------------
 *
 * line_records.c
 *	  Does a sample of an object hold one record per line?
 *
 * The records the readers find (json_reader, csv_reader) are compared
 * with the lines: the n-th record must start the n-th non-blank line (for
 * CSV, the n-th line: a blank line is a record there), and there must be
 * as many records as such lines.
 *
 * A record starts its line at its first byte, not after blanks: a part
 * of a split object begins at the first line start at or after its first
 * byte, and the part before it stops at the first record at or after that
 * byte that starts a line (line_records_starts_line: after blanks too), so
 * a record after blanks on a line that starts before the cut, the cut in
 * the blanks, would be read by neither (the parts then disagree on the
 * boundary, and the scan fails; found by test/fuzz/fuzz_json_reader).
 *
 * IDENTIFICATION
 *	  src/decode/line_records.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "decode/csv_reader.h"
#include "decode/json_reader.h"
#include "decode/line_records.h"

/* The first byte of line [start, end) that is not a blank, or end. */
static size_t
skip_blanks(const char *buf, size_t start, size_t end)
{
	while (start < end && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\r'))
		start++;
	return start;
}

static bool
check_json(const char *buf, size_t len)
{
	JsonReader *r = json_reader_create(NULL, 0);
	JsonValue	values[1];
	size_t		pos = 0;
	int			records = 0;
	bool		ok = true;

	if (r == NULL)
		return false;
	json_reader_feed(r, buf, len, true);
	/* a UTF-8 byte order mark at the start belongs to no line */
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (ok && pos < len)
	{
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - buf) : len;
		size_t		first = skip_blanks(buf, pos, end);

		if (first < end)
		{
			/* a non-blank line: the next record starts it, right there */
			if (first != pos ||
				json_reader_next(r, values) != JSON_RECORD ||
				json_reader_record_offset(r) != first)
				ok = false;
			else
				records++;
		}
		pos = end + 1;
	}
	/* and no record is left that no line started */
	if (ok && json_reader_next(r, values) != JSON_END)
		ok = false;
	json_reader_free(r);
	return ok && records >= 2;
}

static bool
check_csv(const char *buf, size_t len, char delimiter, char quote, bool header,
		  size_t *header_len)
{
	CsvReader  *r = csv_reader_create(delimiter, quote);
	const CsvField *fields;
	int			nfields;
	size_t		pos = 0;
	int			records = 0;
	bool		ok = true;

	if (r == NULL)
		return false;
	csv_reader_set_max_fields(r, 1);
	csv_reader_feed(r, buf, len, true);
	while (ok && pos < len)
	{
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - buf) : len;

		if (csv_reader_next(r, &fields, &nfields) != CSV_RECORD ||
			csv_reader_record_offset(r) != pos)
			ok = false;
		else if (records++ == 0 && header)
			*header_len = end + 1;
		pos = end + 1;
	}
	if (ok && csv_reader_next(r, &fields, &nfields) != CSV_END)
		ok = false;
	csv_reader_free(r);
	return ok && records >= (header ? 3 : 2);
}

bool
line_records_starts_line(const char *buf, size_t off, bool before)
{
	while (off > 0 && (buf[off - 1] == ' ' || buf[off - 1] == '\t' || buf[off - 1] == '\r'))
		off--;
	return off > 0 ? buf[off - 1] == '\n' : before;
}

bool
line_records_check(bool csv, const char *buf, size_t len, char delimiter, char quote,
				   bool header, size_t *header_len)
{
	const char *last;

	*header_len = 0;
	/* complete lines only */
	last = len > 0 ? memrchr(buf, '\n', len) : NULL;
	if (last == NULL)
		return false;
	len = (size_t) (last - buf) + 1;
	if (csv)
		return check_csv(buf, len, delimiter, quote, header, header_len);
	return check_json(buf, len);
}
