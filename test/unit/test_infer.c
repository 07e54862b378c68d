/*-------------------------------------------------------------------------
 *
 * test_infer.c
 *	  Unit tests of schema inference (infer.c) and of epoch numbers
 *	  (epoch.c): types, nesting, mixed kinds, garbage, names, collisions,
 *	  limits, CSV.
 *
 * IDENTIFICATION
 *	  test/unit/test_infer.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"
#include "epoch.h"
#include "infer.h"

/* "name type [field path] [format f], ..." of the records given */
static char *
describe(Infer *inf)
{
	static char buf[8192];
	const InferColumn *c;
	int			n = infer_result(inf, &c);
	int			i;

	buf[0] = '\0';
	if (n < 0)
		return "(out of memory)";
	for (i = 0; i < n; i++)
	{
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s %s", i ? ", " : "",
				 c[i].name, c[i].type);
		if (strcmp(c[i].name, c[i].path) != 0)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " field %s", c[i].path);
		if (c[i].format)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " format %s", c[i].format);
	}
	return buf;
}

static Infer *
json(const InferOptions *o, const char *const *records, int n)
{
	Infer	   *inf = infer_create(o);
	int			i;

	for (i = 0; i < n; i++)
		infer_json(inf, records[i], strlen(records[i]));
	return inf;
}

#define CHECK_JSON(want, ...) \
	do { \
		const char *recs_[] = {__VA_ARGS__}; \
		Infer *inf_ = json(NULL, recs_, (int) (sizeof(recs_) / sizeof(recs_[0]))); \
		UNIT_CHECK_STR(describe(inf_), want, "%s", recs_[0]); \
		infer_free(inf_); \
	} while (0)

static void
check_epoch(const char *s, int64_t unit, bool ok, int64_t want)
{
	int64_t		got = 0;
	bool		r = epoch_to_usecs(s, strlen(s), unit, &got);

	UNIT_CHECK(r == ok && (!ok || got == want), "epoch %s / %lld -> %s %lld (got %s %lld)", s,
			   (long long) unit, ok ? "" : "refused", (long long) want, r ? "" : "refused",
			   (long long) got);
}

static bool
has_note(Infer *inf, const char *part)
{
	const char *const *notes;
	int			n = infer_notes(inf, &notes);
	int			i;

	for (i = 0; i < n; i++)
		if (strstr(notes[i], part))
			return true;
	return false;
}

