/*-------------------------------------------------------------------------
 *
 * test_json_reader.c
 *	  Unit tests of the streaming JSON record reader (json_reader.cpp).
 *
 * Most checks run an input through a simulated caller (feed, take records,
 * keep the unconsumed tail, append more) and compare a printed transcript
 * of every record and error.  The same input is also fed cut at every
 * offset and in tiny chunks: the transcript must not change.
 *
 * IDENTIFICATION
 *	  test/unit/test_json_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"
#include "json_reader.h"

/* A growable string for transcripts. */
typedef struct Str
{
	char	   *s;
	size_t		len;
	size_t		cap;
} Str;

static void
str_add(Str *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap)
	{
		s->cap = (s->len + n + 1) * 2;
		s->s = realloc(s->s, s->cap);
	}
	memcpy(s->s + s->len, p, n);
	s->len += n;
	s->s[s->len] = '\0';
}

static void
str_addf(Str *s, const char *fmt,...)
{
	char		tmp[512];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	str_add(s, tmp, (size_t) n);
}

/* Text with non-printable bytes as \xNN, so transcripts are readable. */
static void
str_add_text(Str *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) p[i];

		if (c < 0x20 || c == '\\' || c >= 0x7f)
			str_addf(s, "\\x%02x", c);
		else
			str_add(s, (const char *) &c, 1);
	}
}

