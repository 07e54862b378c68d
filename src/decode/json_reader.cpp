/*-------------------------------------------------------------------------
 *
 * json_reader.cpp
 *	  Streaming JSON record reader (json_reader.h): records out of a stream
 *	  of buffers, in any of the layouts, with the requested fields of each.
 *
 * Two steps per record: the boundary scanner (json_scan.cpp) finds where
 * the record ends and checks what every record must satisfy, then the
 * walker (json_walk.cpp) goes through it once, converting the values that
 * the path trie (json_trie.cpp) asks for.  This file is the API around
 * them: it follows the layouts (newline-delimited, concatenated, top-level
 * arrays, a byte order mark), hands each complete record to the walker,
 * and turns what cannot be a record into bad records, going on after them
 * the way json_reader.h describes.  json_internal.hpp holds what the files
 * share.
 *
 * IDENTIFICATION
 *	  src/decode/json_reader.cpp
 *
 *-------------------------------------------------------------------------
 */
#include <climits>
#include <new>
#include <stdio.h>
#include <stdlib.h>

#include "json_internal.hpp"

/* A byte that ends a bare token (number, literal or garbage). */
static inline bool
is_token_end(char c)
{
	return is_ws(c) || c == ',' || c == ']' || c == '}' || c == '[' ||
		c == '{' || c == '"';
}

/*
 * Describe the last bad record (or fatal error) in r->err: the record
 * [rec_start, rec_end), the offending byte err_at, and the message (fmt,
 * with one %s for detail if given).
 */
static void
set_error(JsonReader *r, size_t rec_start, size_t rec_end, size_t err_at,
		  const char *fmt, const char *detail)
{
	if (detail)
		snprintf(r->errbuf, sizeof(r->errbuf), fmt, detail);
	else
		snprintf(r->errbuf, sizeof(r->errbuf), "%s", fmt);
	r->err.message = r->errbuf;
	if (rec_start > r->len)
		rec_start = r->len;
	if (rec_end < rec_start)
		rec_end = rec_start;
	if (rec_end > r->len)
		rec_end = r->len;
	if (err_at < rec_start || err_at > r->len)
		err_at = rec_start;
	r->err.record_offset = rec_start;
	r->err.error_offset = err_at;
	r->err.record_text = r->buf ? r->buf + rec_start : NULL;
	r->err.record_len = rec_end - rec_start;
	r->err.too_large = false;
}

static JsonReader *
create_reader(const JsonField *fields, int nfields, bool fold)
{
	JsonReader *r = new(std::nothrow) JsonReader();

	if (r == NULL)
		return NULL;
	choose_scanner();
	r->fold = fold;				/* before trie_add: it lowers the paths */
	r->max_elems = SIZE_MAX;
	r->max_field_elems = INT_MAX;
	r->nfields = nfields;
	r->fields = (JsonField *) calloc(nfields > 0 ? nfields : 1, sizeof(JsonField));
	r->elems = (JsonValue **) calloc(nfields > 0 ? nfields : 1, sizeof(JsonValue *));
	r->elems_cap = (int *) calloc(nfields > 0 ? nfields : 1, sizeof(int));
	if (r->fields == NULL || r->elems == NULL || r->elems_cap == NULL ||
		!trie_init(r))
	{
		json_reader_free(r);
		return NULL;
	}
	for (int i = 0; i < nfields; i++)
	{
		r->fields[i] = fields[i];
		r->fields[i].path = strdup(fields[i].path ? fields[i].path : "");
		if (fields[i].want_elements)
			r->nelemfields++;
		if (r->fields[i].path == NULL || !trie_add(r, i) ||
			(fields[i].want_elements && elem_slot(r, i, 0) == NULL))
		{
			/* (an element buffer from the start: elems is never NULL) */
			json_reader_free(r);
			return NULL;
		}
	}
	if (!trie_finish(r))
	{
		json_reader_free(r);
		return NULL;
	}
	json_reader_reset(r);
	return r;
}

extern "C" JsonReader *
json_reader_create(const JsonField *fields, int nfields)
{
	return create_reader(fields, nfields, false);
}

extern "C" JsonReader *
json_reader_create_folded(const JsonField *fields, int nfields)
{
	return create_reader(fields, nfields, true);
}