int
main(void)
{
	char		name[INFER_NAME_MAX + 1];
	Infer	   *inf;

	/* epoch numbers */
	check_epoch("0", EPOCH_SECONDS, true, 0);
	check_epoch("1764072000", EPOCH_SECONDS, true, INT64_C(1764072000000000));
	check_epoch("1764072000123", EPOCH_MILLIS, true, INT64_C(1764072000123000));
	check_epoch("1764072000123456", EPOCH_MICROS, true, INT64_C(1764072000123456));
	check_epoch("1764072000123456789", EPOCH_NANOS, true, INT64_C(1764072000123457));
	check_epoch("1764072000.123456", EPOCH_SECONDS, true, INT64_C(1764072000123456));
	check_epoch("1764072000.1234565", EPOCH_SECONDS, true, INT64_C(1764072000123457));
	check_epoch("1.764072e9", EPOCH_SECONDS, true, INT64_C(1764072000000000));
	check_epoch("-1", EPOCH_SECONDS, true, -INT64_C(1000000));
	check_epoch("-0.0000004", EPOCH_SECONDS, true, 0);
	check_epoch("1e-300", EPOCH_SECONDS, true, 0);
	check_epoch("9999999999999999999999", EPOCH_SECONDS, false, 0);
	check_epoch("1e30", EPOCH_MILLIS, false, 0);
	check_epoch("1e400", EPOCH_SECONDS, false, 0);
	check_epoch("9000000000000", EPOCH_SECONDS, true, INT64_C(9000000000000000000));
	check_epoch("9200000000000", EPOCH_SECONDS, false, 0);	/* beyond 290,000 years */
	check_epoch("", EPOCH_SECONDS, false, 0);
	check_epoch("-", EPOCH_SECONDS, false, 0);
	check_epoch("12a", EPOCH_SECONDS, false, 0);
	check_epoch("1.2.3", EPOCH_SECONDS, false, 0);
	check_epoch("1e", EPOCH_SECONDS, false, 0);
	check_epoch("0x10", EPOCH_SECONDS, false, 0);
	check_epoch(" 1", EPOCH_SECONDS, false, 0);

	/* names */
	infer_name("deviceId", 8, name);
	UNIT_CHECK_STR(name, "device_id", "camelCase");
	infer_name("HTTPStatus", 10, name);
	UNIT_CHECK_STR(name, "http_status", "an acronym then a word");
	infer_name("loc.lat", 7, name);
	UNIT_CHECK_STR(name, "loc_lat", "a dotted path");
	infer_name("Battery Level (%)", 17, name);
	UNIT_CHECK_STR(name, "battery_level", "spaces and punctuation");
	infer_name("1st", 3, name);
	UNIT_CHECK_STR(name, "_1st", "a leading digit");
	infer_name("%%%", 3, name);
	UNIT_CHECK_STR(name, "col", "nothing left");
	infer_name("température", strlen("température"), name);
	UNIT_CHECK_STR(name, "température", "non-ASCII letters kept");
	{
		char		longkey[200];

		memset(longkey, 'a', sizeof(longkey));
		memcpy(longkey + 62, "é", 2);
		infer_name(longkey, sizeof(longkey), name);
		UNIT_CHECK(strlen(name) == 62, "63 bytes at most, a character not cut (%d)", (int) strlen(name));
	}

	/* scalars */
	CHECK_JSON("a integer, b bigint, c numeric, d double precision, e boolean, f text",
			   "{\"a\":1,\"b\":5000000000,\"c\":123456789012345678901234,\"d\":1.5,\"e\":true,\"f\":\"x\"}",
			   "{\"a\":-2,\"b\":1,\"c\":1,\"d\":2,\"e\":false,\"f\":\"y\"}");
	CHECK_JSON("d numeric", "{\"d\":1.2345678901234567}");
	CHECK_JSON("d double precision", "{\"d\":1e3}", "{\"d\":-0.5}");
	CHECK_JSON("t timestamptz, u timestamp, v date, w text",
			   "{\"t\":\"2026-11-25T13:00:00Z\",\"u\":\"2026-11-25 13:00:00\",\"v\":\"2026-11-25\",\"w\":\"2026-11-25T13:00:00Z\"}",
			   "{\"t\":\"2026-11-25T13:00:00.5+01:00\",\"u\":\"2026-11-25T14:00\",\"v\":\"2026-11-26\",\"w\":\"soon\"}");
	CHECK_JSON("x text", "{\"x\":null}", "{\"x\":null}");
	CHECK_JSON("x integer", "{\"x\":null}", "{\"x\":3}", "{}");
	CHECK_JSON("s text", "{\"s\":\"a\\\"b\\u00e9\"}");
	CHECK_JSON("t timestamptz", "{\"t\":\"2026-11-25T13:00:00\\u005a\"}");

	/* mixed kinds */
	CHECK_JSON("m jsonb", "{\"m\":1}", "{\"m\":\"one\"}");
	CHECK_JSON("m jsonb", "{\"m\":true}", "{\"m\":1}");
	CHECK_JSON("m jsonb", "{\"m\":{\"a\":1}}", "{\"m\":2}");
	CHECK_JSON("n double precision", "{\"n\":1}", "{\"n\":2.5}");

	/* nesting */
	CHECK_JSON("device_id text, loc_lat double precision field loc.lat, loc_lon double precision field loc.lon, battery double precision",
			   "{\"device_id\":\"a\",\"loc\":{\"lat\":52.5,\"lon\":13.4},\"battery\":80.5}");
	CHECK_JSON("a_b_c_x integer field a.b.c.x", "{\"a\":{\"b\":{\"c\":{\"x\":1}}}}");
	CHECK_JSON("a_b_c_d jsonb field a.b.c.d", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}");
	CHECK_JSON("e jsonb", "{\"e\":{}}");
	CHECK_JSON("o_x integer field o.x, o_y text field o.y", "{\"o\":{\"x\":1}}", "{\"o\":null}", "{\"o\":{\"y\":\"z\"}}");
	{
		/* a map: more keys than max_keys */
		InferOptions o = {0};
		const char *recs[3];
		Infer	   *m;

		o.max_keys = 3;
		recs[0] = "{\"counts\":{\"a\":1,\"b\":2}}";
		recs[1] = "{\"counts\":{\"c\":1,\"d\":2}}";
		recs[2] = "{\"counts\":{\"e\":1}}";
		m = json(&o, recs, 3);
		UNIT_CHECK_STR(describe(m), "counts jsonb", "an object of many keys is a map: jsonb");
		infer_free(m);
	}

	/* arrays */
	CHECK_JSON("tags text[], n integer[], big bigint[], f double precision[], b boolean[], mix jsonb, objs jsonb, empty jsonb",
			   "{\"tags\":[\"a\",\"b\"],\"n\":[1,2],\"big\":[1,9000000000],\"f\":[1,2.5],\"b\":[true],\"mix\":[1,\"a\"],\"objs\":[{\"a\":1}],\"empty\":[]}",
			   "{\"tags\":[],\"n\":[null,3],\"big\":[],\"f\":[],\"b\":[false,null],\"mix\":[],\"objs\":[],\"empty\":[]}");

	/* epoch detection: a time's name and a time's values */
	CHECK_JSON("ts timestamptz format epoch_s, created_at timestamptz field createdAt format epoch_ms, event_time timestamptz field eventTime format epoch_us, time_ns timestamptz format epoch_ns",
			   "{\"ts\":1764072000,\"createdAt\":1764072000123,\"eventTime\":1764072000123456,\"time_ns\":1764072000123456789}",
			   "{\"ts\":1764072001.5,\"createdAt\":1764072000124,\"eventTime\":1764072000123457,\"time_ns\":1764072000123456790}");
	CHECK_JSON("seq integer, ts integer, lat integer, updated integer",
			   "{\"seq\":1764072000,\"ts\":42,\"lat\":1764072000,\"updated\":1764072000}");
	CHECK_JSON("ts bigint", "{\"ts\":1764072000}", "{\"ts\":99999999999999999}");
	CHECK_JSON("ts double precision", "{\"ts\":1764072000123.5}");
	CHECK_JSON("ts timestamptz format epoch_s", "{\"ts\":1764072000}", "{\"ts\":null}");

	/* keys */
	CHECK_JSON("a integer, a_2 text field A", "{\"a\":1,\"A\":\"x\"}");
	CHECK_JSON("a_2 text field A, a integer", "{\"A\":\"x\",\"a\":1}");
	/* a key that is a name keeps it */
	CHECK_JSON("device_id_2 text field deviceId, device_id text", "{\"deviceId\":\"x\",\"device_id\":\"y\"}");
	CHECK_JSON("v integer", "{\"v\":1,\"v\":\"dup: the first counts\"}");
	{
		InferOptions o = {0};
		const char *recs[] = {"{\"Battery\":1,\"battery\":\"shadowed\"}", "{\"BATTERY\":2}", "{\"battery\":3}"};
		Infer	   *ci;

		o.case_insensitive = true;
		ci = json(&o, recs, 3);
		UNIT_CHECK_STR(describe(ci), "battery integer field Battery",
					   "case_insensitive: one column, the first spelling; the first key in a record counts");
		infer_free(ci);
	}
	inf = infer_create(NULL);
	infer_json(inf, "{\"a.b\":1,\"\":2,\"c\":3}", strlen("{\"a.b\":1,\"\":2,\"c\":3}"));
	UNIT_CHECK_STR(describe(inf), "c integer", "keys a field path cannot name are left out");
	UNIT_CHECK(has_note(inf, "\"a.b\"") && has_note(inf, "\"\""), "and said so");
	infer_free(inf);

	/* garbage and what is not a record */
	inf = infer_create(NULL);
	UNIT_CHECK(!infer_json(inf, "", 0), "empty");
	UNIT_CHECK(!infer_json(inf, "[1,2]", 5), "an array");
	UNIT_CHECK(!infer_json(inf, "42", 2), "a number");
	UNIT_CHECK(!infer_json(inf, "{\"a\":1", 6), "truncated");
	UNIT_CHECK(!infer_json(inf, "{\"a\":tru}", 9), "a bad literal");
	UNIT_CHECK(!infer_json(inf, "{\"a\":1}}", 8), "one bracket too many");
	UNIT_CHECK(!infer_json(inf, "{\"a\" 1}", 7), "no colon");
	UNIT_CHECK(!infer_json(inf, "{\"a\":1 \"b\":2}", 13), "no comma");
	UNIT_CHECK(!infer_json(inf, "{\"a\":[1 2]}", 11), "no comma in an array");
	UNIT_CHECK(!infer_json(inf, "{\"a\":[1,]}", 10), "a trailing comma");
	UNIT_CHECK(!infer_json(inf, "{\"a\":{\"b\"}}", 12), "a key without a value");
	UNIT_CHECK(!infer_json(inf, "{\"a\":[1}}", 9), "mismatched brackets");
	UNIT_CHECK(!infer_json(inf, "{\"a\":01x}", 9), "not a number");
	UNIT_CHECK(!infer_json(inf, "{\"a\":\"x}", 8), "an open string");
	UNIT_CHECK(!infer_json(inf, "\x1f\x8b\x08\x00\xff\xff", 6), "gzip bytes");
	{
		static char deep[5000];
		int			i;

		for (i = 0; i < 2400; i++)
			deep[i] = i == 0 ? '{' : i < 1200 ? '[' : ']';
		memcpy(deep + 2399, "]}", 3);
		deep[5] = '[';
		UNIT_CHECK(!infer_json(inf, deep, strlen(deep)), "nesting beyond bounds is refused, no stack overflow");
	}
	UNIT_CHECK(infer_records(inf) == 0, "nothing counted");
	UNIT_CHECK_STR(describe(inf), "", "no columns");
	UNIT_CHECK(infer_json(inf, " {\"ok\":1}\r\n", 11), "white space around a record");
	UNIT_CHECK(infer_records(inf) == 1, "one counted");
	infer_free(inf);

	/* limits */
	{
		InferOptions o = {0};
		char		rec[20000];
		int			i;
		const InferColumn *c;

		o.max_columns = 10;
		inf = infer_create(&o);
		strcpy(rec, "{");
		for (i = 0; i < 500; i++)
			sprintf(rec + strlen(rec), "%s\"k%d\":{\"x\":%d}", i ? "," : "", i, i);
		strcat(rec, "}");
		UNIT_CHECK(infer_json(inf, rec, strlen(rec)), "a wide record");
		UNIT_CHECK(infer_result(inf, &c) == 10, "at most max_columns columns");
		UNIT_CHECK(has_note(inf, "left out"), "the rest said to be left out");
		infer_free(inf);
	}

	/* CSV */
	{
		const char *h[] = {"day", "count", "Name", "zip", "ok", "t", "dup", "dup"};
		size_t		hl[] = {3, 5, 4, 3, 2, 1, 3, 3};
		const char *r1[] = {"2026-11-25", "12", "x", "01234", "true", "2026-11-25T10:00:00Z", "1", "2"};
		size_t		l1[] = {10, 2, 1, 5, 4, 20, 1, 1};
		const char *r2[] = {"2026-11-26", "", "1", "02345", "false", "", "a", "b"};
		size_t		l2[] = {10, 0, 1, 5, 5, 0, 1, 1};
		bool		q[] = {false, false, false, false, false, false, false, false};

		inf = infer_create(NULL);
		infer_csv_header(inf, h, hl, 8);
		infer_csv_record(inf, r1, l1, q, 8, "");
		infer_csv_record(inf, r2, l2, q, 8, "");
		UNIT_CHECK_STR(describe(inf), "day date, count integer, name text field Name, zip text, ok boolean, t timestamptz, dup text",
					   "CSV: typed from text, codes stay text, mixed is text");
		UNIT_CHECK(has_note(inf, "more than once"), "a duplicate header name said");
		infer_free(inf);

		inf = infer_create(NULL);
		infer_csv_header(inf, NULL, NULL, 2);
		infer_csv_record(inf, r1, l1, q, 2, "");
		UNIT_CHECK_STR(describe(inf), "c1 date, c2 integer", "CSV without a header: c1, c2");
		infer_free(inf);
	}

	/* partition values */
	UNIT_CHECK(strcmp(infer_text_type("2026-11-25", 10), "date") == 0 &&
			   strcmp(infer_text_type("07", 2), "integer") == 0 &&
			   strcmp(infer_text_type("20261125000", 11), "bigint") == 0 &&
			   strcmp(infer_text_type("eu-west", 7), "text") == 0 &&
			   strcmp(infer_text_type("-1", 2), "text") == 0, "partition value types");

	return unit_done();
}
