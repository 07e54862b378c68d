/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Cron expressions for report schedules: parsing, and the ticks around
 *	  a moment (see cron.h).
 *
 * A parsed expression is a set of bits per field.  The next tick after a
 * moment is found by walking the calendar field by field, largest first:
 * a month that does not match skips to the next month, a day to the next
 * day, and so on, so that no more than a few hundred steps are taken for
 * any expression that can fire (the walk is bounded at ten years, which
 * covers February 29th).  The previous tick walks the same way backwards.
 * Dates are proleptic Gregorian, UTC, from days since 1970-01-01.
 *
 * Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/util/cron.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cron.h"

#define CRON_FIELDS 5
#define MAX_DAYS_WALKED (366 * 10)

typedef struct FieldDef
{
	const char *name;
	int			min;
	int			max;
	const char *const *names;	/* names of min.., or NULL */
} FieldDef;

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const weekday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const FieldDef fields[CRON_FIELDS] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day of week", 0, 7, weekday_names},
};

static const struct
{
	const char *name;
	const char *expr;
}			macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

static void fail(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * A number or (for fields that have them) a name at s[0..len); -1 if it
 * is neither.
 */
static int
field_value(const FieldDef *f, const char *s, size_t len)
{
	int			v = 0;
	size_t		i;

	if (len == 0)
		return -1;
	if (isdigit((unsigned char) s[0]))
	{
		if (len > 3)
			return -1;
		for (i = 0; i < len; i++)
		{
			if (!isdigit((unsigned char) s[i]))
				return -1;
			v = v * 10 + (s[i] - '0');
		}
		return v;
	}
	if (f->names && len == 3)
	{
		for (i = 0; f->names[i]; i++)
			if (strncasecmp(s, f->names[i], 3) == 0)
				return f->min + (int) i;
	}
	return -1;
}

/* "N" or "N-M" at s[0..len): its bounds; false (with err) if invalid. */
static bool
parse_range(const FieldDef *f, int fieldno, const char *s, size_t len, int *lo, int *hi,
			char *err, size_t errlen)
{
	const char *dash = memchr(s, '-', len);

	if (dash == NULL)
	{
		*lo = *hi = field_value(f, s, len);
		if (*lo < 0)
		{
			fail(err, errlen, "field %d (%s): \"%.*s\" is not a number%s", fieldno + 1, f->name,
				 (int) len, s, f->names ? " or a name" : "");
			return false;
		}
	}
	else
	{
		*lo = field_value(f, s, dash - s);
		*hi = field_value(f, dash + 1, len - (dash - s) - 1);
		if (*lo < 0 || *hi < 0)
		{
			fail(err, errlen, "field %d (%s): \"%.*s\" is not a range N-M", fieldno + 1, f->name,
				 (int) len, s);
			return false;
		}
	}
	if (*lo < f->min || *hi > f->max || *lo > f->max || *hi < f->min)
	{
		fail(err, errlen, "field %d (%s): \"%.*s\" is out of range %d-%d", fieldno + 1, f->name,
			 (int) len, s, f->min, f->max);
		return false;
	}
	if (*lo > *hi)
	{
		fail(err, errlen, "field %d (%s): the range \"%.*s\" goes backwards", fieldno + 1,
			 f->name, (int) len, s);
		return false;
	}
	return true;
}

/*
 * One item of a field's list at s[0..len): "*", "N", "N-M", each with an
 * optional "/S"; its values set in *bits.
 */
static bool
parse_item(const FieldDef *f, int fieldno, const char *s, size_t len, uint64_t *bits,
		   char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', len);
	size_t		rlen = slash ? (size_t) (slash - s) : len;
	int			lo;
	int			hi;
	int			step = 1;
	int			v;

	if (rlen == 1 && s[0] == '*')
	{
		lo = f->min;
		hi = f->max;
	}
	else
	{
		if (!parse_range(f, fieldno, s, rlen, &lo, &hi, err, errlen))
			return false;
		if (slash && lo == hi)
			hi = f->max;		/* "N/S": from N to the end */
	}
	if (slash)
	{
		size_t		slen = len - rlen - 1;
		size_t		i;

		step = 0;
		for (i = 0; i < slen; i++)
		{
			if (!isdigit((unsigned char) slash[1 + i]) || i >= 3)
			{
				step = -1;
				break;
			}
			step = step * 10 + (slash[1 + i] - '0');
		}
		if (slen == 0 || step <= 0 || step > f->max - f->min + 1)
		{
			fail(err, errlen, "field %d (%s): the step in \"%.*s\" must be a number from 1 to %d",
				 fieldno + 1, f->name, (int) len, s, f->max - f->min + 1);
			return false;
		}
	}
	for (v = lo; v <= hi; v += step)
		*bits |= (uint64_t) 1 << v;
	return true;
}

/* One field (s[0..len)): a comma-separated list of items. */
static bool
parse_field(int fieldno, const char *s, size_t len, uint64_t *bits, char *err, size_t errlen)
{
	const FieldDef *f = &fields[fieldno];
	size_t		start = 0;

	*bits = 0;
	for (;;)
	{
		const char *comma = memchr(s + start, ',', len - start);
		size_t		end = comma ? (size_t) (comma - s) : len;

		if (end == start)
		{
			fail(err, errlen, "field %d (%s): \"%.*s\" has an empty list item", fieldno + 1,
				 f->name, (int) len, s);
			return false;
		}
		if (!parse_item(f, fieldno, s + start, end - start, bits, err, errlen))
			return false;
		if (comma == NULL)
			return true;
		start = end + 1;
	}
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Can some day of some month of the expression exist (not February 30th)? */
static bool
can_fire(const CronSpec *spec)
{
	int			m;
	int			d;

	if (spec->days_star || !spec->weekdays_star)
		return true;			/* every day, or any day of some weekday */
	for (m = 1; m <= 12; m++)
	{
		if (!(spec->months & (1u << m)))
			continue;
		for (d = 1; d <= (m == 2 ? 29 : days_in_month(2001, m)); d++)
			if (spec->days & (1u << d))
				return true;
	}
	return false;
}

bool
cron_looks_like(const char *s)
{
	int			tokens = 0;
	bool		first_cron_chars = true;
	const char *p = s;

	while (isspace((unsigned char) *p))
		p++;
	if (p[0] == '@' && isalpha((unsigned char) p[1]))
		return true;
	while (*p)
	{
		if (isspace((unsigned char) *p))
		{
			p++;
			continue;
		}
		tokens++;
		while (*p && !isspace((unsigned char) *p))
		{
			if (tokens == 1 && !strchr("0123456789*,-/", *p))
				first_cron_chars = false;
			p++;
		}
	}
	return tokens == CRON_FIELDS && first_cron_chars;
}

bool
cron_parse(const char *expr, CronSpec *spec, char *err, size_t errlen)
{
	const char *p = expr;
	const char *start[CRON_FIELDS];
	size_t		len[CRON_FIELDS];
	uint64_t	bits[CRON_FIELDS];
	int			n = 0;
	int			i;

	memset(spec, 0, sizeof(*spec));
	if (strlen(expr) > CRON_MAX_LEN)
	{
		fail(err, errlen, "a cron expression has at most %d characters", CRON_MAX_LEN);
		return false;
	}
	for (i = 0; expr[i]; i++)
	{
		if ((unsigned char) expr[i] < 0x20 && !isspace((unsigned char) expr[i]))
		{
			fail(err, errlen, "a cron expression cannot contain control characters");
			return false;
		}
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p == '@')
	{
		size_t		mlen = strcspn(p, " \t\r\n\f\v");
		const char *rest = p + mlen;

		while (isspace((unsigned char) *rest))
			rest++;
		for (i = 0; i < (int) (sizeof(macros) / sizeof(macros[0])); i++)
			if (strlen(macros[i].name) == mlen && strncasecmp(p, macros[i].name, mlen) == 0 &&
				*rest == '\0')
				return cron_parse(macros[i].expr, spec, err, errlen);
		fail(err, errlen, "\"%.*s\" is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
			 (int) (mlen > 40 ? 40 : mlen), p);
		return false;
	}
	while (*p)
	{
		if (n == CRON_FIELDS)
		{
			fail(err, errlen, "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one more");
			return false;
		}
		start[n] = p;
		while (*p && !isspace((unsigned char) *p))
			p++;
		len[n] = p - start[n];
		n++;
		while (isspace((unsigned char) *p))
			p++;
	}
	if (n < CRON_FIELDS)
	{
		fail(err, errlen, "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one %d",
			 n);
		return false;
	}
	for (i = 0; i < CRON_FIELDS; i++)
		if (!parse_field(i, start[i], len[i], &bits[i], err, errlen))
			return false;
	spec->minutes = bits[0];
	spec->hours = (uint32_t) bits[1];
	spec->days = (uint32_t) bits[2];
	spec->months = (uint16_t) bits[3];
	/* 7 is Sunday too */
	spec->weekdays = (uint8_t) ((bits[4] | (bits[4] >> 7)) & 0x7f);
	spec->days_star = start[2][0] == '*';
	spec->weekdays_star = start[4][0] == '*';
	if (!can_fire(spec))
	{
		fail(err, errlen, "the expression never fires: no month it names has the days it names");
		return false;
	}
	return true;
}

/* ----------------------------------------------------------------
 *		Calendar (days since 1970-01-01, proleptic Gregorian)
 * ----------------------------------------------------------------
 */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Does day "days" (since the epoch) match the day fields? */
static bool
day_matches(const CronSpec *spec, int64_t days, int d)
{
	int			w = (int) (((days + 4) % 7 + 7) % 7);	/* 1970-01-01 was a Thursday */
	bool		dom = (spec->days >> d) & 1;
	bool		dow = (spec->weekdays >> w) & 1;

	if (spec->days_star && spec->weekdays_star)
		return true;
	if (spec->days_star)
		return dow;
	if (spec->weekdays_star)
		return dom;
	return dom || dow;
}

int64_t
cron_next(const CronSpec *spec, int64_t t)
{
	int64_t		minute = floor_div(t, 60) + 1;
	int64_t		days = floor_div(minute, 1440);
	int			h = (int) ((minute - days * 1440) / 60);
	int			mi = (int) (minute - days * 1440) % 60;
	int64_t		first = days;

	while (days - first <= MAX_DAYS_WALKED)
	{
		int64_t		y;
		int			m;
		int			d;

		civil_from_days(days, &y, &m, &d);
		if (!((spec->months >> m) & 1))
		{
			days = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
			h = mi = 0;
			continue;
		}
		if (!day_matches(spec, days, d))
		{
			days++;
			h = mi = 0;
			continue;
		}
		while (h < 24 && !((spec->hours >> h) & 1))
		{
			h++;
			mi = 0;
		}
		if (h == 24)
		{
			days++;
			h = mi = 0;
			continue;
		}
		while (mi < 60 && !((spec->minutes >> mi) & 1))
			mi++;
		if (mi == 60)
		{
			h++;
			mi = 0;
			if (h == 24)
			{
				days++;
				h = 0;
			}
			continue;
		}
		return (days * 1440 + h * 60 + mi) * 60;
	}
	return -1;
}

int64_t
cron_prev(const CronSpec *spec, int64_t t)
{
	int64_t		minute = floor_div(t, 60);
	int64_t		days = floor_div(minute, 1440);
	int			h = (int) ((minute - days * 1440) / 60);
	int			mi = (int) (minute - days * 1440) % 60;
	int64_t		first = days;

	while (first - days <= MAX_DAYS_WALKED)
	{
		int64_t		y;
		int			m;
		int			d;

		civil_from_days(days, &y, &m, &d);
		if (!((spec->months >> m) & 1))
		{
			days = days_from_civil(y, m, 1) - 1;	/* the last day of the month before */
			h = 23;
			mi = 59;
			continue;
		}
		if (!day_matches(spec, days, d))
		{
			days--;
			h = 23;
			mi = 59;
			continue;
		}
		while (h >= 0 && !((spec->hours >> h) & 1))
		{
			h--;
			mi = 59;
		}
		if (h < 0)
		{
			days--;
			h = 23;
			mi = 59;
			continue;
		}
		while (mi >= 0 && !((spec->minutes >> mi) & 1))
			mi--;
		if (mi < 0)
		{
			h--;
			mi = 59;
			if (h < 0)
			{
				days--;
				h = 23;
			}
			continue;
		}
		return (days * 1440 + h * 60 + mi) * 60;
	}
	return -1;
}
