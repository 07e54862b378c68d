/*-------------------------------------------------------------------------
 *
 * fuzz_csv_reader.c
 *	  libFuzzer harness of the streaming CSV reader (src/decode/csv_reader.c)
 *	  and of the one-record-per-line check (src/decode/line_records.c).
 *
 * An input is 8 option bytes and then the CSV text.  The options choose
 * the delimiter and the quote (any byte the table options accept: one
 * byte, not a line end, the two different), a header line, a limit on the
 * fields kept (set after the header, as the scan does), the null string,
 * two buffer cuts and a chunk size.  The input is read as the scan reads
 * it, and:
 *
 *	- the transcript (records with every field, quoted or not, NULL or not
 *	  by the null string as rows.c decides; bad records with their message;
 *	  offsets in the object) is the same fed whole, cut at the two offsets,
 *	  in chunks, and on a reader reset after another object;
 *	- every record and bad record is what a reference reader written here,
 *	  one byte at a time as a state machine, finds: the rules of
 *	  csv_reader.h (RFC 4180 quoting, LF or CRLF, a quote only opening a
 *	  field at its start, a bad record skipped to the next line feed);
 *	- when line_records_check() says the input holds one record per line,
 *	  the header length it gives is the first line's, and reading the
 *	  input in parts as parallel workers do (each part after the first
 *	  gets the header line in front, as stream.c puts it there) gives the
 *	  same records, the parts agreeing where each starts.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>

#include "fuzz.h"
#include "csv_reader.h"
#include "json_reader.h"		/* JSON_READER_PADDING, for line_records */
#include "line_records.h"
#include "split_driver.h"

/* Delimiters and quotes the options can give (any one byte but \0 \n \r). */
static const char chars[] = ",;\t |\"'`x\x01\xff#\\ ";

static const char *const null_strings[] = {"", "NULL", "\\N", "x", "\"\"", " ", "a,b", "\r"};

typedef struct Config
{
	char		delim;
	char		quote;
	bool		header;
	int			max_fields;		/* after the header; INT_MAX: all */
	const char *null_string;
} Config;

/* ----------------------------------------------------------------
 * The reference reader
 * ----------------------------------------------------------------
 */

typedef struct RefField
{
	Str			text;
	bool		quoted;
} RefField;

typedef struct RefRecord
{
	bool		bad;
	const char *message;
	size_t		offset;
	RefField   *fields;
	int			nfields;
	int			cap;
} RefRecord;

static RefField *
ref_new_field(RefRecord *rec, bool quoted)
{
	if (rec->nfields == rec->cap)
	{
		rec->cap = rec->cap ? rec->cap * 2 : 8;
		rec->fields = realloc(rec->fields, sizeof(RefField) * rec->cap);
		CHECK(rec->fields != NULL);
	}
	memset(&rec->fields[rec->nfields], 0, sizeof(RefField));
	rec->fields[rec->nfields].quoted = quoted;
	return &rec->fields[rec->nfields++];
}

static void
ref_free_record(RefRecord *rec)
{
	for (int i = 0; i < rec->nfields; i++)
		str_free(&rec->fields[i].text);
	free(rec->fields);
	memset(rec, 0, sizeof(*rec));
}

/* Skip a bad record from "at" through the next line feed: where the next starts. */
static size_t
ref_skip_line(const char *in, size_t n, size_t at)
{
	while (at < n && in[at] != '\n')
		at++;
	return at < n ? at + 1 : n;
}

/*
 * The record at in[p] of the whole input in[0..n): fills *rec, returns
 * where the next one starts.
 */
