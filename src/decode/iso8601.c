/*-------------------------------------------------------------------------
 *
 * iso8601.c
 *	  Fast path for ISO-8601 timestamps as event data writes them.
 *
 * timestamptz_in costs about 0.2 us per value because it tokenizes, looks
 * up time zone names and handles dozens of formats.  Nearly all event
 * timestamps are "2024-05-01T12:34:56.789Z" or carry a numeric offset;
 * this parses exactly those forms with fixed-position digit checks.  The
 * contract is conservative: whenever we return true the result must be
 * what PostgreSQL would have produced; anything unusual (leap second,
 * 24:00, lower-case designators, white space, time zone names, years
 * outside 0001-9999) returns false and the caller falls back to
 * PostgreSQL's input function, which gives the canonical error or value.
 *
 * Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/decode/iso8601.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "iso8601.h"

/* Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar. */
#define DAYS_0001_TO_1970 719162

/* PostgreSQL accepts numeric offsets up to 15:59 (MAX_TZDISP_HOUR). */
#define MAX_OFFSET_HOUR 15

/* Fraction digits beyond this many are not worth a fast path. */
#define MAX_FRACTION_DIGITS 30

static const int days_before_month[2][13] = {
	{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334},
	{0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335}
};

static const int days_in_month[2][13] = {
	{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
	{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
};

static inline bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n digits at s as a number, or -1 if any is not a digit. */
static inline int
digits(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		unsigned	d = (unsigned char) s[i] - '0';

		if (d > 9)
			return -1;
		v = v * 10 + (int) d;
	}
	return v;
}

/*
 * Microseconds of a fraction with more than six digits, rounded the way
 * PostgreSQL's ParseFractionalSecond does it: the decimal as a double
 * (strtod), times 10^6, rounded half to even like rint().  Matching its
 * double rounding matters more than being "exact": the point is to store
 * the same value it would.
 * The text is only '.' and digits, so the locale's decimal point is not
 * an issue as long as it is '.', which the server guarantees (LC_NUMERIC
 * is always C there).
 */
static int64_t
round_fraction(const char *s, size_t n)
{
	char		tmp[MAX_FRACTION_DIGITS + 2];
	double		x;
	int64_t		t;
	double		diff;

	memcpy(tmp, s, n);
	tmp[n] = '\0';
	x = strtod(tmp, NULL) * 1000000.0;

	/*
	 * rint() in the default rounding mode, i.e. half to even, done by hand
	 * so that this file needs no libm.  0 <= x <= 10^6 here.
	 */
	t = (int64_t) x;
	diff = x - (double) t;
	if (diff > 0.5 || (diff == 0.5 && (t & 1)))
		t++;
	return t;
}

bool
iso8601_parse(const char *s, size_t len, Iso8601 *out)
{
	int			year,
				month,
				day;
	int			hour = 0,
				minute = 0,
				second = 0;
	int64_t		fsec = 0;
	int			leap;
	size_t		p;

	memset(out, 0, sizeof(*out));

	/* YYYY-MM-DD */
	if (len < 10 || s[4] != '-' || s[7] != '-')
		return false;
	year = digits(s, 4);
	month = digits(s + 5, 2);
	day = digits(s + 8, 2);
	if (year < 1 || month < 1 || month > 12 || day < 1)
		return false;
	leap = is_leap(year);
	if (day > days_in_month[leap][month])
		return false;
	out->days = (int32_t) (365 * (year - 1) + (year - 1) / 4 - (year - 1) / 100 +
						   (year - 1) / 400 + days_before_month[leap][month] +
						   (day - 1) - DAYS_0001_TO_1970);
	if (len == 10)
		return true;

	/* Thh:mm */
	if ((s[10] != 'T' && s[10] != ' ') || len < 16 || s[13] != ':')
		return false;
	hour = digits(s + 11, 2);
	minute = digits(s + 14, 2);
	if (hour < 0 || hour > 23 || minute < 0 || minute > 59)
		return false;
	p = 16;

	/* :ss[.ffffff] */
	if (p < len && s[p] == ':')
	{
		if (len < p + 3)
			return false;
		second = digits(s + p + 1, 2);
		/* 60 (leap second) is left to PostgreSQL, which carries it over */
		if (second < 0 || second > 59)
			return false;
		p += 3;
		if (p < len && s[p] == '.')
		{
			size_t		f = p + 1;
			size_t		nd;

			while (f < len && (unsigned) ((unsigned char) s[f] - '0') <= 9)
				f++;
			nd = f - (p + 1);
			if (nd == 0 || nd > MAX_FRACTION_DIGITS)
				return false;
			if (nd <= 6)
			{
				static const int scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};

				fsec = digits(s + p + 1, (int) nd) * (int64_t) scale[nd];
			}
			else
				fsec = round_fraction(s + p, nd + 1);
			p = f;
		}
	}

	out->has_time = true;
	out->usecs = ((int64_t) (hour * 60 + minute) * 60 + second) * INT64_C(1000000) + fsec;

	/* .9999995 and up rounds into the next day, as it does in PostgreSQL */
	if (out->usecs >= INT64_C(86400000000))
	{
		out->usecs -= INT64_C(86400000000);
		out->days++;
	}

	/* Z, +hh, +hhmm, +hh:mm (or -) */
	if (p == len)
		return true;
	if (s[p] == 'Z')
	{
		out->has_offset = true;
		return p + 1 == len;
	}
	if (s[p] == '+' || s[p] == '-')
	{
		int			sign = s[p] == '-' ? -1 : 1;
		int			oh;
		int			om = 0;
		size_t		rest = len - p - 1;

		if (rest != 2 && rest != 4 && !(rest == 5 && s[p + 3] == ':'))
			return false;
		oh = digits(s + p + 1, 2);
		if (rest == 4)
			om = digits(s + p + 3, 2);
		else if (rest == 5)
			om = digits(s + p + 4, 2);
		if (oh < 0 || oh > MAX_OFFSET_HOUR || om < 0 || om > 59)
			return false;
		out->has_offset = true;
		out->offset_secs = sign * (oh * 3600 + om * 60);
		return true;
	}
	return false;
}
