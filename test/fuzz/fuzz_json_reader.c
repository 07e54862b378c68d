/*-------------------------------------------------------------------------
 *
 * fuzz_json_reader.c
 *	  libFuzzer harness of the streaming JSON record reader
 *	  (src/decode/json_reader*) and of the one-record-per-line check
 *	  (src/decode/line_records.c) that lets a scan split an object.
 *
 * An input is 8 option bytes and then the JSON text: NDJSON,
 * concatenated records with or without newlines, top-level arrays, or
 * anything else.  The options choose the requested fields (16 of them:
 * paths, nested paths, the whole record, every kind of want, split
 * arrays), an element limit, two buffer cuts, a chunk size and the bytes
 * after the fed buffer.  The input is read as the scan reads it (feed,
 * take records, keep the unconsumed tail, append, feed again), and:
 *
 *	- the transcript (every record with its values, every bad record with
 *	  its message, text and offsets in the object, the end) is the same fed
 *	  whole, cut at the two chosen offsets, in chunks of the chosen size,
 *	  with the SSE2 scanner instead of AVX2, with other bytes after the
 *	  buffer, and on a reader reset after another object;
 *	- every record is compared with a reference parser (json_ref.c) from
 *	  RFC 8259 (strict grammar, UTF-8, escapes with surrogate pairs, the
 *	  first of duplicate keys, nesting up to 1024): when the reference
 *	  finds the record valid, every requested value must be what it says
 *	  (kind, unescaped text, raw text, int64 as strtoll, double as strtod,
 *	  array elements); when the whole record is requested, the record must
 *	  be valid; and a bad record whose text the reference finds valid is a
 *	  valid record rejected;
 *	- when line_records_check() says the input holds one record per line,
 *	  reading it in two or three parts as parallel workers do (each from
 *	  the first line end at or after its start, up to the first record
 *	  that starts a line at or after its end: a record later on a line,
 *	  junk after a record, is read with it) gives the same records and bad
 *	  records, and the parts agree on where each one starts.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_json_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "json_ref.h"
#include "json_reader.h"
#include "line_records.h"
#include "split_driver.h"

/* The fields an input may request (bit i of the mask: pool[i]). */
static const JsonField pool[16] = {
	{"", JSON_WANT_RAW, false},
	{"a", JSON_WANT_ANY, false},
	{"a", JSON_WANT_INT64, false},
	{"a", JSON_WANT_DOUBLE, false},
	{"a", JSON_WANT_RAW, false},
	{"b", JSON_WANT_ANY, true},
	{"b", JSON_WANT_RAW, false},
	{"a.b", JSON_WANT_ANY, false},
	{"a.b", JSON_WANT_RAW, false},
	{"c", JSON_WANT_DOUBLE, true},
	{"c", JSON_WANT_INT64, false},
	{"b.c.d", JSON_WANT_ANY, false},
	{"d", JSON_WANT_ANY, false},
	{"d", JSON_WANT_RAW, true},
	{"e", JSON_WANT_INT64, true},
	{"k", JSON_WANT_ANY, false},
};

#define MAX_DEPTH JSON_REF_MAX_DEPTH

typedef struct Config
{
	JsonField	fields[16];
	int			nfields;
	size_t		max_field_elems;	/* SIZE_MAX: no limit */
	bool		whole_record;	/* "" is requested */
} Config;

static JsonKind
ref_kind(char c)
{
	switch (c)
	{
		case '{':
			return JSON_OBJECT;
		case '[':
			return JSON_ARRAY;
		case '"':
			return JSON_STRING;
		case 't':
			return JSON_TRUE;
		case 'f':
			return JSON_FALSE;
		case 'n':
			return JSON_NULL;
		default:
			return JSON_NUMBER;
	}
}

static bool
same_text(const JsonValue *v, const char *p, size_t n)
{
	return v->str != NULL && v->len == n && memcmp(v->str, p, n) == 0;
}

