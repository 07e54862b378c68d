/*-------------------------------------------------------------------------
 *
 * rows.c
 *	  Records -> rows: the record readers driven over an object's data
 *	  buffer, values converted (convert.c), metadata and partition columns,
 *	  line numbers, bad records (stop, or skip and remember).
 *
 * A part of an object (a parallel scan reading one large plain object in
 * byte ranges) returns the records that start in it, and reports where its
 * first record starts and where the first record after it starts, so that
 * the parallel scan can check that neighbouring parts agree on the record
 * boundaries (parallel.c).
 *
 * IDENTIFICATION
 *	  src/fdw/rows.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "decode/line_records.h"
#include "fdw/scan.h"
#include "s3/url.h"
#include "util/settings.h"

/*
 * The value of Hive-style partition "name" in a key: the "name=value"
 * directory in ".../dt=2026-11-25/hour=10/file.json.gz" (percent-decoded,
 * as Hive writes special characters).  NULL if the key has none.
 */
char *
partition_value(const char *key, const char *name)
{
	size_t		nlen = strlen(name);
	const char *seg = key;
	const char *last = strrchr(key, '/');

	while (last && seg < last)
	{
		const char *end = strchr(seg, '/');

		if ((size_t) (end - seg) > nlen && seg[nlen] == '=' && strncmp(seg, name, nlen) == 0)
		{
			const char *value = seg + nlen + 1;
			char	   *buf = palloc(end - value + 1);
			size_t		n;

			(void) url_percent_decode(value, end - value, false, false, buf, &n);
			return buf;
		}
		seg = end + 1;
	}
	return NULL;
}

/* The Datum of partition column i for object key "key". */
Datum
partition_datum(FdwScanState *st, int i, const char *key, bool *isnull)
{
	char	   *v = partition_value(key, st->field_name[i]);
	Datum		d;
	ConvError	err;

	*isnull = v == NULL;
	if (v == NULL)
		return (Datum) 0;
	if (!conv_text(&st->conv[i], v, strlen(v), &d, &err))
		ereport(ERROR,
				(errcode(err.sqlerrcode),
				 errmsg("invalid value for partition column \"%s\" in key \"%s\"",
						st->field_name[i], key),
				 errdetail("%s.", err.message)));
	return d;
}


/* ----------------------------------------------------------------
 *		Lines, for error messages and the "line" metadata column
 * ----------------------------------------------------------------
 */

/*
 * Newlines in p[0..n).  Every decoded byte passes here (error messages name
 * lines), so 16 bytes at a time where SSE2 is there (every x86-64).
 */
static size_t
count_newlines(const char *p, size_t n)
{
	size_t		count = 0;
	size_t		i = 0;

#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n');
	const __m128i zero = _mm_setzero_si128();

	/*
	 * Byte counters (a match is -1, so subtracting adds 1), folded into
	 * 64-bit sums with SAD before any of them can overflow: no popcount,
	 * which without -mpopcnt is a library call.
	 */
	while (i + 16 <= n)
	{
		__m128i		acc = _mm_setzero_si128();
		__m128i		sums;
		int			k;

		for (k = 0; k < 255 && i + 16 <= n; k++, i += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) (p + i)), nl));
		sums = _mm_sad_epu8(acc, zero);
		count += (size_t) _mm_cvtsi128_si64(sums) +
			(size_t) _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
	}
#endif
	for (; i < n; i++)
		count += p[i] == '\n';
	return count;
}

/* Count the lines of the data buffer up to "off" (monotonic). */
static void
advance_lines(FdwScanState *st, size_t off)
{
	const char *p = st->stream.data + st->line_pos;
	size_t		n;
	size_t		lines;

	if (off <= st->line_pos)
		return;
	n = off - st->line_pos;
	lines = count_newlines(p, n);
	if (lines > 0)
	{
		st->line_no += lines;
		st->line_start = ((const char *) memrchr(p, '\n', n) - st->stream.data) + 1;
	}
	st->line_pos = off;
}

static int64
line_at(FdwScanState *st, size_t off)
{
	advance_lines(st, off);
	return st->line_no;
}

static int64
column_at(FdwScanState *st, size_t off)
{
	advance_lines(st, off);
	return (int64) off - st->line_start + 1;
}

/*
 * "record N" for messages; in a part that does not start at the object's
 * beginning, where records and lines are not counted from its start,
 * "the record at byte B".
 */