extern "C" void
json_reader_set_max_elements(JsonReader *r, size_t max)
{
	r->max_elems = max;
	r->max_field_elems = r->nelemfields > 0 ? max / r->nelemfields : max;
	if (r->max_field_elems > INT_MAX)
		r->max_field_elems = INT_MAX;
	/* what was allocated stays; what may be used shrinks to the share */
	for (int i = 0; i < r->nfields; i++)
		if ((size_t) r->elems_cap[i] > r->max_field_elems)
			r->elems_cap[i] = (int) r->max_field_elems;
}

extern "C" void
json_reader_free(JsonReader *r)
{
	if (r == NULL)
		return;
	trie_free(r);
	if (r->fields)
		for (int i = 0; i < r->nfields; i++)
			free((void *) r->fields[i].path);
	if (r->elems)
		for (int i = 0; i < r->nfields; i++)
			free(r->elems[i]);
	free(r->elems);
	free(r->elems_cap);
	free(r->sbuf);
	free(r->fields);
	free(r->whole);
	delete r;
}

extern "C" void
json_reader_reset(JsonReader *r)
{
	r->buf = NULL;
	r->len = 0;
	r->at_eof = false;
	r->pos = 0;
	r->rec_offset = 0;
	r->arr = ARR_NONE;
	r->started = false;
	r->multiline_seen = false;
	r->fatal = false;
	memset(&r->err, 0, sizeof(r->err));
	r->errbuf[0] = '\0';
}

extern "C" void
json_reader_feed(JsonReader *r, const char *buf, size_t len, bool at_eof)
{
	r->buf = buf;
	r->len = len;
	r->at_eof = at_eof;
	r->pos = 0;
	r->rec_offset = 0;
}

extern "C" size_t
json_reader_consumed(const JsonReader *r)
{
	return r->pos;
}

extern "C" size_t
json_reader_record_offset(const JsonReader *r)
{
	return r->rec_offset;
}

extern "C" const JsonError *
json_reader_error(const JsonReader *r)
{
	return &r->err;
}

/*
 * Where to go on after a bad record [start, end) whose first line break
 * outside strings is at nl.  In newline-delimited input a record never
 * spans lines, so a bad one that seems to is a broken line: continue at
 * the next line.  Once good multi-line (pretty-printed) records were seen,
 * trust the brackets instead.
 */
static size_t
resume_after_bad(JsonReader *r, size_t end, size_t nl)
{
	if (nl != JR_NONE && !r->multiline_seen && nl + 1 < end)
	{
		r->arr = ARR_NONE;		/* the line break left any array */
		return nl + 1;
	}
	if (r->arr != ARR_NONE)
		r->arr = ARR_AFTER_ELEM;
	return end;
}

/*
 * Handle a value at buf[p] that cannot be a record: a scalar, or an array
 * inside a top-level array.  Skip it and report it.  Returns JSON_NEED_MORE
 * when its end is not in the buffer yet.
 */
static JsonResult
skip_bad_value(JsonReader *r, size_t p, const char *what)
{
	const char *buf = r->buf;
	size_t		len = r->len;
	size_t		end;
	size_t		nl = JR_NONE;
	char		c = buf[p];

	if (c == '{' || c == '[')
	{
		ScanOut		so;

		scan_container(buf, p, len, &so);
		if (so.complete)
			end = so.end;
		else if (so.broken_line != JR_NONE)
		{
			set_error(r, p, so.broken_line, so.broken_line, what, NULL);
			r->pos = so.broken_line + 1;
			r->arr = ARR_NONE;
			return JSON_BAD_RECORD;
		}
		else if (!r->at_eof)
			return JSON_NEED_MORE;
		else
			end = len;
		nl = so.first_nl;
	}
	else if (c == '"')
	{
		end = scan_string_end(buf, p, len, &nl);
		if (end == JR_NONE)
		{
			if (nl == JR_NONE && !r->at_eof)
				return JSON_NEED_MORE;
			end = (nl != JR_NONE) ? nl : len;
		}
		nl = JR_NONE;
	}
	else if (c == '}' || c == ']' || c == ',' || c == ':')
		end = p + 1;
	else
	{
		end = p + 1;
		while (end < len && !is_token_end(buf[end]))
			end++;
		if (end == len && !r->at_eof)
			return JSON_NEED_MORE;
	}
	set_error(r, p, end, p, what, NULL);
	r->pos = resume_after_bad(r, end, nl);
	return JSON_BAD_RECORD;
}