static size_t
ref_record(const Config *cfg, const char *in, size_t n, size_t p, RefRecord *rec)
{
	enum
	{
		FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED, AFTER_CR
	}			st = FIELD_START;
	RefField   *f = NULL;

	memset(rec, 0, sizeof(*rec));
	rec->offset = p;
	for (;; p++)
	{
		bool		end = p >= n;
		char		c = end ? 0 : in[p];

		switch (st)
		{
			case FIELD_START:
				if (!end && c == cfg->quote)
				{
					f = ref_new_field(rec, true);
					st = QUOTED;
					break;
				}
				f = ref_new_field(rec, false);
				st = UNQUOTED;
				/* FALLTHROUGH */
			case UNQUOTED:
				if (end || c == '\n')
				{
					/* the CR of a CRLF (or before the end) is not data */
					if (f->text.len > 0 && f->text.s[f->text.len - 1] == '\r')
						f->text.s[--f->text.len] = '\0';
					return end ? n : p + 1;
				}
				if (c == cfg->delim)
					st = FIELD_START;
				else
					str_add(&f->text, &c, 1);
				break;
			case QUOTED:
				if (end)
				{
					size_t		start = rec->offset;

					ref_free_record(rec);
					rec->offset = start;
					rec->bad = true;
					rec->message = "unterminated quoted field at end of input";
					return n;
				}
				if (c == cfg->quote)
					st = QUOTE_IN_QUOTED;
				else
					str_add(&f->text, &c, 1);
				break;
			case QUOTE_IN_QUOTED:
				if (!end && c == cfg->quote)
				{
					str_add(&f->text, &c, 1);
					st = QUOTED;
				}
				else if (end)
					return n;
				else if (c == cfg->delim)
					st = FIELD_START;
				else if (c == '\n')
					return p + 1;
				else if (c == '\r')
					st = AFTER_CR;
				else
					goto bad;
				break;
			case AFTER_CR:
				if (end)
					return n;
				if (c == '\n')
					return p + 1;
				p--;			/* the CR is what is unexpected */
				goto bad;
		}
	}
bad:
	{
		size_t		start = rec->offset;

		ref_free_record(rec);
		rec->offset = start;
		rec->bad = true;
		rec->message = "unexpected character after closing quote";
		return ref_skip_line(in, n, p);
	}
}

/* ----------------------------------------------------------------
 * Reading an input the way the scan does
 * ----------------------------------------------------------------
 */

typedef struct Run
{
	const Config *cfg;
	const char *data;			/* what is read: the header line and the
								 * part's bytes, for a part */
	size_t		n;
	size_t		prefix;			/* bytes of header line in front */
	size_t		obj_start;		/* object offset of data[prefix] */
	const size_t *bounds;		/* where each feed ends in data (last: n) */
	int			nbounds;
	size_t		stop;			/* object offset: stop at a record that
								 * starts a line there or after; SIZE_MAX:
								 * never */
	const char *object;			/* the whole object (a part: its lines) */
	int			pattern;
	bool		oracle;
	size_t		first;
	size_t		after;
} Run;

static void
print_fields(Str *out, const Config *cfg, const CsvField *f, int nf, int64_t seen)
{
	str_addf(out, " n=%lld [", (long long) seen);
	for (int i = 0; i < nf; i++)
	{
		bool		null = !f[i].quoted && f[i].len == strlen(cfg->null_string) &&
			memcmp(f[i].str, cfg->null_string, f[i].len) == 0;

		if (i)
			str_add(out, "|", 1);
		if (null)
			str_add(out, "NULL", 4);
		else
		{
			str_add(out, f[i].quoted ? "q<" : "<", f[i].quoted ? 2 : 1);
			str_add_text(out, f[i].str, f[i].len);
			str_add(out, ">", 1);
		}
	}
	str_add(out, "]\n", 2);
}

/* The record the reader gave against the reference's, at data offset off. */
static size_t
oracle(const Run *run, size_t ref_pos, size_t off, CsvResult rc, const CsvField *f,
	   int nf, int64_t seen, int max_fields, const char *msg)
{
	RefRecord	rec;
	size_t		next = ref_record(run->cfg, run->data, run->n, ref_pos, &rec);

	CHECK(rec.offset == off);
	if (rc == CSV_BAD_RECORD)
	{
		CHECK(rec.bad && strcmp(rec.message, msg) == 0);
	}
	else
	{
		CHECK(!rec.bad);
		CHECK(seen == rec.nfields);
		CHECK(nf == (rec.nfields < max_fields ? rec.nfields : max_fields));
		for (int i = 0; i < nf; i++)
		{
			CHECK(f[i].quoted == rec.fields[i].quoted);
			CHECK(f[i].len == rec.fields[i].text.len);
			CHECK(f[i].len == 0 || memcmp(f[i].str, rec.fields[i].text.s, f[i].len) == 0);
		}
	}
	ref_free_record(&rec);
	return next;
}