static const char *kind_names[] = {
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
		str_addf(s, v->num_ok ? " d=%.17g" : " d=?", v->f64);
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

/*
 * Run input through a reader the way the scan does.  first: size of the
 * first piece fed (then chunk bytes at a time; 0 = everything at once).
 * The bytes after the fed length are filled with JSON-looking junk to
 * catch reads past the end.
 */
static char *
transcript(const char *input, size_t n, const JsonField *fields, int nfields,
		   size_t first, size_t chunk)
{
	JsonReader *r = json_reader_create(fields, nfields);
	JsonValue  *values = calloc(nfields + 1, sizeof(JsonValue));
	Str			out = {0};
	char	   *buf = NULL;
	size_t		have = 0;
	size_t		given = 0;
	size_t		cap = 0;
	int			guard = 0;

	if (r == NULL)
		return strdup("create failed");
	for (;;)
	{
		size_t		add = (given == 0 && first) ? first : (chunk ? chunk : n);
		bool		eof;
		JsonResult	rc;

		if (add > n - given)
			add = n - given;
		if (have + add + JSON_READER_PADDING > cap)
		{
			cap = (have + add + JSON_READER_PADDING) * 2;
			buf = realloc(buf, cap);
		}
		memcpy(buf + have, input + given, add);
		have += add;
		given += add;
		eof = (given == n);
		for (size_t i = 0; i < JSON_READER_PADDING; i++)
			buf[have + i] = "\"}]1\\"[i % 5];

		json_reader_feed(r, buf, have, eof);
		while ((rc = json_reader_next(r, values)) != JSON_NEED_MORE)
		{
			if (++guard > 100000)
			{
				str_add(&out, "LOOP!", 5);
				goto done;
			}
			if (rc == JSON_RECORD)
			{
				str_add(&out, "{", 1);
				for (int i = 0; i < nfields; i++)
				{
					if (i)
						str_add(&out, ", ", 2);
					print_value(&out, &values[i], fields[i].want);
				}
				str_add(&out, "}\n", 2);
			}
			else if (rc == JSON_BAD_RECORD)
			{
				const JsonError *e = json_reader_error(r);

				str_addf(&out, "BAD(%s) <", e->message);
				str_add_text(&out, e->record_text, e->record_len);
				str_add(&out, ">\n", 2);
				if (e->record_offset > have || e->error_offset > have ||
					e->error_offset < e->record_offset)
					str_add(&out, "BAD OFFSETS\n", 12);
			}
			else if (rc == JSON_END)
			{
				str_add(&out, "END\n", 4);
				goto done;
			}
			else
			{
				str_addf(&out, "FATAL(%s)\n", json_reader_error(r)->message);
				goto done;
			}
		}
		if (eof)
		{
			str_add(&out, "NEED_MORE at eof!\n", 18);
			goto done;
		}
		{
			size_t		used = json_reader_consumed(r);

			memmove(buf, buf + used, have - used);
			have -= used;
		}
		if (++guard > 100000)
		{
			str_add(&out, "LOOP!", 5);
			goto done;
		}
	}
done:
	json_reader_free(r);
	free(values);
	free(buf);
	return out.s ? out.s : strdup("");
}

/*
 * Check that feeding input cut at every offset, and in chunks of 1, 2, 3,
 * 7 and 64 bytes, gives the same transcript as feeding it whole.
 */
static void
check_cuts(const char *name, const char *input, size_t n,
		   const JsonField *fields, int nfields)
{
	char	   *whole = transcript(input, n, fields, nfields, 0, 0);
	size_t		bad_cut = (size_t) -1;
	size_t		bad_chunk = 0;
	static const size_t chunks[] = {1, 2, 3, 7, 64};

	for (size_t cut = 1; cut < n && bad_cut == (size_t) -1; cut++)
	{
		char	   *t = transcript(input, n, fields, nfields, cut, 0);

		if (strcmp(t, whole) != 0)
		{
			bad_cut = cut;
			printf("# cut at %zu:\n# %s\n# whole:\n# %s\n", cut, t, whole);
		}
		free(t);
	}
	UNIT_CHECK(bad_cut == (size_t) -1, "%s: same records at every cut point", name);

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
	{
		char	   *t = transcript(input, n, fields, nfields, chunks[c], chunks[c]);

		if (strcmp(t, whole) != 0 && bad_chunk == 0)
		{
			bad_chunk = chunks[c];
			printf("# chunk %zu:\n# %s\n", chunks[c], t);
		}
		free(t);
	}
	UNIT_CHECK(bad_chunk == 0, "%s: same records in chunks of 1..64 bytes", name);

	/* the baseline scanner must agree with the CPU's best one */
	if (strcmp(json_reader_simd(), "avx2") == 0)
	{
		char	   *base;

		json_reader_force_baseline(true);
		base = transcript(input, n, fields, nfields, 0, 0);
		json_reader_force_baseline(false);
		UNIT_CHECK(strcmp(base, whole) == 0, "%s: same records with the SSE2 scanner", name);
		if (strcmp(base, whole) != 0)
			printf("# sse2:\n# %s\n", base);
		free(base);
	}
	free(whole);
}

static void
check_transcript(const char *name, const char *input, const JsonField *fields,
				 int nfields, const char *want)
{
	char	   *t = transcript(input, strlen(input), fields, nfields, 0, 0);

	UNIT_CHECK_STR(t, want, "%s", name);
	free(t);
	check_cuts(name, input, strlen(input), fields, nfields);
}

/* ---------------------------------------------------------------- */

static const JsonField iot_fields[] = {
	{"device_id", JSON_WANT_ANY, false},
	{"ts", JSON_WANT_ANY, false},
	{"battery", JSON_WANT_INT64, false},
	{"voltage", JSON_WANT_DOUBLE, false},
	{"temp_c", JSON_WANT_DOUBLE, false},
	{"tags", JSON_WANT_ANY, true},
	{"loc.lat", JSON_WANT_DOUBLE, false},
	{"loc.lon", JSON_WANT_DOUBLE, false},
	{"seq", JSON_WANT_INT64, false},
	{"missing", JSON_WANT_ANY, false},
};

#define REC1 "{\"device_id\":\"dev-1\",\"ts\":\"2024-05-01T12:00:00Z\",\"battery\":87,\"voltage\":3.71,\"temp_c\":null,\"tags\":[\"a\",\"b\\n\"],\"loc\":{\"lat\":47.5,\"lon\":-8.25},\"seq\":1}"
#define REC2 "{\"seq\":2,\"loc\":{\"lon\":1e2,\"lat\":0},\"tags\":[],\"device_id\":\"caf\\u00e9 \xe2\x98\x83\",\"battery\":-5,\"voltage\":4,\"temp_c\":-0.5,\"ts\":\"x\"}"
#define REC3 "{ \"device_id\" : \"d3\" ,\n  \"extra\": {\"deep\": [1, {\"x\": \"}]\"}]},\n  \"seq\": 3 }"

#define OUT1 "{STRING<dev-1>, STRING<2024-05-01T12:00:00Z>, NUMBER<87> i=87, NUMBER<3.71> d=3.71, NULL, ARRAY<[\"a\",\"b\\x5cn\"]> [2: STRING<a> STRING<b\\x0a>], NUMBER<47.5> d=47.5, NUMBER<-8.25> d=-8.25, NUMBER<1> i=1, MISSING}\n"
#define OUT2 "{STRING<caf\\xc3\\xa9 \\xe2\\x98\\x83>, STRING<x>, NUMBER<-5> i=-5, NUMBER<4> d=4, NUMBER<-0.5> d=-0.5, ARRAY<[]> [0:], NUMBER<0> d=0, NUMBER<1e2> d=100, NUMBER<2> i=2, MISSING}\n"
#define OUT3 "{STRING<d3>, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING, NUMBER<3> i=3, MISSING}\n"

static void
test_layouts(void)
{
	int			nf = sizeof(iot_fields) / sizeof(iot_fields[0]);
	const char *want = OUT1 OUT2 OUT3 "END\n";

	check_transcript("NDJSON", REC1 "\n" REC2 "\n" REC3 "\n", iot_fields, nf, want);
	check_transcript("NDJSON, CRLF, blank lines, no final newline",
					 "\r\n\r\n" REC1 "\r\n\r\n\n" REC2 "\r\n   \t\r\n" REC3, iot_fields, nf, want);
	check_transcript("concatenated {..}{..}", REC1 REC2 REC3, iot_fields, nf, want);
	check_transcript("concatenated with spaces", REC1 "  " REC2 " \t " REC3 "   ", iot_fields, nf, want);
	check_transcript("top-level array", "[" REC1 "," REC2 "," REC3 "]", iot_fields, nf, want);
	check_transcript("array with white space", " [\n  " REC1 " ,\n  " REC2 "\n,\r\n" REC3 "\n]\n",
					 iot_fields, nf, want);
	check_transcript("NDJSON lines that are arrays, mixed",
					 "[" REC1 "]\n[" REC2 "]\n" REC3 "\n[]\n", iot_fields, nf, want);
	check_transcript("arrays back to back", "[" REC1 "][" REC2 "," REC3 "]", iot_fields, nf, want);
	check_transcript("empty input", "", iot_fields, nf, "END\n");
	check_transcript("only white space", " \r\n\n\t ", iot_fields, nf, "END\n");
	check_transcript("byte order mark", "\xEF\xBB\xBF" REC3 "\n", iot_fields, nf, OUT3 "END\n");
}

static void
test_strings(void)
{
	JsonField	f[] = {{"s", JSON_WANT_ANY, false}, {"r", JSON_WANT_RAW, false}};

	check_transcript("escapes",
					 "{\"s\":\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\",\"r\":\"q\\\"\"}\n",
					 f, 2,
					 "{STRING<q\"b\\x5cs/\\x08\\x0c\\x0a\\x0d\\x09>, STRING<\"q\\x5c\"\">}\nEND\n");
	check_transcript("unicode escapes and surrogate pairs",
					 "{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\xc3\xa9\"}\n", f, 2,
					 "{STRING<\\xc3\\xa9\\xe2\\x82\\xac\\xf0\\x9f\\x98\\x80\\xc3\\xa9>, MISSING}\nEND\n");
	check_transcript("\\u0000 sets has_nul",
					 "{\"s\":\"a\\u0000b\"}\n{\"s\":\"ab\"}\n", f, 2,
					 "{STRING<a\\x00b> NUL, MISSING}\n{STRING<ab>, MISSING}\nEND\n");
	check_transcript("empty string", "{\"s\":\"\"}", f, 2, "{STRING<>, MISSING}\nEND\n");
	{
		JsonField	e[] = {{"", JSON_WANT_RAW, false}, {"a.", JSON_WANT_ANY, false}};

		check_transcript("empty key in a path",
						 "{\"a\":{\"\":\"empty\",\"b\":1}}", e, 2,
						 "{OBJECT<{\"a\":{\"\":\"empty\",\"b\":1}}>, STRING<empty>}\nEND\n");
	}
	check_transcript("escaped key matches",
					 "{\"\\u0073\":\"x\",\"r\":1}", f, 2, "{STRING<x>, NUMBER<1>}\nEND\n");
	check_transcript("bad escape is a bad record",
					 "{\"s\":\"\\x\"}\n{\"s\":\"ok\"}\n", f, 2,
					 "BAD(invalid JSON record: Problem while parsing a string) <{\"s\":\"\\x5cx\"}>\n"
					 "{STRING<ok>, MISSING}\nEND\n");
}

static void
test_values(void)
{
	JsonField	f[] = {
		{"a", JSON_WANT_ANY, false},
		{"a", JSON_WANT_RAW, false},
		{"o", JSON_WANT_ANY, false},
		{"o.x", JSON_WANT_INT64, false},
		{"o.y.z", JSON_WANT_ANY, false},
		{"", JSON_WANT_RAW, false},
	};

	check_transcript("literals, raw, same path twice",
					 "{\"a\":true}\n{\"a\":false}\n{\"a\":null}\n{\"a\":{\"k\": [1, 2] }}\n",
					 f, 2,
					 "{TRUE<true>, TRUE<true>}\n{FALSE<false>, FALSE<false>}\n"
					 "{NULL, NULL<null>}\n"
					 "{OBJECT<{\"k\": [1, 2] }>, OBJECT<{\"k\": [1, 2] }>}\n"
					 "END\n");
	check_transcript("nested paths, object also requested whole",
					 "{\"o\":{\"x\":5,\"y\":{\"z\":\"deep\"}},\"a\":1}\n"
					 "{\"o\":7}\n"
					 "{\"o\":{\"y\":[1]}}\n"
					 "{\"o\":{\"x\":1},\"o\":{\"q\":2}}\n"
					 "{\"o\":{\"x\":1},\"o\":3}\n"
					 "{\"o\":3,\"o\":{\"x\":1}}\n",
					 f, 6,
					 "{NUMBER<1>, NUMBER<1>, OBJECT<{\"x\":5,\"y\":{\"z\":\"deep\"}}>, NUMBER<5> i=5, STRING<deep>, OBJECT<{\"o\":{\"x\":5,\"y\":{\"z\":\"deep\"}},\"a\":1}>}\n"
					 "{MISSING, MISSING, NUMBER<7>, MISSING, MISSING, OBJECT<{\"o\":7}>}\n"
					 "{MISSING, MISSING, OBJECT<{\"y\":[1]}>, MISSING, MISSING, OBJECT<{\"o\":{\"y\":[1]}}>}\n"
					 "{MISSING, MISSING, OBJECT<{\"x\":1}>, NUMBER<1> i=1, MISSING, OBJECT<{\"o\":{\"x\":1},\"o\":{\"q\":2}}>}\n"
					 "{MISSING, MISSING, OBJECT<{\"x\":1}>, NUMBER<1> i=1, MISSING, OBJECT<{\"o\":{\"x\":1},\"o\":3}>}\n"
					 "{MISSING, MISSING, NUMBER<3>, MISSING, MISSING, OBJECT<{\"o\":3,\"o\":{\"x\":1}}>}\n"
					 "END\n");
	{
		JsonField	many[9];
		JsonReader *r;

		for (int i = 0; i < 9; i++)
		{
			many[i].path = "a.b";
			many[i].want = JSON_WANT_ANY;
			many[i].want_elements = false;
		}
		r = json_reader_create(many, 8);
		UNIT_CHECK(r != NULL, "the same path 8 times is fine");
		json_reader_free(r);
		r = json_reader_create(many, 9);
		UNIT_CHECK(r == NULL, "the same path 9 times is refused");
		json_reader_free(r);
	}
	check_transcript("duplicate keys: the first counts",
					 "{\"a\":1,\"b\":0,\"a\":\"two\"}\n", f, 1, "{NUMBER<1>}\nEND\n");
	{
		JsonField	d[] = {
			{"a", JSON_WANT_INT64, false},
			{"b", JSON_WANT_ANY, false},
			{"o.x", JSON_WANT_INT64, false},
			{"o.y", JSON_WANT_INT64, false},
		};

		/*
		 * The same rule whether the duplicate comes before every requested
		 * key was met (the walk goes on past it) or after (the walk has
		 * stopped), at the top level and in nested objects, escaped or not.
		 */
		check_transcript("duplicate keys: the first counts, before and after the last key",
						 "{\"a\":1,\"a\":2,\"b\":\"x\",\"o\":{\"x\":3,\"y\":4}}\n"
						 "{\"a\":1,\"b\":\"x\",\"o\":{\"x\":3,\"y\":4},\"a\":2,\"b\":\"z\"}\n"
						 "{\"o\":{\"x\":3,\"x\":5,\"y\":4,\"y\":6},\"a\":1,\"a\":{\"k\":[]},\"b\":null}\n"
						 "{\"o\":{\"x\":3},\"o\":{\"x\":5,\"y\":6},\"a\":1,\"b\":\"x\"}\n"
						 "{\"\\u0061\":1,\"a\":2,\"b\":\"x\",\"\\u0062\":\"y\"}\n"
						 "{\"a\":\"s\",\"a\":7}\n",
						 d, 4,
						 "{NUMBER<1> i=1, STRING<x>, NUMBER<3> i=3, NUMBER<4> i=4}\n"
						 "{NUMBER<1> i=1, STRING<x>, NUMBER<3> i=3, NUMBER<4> i=4}\n"
						 "{NUMBER<1> i=1, NULL, NUMBER<3> i=3, NUMBER<4> i=4}\n"
						 "{NUMBER<1> i=1, STRING<x>, NUMBER<3> i=3, MISSING}\n"
						 "{NUMBER<1> i=1, STRING<x>, MISSING, MISSING}\n"
						 "{STRING<s>, MISSING, MISSING, MISSING}\nEND\n");
	}
}

/*
 * The walk of a record stops once every requested key has been met: what
 * follows is not looked at (beyond UTF-8, strings and brackets, which
 * every record gets), while a record that lacks a requested key is walked
 * to its end and its syntax errors found.
 */
static void
test_early_stop(void)
{
	JsonField	f[] = {{"a", JSON_WANT_INT64, false}, {"o.x", JSON_WANT_ANY, false}};
	JsonField	raw[] = {{"o", JSON_WANT_RAW, false}, {"o.x", JSON_WANT_ANY, false}};

	check_transcript("early stop: syntax after the last requested key is not checked",
					 "{\"a\":1,\"o\":{\"x\":\"s\"},\"b\" 2}\n"
					 "{\"a\":1,\"o\":{\"x\":\"s\",},\"b\":2}\n"
					 "{\"a\":1,\"o\":{\"x\":\"s\"}\"b\":2}\n",
					 f, 2,
					 "{NUMBER<1> i=1, STRING<s>}\n"
					 "{NUMBER<1> i=1, STRING<s>}\n"
					 "{NUMBER<1> i=1, STRING<s>}\nEND\n");
	check_transcript("early stop: a missing key means a walk to the end",
					 "{\"o\":{\"x\":\"s\"},\"b\" 2}\n"
					 "{\"a\":1,\"o\":{\"y\":1,},\"b\":2}\n"
					 "{\"o\":{\"x\":\"s\"},\"b\":2,}\n"
					 "{\"o\":{\"x\":\"s\",\"y\":[1,{\"z\":2}]},\"a\":3,\"c\":[]}\n",
					 f, 2,
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"o\":{\"x\":\"s\"},\"b\" 2}>\n"
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"a\":1,\"o\":{\"y\":1,},\"b\":2}>\n"
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"o\":{\"x\":\"s\"},\"b\":2,}>\n"
					 "{NUMBER<3> i=3, STRING<s>}\nEND\n");
	check_transcript("early stop: not inside an object requested whole",
					 "{\"o\":{\"x\":1,\"y\":[2,{\"z\":\"}\"}]},\"a\":0}\n"
					 "{\"o\":{\"x\":1,\"y\" 2}}\n",
					 raw, 2,
					 "{OBJECT<{\"x\":1,\"y\":[2,{\"z\":\"}\"}]}>, NUMBER<1>}\n"
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"o\":{\"x\":1,\"y\" 2}}>\n"
					 "END\n");
	check_transcript("no fields (count(*)): UTF-8 and brackets still checked",
					 "{\"a\":1}\n{\"a\" 1}\n{\"a\":\"\xff\"}\n{\"a\":[1}}\n[{}, 2]\n",
					 f, 0,
					 "{}\n{}\n"
					 "BAD(invalid JSON record: The input is not valid UTF-8) <{\"a\":\"\\xff\"}>\n"
					 "BAD(invalid JSON record: mismatched brackets) <{\"a\":[1}}>\n"
					 "{}\n"
					 "BAD(invalid JSON record: array element is not an object) <2>\n"
					 "END\n");
}

static void
test_numbers(void)
{
	JsonField	f[] = {
		{"n", JSON_WANT_INT64, false},
		{"n", JSON_WANT_DOUBLE, false},
		{"n", JSON_WANT_ANY, false},
	};
	JsonField	fi[] = {{"n", JSON_WANT_INT64, false}};
	JsonField	fd[] = {{"n", JSON_WANT_DOUBLE, false}};
	JsonField	fa[] = {{"n", JSON_WANT_ANY, false}};

	check_transcript("int64 limits",
					 "{\"n\":9223372036854775807}{\"n\":-9223372036854775808}"
					 "{\"n\":9223372036854775808}{\"n\":-9223372036854775809}"
					 "{\"n\":1.5}{\"n\":1e3}{\"n\":-0}",
					 fi, 1,
					 "{NUMBER<9223372036854775807> i=9223372036854775807}\n"
					 "{NUMBER<-9223372036854775808> i=-9223372036854775808}\n"
					 "{NUMBER<9223372036854775808> i=?}\n"
					 "{NUMBER<-9223372036854775809> i=?}\n"
					 "{NUMBER<1.5> i=?}\n"
					 "{NUMBER<1e3> i=?}\n"
					 "{NUMBER<-0> i=0}\n"
					 "END\n");
	check_transcript("doubles",
					 "{\"n\":1.5}{\"n\":-2.5E+3}{\"n\":1e-5}{\"n\":1e400}{\"n\":12345678901234567890123}{\"n\":0.1}",
					 fd, 1,
					 "{NUMBER<1.5> d=1.5}\n"
					 "{NUMBER<-2.5E+3> d=-2500}\n"
					 "{NUMBER<1e-5> d=1.0000000000000001e-05}\n"
					 "{NUMBER<1e400> d=?}\n"
					 "{NUMBER<12345678901234567890123> d=1.2345678901234568e+22}\n"
					 "{NUMBER<0.1> d=0.10000000000000001}\n"
					 "END\n");
	check_transcript("int64 and double of one path",
					 "{\"n\":42}\n{\"n\":2.5}\n{\"n\":18446744073709551615}\n", f, 3,
					 "{NUMBER<42> i=42, NUMBER<42> d=42, NUMBER<42>}\n"
					 "{NUMBER<2.5> i=?, NUMBER<2.5> d=2.5, NUMBER<2.5>}\n"
					 "{NUMBER<18446744073709551615> i=?, NUMBER<18446744073709551615> d=1.8446744073709552e+19, NUMBER<18446744073709551615>}\n"
					 "END\n");
	check_transcript("invalid numbers are bad records (int64)",
					 "{\"n\":01}\n{\"n\":1.}\n{\"n\":-}\n{\"n\":7}\n", fi, 1,
					 "BAD(invalid JSON record: Problem while parsing a number) <{\"n\":01}>\n"
					 "BAD(invalid JSON record: Problem while parsing a number) <{\"n\":1.}>\n"
					 "BAD(invalid JSON record: Problem while parsing a number) <{\"n\":-}>\n"
					 "{NUMBER<7> i=7}\nEND\n");
	check_transcript("invalid numbers are bad records (text)",
					 "{\"n\":01}\n{\"n\":.5}\n{\"n\":1e}\n{\"n\":-0.0e-0}\n", fa, 1,
					 "BAD(invalid JSON record: Problem while parsing a number) <{\"n\":01}>\n"
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"n\":.5}>\n"
					 "BAD(invalid JSON record: Problem while parsing a number) <{\"n\":1e}>\n"
					 "{NUMBER<-0.0e-0>}\nEND\n");
	/* a failed int64 conversion must not derail the rest of the record */
	{
		JsonField	f2[] = {{"n", JSON_WANT_INT64, false}, {"m", JSON_WANT_ANY, false}};

		check_transcript("record continues after num_ok=false",
						 "{\"n\":1.5,\"m\":\"after\"}", f2, 2,
						 "{NUMBER<1.5> i=?, STRING<after>}\nEND\n");
	}
}

static void
test_elements(void)
{
	JsonField	f[] = {{"t", JSON_WANT_INT64, true}, {"t", JSON_WANT_ANY, true}};

	check_transcript("array elements",
					 "{\"t\":[1, 2.5, \"s\", null, [3,4], {\"k\":1}, true]}\n"
					 "{\"t\":[]}\n{\"t\":\"notarray\"}\n{\"t\":[ ]}\n",
					 f, 2,
					 "{ARRAY<[1, 2.5, \"s\", null, [3,4], {\"k\":1}, true]> [7: NUMBER<1> i=1 NUMBER<2.5> i=? STRING<s> NULL ARRAY<[3,4]> OBJECT<{\"k\":1}> TRUE<true>], "
					 "ARRAY<[1, 2.5, \"s\", null, [3,4], {\"k\":1}, true]> [7: NUMBER<1> NUMBER<2.5> STRING<s> NULL ARRAY<[3,4]> OBJECT<{\"k\":1}> TRUE<true>]}\n"
					 "{ARRAY<[]> [0:], ARRAY<[]> [0:]}\n"
					 "{STRING<notarray>, STRING<notarray>}\n"
					 "{ARRAY<[ ]> [0:], ARRAY<[ ]> [0:]}\n"
					 "END\n");

	/* many elements: the element buffer grows */
	{
		Str			in = {0};
		JsonField	g[] = {{"t", JSON_WANT_INT64, true}};
		JsonReader *r = json_reader_create(g, 1);
		JsonValue	v;
		bool		ok = true;
		char	   *buf;

		str_add(&in, "{\"t\":[", 6);
		for (int i = 0; i < 5000; i++)
			str_addf(&in, i ? ",%d" : "%d", i);
		str_add(&in, "]}", 2);
		buf = calloc(in.len + JSON_READER_PADDING, 1);
		memcpy(buf, in.s, in.len);
		json_reader_feed(r, buf, in.len, true);
		ok = json_reader_next(r, &v) == JSON_RECORD && v.nelems == 5000;
		for (int i = 0; ok && i < 5000; i++)
			ok = v.elems[i].num_ok && v.elems[i].i64 == i;
		UNIT_CHECK(ok, "5000 array elements");
		ok = json_reader_next(r, &v) == JSON_END;
		UNIT_CHECK(ok, "then END");
		json_reader_free(r);
		free(buf);
		free(in.s);
	}

	/*
	 * At most max elements per record, shared by the fields that split
	 * arrays (6 / 2 = 3 each): more is a bad record marked too_large,
	 * skipped to its end; the next ones are read.
	 */
	{
		JsonField	g[] = {{"a", JSON_WANT_INT64, true}, {"b", JSON_WANT_ANY, true}, {"c", JSON_WANT_ANY, false}};
		const char *in = "{\"a\":[1,2,3],\"b\":[\"x\",\"y\"]}\n"
			"{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}\n"
			"{\"a\":[1,2,3],\"b\":[\"x\",\"y\",\"z\"],\"c\":[1,2,3,4,5,6,7]}\n"
			"{\"a\":[[1,2,3,4,5,6,7,8]],\"b\":[]}\n"
			"{\"b\":[1,2,3,4]}\n"
			"{\"a\":[3,2,1]}\n";
		size_t		len = strlen(in);
		char	   *buf = calloc(len + JSON_READER_PADDING, 1);
		JsonReader *r = json_reader_create(g, 3);
		JsonValue	v[3];
		const JsonError *e;
		JsonResult	rc;

		memcpy(buf, in, len);
		json_reader_set_max_elements(r, 6);
		json_reader_feed(r, buf, len, true);
		rc = json_reader_next(r, v);
		UNIT_CHECK(rc == JSON_RECORD && v[0].nelems == 3 && v[1].nelems == 2,
				   "max 6, two array fields: 3 + 2 elements are read");
		rc = json_reader_next(r, v);
		e = json_reader_error(r);
		UNIT_CHECK(rc == JSON_BAD_RECORD && e->too_large && e->record_offset == 28 &&
				   strcmp(e->message, "an array of the record has more than 3 elements") == 0,
				   "20 elements in one field are a record too large (%s)", e->message);
		rc = json_reader_next(r, v);
		UNIT_CHECK(rc == JSON_RECORD && v[0].nelems == 3 && v[1].nelems == 3 &&
				   v[2].kind == JSON_ARRAY && v[2].nelems == 0,
				   "3 + 3, and an array read as text does not count");
		rc = json_reader_next(r, v);
		UNIT_CHECK(rc == JSON_RECORD && v[0].nelems == 1 && v[1].nelems == 0,
				   "a nested array is one element");
		rc = json_reader_next(r, v);
		e = json_reader_error(r);
		UNIT_CHECK(rc == JSON_BAD_RECORD && e->too_large, "4 elements in the other field too");
		rc = json_reader_next(r, v);
		UNIT_CHECK(rc == JSON_RECORD && v[0].nelems == 3 && v[0].elems[2].i64 == 1,
				   "then a record within the limit");
		UNIT_CHECK(json_reader_next(r, v) == JSON_END, "then END");
		json_reader_reset(r);
		json_reader_set_max_elements(r, 0);
		json_reader_feed(r, buf, len, true);
		rc = json_reader_next(r, v);
		e = json_reader_error(r);
		UNIT_CHECK(rc == JSON_BAD_RECORD && e->too_large, "max 0: any element is too many");
		json_reader_reset(r);
		json_reader_set_max_elements(r, SIZE_MAX);
		json_reader_feed(r, buf, len, true);
		rc = json_reader_next(r, v);
		rc = json_reader_next(r, v);
		UNIT_CHECK(rc == JSON_RECORD && v[0].nelems == 20, "no limit again: 20 elements");
		json_reader_free(r);
		free(buf);
	}
}

static void
test_bad_records(void)
{
	JsonField	f[] = {{"a", JSON_WANT_ANY, false}};

	check_transcript("bad record in NDJSON, then recovery",
					 "{\"a\":1}\n{\"a\":tru}\n{\"a\":2}\n{\"a\":\"unterminated}\n{\"a\":3}\n"
					 "{\"a\":4,\n{\"a\":5}\n{\"a\" 6}\n{\"a\":7,}\n{\"a\":8}",
					 f, 1,
					 "{NUMBER<1>}\n"
					 "BAD(invalid JSON record: invalid literal) <{\"a\":tru}>\n"
					 "{NUMBER<2>}\n"
					 "BAD(invalid JSON record: line break inside a string (truncated line?)) <{\"a\":\"unterminated}>\n"
					 "{NUMBER<3>}\n"
					 "BAD(invalid JSON record: record not complete at end of line) <{\"a\":4,>\n"
					 "{NUMBER<5>}\n"
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"a\" 6}>\n"
					 "{NUMBER<7>}\n"		/* not checked after "a": see test_early_stop */
					 "{NUMBER<8>}\n"
					 "END\n");
	check_transcript("bad record in concatenated input, then recovery",
					 "{\"a\":1}{\"a\":x}{\"a\":3}{\"b\":[}]}{\"a\":4}", f, 1,
					 "{NUMBER<1>}\n"
					 "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"a\":x}>\n"
					 "{NUMBER<3>}\n"
					 "BAD(invalid JSON record: mismatched brackets) <{\"b\":[}]>\n"
					 "BAD(invalid JSON record: top-level value is not an object) <}>\n"
					 "{NUMBER<4>}\n"
					 "END\n");
	check_transcript("top-level scalars and stray brackets",
					 "42\n\"str\"\n{\"a\":1}\ntrue ] } null\n{\"a\":2}", f, 1,
					 "BAD(invalid JSON record: top-level value is not an object) <42>\n"
					 "BAD(invalid JSON record: top-level value is not an object) <\"str\">\n"
					 "{NUMBER<1>}\n"
					 "BAD(invalid JSON record: top-level value is not an object) <true>\n"
					 "BAD(invalid JSON record: top-level value is not an object) <]>\n"
					 "BAD(invalid JSON record: top-level value is not an object) <}>\n"
					 "BAD(invalid JSON record: top-level value is not an object) <null>\n"
					 "{NUMBER<2>}\nEND\n");
	check_transcript("bad array elements",
					 "[{\"a\":1}, 5, [2], {\"a\":3} {\"a\":4}, {\"a\":5},]\n{\"a\":6}", f, 1,
					 "{NUMBER<1>}\n"
					 "BAD(invalid JSON record: array element is not an object) <5>\n"
					 "BAD(invalid JSON record: array element is not an object) <[2]>\n"
					 "{NUMBER<3>}\n"
					 "BAD(invalid JSON: expected ',' or ']' after an array element) <{>\n"
					 "{NUMBER<4>}\n"
					 "BAD(invalid JSON record: top-level value is not an object) <,>\n"
					 "{NUMBER<5>}\n"
					 "BAD(invalid JSON record: top-level value is not an object) <,>\n"
					 "BAD(invalid JSON record: top-level value is not an object) <]>\n"
					 "{NUMBER<6>}\nEND\n");
	check_transcript("mismatched brackets, also in values not requested",
					 "{\"x\":{\"y\":[}]}\n{\"a\":[1}}\n{\"a\":{]}\n{\"x\":[[{}]],\"a\":5}\n", f, 1,
					 "BAD(invalid JSON record: mismatched brackets) <{\"x\":{\"y\":[}]}>\n"
					 "BAD(invalid JSON record: mismatched brackets) <{\"a\":[1}}>\n"
					 "BAD(invalid JSON record: mismatched brackets) <{\"a\":{]}>\n"
					 "{NUMBER<5>}\nEND\n");
	check_transcript("truncated record at end of input",
					 "{\"a\":1}\n{\"a\":\"xy", f, 1,
					 "{NUMBER<1>}\nBAD(truncated record at end of input) <{\"a\":\"xy>\nEND\n");
	check_transcript("truncated concatenated record",
					 "{\"a\":1}{\"a\":[1,2", f, 1,
					 "{NUMBER<1>}\nBAD(truncated record at end of input) <{\"a\":[1,2>\nEND\n");
	check_transcript("truncated array",
					 "[{\"a\":1},{\"a\":2}", f, 1,
					 "{NUMBER<1>}\n{NUMBER<2>}\nBAD(truncated record at end of input: array not closed) <>\nEND\n");
	check_transcript("truncated array element",
					 "[{\"a\":1},{\"a\":", f, 1,
					 "{NUMBER<1>}\nBAD(truncated record at end of input) <{\"a\":>\nEND\n");
	check_transcript("invalid UTF-8 in a value, key and unrequested field",
					 "{\"a\":\"\xff\"}\n{\"\xc3\x28\":1}\n{\"a\":1,\"b\":\"\xed\xa0\x80\"}\n{\"a\":\"\xc3\xa9\"}\n",
					 f, 1,
					 "BAD(invalid JSON record: The input is not valid UTF-8) <{\"a\":\"\\xff\"}>\n"
					 "BAD(invalid JSON record: The input is not valid UTF-8) <{\"\\xc3(\":1}>\n"
					 "BAD(invalid JSON record: The input is not valid UTF-8) <{\"a\":1,\"b\":\"\\xed\\xa0\\x80\"}>\n"
					 "{STRING<\\xc3\\xa9>}\nEND\n");
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
test_deep(void)
{
	JsonField	f[] = {{"a", JSON_WANT_RAW, false}, {"b", JSON_WANT_ANY, false}};
	size_t		depth = 100000;
	Str			in = {0};
	char	   *t;

	/* 100000 '[' and nothing else */
	for (size_t i = 0; i < depth; i++)
		str_add(&in, "[", 1);
	t = transcript(in.s, in.len, f, 2, 0, 0);
	UNIT_CHECK(starts_with(t, "BAD(invalid JSON record: array element is not an object)") &&
			   strstr(t, "\nEND\n") != NULL, "100000 '[' is a bad record, then END");
	free(t);
	t = transcript(in.s, in.len, f, 2, 4096, 4096);
	UNIT_CHECK(strstr(t, "\nEND\n") != NULL && strstr(t, "LOOP") == NULL,
			   "100000 '[' in 4 KiB pieces ends");
	free(t);

	/* deep value inside a record, then a good record */
	in.len = 0;
	str_add(&in, "{\"b\":0,\"a\":", 11);
	for (size_t i = 0; i < depth; i++)
		str_add(&in, "[", 1);
	for (size_t i = 0; i < depth; i++)
		str_add(&in, "]", 1);
	str_add(&in, "}\n{\"b\":1}\n", 10);
	t = transcript(in.s, in.len, f, 2, 0, 0);
	UNIT_CHECK(starts_with(t, "BAD(invalid JSON record: nesting deeper than 1024 levels)") &&
			   strstr(t, "{MISSING, NUMBER<1>}\nEND\n") != NULL,
			   "deep nesting is a bad record, next record read");
	free(t);

	/* the limit itself is fine */
	in.len = 0;
	str_add(&in, "{\"a\":", 5);
	for (size_t i = 0; i < 1023; i++)
		str_add(&in, "[", 1);
	for (size_t i = 0; i < 1023; i++)
		str_add(&in, "]", 1);
	str_add(&in, "}", 1);
	t = transcript(in.s, in.len, f, 2, 0, 0);
	UNIT_CHECK(starts_with(t, "{ARRAY<[[["), "1024 levels are accepted");
	free(t);
	free(in.s);
}

/*
 * The input fed once, as one buffer whose padding is zeros (transcript()
 * pads with JSON-looking junk): reads past the end of a record must not
 * change anything, nor go past the padding (ASan runs see that).
 */
static char *
transcript_zero_padded(const char *input, size_t n, const JsonField *fields, int nfields)
{
	JsonReader *r = json_reader_create(fields, nfields);
	JsonValue  *values = calloc(nfields + 1, sizeof(JsonValue));
	char	   *buf = calloc(n + JSON_READER_PADDING, 1);
	Str			out = {0};
	JsonResult	rc;

	memcpy(buf, input, n);
	json_reader_feed(r, buf, n, true);
	while ((rc = json_reader_next(r, values)) != JSON_END && rc != JSON_NEED_MORE)
	{
		if (rc == JSON_RECORD)
		{
			str_add(&out, "{", 1);
			for (int i = 0; i < nfields; i++)
			{
				if (i)
					str_add(&out, ", ", 2);
				print_value(&out, &values[i], fields[i].want);
			}
			str_add(&out, "}\n", 2);
		}
		else if (rc == JSON_BAD_RECORD)
		{
			const JsonError *e = json_reader_error(r);

			str_addf(&out, "BAD(%s) <", e->message);
			str_add_text(&out, e->record_text, e->record_len);
			str_add(&out, ">\n", 2);
		}
		else
			break;
	}
	str_add(&out, "END\n", 4);
	json_reader_free(r);
	free(values);
	free(buf);
	return out.s;
}

static void
check_walk(const char *name, const char *input, const JsonField *fields, int nfields,
		   const char *want)
{
	char	   *t = transcript_zero_padded(input, strlen(input), fields, nfields);

	UNIT_CHECK_STR(t, want, "%s (zero padding)", name);
	free(t);
	check_transcript(name, input, fields, nfields, want);
}

/*
 * The record walker: what it checks, what it leaves alone, and the
 * corners where it must follow the scanner exactly.
 */
static void
test_walker(void)
{
	JsonField	a[] = {{"a", JSON_WANT_ANY, false}};
	JsonField	o[] = {{"o", JSON_WANT_ANY, false}, {"a", JSON_WANT_INT64, false}};
	JsonField	whole[] = {{"", JSON_WANT_RAW, false}, {"a", JSON_WANT_ANY, false}};
	JsonField	loc[] = {{"loc.lat", JSON_WANT_DOUBLE, false}, {"loc.lon", JSON_WANT_DOUBLE, false},
	{"seq", JSON_WANT_INT64, false}};
	JsonField	ab[] = {{"a", JSON_WANT_INT64, false}, {"ab", JSON_WANT_INT64, false}};
	JsonField	fd[] = {{"n", JSON_WANT_DOUBLE, false}, {"n", JSON_WANT_INT64, false}};
	JsonField	none[1];

	/* a backslash outside strings escapes a quote there, as in the scanner */
	check_walk("backslash outside strings, in a value skipped",
			   "{\"x\":[\\\"y],\"a\":1}\n{\"x\":{\\\\\"}\":1},\"a\":2}\n{\"x\":[\\]],\"a\":3}\n{\"a\":4}",
			   a, 1,
			   "{NUMBER<1>}\n"
			   "{NUMBER<2>}\n"
			   /* brackets count even after a backslash: this one is "[]]" */
			   "BAD(invalid JSON record: mismatched brackets) <{\"x\":[\\x5c]]>\n"
			   "BAD(invalid JSON record: top-level value is not an object) <,>\n"
			   "BAD(invalid JSON record: top-level value is not an object) <\"a\">\n"
			   "BAD(invalid JSON record: top-level value is not an object) <:>\n"
			   "BAD(invalid JSON record: top-level value is not an object) <3>\n"
			   "BAD(invalid JSON record: top-level value is not an object) <}>\n"
			   "{NUMBER<4>}\nEND\n");
	check_walk("escaped quotes and brackets in strings skipped",
			   "{\"x\":[\"]\\\"[\",{\"k\":\"}\\\\\"}],\"y\":\"\\\\\",\"a\":\"\\\"\"}", a, 1,
			   "{STRING<\">}\nEND\n");

	/* requested values are checked in full, the others are not */
	check_walk("a requested container is checked in full",
			   "{\"o\":{\"x\":1 \"y\":2},\"a\":1}\n"
			   "{\"o\":[1,],\"a\":1}\n"
			   "{\"o\":{\"x\":[1,{\"y\":tru}]},\"a\":1}\n"
			   "{\"o\":[\"\\q\"],\"a\":1}\n"
			   "{\"o\":{\"x\":[1,{\"y\":true}],\"z\":\"\\u00e9\"},\"a\":1}\n"
			   "{\"b\":{\"x\":1 \"y\":[1,,tru,01,\"\\q\"]},\"a\":1}\n",
			   o, 2,
			   "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"o\":{\"x\":1 \"y\":2},\"a\":1}>\n"
			   "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"o\":[1,],\"a\":1}>\n"
			   "BAD(invalid JSON record: invalid literal) <{\"o\":{\"x\":[1,{\"y\":tru}]},\"a\":1}>\n"
			   "BAD(invalid JSON record: Problem while parsing a string) <{\"o\":[\"\\x5cq\"],\"a\":1}>\n"
			   "{OBJECT<{\"x\":[1,{\"y\":true}],\"z\":\"\\x5cu00e9\"}>, NUMBER<1> i=1}\n"
			   "{MISSING, NUMBER<1> i=1}\nEND\n");
	check_walk("the whole record, when requested, is checked in full",
			   "{\"a\":1,\"b\":[1 2]}\n{\"a\":1,\"b\":[1,2]}\n", whole, 2,
			   "BAD(invalid JSON record: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.) <{\"a\":1,\"b\":[1 2]}>\n"
			   "{OBJECT<{\"a\":1,\"b\":[1,2]}>, NUMBER<1>}\nEND\n");

	/* raw control characters in strings: bad anywhere, even unrequested */
	check_walk("raw control character in a string",
			   "{\"a\":1,\"b\":\"x\ty\"}\n{\"a\":\t2,\r\"b\":\"\\t\"}\n", a, 1,
			   "BAD(invalid JSON record: Within strings, some characters must be escaped, we found unescaped characters) <{\"a\":1,\"b\":\"x\\x09y\"}>\n"
			   "{NUMBER<2>}\nEND\n");
	check_walk("raw control character in a string, no fields",
			   "{\"b\":\"\x01\"}\n{}\n", none, 0,
			   "BAD(invalid JSON record: Within strings, some characters must be escaped, we found unescaped characters) <{\"b\":\"\\x01\"}>\n"
			   "{}\nEND\n");

	/* \u escapes: surrogates must pair, four hex digits */
	check_walk("bad unicode escapes",
			   "{\"a\":\"\\udc00\"}\n{\"a\":\"\\ud83d\\u0041\"}\n{\"a\":\"\\ud83d\"}\n"
			   "{\"a\":\"\\u12G4\"}\n{\"a\":\"\\u12\"}\n{\"a\":\"\\uDBFF\\uDFFF\\u0041\"}\n",
			   a, 1,
			   "BAD(invalid JSON record: Problem while parsing a string) <{\"a\":\"\\x5cudc00\"}>\n"
			   "BAD(invalid JSON record: Problem while parsing a string) <{\"a\":\"\\x5cud83d\\x5cu0041\"}>\n"
			   "BAD(invalid JSON record: Problem while parsing a string) <{\"a\":\"\\x5cud83d\"}>\n"
			   "BAD(invalid JSON record: Problem while parsing a string) <{\"a\":\"\\x5cu12G4\"}>\n"
			   "BAD(invalid JSON record: Problem while parsing a string) <{\"a\":\"\\x5cu12\"}>\n"
			   "{STRING<\\xf4\\x8f\\xbf\\xbfA>}\nEND\n");

	/* numbers beyond the fast path are still correctly rounded */
	check_walk("long and extreme numbers",
			   "{\"n\":-0.9670670930297359979979168901}\n{\"n\":123456789012345678901234567890}\n"
			   "{\"n\":9007199254740993}\n{\"n\":0.000000000000000000000000001}\n"
			   "{\"n\":1e-400}\n{\"n\":2.4703282292062328e-324}\n{\"n\":17976931348623157e292}\n"
			   "{\"n\":-0}\n{\"n\":18446744073709551616}\n{\"n\":12345678.87654321}\n",
			   fd, 2,
			   "{NUMBER<-0.9670670930297359979979168901> d=-0.96706709302973604, NUMBER<-0.9670670930297359979979168901> i=?}\n"
			   "{NUMBER<123456789012345678901234567890> d=1.2345678901234568e+29, NUMBER<123456789012345678901234567890> i=?}\n"
			   "{NUMBER<9007199254740993> d=9007199254740992, NUMBER<9007199254740993> i=9007199254740993}\n"
			   "{NUMBER<0.000000000000000000000000001> d=1e-27, NUMBER<0.000000000000000000000000001> i=?}\n"
			   "{NUMBER<1e-400> d=0, NUMBER<1e-400> i=?}\n"
			   "{NUMBER<2.4703282292062328e-324> d=4.9406564584124654e-324, NUMBER<2.4703282292062328e-324> i=?}\n"
			   "{NUMBER<17976931348623157e292> d=1.7976931348623157e+308, NUMBER<17976931348623157e292> i=?}\n"
			   "{NUMBER<-0> d=-0, NUMBER<-0> i=0}\n"
			   "{NUMBER<18446744073709551616> d=1.8446744073709552e+19, NUMBER<18446744073709551616> i=?}\n"
			   "{NUMBER<12345678.87654321> d=12345678.876543211, NUMBER<12345678.87654321> i=?}\n"
			   "END\n");

	/* stopping early inside a nested object skips the rest of it */
	check_walk("early stop in a nested object",
			   "{\"loc\":{\"lat\":1,\"lon\":2,\"alt\":{\"x\":[1,\"}\"]}},\"seq\":5}\n"
			   "{\"loc\":{\"lon\":2,\"lat\":1},\"seq\":6,\"x\":[}}\n"
			   "{\"seq\":7,\"loc\":{\"lat\":1}}\n",
			   loc, 3,
			   "{NUMBER<1> d=1, NUMBER<2> d=2, NUMBER<5> i=5}\n"
			   /* the scanner still sees every bracket */
			   "BAD(invalid JSON record: mismatched brackets) <{\"loc\":{\"lon\":2,\"lat\":1},\"seq\":6,\"x\":[}}>\n"
			   "{NUMBER<1> d=1, MISSING, NUMBER<7> i=7}\n"
			   "END\n");

	/* keys remembered by position: a prefix or another order is no match */
	check_walk("keys in another order, keys that are prefixes",
			   "{\"ab\":1,\"a\":2}\n{\"a\":3,\"ab\":4}\n{\"abc\":0,\"a\":5,\"ab\":6}\n{\"a\":7}\n",
			   ab, 2,
			   "{NUMBER<2> i=2, NUMBER<1> i=1}\n"
			   "{NUMBER<3> i=3, NUMBER<4> i=4}\n"
			   "{NUMBER<5> i=5, NUMBER<6> i=6}\n"
			   "{NUMBER<7> i=7, MISSING}\nEND\n");
}

/* A record bigger than the buffer: NEED_MORE with consumed at its start. */
static void
test_need_more(void)
{
	JsonField	f[] = {{"a", JSON_WANT_ANY, false}};
	JsonReader *r = json_reader_create(f, 1);
	JsonValue	v;
	JsonResult	rc;
	char		buf[256];
	const char *in = "{\"a\":1}\n{\"a\":\"long";

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, in, strlen(in));
	json_reader_feed(r, buf, strlen(in), false);
	rc = json_reader_next(r, &v);
	UNIT_CHECK(rc == JSON_RECORD && json_reader_record_offset(r) == 0,
			   "first record, offset 0");
	rc = json_reader_next(r, &v);
	UNIT_CHECK(rc == JSON_NEED_MORE, "NEED_MORE on a partial record");
	UNIT_CHECK(json_reader_consumed(r) == 8, "consumed is the partial record's start (%zu)",
			   json_reader_consumed(r));

	/* the caller keeps the tail and appends */
	memmove(buf, buf + 8, strlen(in) - 8);
	memcpy(buf + strlen(in) - 8, "er\"}", 4);
	json_reader_feed(r, buf, strlen(in) - 8 + 4, true);
	rc = json_reader_next(r, &v);
	UNIT_CHECK(rc == JSON_RECORD && v.len == 6 && memcmp(v.str, "longer", 6) == 0,
			   "record completed after refill");
	rc = json_reader_next(r, &v);
	UNIT_CHECK(rc == JSON_END, "END");
	rc = json_reader_next(r, &v);
	UNIT_CHECK(rc == JSON_END, "END again");

	/* error offsets */
	json_reader_reset(r);
	memcpy(buf, "{\"a\":1}  {\"a\":x}", 16);
	json_reader_feed(r, buf, 16, true);
	(void) json_reader_next(r, &v);
	rc = json_reader_next(r, &v);
	UNIT_CHECK(rc == JSON_BAD_RECORD &&
			   json_reader_error(r)->record_offset == 9 &&
			   json_reader_error(r)->record_len == 7 &&
			   json_reader_error(r)->error_offset >= 9, "bad record offsets");
	json_reader_free(r);
}

/*
 * The bytes after the fed length are whatever an earlier fill left there:
 * a buffer that ends right after a line break inside an open record is
 * not a broken line because a stale '{' follows it (found by
 * test/fuzz/fuzz_json_reader: a pretty-printed record was rejected when a
 * refill ended after one of its line breaks).
 */
static void
test_bytes_after_buffer(void)
{
	JsonField	f[] = {{"a", JSON_WANT_ANY, false}};
	const char *in = "{\n  \"a\": 1\n}";

	for (int base = 0; base < 2; base++)
	{
		JsonReader *r = json_reader_create(f, 1);
		JsonValue	v;
		JsonResult	rc;
		char		buf[128];

		json_reader_force_baseline(base == 1);
		memset(buf, '{', sizeof(buf));
		memcpy(buf, in, 2);
		json_reader_feed(r, buf, 2, false);
		rc = json_reader_next(r, &v);
		UNIT_CHECK(rc == JSON_NEED_MORE && json_reader_consumed(r) == 0,
				   "%s: a record open at the buffer's end after a line break needs more, "
				   "whatever follows the buffer (rc %d)", json_reader_simd(), rc);
		memcpy(buf, in, strlen(in));
		json_reader_feed(r, buf, strlen(in), true);
		rc = json_reader_next(r, &v);
		UNIT_CHECK(rc == JSON_RECORD && v.len == 1 && v.str[0] == '1',
				   "%s: then the whole pretty-printed record is read", json_reader_simd());
		json_reader_free(r);
		json_reader_force_baseline(false);
	}
}

/* Generated records in all three layouts, fed at every cut point. */
static void
test_generated_cuts(void)
{
	int			nf = sizeof(iot_fields) / sizeof(iot_fields[0]);
	Str			nd = {0};
	Str			cat = {0};
	Str			arr = {0};
	char	   *a;
	char	   *b;
	char	   *c;

	str_add(&arr, "[", 1);
	for (int i = 0; i < 12; i++)
	{
		char		rec[512];
		int			n = snprintf(rec, sizeof(rec),
								 "{\"device_id\":\"d%d%s\",\"ts\":\"2024-01-01T00:00:%02dZ\",\"battery\":%d,"
								 "\"voltage\":%d.%d,\"temp_c\":%s,\"tags\":[\"t%d\",\"\xc3\xa9\\\"\"],"
								 "\"loc\":{\"lat\":%d.5,\"lon\":-%d.25},\"seq\":%d}",
								 i, i % 3 ? "" : "\\u00e9\\\\", i, i * 7, 3, i, i % 4 ? "20.5" : "null",
								 i, i, i, i);

		str_add(&nd, rec, n);
		str_add(&nd, i % 2 ? "\n" : "\r\n", i % 2 ? 1 : 2);
		str_add(&cat, rec, n);
		if (i)
			str_add(&arr, ",", 1);
		str_add(&arr, rec, n);
	}
	str_add(&arr, "]", 1);

	a = transcript(nd.s, nd.len, iot_fields, nf, 0, 0);
	b = transcript(cat.s, cat.len, iot_fields, nf, 0, 0);
	c = transcript(arr.s, arr.len, iot_fields, nf, 0, 0);
	UNIT_CHECK(strcmp(a, b) == 0 && strcmp(a, c) == 0 && strstr(a, "BAD") == NULL,
			   "12 generated records: same values in all layouts");
	check_cuts("generated NDJSON", nd.s, nd.len, iot_fields, nf);
	check_cuts("generated concatenated", cat.s, cat.len, iot_fields, nf);
	check_cuts("generated array", arr.s, arr.len, iot_fields, nf);
	free(a);
	free(b);
	free(c);
	free(nd.s);
	free(cat.s);
	free(arr.s);
}

/* Small deterministic generator for the mutation test. */
static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245 + 12345;
	return rng_state >> 8;
}