static char *
record_where(FdwScanState *st, int64 record_no, size_t off)
{
	if (st->stream.cur.unit.start > 0)
		return psprintf("the record at byte %lld",
						(long long) stream_object_offset(&st->stream, off));
	return psprintf("record %lld", (long long) record_no);
}

/* "Line N: " for details, when lines are counted from the object's start. */
static char *
line_where(FdwScanState *st, int64 line)
{
	if (st->stream.cur.unit.start > 0)
		return "";
	return psprintf("Line %lld: ", (long long) line);
}

/* ----------------------------------------------------------------
 *		Filling the data buffer
 * ----------------------------------------------------------------
 */

static size_t
reader_consumed(FdwScanState *st)
{
	return st->jr ? json_reader_consumed(st->jr) : csv_reader_consumed(st->cr);
}

static void
reader_feed(FdwScanState *st)
{
	if (st->jr)
		json_reader_feed(st->jr, st->stream.data, st->stream.data_len, st->stream.src_eof);
	else
		csv_reader_feed(st->cr, st->stream.data, st->stream.data_len, st->stream.src_eof);
}

/* The object could not be decoded; stop, or skip the rest of it. */
static void
stream_error(FdwScanState *st, const char *what, const char *why)
{
	if (!st->opts.skip_errors)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not %s \"%s\"", what, st->stream.uri),
				 errdetail_internal("%s", why)));
	st->rejected++;
	fdw_reject_remember(st->relid, st->stream.uri, st->record_no + 1, st->line_no,
					   psprintf("could not %s the rest of the object: %s", what, why),
					   NULL, 0);
	st->stream.src_eof = true;
	st->stream.data_len = 0;
}

/*
 * refill: keep the unconsumed tail of the data buffer, add decoded bytes
 * after it, and hand the buffer to the reader again.
 */
static void
refill(FdwScanState *st)
{
	size_t		consumed = reader_consumed(st);

	advance_lines(st, consumed);
	switch (stream_refill(&st->stream, consumed))
	{
		case STREAM_OK:
			break;
		case STREAM_FULL:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s of \"%s\" is larger than %d MB",
							record_where(st, st->record_no + 1, 0), st->stream.uri,
							pipeline_max_record_mb),
					 errhint("Raise pipeline.max_record_size, or check that the object holds JSON records.")));
			break;
		case STREAM_ERROR:
			stream_error(st, "decompress", st->stream.error);
			break;
	}
	st->line_pos -= consumed;
	st->line_start -= (int64) consumed;
	reader_feed(st);
}

/* Reset the readers for the object (part) the stream has just begun. */
void
rows_begin_object(FdwScanState *st)
{
	const WorkUnit *u = &st->stream.cur.unit;
	MemoryContext old = MemoryContextSwitchTo(st->stream.cur.cxt);

	/* for every row of the object: in the object's context */
	st->uri_datum = CStringGetTextDatum(st->stream.uri);
	st->key_datum = CStringGetTextDatum(u->obj.key);
	MemoryContextSwitchTo(old);
	st->record_no = 0;
	st->line_no = 1;
	st->line_pos = 0;
	st->line_start = 0;
	st->part_started = false;
	st->header_pending = st->opts.format == FDW_FORMAT_CSV && (st->opts.header || st->opts.header_skip);
	if (st->jr)
	{
		json_reader_reset(st->jr);
		json_reader_feed(st->jr, st->stream.data, 0, false);
	}
	if (st->cr)
	{
		csv_reader_reset(st->cr);
		/* each object's header says where the columns are */
		if (st->header_pending && st->opts.header)
			csv_reader_set_max_fields(st->cr, st->csv_header_max);
		csv_reader_feed(st->cr, st->stream.data, 0, false);
	}
}

/* ----------------------------------------------------------------
 *		Parts of objects
 * ----------------------------------------------------------------
 */

/*
 * A record at data offset "off" of a part: report the part's first record
 * start; false (the part is done) if the record starts a line at or after
 * the part's end, which is the next part's first record (a record later on
 * a line that starts in this part, such as junk after a record, is ours).
 */