/*
 * The record [p, e) has more array elements than max_elems lets it have:
 * a bad record (marked too_large), skipped.  Out of line: rare.
 */
static JsonResult __attribute__((noinline, cold))
too_many_elements(JsonReader *r, size_t p, size_t e, size_t at, size_t nl)
{
	char		limit[32];

	r->elems_over = false;
	snprintf(limit, sizeof(limit), "%zu", r->max_field_elems);
	set_error(r, p, e, at, "an array of the record has more than %s elements", limit);
	r->err.too_large = true;
	r->pos = resume_after_bad(r, e, nl);
	return JSON_BAD_RECORD;
}

/*
 * Parse the complete record [p, e), which the scanner described in *so,
 * and fill values[].
 */
static JsonResult
parse_record(JsonReader *r, size_t p, size_t e, size_t nl, const ScanOut *so,
			 JsonValue *values)
{
	simdjson::error_code code = simdjson::SUCCESS;
	const char *msg = NULL;
	size_t		at = p;

	if (r->nfields > 0)
		memset(values, 0, sizeof(JsonValue) * r->nfields);
	r->record_gen++;

	/*
	 * What every record must satisfy, whatever is requested: simdjson's
	 * stage 1 refused raw control characters in strings before invalid
	 * UTF-8, and so do we.  Most records are ASCII: the scanner tells, and
	 * only the others pay for the check.
	 */
	if (so->ctrl_in_string)
		code = simdjson::UNESCAPED_CHARS;
	else if (so->nonascii && !simdjson::validate_utf8(r->buf + p, e - p))
		code = simdjson::UTF8_ERROR;
	else
	{
		Walker		w;

		/* unescaped strings are never longer than the record */
		if (e - p > r->sbuf_cap)
		{
			size_t		ncap = (e - p > r->sbuf_cap * 2) ? e - p : r->sbuf_cap * 2;
			char	   *nb = (char *) realloc(r->sbuf, ncap);

			if (nb == NULL)
			{
				set_error(r, p, e, p, "out of memory parsing a record", NULL);
				r->fatal = true;
				return JSON_FATAL;
			}
			r->sbuf = nb;
			r->sbuf_cap = ncap;
		}
		w.r = r;
		w.values = values;
		w.gen = r->record_gen;
		w.sbuf = r->sbuf;
		w.err_at = NULL;
		w.msg = NULL;
		w.code = simdjson::SUCCESS;

		/* the whole record's text is asked for: all of it is checked */
		if ((r->nwhole > 0 && validate_value(&w, r->buf + p) == NULL) ||
			walk_object(&w, r->buf + p, &r->nodes[0], true, false) == NULL)
		{
			code = w.code;
			msg = w.msg;
			if (w.err_at >= r->buf + p && w.err_at <= r->buf + e)
				at = (size_t) (w.err_at - r->buf);
		}
	}

	if (code != simdjson::SUCCESS)
	{
		if (msg == NULL)
			msg = simdjson::error_message(code);
		if (code == simdjson::MEMALLOC)
		{
			set_error(r, p, e, at, "%s", msg);
			r->fatal = true;
			return JSON_FATAL;
		}
		if (code == simdjson::CAPACITY)
			return too_many_elements(r, p, e, at, nl);
		set_error(r, p, e, at, "invalid JSON record: %s", msg);
		r->pos = resume_after_bad(r, e, nl);
		return JSON_BAD_RECORD;
	}

	for (int i = 0; i < r->nwhole; i++)
	{
		JsonValue  *o = &values[r->whole[i]];

		o->kind = JSON_OBJECT;
		o->str = r->buf + p;
		o->len = e - p;
	}
	if (nl != JR_NONE)
		r->multiline_seen = true;
	r->rec_offset = p;
	r->pos = e;
	if (r->arr != ARR_NONE)
		r->arr = ARR_AFTER_ELEM;
	return JSON_RECORD;
}

