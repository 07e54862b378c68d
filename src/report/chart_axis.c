/*-------------------------------------------------------------------------
 *
 * chart_axis.c
 *	  The axes of pipeline.chart_svg: ticks of the x axis on round local
 *	  times (the shortest step whose labels do not touch), of the y axis on
 *	  1, 2 or 5 times a power of ten.
 *
 * IDENTIFICATION
 *	  src/report/chart_axis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "report/chart_int.h"

/* Candidate spacings of the x axis, shortest first */
static const TickStep tick_steps[] = {
	{TICK_MILLISECOND, 1}, {TICK_MILLISECOND, 2}, {TICK_MILLISECOND, 5},
	{TICK_MILLISECOND, 10}, {TICK_MILLISECOND, 20}, {TICK_MILLISECOND, 50},
	{TICK_MILLISECOND, 100}, {TICK_MILLISECOND, 200}, {TICK_MILLISECOND, 500},
	{TICK_SECOND, 1}, {TICK_SECOND, 2}, {TICK_SECOND, 5}, {TICK_SECOND, 10},
	{TICK_SECOND, 15}, {TICK_SECOND, 30},
	{TICK_MINUTE, 1}, {TICK_MINUTE, 2}, {TICK_MINUTE, 5}, {TICK_MINUTE, 10},
	{TICK_MINUTE, 15}, {TICK_MINUTE, 30},
	{TICK_HOUR, 1}, {TICK_HOUR, 2}, {TICK_HOUR, 3}, {TICK_HOUR, 6},
	{TICK_HOUR, 12},
	{TICK_DAY, 1}, {TICK_DAY, 2},
	{TICK_WEEK, 1}, {TICK_WEEK, 2},
	{TICK_MONTH, 1}, {TICK_MONTH, 3}, {TICK_MONTH, 6},
	{TICK_YEAR, 1}, {TICK_YEAR, 2}, {TICK_YEAR, 5}, {TICK_YEAR, 10},
	{TICK_YEAR, 20}, {TICK_YEAR, 50}, {TICK_YEAR, 100}, {TICK_YEAR, 200},
	{TICK_YEAR, 500}, {TICK_YEAR, 1000}, {TICK_YEAR, 2000}, {TICK_YEAR, 5000},
	{TICK_YEAR, 10000}, {TICK_YEAR, 20000}, {TICK_YEAR, 50000},
	{TICK_YEAR, 100000}, {TICK_YEAR, 200000}
};

/* ----------------------------------------------------------------
 *		The x axis: times
 * ----------------------------------------------------------------
 */

/* Local time of an x value: the session's zone for timestamptz. */
static bool
x_to_tm(const Chart *chart, int64 x, struct pg_tm *tm)
{
	fsec_t		fsec;
	int			tz;

	if (chart->xtz)
		return timestamp2tm(x, &tz, tm, &fsec, NULL, NULL) == 0;
	return timestamp2tm(x, NULL, tm, &fsec, NULL, NULL) == 0;
}

/* The x value of a local time. */
static bool
tm_to_x(const Chart *chart, const struct pg_tm *local, int64 *x)
{
	struct pg_tm tm = *local;

	if (chart->xtz)
	{
		int			tz = DetermineTimeZoneOffset(&tm, session_timezone);

		return tm2timestamp(&tm, 0, &tz, x) == 0;
	}
	return tm2timestamp(&tm, 0, NULL, x) == 0;
}

static int
floor_mod(int a, int n)
{
	int			m = a % n;

	return m < 0 ? m + n : m;
}

/* Round a local time down to a whole step (minutes to the hour's, etc.). */
static void
tick_truncate(struct pg_tm *tm, const TickStep *step)
{
	int			jd;

	switch (step->unit)
	{
		case TICK_MILLISECOND:
			break;				/* see x_ticks_for_step() */
		case TICK_SECOND:
			tm->tm_sec -= tm->tm_sec % step->n;
			break;
		case TICK_MINUTE:
			tm->tm_sec = 0;
			tm->tm_min -= tm->tm_min % step->n;
			break;
		case TICK_HOUR:
			tm->tm_sec = tm->tm_min = 0;
			tm->tm_hour -= tm->tm_hour % step->n;
			break;
		case TICK_DAY:
		case TICK_WEEK:
			tm->tm_sec = tm->tm_min = tm->tm_hour = 0;
			jd = date2j(tm->tm_year, tm->tm_mon, tm->tm_mday);
			if (step->unit == TICK_WEEK)
			{
				/* back to Monday, then to a whole number of weeks since 2000-01-03 */
				jd -= (j2day(jd) + 6) % 7;
				jd -= 7 * floor_mod((jd - date2j(2000, 1, 3)) / 7, step->n);
			}
			else
				jd -= floor_mod(jd - POSTGRES_EPOCH_JDATE, step->n);
			j2date(jd, &tm->tm_year, &tm->tm_mon, &tm->tm_mday);
			break;
		case TICK_MONTH:
			tm->tm_sec = tm->tm_min = tm->tm_hour = 0;
			tm->tm_mday = 1;
			tm->tm_mon -= (tm->tm_mon - 1) % step->n;
			break;
		case TICK_YEAR:
			tm->tm_sec = tm->tm_min = tm->tm_hour = 0;
			tm->tm_mday = tm->tm_mon = 1;
			tm->tm_year -= floor_mod(tm->tm_year, step->n);
			break;
	}
}

