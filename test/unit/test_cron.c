/*-------------------------------------------------------------------------
 *
 * test_cron.c
 *	  Unit tests of the cron parser and tick arithmetic (src/util/cron.c).
 *
 * Ticks are checked against a brute force oracle that looks at every
 * minute with the C library's gmtime_r, over months that cross year ends,
 * leap days and both day fields.
 *
 * IDENTIFICATION
 *	  test/unit/test_cron.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE				/* timegm */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "unit.h"
#include "util/cron.h"

static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t) timegm(&tm);
}

static char *
fmt(int64_t t, char *buf)
{
	struct tm	tm;
	time_t		tt = (time_t) t;

	if (t < 0)
		return strcpy(buf, "none");
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M %a", &tm);
	return buf;
}

/* The oracle: does minute "t" match, by the rules of crontab(5)? */
static bool
matches(const CronSpec *s, int64_t t)
{
	struct tm	tm;
	time_t		tt = (time_t) t;
	bool		dom;
	bool		dow;

	gmtime_r(&tt, &tm);
	if (!((s->minutes >> tm.tm_min) & 1) || !((s->hours >> tm.tm_hour) & 1) ||
		!((s->months >> (tm.tm_mon + 1)) & 1))
		return false;
	dom = (s->days >> tm.tm_mday) & 1;
	dow = (s->weekdays >> tm.tm_wday) & 1;
	if (s->days_star && s->weekdays_star)
		return true;
	if (s->days_star)
		return dow;
	if (s->weekdays_star)
		return dom;
	return dom || dow;
}

static void
check_next(const char *expr, int64_t from, int64_t want)
{
	CronSpec	s;
	char		err[256] = "";
	char		a[32],
				b[32];
	bool		ok = cron_parse(expr, &s, err, sizeof(err));
	int64_t		got = ok ? cron_next(&s, from) : -2;

	UNIT_CHECK(ok && got == want, "next(\"%s\", %s) = %s (got %s%s)", expr, fmt(from, a),
			   fmt(want, b), fmt(got, a), err);
}

static void
check_prev(const char *expr, int64_t from, int64_t want)
{
	CronSpec	s;
	char		err[256] = "";
	char		a[32],
				b[32];
	bool		ok = cron_parse(expr, &s, err, sizeof(err));
	int64_t		got = ok ? cron_prev(&s, from) : -2;

	UNIT_CHECK(ok && got == want, "prev(\"%s\", %s) = %s (got %s%s)", expr, fmt(from, a),
			   fmt(want, b), fmt(got, a), err);
}

static void
check_bad(const char *expr, const char *want_in_error)
{
	CronSpec	s;
	char		err[256] = "";
	bool		ok = cron_parse(expr, &s, err, sizeof(err));

	UNIT_CHECK(!ok && strstr(err, want_in_error) != NULL, "\"%s\" is refused: %s", expr,
			   ok ? "(accepted)" : err);
}

/* Every tick of "expr" from "from" over "minutes" minutes, against the oracle. */
static void
check_oracle(const char *expr, int64_t from, int minutes)
{
	CronSpec	s;
	char		err[256] = "";
	int64_t		t;
	int64_t		next;
	int64_t		prev = -1;
	int			bad = 0;
	int			ticks = 0;

	if (!cron_parse(expr, &s, err, sizeof(err)))
	{
		UNIT_CHECK(false, "\"%s\" parses: %s", expr, err);
		return;
	}
	next = cron_next(&s, from - 60);
	for (t = from; t < from + (int64_t) minutes * 60; t += 60)
	{
		bool		m = matches(&s, t);

		if (m)
		{
			ticks++;
			if (next != t)
				bad++;
			next = cron_next(&s, t);
			prev = t;
		}
		/* prev at any minute is the last match at or before it */
		if (prev >= 0 && cron_prev(&s, t + 59) != prev)
			bad++;
	}
	UNIT_CHECK(bad == 0 && ticks > 0, "\"%s\": %d ticks over %d minutes agree with the oracle (%d disagreements)",
			   expr, ticks, minutes, bad);
}