/* The object record starting at buf[p]. */
static JsonResult
next_object(JsonReader *r, size_t p, JsonValue *values)
{
	ScanOut		so;

	scan_container(r->buf, p, r->len, &so);

	if (!so.complete)
	{
		if (so.broken_line != JR_NONE)
		{
			set_error(r, p, so.broken_line, so.broken_line,
					  so.broken_in_string ?
					  "invalid JSON record: line break inside a string (truncated line?)" :
					  "invalid JSON record: record not complete at end of line", NULL);
			r->pos = so.broken_line + 1;
			r->arr = ARR_NONE;
			return JSON_BAD_RECORD;
		}
		if (r->at_eof)
		{
			set_error(r, p, r->len, r->len, "truncated record at end of input", NULL);
			if (so.first_nl != JR_NONE && !r->multiline_seen)
				r->pos = so.first_nl + 1;
			else
				r->pos = r->len;
			r->arr = ARR_NONE;
			return JSON_BAD_RECORD;
		}
		r->pos = p;
		return JSON_NEED_MORE;
	}

	if (so.too_deep)
	{
		set_error(r, p, so.end, p, "invalid JSON record: nesting deeper than %s levels", "1024");
		r->pos = resume_after_bad(r, so.end, so.first_nl);
		return JSON_BAD_RECORD;
	}
	if (so.mismatched)
	{
		set_error(r, p, so.end, p, "invalid JSON record: mismatched brackets", NULL);
		r->pos = resume_after_bad(r, so.end, so.first_nl);
		return JSON_BAD_RECORD;
	}
	return parse_record(r, p, so.end, so.first_nl, &so, values);
}

extern "C" JsonResult
json_reader_next(JsonReader *r, JsonValue *values)
{
	const char *buf = r->buf;
	size_t		len = r->len;

	if (r->fatal)
		return JSON_FATAL;

	for (;;)
	{
		size_t		p = r->pos;
		char		c;

		while (p < len && is_ws(buf[p]))
			p++;

		/* a UTF-8 byte order mark may start the object */
		if (!r->started && p < len)
		{
			static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
			size_t		have = len - p < 3 ? len - p : 3;

			if (memcmp(buf + p, bom, have) == 0)
			{
				if (have < 3 && !r->at_eof)
				{
					r->pos = p;
					return JSON_NEED_MORE;
				}
				if (have == 3)
					p += 3;
			}
			r->started = true;
			r->pos = p;
			continue;			/* skip white space after it */
		}
		r->pos = p;

		if (p >= len)
		{
			if (!r->at_eof)
				return JSON_NEED_MORE;
			if (r->arr != ARR_NONE)
			{
				r->arr = ARR_NONE;
				set_error(r, len, len, len, "truncated record at end of input: array not closed", NULL);
				return JSON_BAD_RECORD;
			}
			return JSON_END;
		}
		c = buf[p];

		if (r->arr != ARR_NONE)
		{
			if (r->arr == ARR_AFTER_ELEM)
			{
				if (c == ',')
				{
					r->pos = p + 1;
					r->arr = ARR_NEED_ELEM;
					continue;
				}
				if (c == ']')
				{
					r->pos = p + 1;
					r->arr = ARR_NONE;
					continue;
				}

				/*
				 * Leave the array and let the byte be read again as a
				 * top-level value, which always makes progress.
				 */
				r->arr = ARR_NONE;
				set_error(r, p, p + 1, p, "invalid JSON: expected ',' or ']' after an array element", NULL);
				return JSON_BAD_RECORD;
			}
			if (c == ']')
			{
				bool		trailing_comma = (r->arr == ARR_NEED_ELEM);

				r->pos = p + 1;
				r->arr = ARR_NONE;
				if (trailing_comma)
				{
					set_error(r, p, p + 1, p, "invalid JSON: trailing comma in array", NULL);
					return JSON_BAD_RECORD;
				}
				continue;
			}
			if (c == '{')
				return next_object(r, p, values);
			return skip_bad_value(r, p, "invalid JSON record: array element is not an object");
		}

		if (c == '{')
			return next_object(r, p, values);
		if (c == '[')
		{
			/* stream through the array: each element is a record */
			r->pos = p + 1;
			r->arr = ARR_FIRST;
			continue;
		}
		return skip_bad_value(r, p, "invalid JSON record: top-level value is not an object");
	}
}