static void
pad(char *p, int pattern)
{
	static const char pats[] = "\n,\"\r'x";

	for (size_t i = 0; i < JSON_READER_PADDING; i++)
		p[i] = pats[(pattern + i / 7) % 6];
}

static char *
transcript(CsvReader *r, Run *run)
{
	const Config *cfg = run->cfg;
	Str			out = {0};
	char	   *buf = NULL;
	size_t		base = 0;		/* data offset of buf[0] */
	size_t		have = 0;
	size_t		given = 0;
	size_t		ref_pos = 0;	/* where the reference reads next */
	int			b = 0;
	long		guard = 0;
	bool		header_pending = cfg->header;
	int			max_fields = cfg->header ? INT_MAX : cfg->max_fields;

	csv_reader_reset(r);
	csv_reader_set_max_fields(r, max_fields);
	run->first = SIZE_MAX;
	run->after = SIZE_MAX;
	for (;;)
	{
		size_t		upto = run->bounds[b] < given ? given : run->bounds[b];
		bool		eof;
		CsvResult	rc;
		char	   *nb;

		nb = malloc(have + (upto - given) + JSON_READER_PADDING);
		CHECK(nb != NULL);
		if (have)
			memcpy(nb, buf, have);
		memcpy(nb + have, run->data + given, upto - given);
		free(buf);
		buf = nb;
		have += upto - given;
		given = upto;
		eof = (given == run->n);
		pad(buf + have, run->pattern);
		if (b < run->nbounds - 1)
			b++;

		csv_reader_feed(r, buf, have, eof);
		for (;;)
		{
			const CsvField *f;
			int			nf;
			size_t		off;
			size_t		obj;

			rc = csv_reader_next(r, &f, &nf);
			CHECK(++guard < 1000000);
			if (rc == CSV_NEED_MORE)
			{
				CHECK(!eof);
				break;
			}
			if (rc == CSV_END)
			{
				CHECK(eof && csv_reader_consumed(r) == have);
				if (run->oracle)
					CHECK(ref_pos == run->n);
				if (run->stop == SIZE_MAX)
					str_add(&out, "END\n", 4);
				goto done;
			}
			if (rc == CSV_FATAL)
			{
				str_addf(&out, "FATAL(%s)\n", csv_reader_error(r));
				goto done;
			}
			off = csv_reader_record_offset(r);
			CHECK(off < have && csv_reader_consumed(r) > off && csv_reader_consumed(r) <= have);
			if (run->oracle)
				ref_pos = oracle(run, ref_pos, base + off, rc, f, nf,
								 csv_reader_fields_seen(r), max_fields, csv_reader_error(r));
			if (rc == CSV_RECORD && header_pending)
			{
				/* as rows.c: the header maps columns, then fields are limited */
				header_pending = false;
				str_add(&out, "HEADER", 6);
				print_fields(&out, cfg, f, nf, csv_reader_fields_seen(r));
				max_fields = cfg->max_fields;
				csv_reader_set_max_fields(r, max_fields);
				continue;
			}
			obj = run->obj_start + (base + off) - run->prefix;
			if (run->first == SIZE_MAX)
				run->first = obj;
			if (obj >= run->stop && line_records_starts_line(run->object, obj, true))
			{
				run->after = obj;
				goto done;
			}
			if (rc == CSV_RECORD)
			{
				str_addf(&out, "RECORD @%zu", obj);
				print_fields(&out, cfg, f, nf, csv_reader_fields_seen(r));
			}
			else
				str_addf(&out, "BAD @%zu (%s)\n", obj, csv_reader_error(r));
		}
		{
			size_t		used = csv_reader_consumed(r);

			CHECK(used <= have);
			memmove(buf, buf + used, have - used);
			have -= used;
			base += used;
		}
	}
done:
	free(buf);
	return out.s ? out.s : strdup("");
}

/* split_driver.c's view of a reading: the Run's feeds, its transcript */
typedef struct Feed
{
	CsvReader  *r;
	Run		   *run;
} Feed;

static char *
feed(void *arg, const size_t *bounds, int nbounds, int pattern, bool oracle)
{
	Feed	   *f = arg;

	f->run->bounds = bounds;
	f->run->nbounds = nbounds;
	f->run->pattern = pattern;
	f->run->oracle = oracle;
	return transcript(f->r, f->run);
}