/* The next tick's local time: wall-clock arithmetic, whatever the zone. */
static bool
tick_advance(struct pg_tm *tm, const TickStep *step)
{
	int64		unit;
	Timestamp	naive;
	fsec_t		fsec;

	switch (step->unit)
	{
		case TICK_MONTH:
			tm->tm_mon += step->n;
			while (tm->tm_mon > MONTHS_PER_YEAR)
			{
				tm->tm_mon -= MONTHS_PER_YEAR;
				tm->tm_year++;
			}
			return true;
		case TICK_YEAR:
			tm->tm_year += step->n;
			return true;
		case TICK_MILLISECOND:
			unit = 1000;
			break;
		case TICK_SECOND:
			unit = USECS_PER_SEC;
			break;
		case TICK_MINUTE:
			unit = USECS_PER_MINUTE;
			break;
		case TICK_HOUR:
			unit = USECS_PER_HOUR;
			break;
		case TICK_DAY:
			unit = USECS_PER_DAY;
			break;
		default:
			unit = 7 * USECS_PER_DAY;
			break;
	}
	if (tm2timestamp(tm, 0, NULL, &naive) != 0)
		return false;
	naive += step->n * unit;
	if (!IS_VALID_TIMESTAMP(naive))
		return false;
	return timestamp2tm(naive, NULL, tm, &fsec, NULL, NULL) == 0;
}

/* Characters of the labels of a step's ticks. */
static int
tick_label_chars(TickUnit unit)
{
	switch (unit)
	{
		case TICK_MILLISECOND:
			return 12;			/* 10:15:30.250 */
		case TICK_SECOND:
			return 8;			/* 10:15:30 */
		case TICK_MINUTE:
		case TICK_HOUR:
			return 11;			/* 11-25 10:00 */
		case TICK_DAY:
		case TICK_WEEK:
			return 10;			/* 2026-11-25 */
		case TICK_MONTH:
			return 7;			/* 2026-11 */
		default:
			return 4;			/* 2026 */
	}
}

static void
tick_label(char *buf, size_t size, const struct pg_tm *tm, int64 x, TickUnit unit)
{
	switch (unit)
	{
		case TICK_MILLISECOND:
			snprintf(buf, size, "%02d:%02d:%02d.%03d", tm->tm_hour, tm->tm_min, tm->tm_sec,
					 (int) ((x % USECS_PER_SEC + USECS_PER_SEC) % USECS_PER_SEC / 1000));
			break;
		case TICK_SECOND:
			snprintf(buf, size, "%02d:%02d:%02d", tm->tm_hour, tm->tm_min, tm->tm_sec);
			break;
		case TICK_MINUTE:
		case TICK_HOUR:
			snprintf(buf, size, "%02d-%02d %02d:%02d",
					 tm->tm_mon, tm->tm_mday, tm->tm_hour, tm->tm_min);
			break;
		case TICK_DAY:
		case TICK_WEEK:
			snprintf(buf, size, "%04d-%02d-%02d", tm->tm_year, tm->tm_mon, tm->tm_mday);
			break;
		case TICK_MONTH:
			snprintf(buf, size, "%04d-%02d", tm->tm_year, tm->tm_mon);
			break;
		case TICK_YEAR:
			snprintf(buf, size, "%04d", tm->tm_year);
			break;
	}
}

double
x_pos(const Chart *chart, const ChartLayout *lay, int64 x)
{
	/* in doubles: the span of two timestamps may not fit in an int64 */
	return lay->left + ((double) x - (double) chart->xmin) /
		((double) chart->xmax - (double) chart->xmin) * (lay->right - lay->left);
}

/*
 * The ticks of one step between xmin and xmax; -1 if there would be more
 * than "max".
 */
