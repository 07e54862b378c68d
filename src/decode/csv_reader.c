/*-------------------------------------------------------------------------
 *
 * csv_reader.c
 *	  Streaming RFC 4180 CSV record reader.
 *
 * A record is parsed only when all of it is in the buffer: if the buffer
 * ends inside a record we return CSV_NEED_MORE with the record's start as
 * the consumed offset, so the caller keeps the partial record and appends.
 * Fields point into the caller's buffer; only quoted fields with doubled
 * quotes are copied, into a scratch buffer, to undouble them.
 *
 * Line ends are LF or CRLF, inside quotes too (kept as data there).  A
 * field count that varies from record to record is not an error here: the
 * caller knows how many columns it expects.
 *
 * Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/decode/csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"

/* Where a field's text is, before pointers can be fixed. */
typedef struct FieldPos
{
	size_t		off;			/* offset in buf, or in scratch */
	size_t		len;
	bool		quoted;
	bool		in_scratch;
} FieldPos;

struct CsvReader
{
	char		delim;
	char		quote;

	const char *buf;
	size_t		len;
	bool		at_eof;
	size_t		pos;			/* start of the next record */
	size_t		rec_offset;		/* start of the last record returned */

	FieldPos   *fpos;
	CsvField   *fields;
	int			cap;
	int			max_fields;		/* fields stored per record at most */
	int			room;			/* min(cap, max_fields) */
	int64_t		seen;			/* fields in the last record */

	char	   *scratch;
	size_t		scratch_len;
	size_t		scratch_cap;

	char		errbuf[128];
};

CsvReader *
csv_reader_create(char delimiter, char quote)
{
	CsvReader  *r = calloc(1, sizeof(CsvReader));

	if (r == NULL)
		return NULL;
	r->delim = delimiter;
	r->quote = quote;
	r->max_fields = INT_MAX;
	r->cap = 16;
	r->room = r->cap;
	r->fpos = malloc(sizeof(FieldPos) * r->cap);
	r->fields = malloc(sizeof(CsvField) * r->cap);
	if (r->fpos == NULL || r->fields == NULL)
	{
		csv_reader_free(r);
		return NULL;
	}
	return r;
}

void
csv_reader_free(CsvReader *r)
{
	if (r == NULL)
		return;
	free(r->fpos);
	free(r->fields);
	free(r->scratch);
	free(r);
}

void
csv_reader_reset(CsvReader *r)
{
	r->buf = NULL;
	r->len = 0;
	r->at_eof = false;
	r->pos = 0;
	r->rec_offset = 0;
	r->errbuf[0] = '\0';
}

void
csv_reader_feed(CsvReader *r, const char *buf, size_t len, bool at_eof)
{
	r->buf = buf;
	r->len = len;
	r->at_eof = at_eof;
	r->pos = 0;
	r->rec_offset = 0;
}

void
csv_reader_set_max_fields(CsvReader *r, int max_fields)
{
	r->max_fields = max_fields < 0 ? 0 : max_fields;
	r->room = r->cap < r->max_fields ? r->cap : r->max_fields;
}

int64_t
csv_reader_fields_seen(const CsvReader *r)
{
	return r->seen;
}

size_t
csv_reader_field_bytes(void)
{
	return sizeof(FieldPos) + sizeof(CsvField);
}

size_t
csv_reader_consumed(const CsvReader *r)
{
	return r->pos;
}

size_t
csv_reader_record_offset(const CsvReader *r)
{
	return r->rec_offset;
}

const char *
csv_reader_error(const CsvReader *r)
{
	return r->errbuf;
}

/*
 * Make room for field n; false on out of memory.  Past max_fields there is
 * nothing to make: the field is only counted (*store is false).
 */
static bool __attribute__((noinline))
field_room(CsvReader *r, int64_t n, bool *store)
{
	*store = n < r->max_fields;
	if (*store && n >= r->cap)
	{
		int			ncap = r->cap * 2;
		FieldPos   *fp = realloc(r->fpos, sizeof(FieldPos) * ncap);
		CsvField   *f;

		if (fp == NULL)
			return false;
		r->fpos = fp;
		f = realloc(r->fields, sizeof(CsvField) * ncap);
		if (f == NULL)
			return false;
		r->fields = f;
		r->cap = ncap;
	}
	r->room = r->cap < r->max_fields ? r->cap : r->max_fields;
	return true;
}

/*
 * Store field n.  "room" is min(cap, max_fields): one comparison per field
 * covers both the growth of the arrays and the fields not kept.
 */
static inline bool
add_field(CsvReader *r, int64_t n, size_t off, size_t len, bool quoted, bool in_scratch)
{
	if (__builtin_expect(n >= r->room, 0))
	{
		bool		store;

		if (!field_room(r, n, &store))
			return false;
		if (!store)
			return true;
	}
	r->fpos[n].off = off;
	r->fpos[n].len = len;
	r->fpos[n].quoted = quoted;
	r->fpos[n].in_scratch = in_scratch;
	return true;
}

static bool
scratch_add(CsvReader *r, const char *p, size_t n)
{
	if (r->scratch_len + n > r->scratch_cap)
	{
		size_t		ncap = (r->scratch_len + n) * 2 + 64;
		char	   *s = realloc(r->scratch, ncap);

		if (s == NULL)
			return false;
		r->scratch = s;
		r->scratch_cap = ncap;
	}
	memcpy(r->scratch + r->scratch_len, p, n);
	r->scratch_len += n;
	return true;
}