/* Without the header line: what the parts together must give. */
static const char *
skip_header(const char *t, bool header)
{
	const char *nl;

	if (!header)
		return t;
	nl = strchr(t, '\n');
	return nl ? nl + 1 : t + strlen(t);
}

static void
check_parts(CsvReader *r, const Config *cfg, const char *in, size_t n, size_t header_len,
			const size_t *cuts, int ncuts, const char *whole)
{
	Str			all = {0};
	size_t		prev_after = SIZE_MAX;

	for (int k = 0; k <= ncuts; k++)
	{
		size_t		from = k == 0 ? 0 : cuts[k - 1];
		size_t		to = k == ncuts ? SIZE_MAX : cuts[k];
		size_t		start = from;
		Run			run = {0};
		Str			data = {0};
		size_t		bound;
		char	   *t;

		if (k > 0)
		{
			const char *nl = memchr(in + from - 1, '\n', n - (from - 1));

			start = nl ? (size_t) (nl - in) + 1 : n;
			str_add(&data, in, header_len);
		}
		str_add(&data, in + start, n - start);
		bound = data.len;
		run.cfg = cfg;
		run.data = data.s;
		run.n = data.len;
		run.prefix = k > 0 ? header_len : 0;
		run.obj_start = start;
		run.bounds = &bound;
		run.nbounds = 1;
		run.stop = to;
		run.object = in;
		run.pattern = k;
		t = transcript(r, &run);
		if (run.first == SIZE_MAX)
			run.first = n;
		if (run.after == SIZE_MAX)
			run.after = n;
		if (k > 0)
			CHECK(run.first == prev_after);
		prev_after = run.after;
		str_add(&all, skip_header(t, cfg->header), strlen(skip_header(t, cfg->header)));
		free(t);
		str_free(&data);
	}
	check_same("in parts", all.s ? all.s : "", skip_header(whole, cfg->header));
	str_free(&all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};
	uint8_t		d = take_u8(&in);
	uint8_t		q = take_u8(&in);
	uint8_t		flags = take_u8(&in);
	uint8_t		chunk = take_u8(&in);
	uint16_t	c1 = take_u16(&in);
	uint16_t	c2 = take_u16(&in);
	Config		cfg;
	char	   *csv;
	size_t		n = in.len;
	CsvReader  *r;
	Run			run = {0};
	Feed		f = {NULL, &run};
	size_t		cuts[2];
	char	   *whole;
	int			mf = (flags >> 1) & 7;

	cfg.delim = chars[d % (sizeof(chars) - 1)];
	cfg.quote = chars[q % (sizeof(chars) - 1)];
	if (cfg.quote == cfg.delim)
		cfg.quote = cfg.delim == '"' ? '\'' : '"';
	cfg.header = flags & 1;
	cfg.max_fields = mf == 0 ? INT_MAX : mf - 1;
	cfg.null_string = null_strings[(flags >> 4) & 7];
	csv = exact_copy(in.p, n);

	r = csv_reader_create(cfg.delim, cfg.quote);
	CHECK(r != NULL);
	f.r = r;

	/* whole, after a reset, cut at two places, in chunks (1 to 32 bytes) */
	run.cfg = &cfg;
	run.data = csv;
	run.n = n;
	run.stop = SIZE_MAX;
	whole = split_check_feeds(feed, &f, n, chunk, 32, c1, c2, cuts);

	{
		char	   *padded = malloc(n + JSON_READER_PADDING);
		size_t		header_len;
		bool		lines;

		memcpy(padded, csv, n);
		pad(padded + n, chunk);
		lines = line_records_check(true, padded, n, cfg.delim, cfg.quote, cfg.header,
								   &header_len);
		free(padded);
		if (lines && cfg.header)
		{
			const char *nl = memchr(csv, '\n', n);

			CHECK(nl != NULL && header_len == (size_t) (nl - csv) + 1);
		}
		else if (lines)
			CHECK(header_len == 0);
		if (lines)
		{
			size_t		pc[2];
			int			np = split_part_cuts(cuts, n, pc);

			if (np > 0)
				check_parts(r, &cfg, csv, n, header_len, pc, np, whole);
		}
	}

	free(whole);
	csv_reader_free(r);
	free(csv);
	return 0;
}