static bool
part_record(FdwScanState *st, size_t off)
{
	const WorkUnit *u = &st->stream.cur.unit;
	int64		at;

	if (u->part < 0)
		return true;
	at = stream_object_offset(&st->stream, off);
	if (!st->part_started)
	{
		st->part_started = true;
		parallel_part_first(st, u, at);
	}
	if (u->part < u->nparts - 1 && at >= u->end &&
		line_records_starts_line(st->stream.data, off, st->stream.line_start))
	{
		parallel_part_next(st, u, at);
		return false;
	}
	return true;
}

/* A part reached the end of the object without a record of its own. */
static void
part_end(FdwScanState *st)
{
	const WorkUnit *u = &st->stream.cur.unit;

	if (u->part < 0 || st->part_started)
		return;
	st->part_started = true;
	parallel_part_first(st, u, u->obj.size);
	if (u->part < u->nparts - 1)
		parallel_part_next(st, u, u->obj.size);
}

/* ----------------------------------------------------------------
 *		Records -> rows
 * ----------------------------------------------------------------
 */

/* Raw text of the record at "off", for rejects: up to its line's end. */
static void
record_text(FdwScanState *st, size_t off, const char **raw, size_t *len)
{
	const char *start = st->stream.data + off;
	size_t		avail = st->stream.data_len > off ? st->stream.data_len - off : 0;
	const char *nl = memchr(start, '\n', avail);

	*raw = start;
	*len = nl ? (size_t) (nl - start) : avail;
}

/*
 * A bad record: with on_error 'stop' raise an error naming the object,
 * record, line and column; with 'skip' count and remember it.
 */
static void
bad_record(FdwScanState *st, int sqlerrcode, const char *what, size_t rec_off,
		   size_t err_off, const char *colname, const char *why,
		   const char *raw, size_t rawlen, const char *hint)
{
	int64		line = line_at(st, rec_off);
	int64		eline = line_at(st, err_off);
	int64		ecol = column_at(st, err_off);

	if (!st->opts.skip_errors)
	{
		char	   *where = record_where(st, st->record_no, rec_off);

		if (colname)
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("invalid value for column \"%s\" in %s of \"%s\"",
							colname, where, st->stream.uri),
					 errdetail("%s%s.", line_where(st, line), why),
					 errcontext("foreign table \"%s\"", st->relname)));
		else if (st->stream.cur.unit.start > 0)
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("%s in %s of \"%s\"", what, where, st->stream.uri),
					 errdetail("At byte %lld: %s.",
							   (long long) stream_object_offset(&st->stream, err_off), why),
					 hint ? errhint("%s", hint) : 0,
					 errcontext("foreign table \"%s\"", st->relname)));
		else
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("%s in %s of \"%s\"", what, where, st->stream.uri),
					 errdetail("Line %lld, column %lld: %s.", (long long) eline,
							   (long long) ecol, why),
					 hint ? errhint("%s", hint) : 0,
					 errcontext("foreign table \"%s\"", st->relname)));
	}
	st->rejected++;
	fdw_reject_remember(st->relid, st->stream.uri, st->record_no, line,
					   colname ? psprintf("column \"%s\": %s", colname, why)
					   : psprintf("line %lld, column %lld: %s", (long long) eline,
								  (long long) ecol, why),
					   raw, rawlen);
}

/* A metadata value as a Datum of the column's type. */
static bool
meta_datum(FdwScanState *st, int i, Datum *d, bool *isnull)
{
	const ColumnConv *cc = &st->conv[i];
	ConvError	err;
	char	   *text = NULL;

	*isnull = false;
	switch (st->source[i])
	{
		case COLUMN_URI:
			if (cc->kind == CONV_TEXT)
			{
				*d = st->uri_datum;
				return true;
			}
			text = st->stream.uri;
			break;
		case COLUMN_KEY:
			if (cc->kind == CONV_TEXT)
			{
				*d = st->key_datum;
				return true;
			}
			text = st->stream.cur.unit.obj.key;
			break;
		case COLUMN_SIZE:
			if (st->stream.cur.unit.obj.size < 0)
			{
				*isnull = true;
				return true;
			}
			if (cc->kind == CONV_INT8)
			{
				*d = Int64GetDatum(st->stream.cur.unit.obj.size);
				return true;
			}
			text = psprintf("%lld", (long long) st->stream.cur.unit.obj.size);
			break;
		case COLUMN_LAST_MODIFIED:
			if (st->stream.cur.unit.obj.last_modified == 0)
			{
				*isnull = true;
				return true;
			}
			if (cc->kind == CONV_TIMESTAMPTZ)
			{
				*d = TimestampTzGetDatum(st->stream.cur.unit.obj.last_modified);
				return true;
			}
			text = pstrdup(timestamptz_to_str(st->stream.cur.unit.obj.last_modified));
			break;
		case COLUMN_LINE:
			if (cc->kind == CONV_INT8)
			{
				*d = Int64GetDatum(st->line_no);
				return true;
			}
			text = psprintf("%lld", (long long) st->line_no);
			break;
		case COLUMN_PARTITION:
			*d = partition_datum(st, i, st->stream.cur.unit.obj.key, isnull);
			return true;
		case COLUMN_TEMPLATE:
			*d = template_datum(st, i, st->stream.cur.unit.obj.key, isnull);
			return true;
		case COLUMN_FIELD:
			break;
	}
	if (!conv_text(cc, text, strlen(text), d, &err))
		ereport(ERROR,
				(errcode(err.sqlerrcode),
				 errmsg("cannot store metadata \"%s\" in column \"%s\" of type %s",
						column_source_name(st->source[i]), st->field_name[i],
						format_type_be(cc->typid)),
				 errdetail("%s.", err.message)));
	return true;
}