/*
 * Skip a malformed record: up to and including the next line feed.  The
 * line feed may belong to a quoted field further on; we cannot know, and
 * resynchronising at the next line is what other readers do too.
 */
static CsvResult
bad_record(CsvReader *r, size_t start, size_t at, const char *msg)
{
	const char *nl = memchr(r->buf + at, '\n', r->len - at);

	if (nl == NULL && !r->at_eof)
	{
		r->pos = start;
		return CSV_NEED_MORE;
	}
	snprintf(r->errbuf, sizeof(r->errbuf), "%s", msg);
	r->rec_offset = start;
	r->pos = nl ? (size_t) (nl - r->buf) + 1 : r->len;
	return CSV_BAD_RECORD;
}

CsvResult
csv_reader_next(CsvReader *r, const CsvField **fields, int *nfields)
{
	const char *buf = r->buf;
	size_t		len = r->len;
	size_t		start = r->pos;
	size_t		p = start;
	int64_t		n = 0;			/* fields so far (stored: up to max_fields) */
	const char	delim = r->delim;
	const char	quote = r->quote;

	*fields = NULL;
	*nfields = 0;
	if (p >= len)
		return r->at_eof ? CSV_END : CSV_NEED_MORE;

	r->scratch_len = 0;
	for (;;)
	{
		if (quote != '\0' && p < len && buf[p] == quote)
		{
			/* quoted field: up to a quote that is not doubled */
			size_t		q = p + 1;
			size_t		seg = q;
			bool		copied = false;
			size_t		soff = r->scratch_len;

			for (;;)
			{
				const char *e = memchr(buf + q, quote, len - q);

				if (e == NULL)
				{
					if (!r->at_eof)
					{
						r->pos = start;
						return CSV_NEED_MORE;
					}
					snprintf(r->errbuf, sizeof(r->errbuf),
							 "unterminated quoted field at end of input");
					r->rec_offset = start;
					r->pos = len;
					return CSV_BAD_RECORD;
				}
				q = (size_t) (e - buf);
				if (q + 1 >= len && !r->at_eof)
				{
					/* a doubled quote may be cut at the buffer end */
					r->pos = start;
					return CSV_NEED_MORE;
				}
				if (q + 1 < len && buf[q + 1] == quote)
				{
					/* doubled quote: keep one (of a field that is kept) */
					if (n < r->max_fields && !scratch_add(r, buf + seg, q + 1 - seg))
						goto oom;
					copied = true;
					q += 2;
					seg = q;
					continue;
				}
				break;
			}
			if (copied && n < r->max_fields)
			{
				if (!scratch_add(r, buf + seg, q - seg) ||
					!add_field(r, n++, soff, r->scratch_len - soff, true, true))
					goto oom;
			}
			else if (!add_field(r, n++, p + 1, q - p - 1, true, false))
				goto oom;
			p = q + 1;

			/* after the closing quote: delimiter, line end or end of input */
			if (p >= len)
				break;			/* at_eof here, or we returned NEED_MORE */
			if (buf[p] == delim)
			{
				p++;
				continue;
			}
			if (buf[p] == '\n')
			{
				p++;
				break;
			}
			if (buf[p] == '\r')
			{
				if (p + 1 >= len && !r->at_eof)
				{
					r->pos = start;
					return CSV_NEED_MORE;
				}
				if (p + 1 >= len)
				{
					p++;
					break;
				}
				if (buf[p + 1] == '\n')
				{
					p += 2;
					break;
				}
			}
			return bad_record(r, start, p, "unexpected character after closing quote");
		}
		else
		{
			/* unquoted field: up to the delimiter or the line end */
			size_t		q = p;

			while (q < len && buf[q] != delim && buf[q] != '\n')
				q++;
			if (q >= len && !r->at_eof)
			{
				r->pos = start;
				return CSV_NEED_MORE;
			}
			if (q < len && buf[q] == delim)
			{
				if (!add_field(r, n++, p, q - p, false, false))
					goto oom;
				p = q + 1;
				continue;
			}
			/* line end (strip the CR of CRLF) or end of input */
			{
				size_t		e = q;

				if (e > p && buf[e - 1] == '\r')
					e--;
				if (!add_field(r, n++, p, e - p, false, false))
					goto oom;
			}
			p = (q < len) ? q + 1 : q;
			break;
		}
	}

	r->seen = n;
	if (n > r->max_fields)
		n = r->max_fields;
	for (int i = 0; i < n; i++)
	{
		r->fields[i].str = (r->fpos[i].in_scratch ? r->scratch : buf) + r->fpos[i].off;
		r->fields[i].len = r->fpos[i].len;
		r->fields[i].quoted = r->fpos[i].quoted;
	}
	r->rec_offset = start;
	r->pos = p;
	*fields = r->fields;
	*nfields = (int) n;
	return CSV_RECORD;

oom:
	snprintf(r->errbuf, sizeof(r->errbuf), "out of memory");
	r->rec_offset = start;
	r->pos = start;
	return CSV_FATAL;
}
