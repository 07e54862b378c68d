/*-------------------------------------------------------------------------
 *
 * test_key_template.c
 *	  Unit tests of key templates (key_template.c): parsing and its
 *	  errors, matching keys and key prefixes, values, narrowed prefixes.
 *
 * IDENTIFICATION
 *	  test/unit/test_key_template.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>

#include "unit.h"
#include "key_template.h"

static KeyTemplate t;
static char err[512];

static bool
parse(const char *text)
{
	err[0] = '\0';
	return kt_parse(text, &t, err, sizeof(err));
}

static void
check_refused(const char *text, const char *why)
{
	bool		ok = parse(text);

	UNIT_CHECK(!ok && strstr(err, why) != NULL, "refused: \"%s\" (%s)", text, err);
}

/* key matches, and the values of the parts, joined by '|' */
static void
check_match(const char *tmpl, const char *key, const char *want)
{
	KtSpan		spans[KT_MAX_PARTS];
	char		got[512] = "";
	bool		ok = parse(tmpl) && kt_match(&t, key, strlen(key), spans);
	int			i;

	if (ok)
		for (i = 0; i < t.nparts; i++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%.*s", i ? "|" : "",
					 (int) spans[i].len, key + spans[i].off);
	UNIT_CHECK(ok && strcmp(got, want) == 0, "%s matches %s: %s (got %s)", tmpl, key, want,
			   ok ? got : "no match");
}

static void
check_no_match(const char *tmpl, const char *key)
{
	KtSpan		spans[KT_MAX_PARTS];

	UNIT_CHECK(parse(tmpl) && !kt_match(&t, key, strlen(key), spans),
			   "%s does not match %s", tmpl, key);
}

static void
check_prefix(const char *tmpl, const char *prefix, int want)
{
	KtSpan		spans[KT_MAX_PARTS];
	int			got = parse(tmpl) ? kt_match_prefix(&t, prefix, strlen(prefix), spans) : -99;

	UNIT_CHECK(got == want, "%s: prefix \"%s\" decides %d parts (got %d)", tmpl, prefix, want, got);
}