/*
 * Fill the slot from the current record.  Returns false if the record was
 * bad and skipped.
 */
static bool
form_row(FdwScanState *st, TupleTableSlot *slot, size_t rec_off,
		 const CsvField *cf, int ncf)
{
	int			i;
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;

	if (st->need_line)
		advance_lines(st, rec_off);
	/* columns the query does not read stay null: only the needed are formed */
	memset(nulls, true, sizeof(bool) * st->natts);
	for (int k = 0; k < st->nactive; k++)
	{
		ConvError	err;
		bool		ok;

		i = st->active[k];
		if (st->source[i] != COLUMN_FIELD)
		{
			meta_datum(st, i, &values[i], &nulls[i]);
			continue;
		}
		if (st->field[i] < 0)
		{
			values[i] = (Datum) 0;
			nulls[i] = true;
			continue;
		}
		if (st->jr)
			ok = conv_json(&st->conv[i], &st->jvalues[st->field[i]], &values[i], &nulls[i], &err);
		else
		{
			const CsvField *f = &cf[st->csv_pos[st->field[i]]];

			if (!f->quoted && f->len == strlen(st->opts.null_string) &&
				memcmp(f->str, st->opts.null_string, f->len) == 0)
			{
				nulls[i] = true;
				values[i] = (Datum) 0;
				continue;
			}
			nulls[i] = false;
			ok = conv_text(&st->conv[i], f->str, f->len, &values[i], &err);
		}
		if (!ok)
		{
			const char *raw;
			size_t		rawlen;

			record_text(st, rec_off, &raw, &rawlen);
			bad_record(st, err.sqlerrcode, NULL, rec_off, rec_off,
					   NameStr(TupleDescAttr(slot->tts_tupleDescriptor, i)->attname),
					   err.message, raw, rawlen, NULL);
			return false;
		}
	}
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * Map the CSV header of the current object to our columns; from then on
 * the reader keeps only the fields up to the last one a column reads.
 */
static void
csv_header(FdwScanState *st, const CsvField *f, int n)
{
	int			i;

	if (csv_reader_fields_seen(st->cr) > n && st->nfields > 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the header of \"%s\" has too many fields", st->stream.uri),
				 errdetail("It has %lld fields; at most %d fit in pipeline.max_record_size (%d MB).",
						   (long long) csv_reader_fields_seen(st->cr), n, pipeline_max_record_mb),
				 errhint("Raise pipeline.max_record_size, or use header 'false' to map columns by position."),
				 errcontext("foreign table \"%s\"", st->relname)));
	st->csv_need = 0;
	for (i = 0; i < st->natts; i++)
	{
		int			j;

		if (st->field[i] < 0)
			continue;
		for (j = 0; j < n; j++)
			if (f[j].len == strlen(st->field_name[i]) &&
				memcmp(f[j].str, st->field_name[i], f[j].len) == 0)
				break;
		if (j == n)
			for (j = 0; j < n; j++)
				if (f[j].len == strlen(st->field_name[i]) &&
					pg_strncasecmp(f[j].str, st->field_name[i], f[j].len) == 0)
					break;
		if (j == n)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" is not in the header of \"%s\"",
							st->field_name[i], st->stream.uri),
					 errhint("Name the CSV column with OPTIONS (field '...'), or use header 'false' to map columns by position.")));
		st->csv_pos[st->field[i]] = j;
		st->csv_need = Max(st->csv_need, j + 1);
	}
	csv_reader_set_max_fields(st->cr, st->csv_need);
}