/* One value (or element) against the reference's reading of [p, end). */
static void
expect_one(JsonWant want, const char *p, const char *end, const JsonValue *v)
{
	JsonKind	kind = ref_kind(*p);

	CHECK(v->kind == kind);
	if (want == JSON_WANT_RAW)
	{
		CHECK(same_text(v, p, end - p));
		return;
	}
	switch (kind)
	{
		case JSON_NULL:
			CHECK(v->str == NULL);
			break;
		case JSON_TRUE:
		case JSON_FALSE:
		case JSON_ARRAY:
		case JSON_OBJECT:
			CHECK(same_text(v, p, end - p));
			break;
		case JSON_STRING:
			{
				Str			s = {0};
				bool		nul;

				CHECK(ref_string(p, end, &s, &nul) == end);
				CHECK(v->str != NULL && v->len == s.len &&
					  (s.len == 0 || memcmp(v->str, s.s, s.len) == 0));
				CHECK(v->has_nul == nul);
				str_free(&s);
				break;
			}
		case JSON_NUMBER:
			{
				char	   *t = strndup(p, end - p);
				bool		integral = strpbrk(t, ".eE") == NULL;

				CHECK(same_text(v, p, end - p));
				if (want == JSON_WANT_INT64)
				{
					long long	i;

					errno = 0;
					i = strtoll(t, NULL, 10);
					if (integral && errno == 0)
						CHECK(v->num_ok && v->i64 == i);
					else
						CHECK(!v->num_ok);
				}
				else if (want == JSON_WANT_DOUBLE)
				{
					double		d = strtod(t, NULL);

					if (isinf(d))
						CHECK(!v->num_ok);
					else
					{
						CHECK(v->num_ok);
						/* bit for bit: -0 is not 0 */
						CHECK(memcmp(&d, &v->f64, sizeof(d)) == 0);
					}
				}
				free(t);
				break;
			}
		default:
			CHECK(false);
	}
}

/* A requested field of a valid record. */
static void
expect_field(const Config *cfg, const JsonField *f, const char *rec, const char *rec_end,
			 const char *e, const JsonValue *v)
{
	const char *p;
	const char *end;

	if (f->path[0] == '\0')
	{
		CHECK(v->kind == JSON_OBJECT && same_text(v, rec, rec_end - rec));
		return;
	}
	p = ref_lookup(rec, e, f->path);
	if (p == NULL)
	{
		CHECK(v->kind == JSON_MISSING && v->str == NULL && v->elems == NULL);
		return;
	}
	end = ref_value(p, e, 0);
	CHECK(end != NULL);
	expect_one(f->want, p, end, v);
	if (f->want_elements && *p == '[')
	{
		const char *q = ref_ws(p + 1, end);
		int			k = 0;

		CHECK(v->elems != NULL);
		if (*q != ']')
		{
			for (;;)
			{
				const char *qe = ref_value(q, end, 0);

				CHECK(qe != NULL && k < v->nelems);
				expect_one(f->want, q, qe, &v->elems[k]);
				k++;
				q = ref_ws(qe, end);
				if (*q == ']')
					break;
				CHECK(*q == ',');
				q = ref_ws(q + 1, end);
			}
		}
		CHECK(v->nelems == k);
		CHECK((size_t) k <= cfg->max_field_elems);
	}
	else
		CHECK(v->elems == NULL);
}

/* ----------------------------------------------------------------
 * Reading an input the way the scan does
 * ----------------------------------------------------------------
 */

static const char *const kind_names[] = {
	"MISSING", "NULL", "FALSE", "TRUE", "NUMBER", "STRING", "ARRAY", "OBJECT"
};

static void
print_value(Str *s, const JsonValue *v, JsonWant want)
{
	str_addf(s, "%s", kind_names[v->kind]);
	if (v->str)
	{
		str_add(s, "<", 1);
		str_add_text(s, v->str, v->len);
		str_add(s, ">", 1);
	}
	if (v->kind == JSON_NUMBER && want == JSON_WANT_INT64)
		str_addf(s, v->num_ok ? " i=%lld" : " i=?", (long long) v->i64);
	if (v->kind == JSON_NUMBER && want == JSON_WANT_DOUBLE)
		str_addf(s, v->num_ok ? " d=%a" : " d=?", v->f64);
	if (v->has_nul)
		str_add(s, " NUL", 4);
	if (v->elems)
	{
		str_addf(s, " [%d:", v->nelems);
		for (int i = 0; i < v->nelems; i++)
		{
			str_add(s, " ", 1);
			print_value(s, &v->elems[i], want);
		}
		str_add(s, "]", 1);
	}
}

/* The bytes after the fed buffer: a reader must not depend on them. */
static void
pad(char *p, int pattern)
{
	static const char *const pats[] = {"\"}]1\\", "\0", " ", "{\"a\":[", "\n{"};
	const char *pat = pats[pattern % 5];
	size_t		n = pattern % 5 == 1 ? 1 : strlen(pat);

	for (size_t i = 0; i < JSON_READER_PADDING; i++)
		p[i] = pat[i % n];
}

typedef struct Run
{
	const Config *cfg;
	const char *in;				/* the whole object */
	size_t		n;
	size_t		start;			/* first byte read */
	const size_t *bounds;		/* where each feed ends (ascending, last n) */
	int			nbounds;
	size_t		stop;			/* a part: stop at a record that starts a
								 * line at or after this; SIZE_MAX: never */
	bool		header_skip;	/* (CSV only) */
	int			pattern;
	bool		oracle;			/* check against the reference */
	/* out */
	size_t		first;			/* object offset of the first record seen,
								 * or n */
	size_t		after;			/* a part: where the record that stopped it
								 * starts, or n */
} Run;

