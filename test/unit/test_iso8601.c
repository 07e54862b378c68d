/*-------------------------------------------------------------------------
 *
 * test_iso8601.c
 *	  Unit tests of the ISO-8601 timestamp fast path (iso8601.c).
 *
 * Dates are checked against the C library's timegm() as an independent
 * oracle, over every day of several centuries.
 *
 * IDENTIFICATION
 *	  test/unit/test_iso8601.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE				/* timegm */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "unit.h"
#include "iso8601.h"

static bool
parse(const char *s, Iso8601 *t)
{
	return iso8601_parse(s, strlen(s), t);
}

/* Parses, and gives this many microseconds since the epoch (UTC). */
static void
check_epoch(const char *s, int64_t want)
{
	Iso8601		t;
	bool		ok = parse(s, &t);
	int64_t		got = ok ? iso8601_epoch_usecs(&t) : 0;

	UNIT_CHECK(ok && got == want, "%s -> %lld (got %s %lld)", s, (long long) want,
			   ok ? "" : "false", (long long) got);
}

static void
check_false(const char *s)
{
	Iso8601		t;

	UNIT_CHECK(!parse(s, &t), "rejected: \"%s\"", s);
}

int
main(void)
{
	Iso8601		t;
	bool		ok;

	/* well-known instants */
	check_epoch("1970-01-01T00:00:00Z", 0);
	check_epoch("2000-01-01T00:00:00Z", INT64_C(946684800000000));
	check_epoch("2024-05-01T12:34:56.789Z", INT64_C(1714566896789000));
	check_epoch("2024-05-01 12:34:56.789Z", INT64_C(1714566896789000));
	check_epoch("0001-01-01T00:00:00Z", INT64_C(-62135596800000000));
	check_epoch("9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999));
	check_epoch("1969-12-31T23:59:59.5Z", -500000);

	/* offsets: all forms name the same instant */
	check_epoch("2024-05-01T14:34:56.789+02:00", INT64_C(1714566896789000));
	check_epoch("2024-05-01T14:34:56.789+0200", INT64_C(1714566896789000));
	check_epoch("2024-05-01T14:34:56.789+02", INT64_C(1714566896789000));
	check_epoch("2024-05-01T07:04:56.789-05:30", INT64_C(1714566896789000));
	check_epoch("2024-05-01T12:34:56.789-00:00", INT64_C(1714566896789000));
	check_epoch("2024-05-02T03:34:56.789+15:00", INT64_C(1714566896789000));
	ok = parse("2024-05-01T14:34+02:30", &t);
	UNIT_CHECK(ok && t.has_offset && t.offset_secs == 9000 && t.has_time &&
			   t.usecs == INT64_C(52440000000), "hh:mm with offset: fields");
	ok = parse("2024-05-01T14:34:56", &t);
	UNIT_CHECK(ok && !t.has_offset && t.offset_secs == 0 && t.usecs == INT64_C(52496000000),
			   "no offset: local time, has_offset false");
	ok = parse("2024-05-01", &t);
	UNIT_CHECK(ok && !t.has_time && !t.has_offset && t.usecs == 0 && t.days == 19844,
			   "date only");

	/* fractions: 1..6 digits exact, more rounded like PostgreSQL (rint of a double) */
	check_epoch("1970-01-01T00:00:00.1Z", 100000);
	check_epoch("1970-01-01T00:00:00.12Z", 120000);
	check_epoch("1970-01-01T00:00:00.000001Z", 1);
	check_epoch("1970-01-01T00:00:00.123456Z", 123456);
	check_epoch("1970-01-01T00:00:00.1234564Z", 123456);
	check_epoch("1970-01-01T00:00:00.1234566Z", 123457);
	check_epoch("1970-01-01T00:00:00.0000005Z", 0);	/* half to even */
	check_epoch("1970-01-01T00:00:00.0000015Z", 2);
	check_epoch("1970-01-01T00:00:00.123456789Z", 123457);
	check_epoch("1970-01-01T00:00:00.000000000Z", 0);
	check_epoch("1999-12-31T23:59:59.9999999Z", INT64_C(946684800000000));
	ok = parse("1999-12-31T23:59:59.9999999", &t);
	UNIT_CHECK(ok && t.usecs == 0 && t.days == 10957, "rounding up carries into the next day");

	/* leap years */
	check_epoch("2024-02-29T00:00:00Z", INT64_C(1709164800000000));
	check_epoch("2000-02-29T00:00:00Z", INT64_C(951782400000000));
	check_false("2023-02-29T00:00:00Z");
	check_false("1900-02-29T00:00:00Z");
	check_false("2100-02-29");
	UNIT_CHECK(parse("1600-02-29", &t), "1600-02-29 is valid");

	/* out of range or not the fast-path form */
	check_false("2024-13-01T00:00:00Z");
	check_false("2024-00-01T00:00:00Z");
	check_false("2024-04-31T00:00:00Z");
	check_false("2024-01-00T00:00:00Z");
	check_false("2024-01-32");
	check_false("0000-01-01T00:00:00Z");
	check_false("10000-01-01T00:00:00Z");
	check_false("-2024-01-01");
	check_false("2024-01-01T24:00:00Z");
	check_false("2024-01-01T23:60:00Z");
	check_false("2024-01-01T23:59:60Z");	/* leap second: PostgreSQL decides */
	check_false("2024-01-01T23:59:61Z");
	check_false("2024-01-01T1:00:00Z");
	check_false("2024-1-01");
	check_false("24-01-01");
	check_false("2024/01/01");
	check_false("20240101T000000Z");
	check_false("2024-01-01t00:00:00Z");
	check_false("2024-01-01T00:00:00z");
	check_false("2024-01-01T00:00:00 Z");
	check_false("2024-01-01T00:00:00Z ");
	check_false(" 2024-01-01");
	check_false("2024-01-01T");
	check_false("2024-01-01T00");
	check_false("2024-01-01T00:0");
	check_false("2024-01-01T00:00:0");
	check_false("2024-01-01T00:00:00.");
	check_false("2024-01-01T00:00:00.Z");
	check_false("2024-01-01T00:00:00.12a");
	check_false("2024-01-01T00:00:00,5Z");
	check_false("2024-01-01T00:00:00+1");
	check_false("2024-01-01T00:00:00+123");
	check_false("2024-01-01T00:00:00+12:3");
	check_false("2024-01-01T00:00:00+12:60");
	check_false("2024-01-01T00:00:00+16:00");
	check_false("2024-01-01T00:00:00+ab:00");
	check_false("2024-01-01T00:00:00UTC");
	check_false("2024-01-01T00:00:00 America/New_York");
	check_false("2024-01-01Z");
	check_false("2024-01-01T00:00:00.1234567890123456789012345678901Z");
	check_false("");
	UNIT_CHECK(!iso8601_parse("2024-01-01\0", 11, &t), "rejected: embedded NUL");
	UNIT_CHECK(!iso8601_parse("2024-01-01T00:00:00Z", 19, &t) ||
			   (t.has_time && !t.has_offset), "length is honoured (no NUL needed)");
	UNIT_CHECK(!iso8601_parse("2024-01-0", 9, &t), "short input");

	/* every day from 1600 to 2500 (and some of 0001, 9999) against timegm() */
	{
		int			bad = 0;
		int			n = 0;
		static const int ranges[][2] = {{1, 3}, {1600, 2500}, {9997, 9999}};

		for (int r = 0; r < 3; r++)
			for (int y = ranges[r][0]; y <= ranges[r][1]; y++)
				for (int m = 1; m <= 12; m++)
					for (int d = 1; d <= 31; d++)
					{
						struct tm tm;
						char		s[64];
						time_t		want;
						bool		valid;
						struct tm	back;

						memset(&tm, 0, sizeof(tm));
						tm.tm_year = y - 1900;
						tm.tm_mon = m - 1;
						tm.tm_mday = d;
						tm.tm_hour = (y * 7 + d) % 24;
						tm.tm_min = (m * 13) % 60;
						tm.tm_sec = (d * 17) % 60;
						want = timegm(&tm);
						gmtime_r(&want, &back);
						valid = back.tm_mday == d;	/* timegm normalises invalid days */
						snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.25+01:30",
								 y, m, d, (y * 7 + d) % 24, (m * 13) % 60, (d * 17) % 60);
						ok = parse(s, &t);
						n++;
						if (ok != valid ||
							(ok && iso8601_epoch_usecs(&t) !=
							 ((int64_t) want - 5400) * 1000000 + 250000))
						{
							if (bad++ < 3)
								printf("# mismatch: %s ok=%d valid=%d\n", s, ok, valid);
						}
					}
		UNIT_CHECK(bad == 0, "%d dates agree with timegm() (validity and value)", n);
	}
	return unit_done();
}