/* The next row of a CSV object; false at its end. */
static bool
next_csv_row(FdwScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		const CsvField *f;
		int			n;
		CsvResult	rc = csv_reader_next(st->cr, &f, &n);
		size_t		off = csv_reader_record_offset(st->cr);

		switch (rc)
		{
			case CSV_RECORD:
				if (st->header_pending)
				{
					st->header_pending = false;
					if (st->opts.header)
						csv_header(st, f, n);
					continue;
				}
				if (!part_record(st, off))
					return false;
				st->record_no++;
				st->records++;
				if (!st->opts.header && st->record_no == 1)
				{
					int			i;

					for (i = 0; i < st->nfields; i++)
						st->csv_pos[i] = i;
				}
				if (n < st->csv_need)
				{
					const char *raw;
					size_t		rawlen;

					record_text(st, off, &raw, &rawlen);
					bad_record(st, ERRCODE_BAD_COPY_FILE_FORMAT, "missing fields", off, off, NULL,
							   psprintf("the record has %d fields, %d are needed", n, st->csv_need),
							   raw, rawlen, NULL);
					continue;
				}
				if (form_row(st, slot, off, f, n))
					return true;
				continue;
			case CSV_BAD_RECORD:
				if (!part_record(st, off))
					return false;
				st->record_no++;
				st->records++;
				{
					const char *raw;
					size_t		rawlen;

					record_text(st, off, &raw, &rawlen);
					bad_record(st, ERRCODE_BAD_COPY_FILE_FORMAT, "invalid CSV", off, off, NULL,
							   csv_reader_error(st->cr), raw, rawlen, NULL);
				}
				continue;
			case CSV_NEED_MORE:
				refill(st);
				continue;
			case CSV_FATAL:
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory reading \"%s\"", st->stream.uri),
						 errdetail_internal("%s", csv_reader_error(st->cr))));
				break;
			case CSV_END:
				part_end(st);
				return false;
		}
	}
}

/* The next row of a JSON object; false at its end. */
static bool
next_json_row(FdwScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		JsonResult	rc = json_reader_next(st->jr, st->jvalues);

		switch (rc)
		{
			case JSON_RECORD:
				if (!part_record(st, json_reader_record_offset(st->jr)))
					return false;
				st->record_no++;
				st->records++;
				if (form_row(st, slot, json_reader_record_offset(st->jr), NULL, 0))
					return true;
				continue;
			case JSON_BAD_RECORD:
				{
					const JsonError *e = json_reader_error(st->jr);

					if (!part_record(st, e->record_offset))
						return false;
					st->record_no++;
					st->records++;
					if (e->too_large)
						bad_record(st, ERRCODE_PROGRAM_LIMIT_EXCEEDED, "too many array elements",
								   e->record_offset, e->error_offset, NULL,
								   psprintf("%s, which take more than pipeline.max_record_size (%d MB) to decode",
											e->message, pipeline_max_record_mb),
								   e->record_text, e->record_len,
								   "Raise pipeline.max_record_size, or read the array as json or text.");
					else
						bad_record(st, ERRCODE_INVALID_JSON_TEXT, "invalid JSON",
								   e->record_offset, e->error_offset, NULL, e->message,
								   e->record_text, e->record_len, NULL);
				}
				continue;
			case JSON_NEED_MORE:
				refill(st);
				continue;
			case JSON_FATAL:
				/*
				 * Out of memory: an error whatever on_error says (skipping
				 * the rest of the object here once looped for ever, since
				 * the reader says JSON_FATAL until it is reset).
				 */
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory"),
						 errdetail("Decoding a record of \"%s\" failed: %s.",
								   st->stream.uri, json_reader_error(st->jr)->message)));
				break;
			case JSON_END:
				part_end(st);
				return false;
		}
	}
}


/* The next row of the object being read; false at its end (or its part's). */
bool
rows_next(FdwScanState *st, TupleTableSlot *slot)
{
	return st->jr ? next_json_row(st, slot) : next_csv_row(st, slot);
}