static void
oracle_record(const Run *run, const JsonValue *values, size_t off)
{
	const Config *cfg = run->cfg;
	const char *e = run->in + run->n;
	const char *rec = run->in + off;
	const char *end = ref_record(rec, e);

	if (end == NULL)
	{
		/* the reader checks everything when the whole record is asked for */
		CHECK(!cfg->whole_record);
		return;
	}
	for (int i = 0; i < cfg->nfields; i++)
		expect_field(cfg, &cfg->fields[i], rec, end, e, &values[i]);
}

static void
oracle_bad(const Run *run, const JsonError *err, size_t off)
{
	const char *e = run->in + run->n;
	const char *end;

	if (err->too_large)
		return;
	end = ref_record(run->in + off, e);
	/* a valid record rejected */
	CHECK(end == NULL || (size_t) (end - (run->in + off)) != err->record_len);
}

/*
 * Read run->in[start..n) fed in pieces ending at run->bounds, and return
 * the transcript (malloc'd).
 */
static char *
transcript(JsonReader *r, Run *run)
{
	const Config *cfg = run->cfg;
	JsonValue  *values = calloc(cfg->nfields + 1, sizeof(JsonValue));
	Str			out = {0};
	char	   *buf = NULL;
	size_t		base = run->start;	/* object offset of buf[0] */
	size_t		have = 0;
	size_t		given = run->start;
	int			b = 0;
	long		guard = 0;

	json_reader_reset(r);
	run->first = run->n;
	run->after = run->n;
	for (;;)
	{
		size_t		upto = run->bounds[b];
		bool		eof;
		JsonResult	rc;
		char	   *nb;

		if (upto < given)
			upto = given;
		/* exactly what is fed and its padding: ASan sees reads past it */
		nb = malloc(have + (upto - given) + JSON_READER_PADDING);
		CHECK(nb != NULL);
		if (have)
			memcpy(nb, buf, have);
		memcpy(nb + have, run->in + given, upto - given);
		free(buf);
		buf = nb;
		have += upto - given;
		given = upto;
		eof = (given == run->n);
		pad(buf + have, run->pattern);
		if (b < run->nbounds - 1)
			b++;

		json_reader_feed(r, buf, have, eof);
		while ((rc = json_reader_next(r, values)) != JSON_NEED_MORE)
		{
			CHECK(++guard < 1000000);
			if (rc == JSON_RECORD)
			{
				size_t		off = json_reader_record_offset(r);

				CHECK(off < have);
				if (run->first == run->n)
					run->first = base + off;
				if (base + off >= run->stop &&
					line_records_starts_line(run->in, base + off, true))
				{
					run->after = base + off;
					goto done;
				}
				str_addf(&out, "RECORD @%zu {", base + off);
				for (int i = 0; i < cfg->nfields; i++)
				{
					if (i)
						str_add(&out, ", ", 2);
					print_value(&out, &values[i], cfg->fields[i].want);
				}
				str_add(&out, "}\n", 2);
				if (run->oracle)
					oracle_record(run, values, base + off);
			}
			else if (rc == JSON_BAD_RECORD)
			{
				const JsonError *err = json_reader_error(r);

				CHECK(err->record_offset <= have && err->error_offset <= have &&
					  err->error_offset >= err->record_offset);
				CHECK(err->record_len <= have - err->record_offset);
				CHECK(err->record_len == 0 || err->record_text == buf + err->record_offset);
				CHECK(err->message != NULL);
				if (run->first == run->n)
					run->first = base + err->record_offset;
				if (base + err->record_offset >= run->stop &&
					line_records_starts_line(run->in, base + err->record_offset, true))
				{
					run->after = base + err->record_offset;
					goto done;
				}
				str_addf(&out, "BAD @%zu err@%zu %s(%s) <", base + err->record_offset,
						 base + err->error_offset, err->too_large ? "TOO LARGE " : "",
						 err->message);
				str_add_text(&out, err->record_text, err->record_len);
				str_add(&out, ">\n", 2);
				if (run->oracle)
					oracle_bad(run, err, base + err->record_offset);
			}
			else if (rc == JSON_END)
			{
				/* (a part that reaches the end leaves it to the last one) */
				if (run->stop == SIZE_MAX)
					str_add(&out, "END\n", 4);
				goto done;
			}
			else
			{
				str_addf(&out, "FATAL(%s)\n", json_reader_error(r)->message);
				goto done;
			}
		}
		/* more was asked for at the end of the input */
		CHECK(!eof);
		{
			size_t		used = json_reader_consumed(r);

			CHECK(used <= have);
			memmove(buf, buf + used, have - used);
			have -= used;
			base += used;
		}
	}
done:
	free(values);
	free(buf);
	return out.s ? out.s : strdup("");
}