static int
x_ticks_for_step(const Chart *chart, const ChartLayout *lay, const TickStep *step,
				 ChartTick *ticks, int max)
{
	struct pg_tm tm;
	int			n = 0;
	int			iter;

	if (step->unit == TICK_MILLISECOND)
	{
		/*
		 * Zone offsets are whole seconds: fractions of a second align the
		 * same in local and absolute time.
		 */
		int64		every = (int64) step->n * 1000;
		int64		x = chart->xmin - chart->xmin % every;

		if (x < chart->xmin)
			x += every;
		for (; x <= chart->xmax; x += every)
		{
			if (n >= max)
				return -1;
			if (!x_to_tm(chart, x, &tm))
				break;
			ticks[n].pos = x_pos(chart, lay, x);
			tick_label(ticks[n].label, sizeof(ticks[n].label), &tm, x, step->unit);
			n++;
		}
		return n;
	}

	if (!x_to_tm(chart, chart->xmin, &tm))
		return 0;
	tick_truncate(&tm, step);
	for (iter = 0; iter < 4 * MAX_TICKS; iter++)
	{
		int64		x;

		if (!tm_to_x(chart, &tm, &x) || x > chart->xmax)
			break;
		if (x >= chart->xmin)
		{
			if (n >= max)
				return -1;
			ticks[n].pos = x_pos(chart, lay, x);
			tick_label(ticks[n].label, sizeof(ticks[n].label), &tm, x, step->unit);
			n++;
		}
		if (!tick_advance(&tm, step))
			break;
	}
	return n;
}

/*
 * The x axis's ticks: those of the shortest step whose labels stay apart.
 */
int
x_ticks(const Chart *chart, const ChartLayout *lay, ChartTick *ticks)
{
	double		width = lay->right - lay->left;
	int			k;

	for (k = 0; k < lengthof(tick_steps); k++)
	{
		const TickStep *step = &tick_steps[k];
		double		label = text_width(tick_label_chars(step->unit), TICK_FONT) + 10;
		int			fit = (int) (width / label) + 1;
		int			n;
		int			i;
		bool		apart = true;

		if (chart->xdate && step->unit < TICK_DAY)
			continue;
		n = x_ticks_for_step(chart, lay, step, ticks, Min(fit, MAX_TICKS));
		if (n < 0)
			continue;
		for (i = 1; i < n; i++)
			if (ticks[i].pos - ticks[i - 1].pos < label)
				apart = false;
		if (apart)
			return n;
	}
	return 0;
}


/* ----------------------------------------------------------------
 *		The y axis: values
 * ----------------------------------------------------------------
 */

/* 1, 2 or 5 times a power of ten, at least "rough". */
static double
nice_step(double rough)
{
	double		mag = pow(10.0, floor(log10(rough)));
	double		norm = rough / mag;

	if (norm <= 1.0)
		return mag;
	if (norm <= 2.0)
		return 2.0 * mag;
	if (norm <= 5.0)
		return 5.0 * mag;
	return 10.0 * mag;
}

/*
 * Ticks of the y axis for a plot "height" pixels high; sets *lo and *hi,
 * the axis's ends (whole steps around the data).
 */
int
y_ticks(Chart *chart, double height, ChartTick *ticks, double *lo, double *hi)
{
	double		ymin = chart->ymin;
	double		ymax = chart->ymax;
	int			target = Max(2, (int) (height / 50.0));
	double		step;
	double		k0;
	double		k1;
	double		maxabs;
	int			decimals = 0;
	int			n;
	int			i;

	if (ymin == ymax)
	{
		double		pad = ymin == 0.0 ? 1.0 : fabs(ymin) * 0.1;

		ymin -= pad;
		ymax += pad;
	}
	step = nice_step((ymax - ymin) / target);
	k0 = floor(ymin / step);
	k1 = ceil(ymax / step);
	if (k1 - k0 > MAX_TICKS - 1 || !isfinite(step) || step <= 0)
	{
		/* values so far apart or so close that the steps lose precision */
		step = (ymax - ymin) / target;
		k0 = ymin / step;
		k1 = k0 + target;
	}
	*lo = k0 * step;
	*hi = k1 * step;
	maxabs = Max(fabs(*lo), fabs(*hi));
	if (step < 1.0)
		decimals = (int) ceil(-log10(step) - 1e-9);
	n = (int) (k1 - k0 + 0.5) + 1;
	for (i = 0; i < n; i++)
	{
		double		v = (k0 + i) * step;

		if (fabs(v) < step * 1e-9)
			v = 0.0;
		ticks[i].pos = v;
		if (maxabs < 1e15 && decimals <= 9)
			snprintf(ticks[i].label, sizeof(ticks[i].label), "%.*f", decimals, v);
		else
		{
			/* enough significant digits to tell the steps apart */
			int			digits = (int) (floor(log10(maxabs)) - floor(log10(step))) + 1;

			snprintf(ticks[i].label, sizeof(ticks[i].label), "%.*g",
					 Max(1, Min(digits, 17)), v);
		}
	}
	return n;
}