/*
 * Records and errors must not depend on where the buffers are cut, for any
 * input.  Mutate valid input at random (brackets, quotes, backslashes, line
 * feeds, bad UTF-8...) and compare the whole-buffer transcript with random
 * cuts and chunk sizes.  (This test is what showed that simdjson's
 * iterate_many cannot serve as a fast path without our own scan: around
 * mismatched brackets its document boundaries differ from any scan that
 * does not track bracket types.)
 */
static void
test_mutations(void)
{
	JsonField	f[] = {{"a", JSON_WANT_INT64, false}, {"s", JSON_WANT_ANY, false},
	{"t", JSON_WANT_ANY, true}, {"o.x", JSON_WANT_RAW, false}, {"", JSON_WANT_RAW, false}};
	static const char *recs[] = {
		"{\"a\":1,\"s\":\"x}{y\",\"t\":[1,\"2\"],\"o\":{\"x\":[{}]}}",
		"{\"s\":\"caf\xc3\xa9\\\"\\\\\",\"a\":-7}",
		"{\"b\":{\"c\":[[],{}]},\"a\":2}",
		"{\"o\":{\"x\":\"}\"},\"t\":[]}",
		"[{}, {\"a\":3}]",
		"{}",
	};
	static const char seps[][3] = {"\n", "", " ", "\r\n", "\n\n"};
	static const char junk[] = "{}[]\",:\\\n 1x\xff\xc3";
	int			mismatches = 0;
	int			runs = 0;

	for (int iter = 0; iter < 1500; iter++)
	{
		Str			in = {0};
		int			nrec = 3 + rng() % 10;
		int			nmut = iter < 20 ? 0 : 1 + rng() % 3;
		char	   *a;
		char	   *b;
		char	   *c;
		size_t		cut;

		for (int i = 0; i < nrec; i++)
		{
			const char *rec = recs[rng() % 6];
			const char *sep = seps[rng() % 5];

			str_add(&in, rec, strlen(rec));
			str_add(&in, sep, strlen(sep));
		}
		for (int m = 0; m < nmut; m++)
		{
			size_t		at = rng() % in.len;
			char		ch = junk[rng() % (sizeof(junk) - 1)];

			switch (rng() % 3)
			{
				case 0:
					in.s[at] = ch;
					break;
				case 1:
					memmove(in.s + at, in.s + at + 1, in.len - at - 1);
					in.len--;
					break;
				default:
					str_add(&in, " ", 1);
					memmove(in.s + at + 1, in.s + at, in.len - at - 1);
					in.s[at] = ch;
					break;
			}
		}
		a = transcript(in.s, in.len, f, 5, 0, 0);
		if (iter % 2)
		{
			/* every other one with the baseline scanner: must not matter */
			char	   *base;

			json_reader_force_baseline(true);
			base = transcript(in.s, in.len, f, 5, 0, 0);
			json_reader_force_baseline(false);
			if (strcmp(a, base) != 0 && mismatches++ == 0)
				printf("# sse2 scanner differs:\n# %s\n# %s\n", a, base);
			free(base);
		}
		cut = 1 + rng() % in.len;
		b = transcript(in.s, in.len, f, 5, cut, 0);
		c = transcript(in.s, in.len, f, 5, cut, 1 + rng() % 40);
		runs++;
		if (strcmp(a, b) != 0 || strcmp(a, c) != 0 || strstr(a, "LOOP") ||
			strstr(a, "at eof!"))
		{
			if (mismatches++ == 0)
			{
				printf("# input (%zu bytes, cut %zu): ", in.len, cut);
				for (size_t i = 0; i < in.len; i++)
					printf(in.s[i] == '\n' ? "\\n" : "%c", in.s[i]);
				printf("\n# whole:\n# %s\n# cut:\n# %s\n# chunks:\n# %s\n", a, b, c);
			}
		}
		free(a);
		free(b);
		free(c);
		free(in.s);
	}
	UNIT_CHECK(mismatches == 0, "%d mutated inputs: same records at random cuts and chunks (%d differ)",
			   runs, mismatches);
}

int
main(void)
{
	printf("# record scanner: %s\n", json_reader_simd());
	test_layouts();
	test_strings();
	test_values();
	test_early_stop();
	test_walker();
	test_numbers();
	test_elements();
	test_bad_records();
	test_deep();
	test_need_more();
	test_bytes_after_buffer();
	test_generated_cuts();
	test_mutations();
	return unit_done();
}