/* split_driver.c's view of a reading: the Run's feeds, its transcript */
typedef struct Feed
{
	JsonReader *r;
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

/*
 * Read the object in parts, as parallel workers read a split object:
 * part k covers [cut[k], cut[k + 1]); it starts after the first line end
 * at or after cut[k] - 1, and stops at the first record that starts a
 * line at or after cut[k + 1], where the next part's first record must
 * start.
 */
static void
check_parts(JsonReader *r, const Config *cfg, const char *in, size_t n,
			const size_t *cuts, int ncuts, const char *whole)
{
	Str			all = {0};
	size_t		prev_after = 0;
	size_t		bound = n;

	for (int k = 0; k <= ncuts; k++)
	{
		size_t		from = k == 0 ? 0 : cuts[k - 1];
		size_t		to = k == ncuts ? SIZE_MAX : cuts[k];
		size_t		start = from;
		Run			run = {0};
		char	   *t;

		if (k > 0)
		{
			const char *nl = memchr(in + from - 1, '\n', n - (from - 1));

			start = nl ? (size_t) (nl - in) + 1 : n;
		}
		run.cfg = cfg;
		run.in = in;
		run.n = n;
		run.start = start;
		run.bounds = &bound;
		run.nbounds = 1;
		run.stop = to;
		run.pattern = k;
		t = transcript(r, &run);
		/* the parts agree on where this one's first record is */
		if (k > 0)
			CHECK(run.first == prev_after);
		prev_after = run.after;
		str_add(&all, t, strlen(t));
		free(t);
	}
	check_same("in parts", all.s ? all.s : "", whole);
	str_free(&all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};
	uint16_t	mask = take_u16(&in);
	uint8_t		maxel = take_u8(&in);
	uint8_t		chunk = take_u8(&in);
	uint16_t	c1 = take_u16(&in);
	uint16_t	c2 = take_u16(&in);
	const char *json;
	size_t		n;
	Config		cfg = {0};
	JsonReader *r;
	Run			run = {0};
	Feed		f = {NULL, &run};
	size_t		cuts[2];
	char	   *whole;
	char	   *t;

	/* the JSON text, in a buffer of its own size (so ASan sees past it) */
	n = in.len;
	json = exact_copy(in.p, n);

	for (int i = 0; i < 16; i++)
	{
		if (mask & (1u << i))
		{
			cfg.fields[cfg.nfields++] = pool[i];
			if (pool[i].path[0] == '\0')
				cfg.whole_record = true;
		}
	}
	r = json_reader_create(cfg.fields, cfg.nfields);
	CHECK(r != NULL);
	f.r = r;
	cfg.max_field_elems = SIZE_MAX;
	if (maxel > 0)
	{
		int			nsplit = 0;

		for (int i = 0; i < cfg.nfields; i++)
			nsplit += cfg.fields[i].want_elements;
		json_reader_set_max_elements(r, maxel);
		cfg.max_field_elems = nsplit ? maxel / nsplit : maxel;
	}

	/* whole, after a reset, cut at two places, in chunks (1 to 64 bytes) */
	run.cfg = &cfg;
	run.in = json;
	run.n = n;
	run.stop = SIZE_MAX;
	whole = split_check_feeds(feed, &f, n, chunk, 64, c1, c2, cuts);

	/* the baseline scanner */
	if (strcmp(json_reader_simd(), "avx2") == 0)
	{
		json_reader_force_baseline(true);
		t = feed(&f, &n, 1, chunk + 4, false);
		json_reader_force_baseline(false);
		check_same("with the SSE2 scanner", t, whole);
		free(t);
	}

	/* one record per line: parallel workers may read it in parts */
	{
		char	   *padded = malloc(n + JSON_READER_PADDING);
		size_t		header_len;
		bool		lines;

		memcpy(padded, json, n);
		pad(padded + n, chunk);
		lines = line_records_check(false, padded, n, ',', '"', false, &header_len);
		CHECK(header_len == 0);
		free(padded);
		if (lines)
		{
			size_t		pc[2];
			int			np = split_part_cuts(cuts, n, pc);

			if (np > 0)
				check_parts(r, &cfg, json, n, pc, np, whole);
		}
	}

	free(whole);
	json_reader_free(r);
	free((void *) json);
	return 0;
}