int
main(void)
{
	CronSpec	s;
	char		err[256];

	/* next and prev */
	check_next("*/15 * * * *", utc(2026, 11, 25, 13, 7), utc(2026, 11, 25, 13, 15));
	check_next("*/15 * * * *", utc(2026, 11, 25, 13, 15), utc(2026, 11, 25, 13, 30));
	check_next("*/15 * * * *", utc(2026, 11, 25, 13, 15) + 59, utc(2026, 11, 25, 13, 30));
	check_next("*/15 * * * *", utc(2026, 12, 31, 23, 50), utc(2027, 1, 1, 0, 0));
	check_prev("*/15 * * * *", utc(2026, 11, 25, 13, 7), utc(2026, 11, 25, 13, 0));
	check_prev("*/15 * * * *", utc(2026, 11, 25, 13, 15), utc(2026, 11, 25, 13, 15));
	check_prev("*/15 * * * *", utc(2027, 1, 1, 0, 5), utc(2027, 1, 1, 0, 0));
	check_prev("0 0 1 1 *", utc(2027, 1, 1, 0, 0) - 1, utc(2026, 1, 1, 0, 0));
	check_next("0 6 * * mon-fri", utc(2026, 11, 27, 7, 0), utc(2026, 11, 30, 6, 0));	/* Fri -> Mon */
	check_next("30 2 29 feb *", utc(2025, 3, 1, 0, 0), utc(2028, 2, 29, 2, 30));
	check_prev("30 2 29 feb *", utc(2028, 2, 28, 0, 0), utc(2024, 2, 29, 2, 30));
	check_next("0 0 31 * *", utc(2026, 4, 1, 0, 0), utc(2026, 5, 31, 0, 0));	/* April has 30 days */
	check_next("0 12 13 * 5", utc(2026, 11, 14, 0, 0), utc(2026, 11, 20, 12, 0));	/* the 13th or a Friday */
	check_next("0 0 * * 7", utc(2026, 11, 25, 0, 0), utc(2026, 11, 29, 0, 0));	/* 7 is Sunday */
	check_next("0 0 * * SUN", utc(2026, 11, 25, 0, 0), utc(2026, 11, 29, 0, 0));
	check_next("@hourly", utc(2026, 11, 25, 13, 0), utc(2026, 11, 25, 14, 0));
	check_next("  @daily ", utc(2026, 11, 25, 13, 0), utc(2026, 11, 26, 0, 0));
	check_next("@weekly", utc(2026, 11, 25, 13, 0), utc(2026, 11, 29, 0, 0));
	check_next("@monthly", utc(2026, 12, 5, 0, 0), utc(2027, 1, 1, 0, 0));
	check_next("@yearly", utc(2026, 12, 5, 0, 0), utc(2027, 1, 1, 0, 0));
	check_next("5/20 1-3 * * *", utc(2026, 11, 25, 3, 46), utc(2026, 11, 26, 1, 5));
	check_next("0-10/5,58 * * * *", utc(2026, 11, 25, 3, 11), utc(2026, 11, 25, 3, 58));
	check_next("*\t*  * * *", utc(2026, 11, 25, 3, 11), utc(2026, 11, 25, 3, 12));
	check_next("0 0 1 jan,JUL *", utc(2026, 2, 1, 0, 0), utc(2026, 7, 1, 0, 0));
	/* before 1970 and far ahead */
	check_next("0 0 1 1 *", utc(1960, 6, 1, 0, 0), utc(1961, 1, 1, 0, 0));
	check_prev("0 0 1 1 *", utc(1960, 6, 1, 0, 0), utc(1960, 1, 1, 0, 0));
	check_next("59 23 31 12 *", utc(9998, 12, 31, 23, 59), utc(9999, 12, 31, 23, 59));

	/* every minute over stretches that cross month, year and leap-day boundaries */
	check_oracle("*/7 */5 * * *", utc(2027, 12, 30, 0, 0), 60 * 24 * 3);
	check_oracle("0 0,12 29-31 * *", utc(2027, 12, 1, 0, 0), 60 * 24 * 120);
	check_oracle("15 3 * * 1,3,5", utc(2028, 2, 20, 0, 0), 60 * 24 * 30);
	check_oracle("15 3 1,15 * 0", utc(2028, 2, 1, 0, 0), 60 * 24 * 62);
	check_oracle("*/13 4-6 */3 2-4 *", utc(2028, 1, 25, 0, 0), 60 * 24 * 70);
	check_oracle("0 * 29 2 *", utc(2028, 2, 28, 0, 0), 60 * 24 * 3);

	/* refused, with a reason naming the field */
	check_bad("", "has 5 fields");
	check_bad("* * * *", "this one 4");
	check_bad("* * * * * *", "this one more");
	check_bad("60 * * * *", "field 1 (minute): \"60\" is out of range 0-59");
	check_bad("* 24 * * *", "field 2 (hour)");
	check_bad("* * 0 * *", "field 3 (day of month): \"0\" is out of range 1-31");
	check_bad("* * 32 * *", "out of range 1-31");
	check_bad("* * * 13 *", "field 4 (month)");
	check_bad("* * * * 8", "field 5 (day of week)");
	check_bad("*/0 * * * *", "the step in \"*/0\" must be a number from 1 to 60");
	check_bad("*/61 * * * *", "must be a number from 1 to 60");
	check_bad("*/ * * * *", "the step");
	check_bad("*/1x * * * *", "the step");
	check_bad("10-5 * * * *", "goes backwards");
	check_bad("1,,2 * * * *", "empty list item");
	check_bad(", * * * *", "empty list item");
	check_bad("-1 * * * *", "not a range");
	check_bad("1- * * * *", "not a range");
	check_bad("a * * * *", "is not a number");
	check_bad("* * * foo *", "is not a number or a name");
	check_bad("* * * * funday", "is not a number or a name");
	check_bad("99999999999999999999 * * * *", "is not a number");
	check_bad("1.5 * * * *", "is not a number");
	check_bad("0 0 30 2 *", "never fires");
	check_bad("0 0 31 4,6,9,11 *", "never fires");
	check_bad("@every_minute", "is not one of");
	check_bad("@hourly 5", "is not one of");
	check_bad("* * * * *\x01", "control characters");
	{
		char		longexpr[CRON_MAX_LEN + 10];

		memset(longexpr, '*', sizeof(longexpr) - 1);
		longexpr[sizeof(longexpr) - 1] = '\0';
		check_bad(longexpr, "at most");
	}
	/* the day of week may be restricted while February 30th is named: it fires on the weekdays */
	UNIT_CHECK(cron_parse("0 0 30 2 mon", &s, err, sizeof(err)), "\"0 0 30 2 mon\" fires on Mondays of February");
	check_next("0 0 30 2 mon", utc(2027, 1, 1, 0, 0), utc(2027, 2, 1, 0, 0));

	/* cron or interval? */
	UNIT_CHECK(cron_looks_like("*/15 * * * *"), "five fields look like cron");
	UNIT_CHECK(cron_looks_like("@hourly"), "@hourly looks like cron");
	UNIT_CHECK(cron_looks_like("60 * * * *"), "a bad expression of five fields is cron (and refused as such)");
	UNIT_CHECK(!cron_looks_like("15 minutes"), "15 minutes is an interval");
	UNIT_CHECK(!cron_looks_like("1 day 2 hours 3 min"), "an interval of five words is an interval");
	UNIT_CHECK(!cron_looks_like("@ 1 hour"), "PostgreSQL's \"@ 1 hour\" is an interval");
	UNIT_CHECK(!cron_looks_like("00:15:00"), "00:15:00 is an interval");
	UNIT_CHECK(!cron_looks_like("PT15M"), "PT15M is an interval");

	return unit_done();
}