int
main(void)
{
	char		buf[256];
	KtSpan		spans[KT_MAX_PARTS];
	int			lo;
	int			hi;

	/* parsing */
	UNIT_CHECK(parse("raw/v0/deviceping/{year}/{month}/{day}/{hour}/"), "Firehose layout parses");
	UNIT_CHECK(t.nparts == 4 && t.parts[0].type == KT_YEAR && t.parts[3].type == KT_HOUR &&
			   t.parts[0].literal_len == strlen("raw/v0/deviceping/") && t.tail_len == 1,
			   "four typed parts, literals and tail");
	UNIT_CHECK(parse("logs/{source}/dt={d:date}/{n:int}-") &&
			   t.parts[0].type == KT_TEXT && t.parts[1].type == KT_DATE &&
			   strcmp(t.parts[1].name, "d") == 0 && t.parts[2].type == KT_INT,
			   "text, named date, int");
	UNIT_CHECK(kt_find(&t, "d") == 1 && kt_find(&t, "date") == -1, "kt_find");
	check_refused("raw/", "no placeholders");
	check_refused("", "no placeholders");
	check_refused("raw/{year", "not closed");
	check_refused("raw/{year/}", "not closed");
	check_refused("raw/year}/", "closes no placeholder");
	check_refused("raw/{Year}/", "not a placeholder name");
	check_refused("raw/{}/", "not a placeholder name");
	check_refused("raw/{1x}/", "not a placeholder name");
	check_refused("raw/{a b}/", "not a placeholder name");
	check_refused("raw/{x:float}/", "not a placeholder type");
	check_refused("raw/{year}/{year}/", "used twice");
	check_refused("raw/{device}{date}/", "followed directly by another placeholder");
	check_refused("raw/{n:int}{hour}/", "followed directly by another placeholder");
	check_refused("{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}/{q}/",
				  "at most 16");
	UNIT_CHECK(parse("{year}{month}{day}/"), "fixed widths may touch");
	UNIT_CHECK(parse("x/{a_1}-{_b}/"), "names with digits and _");

	/* matching */
	check_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				"raw/v0/deviceping/2026/11/25/13/firehose-1.json.gz", "2026|11|25|13");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				   "raw/v0/deviceping/2026/11/25/firehose-1.json.gz");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				   "raw/v0/deviceping/2026/13/25/01/x");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				   "raw/v0/deviceping/2026/11/25/24/x");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				   "raw/v0/deviceping/2026/11/00/01/x");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				   "raw/v0/deviceping/26/11/25/01/x");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/",
				   "raw/v0/deviceping/2026/1/25/01/x");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/", "raw/v1/x");
	check_no_match("raw/v0/deviceping/{year}/{month}/{day}/{hour}/", "");
	check_match("{year}{month}{day}/", "20261125/x", "2026|11|25");
	check_match("dt={date}/", "dt=2024-02-29/a", "2024-02-29");
	check_no_match("dt={date}/", "dt=2026-02-29/a");
	check_no_match("dt={date}/", "dt=2026-04-31/a");
	check_no_match("dt={date}/", "dt=2026/11/25/a");
	check_match("dt={date}/", "dt=2000-02-29/", "2000-02-29");
	check_no_match("dt={date}/", "dt=1900-02-29/");
	check_match("logs/{source}/", "logs/web-1/x.json", "web-1");
	check_match("logs/{source}", "logs/web-1", "web-1");
	check_match("logs/{source}", "logs/web-1/x", "web-1");
	check_no_match("logs/{source}/", "logs//x.json");
	check_no_match("logs/{source}/", "logs/web-1");
	check_match("logs/{device}-{date}/", "logs/a-2026-11-25/x", "a|2026-11-25");
	/* a text part ends at the first '-': "a-b" cannot be a device here */
	check_no_match("logs/{device}-{date}/", "logs/a-b-2026-11-25/x");
	check_no_match("logs/{device}-{date}/", "logs/a-2026-11-25x/");
	check_match("v{n:int}/", "v12/x", "12");
	check_no_match("v{n:int}/", "v1a/x");
	check_no_match("v{n:int}/", "v/x");
	check_no_match("v{n:int}/", "v1234567890123456789/x");
	check_match("a/{x}.json", "a/b.c.json", "b.c");
	check_match("out/{hour}", "out/23.json", "23");
	check_match("p/{minute}/", "p/59/", "59");
	check_no_match("p/{minute}/", "p/60/");
	/* no exponential or quadratic blow-up */
	{
		static char key[100001];

		memset(key, '-', sizeof(key) - 1);
		memcpy(key, "a/", 2);
		UNIT_CHECK(parse("a/{w}-{x}-{y}-{z}-end/") && !kt_match(&t, key, strlen(key), spans),
				   "100 kB of separators, no match, no blow-up");
	}

	/* prefixes */
	check_prefix("raw/{year}/{month}/", "", 0);
	check_prefix("raw/{year}/{month}/", "ra", 0);
	check_prefix("raw/{year}/{month}/", "raw/", 0);
	check_prefix("raw/{year}/{month}/", "raw/20", 0);
	check_prefix("raw/{year}/{month}/", "raw/2026", 1);
	check_prefix("raw/{year}/{month}/", "raw/2026/", 1);
	check_prefix("raw/{year}/{month}/", "raw/2026/1", 1);
	check_prefix("raw/{year}/{month}/", "raw/2026/11/", 2);
	check_prefix("raw/{year}/{month}/", "raw/2026/11/x/y", 2);
	check_prefix("raw/{year}/{month}/", "rax/", -1);
	check_prefix("raw/{year}/{month}/", "raw/20x", -1);
	check_prefix("raw/{year}/{month}/", "raw/2026/13/", -1);
	check_prefix("raw/{year}/{month}/", "raw/2026/x", -1);
	check_prefix("dt={date}/", "dt=2026-1", 0);
	check_prefix("dt={date}/", "dt=2026/", -1);
	check_prefix("logs/{source}/{date}/", "logs/web", 0);
	check_prefix("logs/{source}/{date}/", "logs/web/", 1);
	check_prefix("logs/{source}/{date}/", "logs/web/2026-11-25/", 2);
	check_prefix("a/{x}/b/", "a/q/b/", 1);
	check_prefix("a/{x}/b/", "a/q/c", -1);
	/* until the whole ending text is there, a part counts as undecided */
	check_prefix("a/{x}:/b/", "a/q:/", 0);
	check_prefix("a/{x}:/b/", "a/q:/b/", 1);
	check_prefix("a/{x}:/b/", "a/q/", -1);
	check_prefix("a/{x}b/c/", "a/qb", 0);
	check_prefix("a/{x}b/c/", "a/q", 0);
	check_prefix("a/{x}b/c/", "a/qb/", 0);
	check_prefix("a/{x}b/c/", "a/qb/c/", 1);
	check_prefix("a/{x}b/c/", "a/q/", -1);
	check_prefix("k/{n:int}/", "k/12", 0);
	check_prefix("k/{n:int}/", "k/1x", -1);
	check_prefix("k/{n:int}/", "k/12/", 1);
	check_prefix("k/{src}", "k/a", 0);
	check_prefix("k/{src}", "k/a/", 1);

	/* values */
	UNIT_CHECK(parse("logs/{device}-{date}/{n:int}/{hour}/"), "values template");
	UNIT_CHECK(kt_value_ok(&t, 0, "sensor", 6), "text value");
	UNIT_CHECK(!kt_value_ok(&t, 0, "sen-sor", 7), "a text value cannot hold its ending text");
	UNIT_CHECK(!kt_value_ok(&t, 0, "a/b", 3), "a text value cannot hold '/'");
	UNIT_CHECK(!kt_value_ok(&t, 0, "", 0), "a text value is not empty");
	UNIT_CHECK(kt_value_ok(&t, 1, "2026-11-25", 10), "date value");
	UNIT_CHECK(!kt_value_ok(&t, 1, "11/25/2026", 10), "a date is ISO");
	UNIT_CHECK(kt_value_ok(&t, 2, "42", 2) && !kt_value_ok(&t, 2, "4x", 2), "int value");
	UNIT_CHECK(kt_value_ok(&t, 3, "07", 2) && !kt_value_ok(&t, 3, "7", 1) &&
			   !kt_value_ok(&t, 3, "24", 2), "hour value");

	/* narrowed prefixes */
	UNIT_CHECK(parse("raw/v0/{year}/{month}/{day}/"), "prefix template");
	{
		const char *v[] = {"2026", "11"};

		kt_prefix(&t, 0, v, buf, sizeof(buf));
		UNIT_CHECK_STR(buf, "raw/v0/", "no values: the literal before the first part");
		kt_prefix(&t, 2, v, buf, sizeof(buf));
		UNIT_CHECK_STR(buf, "raw/v0/2026/11/", "two values");
		UNIT_CHECK(kt_prefix(&t, 2, v, buf, 5) == strlen("raw/v0/2026/11/") && strlen(buf) == 4,
				   "a short buffer is cut and NUL-terminated, the length needed returned");
	}
	{
		const char *v[] = {"2026", "11", "25"};

		kt_prefix(&t, 3, v, buf, sizeof(buf));
		UNIT_CHECK_STR(buf, "raw/v0/2026/11/25/", "all values: the tail");
	}
	UNIT_CHECK(kt_domain(KT_DAY, &lo, &hi) && lo == 1 && hi == 31, "days 1..31");
	UNIT_CHECK(kt_domain(KT_HOUR, &lo, &hi) && lo == 0 && hi == 23, "hours 0..23");
	UNIT_CHECK(!kt_domain(KT_YEAR, &lo, &hi) && !kt_domain(KT_TEXT, &lo, &hi), "no domain");
	kt_format_int(KT_MONTH, 7, buf, sizeof(buf));
	UNIT_CHECK_STR(buf, "07", "month 7");
	kt_format_int(KT_YEAR, 987, buf, sizeof(buf));
	UNIT_CHECK_STR(buf, "0987", "year 987");

	return unit_done();
}
