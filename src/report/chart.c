/*-------------------------------------------------------------------------
 *
 * chart.c
 *	  pipeline.chart_svg: a query's time series rendered as an SVG chart.
 *
 * The query's first timestamptz, timestamp or date column is the x axis.
 * If the query has exactly one text-like column besides it and exactly one
 * numeric column, the rows are in "long" form (ts, device_id, battery):
 * each distinct text value is a series.  Otherwise every numeric column is
 * a series ("wide" form).  NULL values are gaps in their line (a NULL
 * series name is the series "(null)"); rows whose x is NULL or infinite
 * are left out.  Rows may come in any order: each series is sorted by x,
 * and series of the long form by name (bytewise), so that the same rows
 * always give the same bytes.
 *
 * The document is a standalone SVG 1.1 file: no scripts, no external
 * resources, only the generic sans-serif font, and only ASCII (everything
 * else is written as an XML character reference).  Times are shown in the
 * session's time zone for timestamptz, as they are for timestamp and date.
 * Tick marks of the x axis fall on round local times (milliseconds,
 * seconds, minutes, hours, days, Mondays, months or years: the shortest
 * step whose labels do not touch); those of the y axis on 1, 2 or 5 times
 * a power of ten.  Text widths are estimated, not measured: a little wider
 * than the digits of common sans-serif fonts.
 *
 * IDENTIFICATION
 *	  src/report/chart.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/timestamp.h"

#include "report/chart.h"

PG_FUNCTION_INFO_V1(pipeline_chart_svg);

/* The canvas, in pixels */
#define CHART_WIDTH		960
#define CHART_HEIGHT	480

#define TITLE_FONT		16
#define TICK_FONT		11
#define LEGEND_FONT		12

/*
 * Width of one character as a fraction of the font size, a little more
 * than the digits of the common sans-serif fonts (DejaVu Sans: 0.636), so
 * that labels spaced by this estimate never touch.
 */
#define GLYPH_WIDTH		0.66

#define LEGEND_MAX_ITEMS	20	/* then "+N more" */
#define LEGEND_MAX_CHARS	24	/* longer names are cut, with an ellipsis */
#define LEGEND_LINE_HEIGHT	18
#define TITLE_MAX_CHARS		80
#define MAX_TICKS			64

/* Ten colors that stay apart from each other (d3's category10) */
static const char *const chart_palette[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"
};

#define PALETTE_SIZE lengthof(chart_palette)

/* Each further round of the palette gets its own dash pattern */
static const char *const chart_dashes[] = {
	NULL, "8 4", "2 3", "10 3 2 3", "1 5"
};

typedef enum ColumnKind
{
	COLUMN_OTHER,
	COLUMN_TIME,
	COLUMN_TEXT,
	COLUMN_NUMBER
} ColumnKind;

/* One value of a series; y is NaN for a gap (a NULL value) */
typedef struct ChartPoint
{
	int64		x;				/* microseconds, as Timestamp(Tz) */
	double		y;
} ChartPoint;

typedef struct ChartSeries
{
	char	   *name;			/* UTF-8 */
	ChartPoint *points;
	int			npoints;
	int			maxpoints;
} ChartSeries;

typedef struct Chart
{
	bool		xtz;			/* x is timestamptz: local time of the session */
	bool		xdate;			/* x is a date: no ticks within a day */
	char	   *ycaption;		/* name of the only value column, or NULL */
	ChartSeries *series;
	int			nseries;
	int			nentries;		/* points and gaps of all series */
	int			nvalues;		/* points that are not gaps */
	int64		xmin;
	int64		xmax;
	double		ymin;
	double		ymax;
} Chart;

/* A tick mark of an axis: where, and its label (ASCII) */
typedef struct ChartTick
{
	double		pos;
	char		label[48];
} ChartTick;

typedef enum TickUnit
{
	TICK_MILLISECOND,
	TICK_SECOND,
	TICK_MINUTE,
	TICK_HOUR,
	TICK_DAY,
	TICK_WEEK,
	TICK_MONTH,
	TICK_YEAR
} TickUnit;

typedef struct TickStep
{
	TickUnit	unit;
	int			n;
} TickStep;

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

/* Where the plot area is, once the labels are measured */
typedef struct ChartLayout
{
	double		left;
	double		right;
	double		top;
	double		bottom;
} ChartLayout;


/* ----------------------------------------------------------------
 *		Text
 * ----------------------------------------------------------------
 */

/*
 * Append UTF-8 text "s" to buf as XML character data or attribute value:
 * markup characters as entities, everything outside ASCII as a character
 * reference, characters XML 1.0 does not allow (controls, U+FFFE, U+FFFF)
 * as a space or U+FFFD.
 */
static void
append_xml(StringInfo buf, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p)
	{
		if (*p < 0x80)
		{
			switch (*p)
			{
				case '&':
					appendStringInfoString(buf, "&amp;");
					break;
				case '<':
					appendStringInfoString(buf, "&lt;");
					break;
				case '>':
					appendStringInfoString(buf, "&gt;");
					break;
				case '"':
					appendStringInfoString(buf, "&quot;");
					break;
				case '\'':
					appendStringInfoString(buf, "&apos;");
					break;
				default:
					appendStringInfoChar(buf, *p < 0x20 ? ' ' : (char) *p);
					break;
			}
			p++;
		}
		else
		{
			pg_wchar	c = utf8_to_unicode(p);

			if (c == 0xFFFE || c == 0xFFFF)
				c = 0xFFFD;
			appendStringInfo(buf, "&#x%X;", (unsigned int) c);
			p += pg_utf_mblen(p);
		}
	}
}

/* Text of the server's encoding as UTF-8 (validated). */
static char *
chart_utf8(const char *s)
{
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/* Number of characters of UTF-8 text. */
static int
utf8_chars(const char *s)
{
	int			n = 0;

	while (*s)
	{
		s += pg_utf_mblen((const unsigned char *) s);
		n++;
	}
	return n;
}

/* UTF-8 text cut to at most "max" characters, the last one an ellipsis. */
static char *
utf8_truncate(const char *s, int max)
{
	const char *p = s;
	int			n = 0;

	if (utf8_chars(s) <= max)
		return pstrdup(s);
	while (n < max - 1)
	{
		p += pg_utf_mblen((const unsigned char *) p);
		n++;
	}
	return psprintf("%.*s\xE2\x80\xA6", (int) (p - s), s);
}

/* Estimated width in pixels of a label of "chars" characters. */
static double
text_width(int chars, int font_size)
{
	return chars * font_size * GLYPH_WIDTH;
}


/* ----------------------------------------------------------------
 *		Reading the query's result
 * ----------------------------------------------------------------
 */

static ColumnKind
column_kind(Oid type)
{
	switch (getBaseType(type))
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
		case DATEOID:
			return COLUMN_TIME;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return COLUMN_TEXT;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return COLUMN_NUMBER;
		default:
			return COLUMN_OTHER;
	}
}

/*
 * The x value of a time column as microseconds; false for infinity, which
 * has no place on the axis.
 */
static bool
time_value(Datum d, Oid basetype, int64 *x)
{
	if (basetype == DATEOID)
	{
		DateADT		date = DatumGetDateADT(d);

		if (DATE_NOT_FINITE(date))
			return false;
		*x = (int64) date * USECS_PER_DAY;
		return true;
	}
	*x = DatumGetTimestamp(d);
	return !TIMESTAMP_NOT_FINITE(*x);
}

/* A numeric value as a double: NaN (a gap) if not finite. */
static double
number_value(Datum d, Oid basetype)
{
	double		v;

	switch (basetype)
	{
		case INT2OID:
			v = DatumGetInt16(d);
			break;
		case INT4OID:
			v = DatumGetInt32(d);
			break;
		case INT8OID:
			v = (double) DatumGetInt64(d);
			break;
		case FLOAT4OID:
			v = DatumGetFloat4(d);
			break;
		case FLOAT8OID:
			v = DatumGetFloat8(d);
			break;
		default:
			v = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
			break;
	}
	/* beyond +-1e300 the axis's arithmetic would overflow: a gap too */
	return isfinite(v) && fabs(v) <= 1e300 ? v : get_float8_nan();
}

static ChartSeries *
chart_add_series(Chart *chart, const char *name)
{
	ChartSeries *s;

	if (chart->nseries >= CHART_MAX_SERIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("chart query has too many series"),
				 errdetail("A chart shows at most %d series.", CHART_MAX_SERIES),
				 errhint("Filter the query's rows, or aggregate them into fewer series.")));
	s = &chart->series[chart->nseries++];
	s->name = pstrdup(name);
	s->npoints = 0;
	s->maxpoints = 64;
	s->points = palloc(s->maxpoints * sizeof(ChartPoint));
	return s;
}

static void
series_add_point(Chart *chart, ChartSeries *s, int64 x, double y)
{
	if (chart->nentries >= CHART_MAX_POINTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("chart query returned too many points"),
				 errdetail("A chart shows at most %d points, NULL values included.",
						   CHART_MAX_POINTS),
				 errhint("Aggregate the query's rows, for example by date_trunc('hour', ts).")));
	if (s->npoints >= s->maxpoints)
	{
		s->maxpoints *= 2;
		s->points = repalloc(s->points, s->maxpoints * sizeof(ChartPoint));
	}
	s->points[s->npoints].x = x;
	s->points[s->npoints].y = y;
	s->npoints++;
	chart->nentries++;
	if (!isnan(y))
	{
		if (chart->nvalues == 0 || x < chart->xmin)
			chart->xmin = x;
		if (chart->nvalues == 0 || x > chart->xmax)
			chart->xmax = x;
		if (chart->nvalues == 0 || y < chart->ymin)
			chart->ymin = y;
		if (chart->nvalues == 0 || y > chart->ymax)
			chart->ymax = y;
		chart->nvalues++;
	}
}

static int
point_cmp(const void *a, const void *b)
{
	const ChartPoint *pa = a;
	const ChartPoint *pb = b;

	if (pa->x != pb->x)
		return pa->x < pb->x ? -1 : 1;
	/* same x: gaps first, then by value, so that the order is total */
	if (isnan(pa->y) || isnan(pb->y))
		return (int) !isnan(pa->y) - (int) !isnan(pb->y);
	if (pa->y != pb->y)
		return pa->y < pb->y ? -1 : 1;
	return 0;
}

static int
series_name_cmp(const void *a, const void *b)
{
	return strcmp(((const ChartSeries *) a)->name, ((const ChartSeries *) b)->name);
}

/*
 * Sort out the columns of the result and collect its rows into series.
 */
static void
chart_collect(Chart *chart, SPITupleTable *tuptable, uint64 nrows)
{
	TupleDesc	tupdesc = tuptable->tupdesc;
	int			xcol = 0;
	Oid			xtype = InvalidOid;
	int			textcol = 0;
	int			ntext = 0;
	int		   *numcols = palloc(tupdesc->natts * sizeof(int));
	Oid		   *numtypes = palloc(tupdesc->natts * sizeof(Oid));
	int			nnum = 0;
	bool		longform;
	int			last = 0;		/* long form: the series of the last row */
	int			i;
	uint64		r;

	for (i = 1; i <= tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i - 1);

		if (att->attisdropped)
			continue;
		switch (column_kind(att->atttypid))
		{
			case COLUMN_TIME:
				if (xcol == 0)
				{
					xcol = i;
					xtype = getBaseType(att->atttypid);
				}
				break;
			case COLUMN_TEXT:
				textcol = i;
				ntext++;
				break;
			case COLUMN_NUMBER:
				numcols[nnum] = i;
				numtypes[nnum] = getBaseType(att->atttypid);
				nnum++;
				break;
			case COLUMN_OTHER:
				break;
		}
	}
	if (xcol == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("chart query has no timestamp column"),
				 errdetail("The x axis of a chart is the query's first column of type timestamp with time zone, timestamp or date."),
				 errhint("Add a time column to the query's select list, for example \"SELECT ts, value FROM ...\".")));
	if (nnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("chart query has no numeric column"),
				 errdetail("The lines of a chart are the query's columns of type smallint, integer, bigint, real, double precision or numeric."),
				 errhint("Cast the values to a numeric type, for example \"value::float8\".")));

	chart->xtz = (xtype == TIMESTAMPTZOID);
	chart->xdate = (xtype == DATEOID);
	longform = (ntext == 1 && nnum == 1);
	if (nnum == 1)
		chart->ycaption = chart_utf8(NameStr(TupleDescAttr(tupdesc, numcols[0] - 1)->attname));

	if (longform)
		chart->series = palloc(CHART_MAX_SERIES * sizeof(ChartSeries));
	else
	{
		if (nnum > CHART_MAX_SERIES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("chart query has too many series"),
					 errdetail("The query has %d numeric columns; a chart shows at most %d series.",
							   nnum, CHART_MAX_SERIES),
					 errhint("Select fewer numeric columns.")));
		chart->series = palloc(nnum * sizeof(ChartSeries));
		for (i = 0; i < nnum; i++)
			chart_add_series(chart,
							 chart_utf8(NameStr(TupleDescAttr(tupdesc, numcols[i] - 1)->attname)));
	}

	for (r = 0; r < nrows; r++)
	{
		HeapTuple	tuple = tuptable->vals[r];
		bool		isnull;
		Datum		d;
		int64		x;

		CHECK_FOR_INTERRUPTS();
		d = SPI_getbinval(tuple, tupdesc, xcol, &isnull);
		if (isnull || !time_value(d, xtype, &x))
			continue;

		if (longform)
		{
			char	   *value = SPI_getvalue(tuple, tupdesc, textcol);
			char	   *name = value ? chart_utf8(value) : "(null)";
			ChartSeries *s = NULL;
			double		y;

			/* rows of one series often come together: try the last one first */
			if (last < chart->nseries && strcmp(chart->series[last].name, name) == 0)
				s = &chart->series[last];
			for (i = 0; s == NULL && i < chart->nseries; i++)
			{
				if (strcmp(chart->series[i].name, name) == 0)
				{
					s = &chart->series[i];
					last = i;
				}
			}
			if (s == NULL)
			{
				s = chart_add_series(chart, name);
				last = chart->nseries - 1;
			}
			d = SPI_getbinval(tuple, tupdesc, numcols[0], &isnull);
			y = isnull ? get_float8_nan() : number_value(d, numtypes[0]);
			series_add_point(chart, s, x, y);
			if (name != value && value != NULL)
				pfree(name);
			if (value)
				pfree(value);
		}
		else
		{
			for (i = 0; i < nnum; i++)
			{
				double		y;

				d = SPI_getbinval(tuple, tupdesc, numcols[i], &isnull);
				y = isnull ? get_float8_nan() : number_value(d, numtypes[i]);
				series_add_point(chart, &chart->series[i], x, y);
			}
		}
	}

	if (longform)
		qsort(chart->series, chart->nseries, sizeof(ChartSeries), series_name_cmp);
	for (i = 0; i < chart->nseries; i++)
		qsort(chart->series[i].points, chart->series[i].npoints, sizeof(ChartPoint),
			  point_cmp);
}

/*
 * Refuse anything but one plain SELECT (or VALUES, or TABLE): a chart
 * only reads.
 */
static void
check_select(SPIPlanPtr plan)
{
	List	   *sources = SPI_plan_get_plan_sources(plan);
	CachedPlanSource *source;
	ListCell   *lc;

	if (list_length(sources) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chart query must be a single SELECT statement")));
	source = linitial(sources);
	foreach(lc, source->query_list)
	{
		Query	   *q = lfirst_node(Query, lc);

		if (q->commandType != CMD_SELECT || q->utilityStmt != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("chart query must be a SELECT statement"),
					 errdetail("The query is a %s statement.",
							   GetCommandTagName(source->commandTag))));
		if (q->hasModifyingCTE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("chart query must not change data"),
					 errdetail("The query has a data-modifying statement in WITH.")));
		if (q->rowMarks != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("chart query must not lock rows"),
					 errdetail("The query has a FOR UPDATE or FOR SHARE clause.")));
	}
}


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

static double
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
static int
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
static int
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


/* ----------------------------------------------------------------
 *		The document
 * ----------------------------------------------------------------
 */

static void
svg_begin(StringInfo buf, const char *title)
{
	appendStringInfo(buf,
					 "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
					 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
					 "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
					 "font-family=\"sans-serif\">\n",
					 CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH, CHART_HEIGHT);
	if (title)
	{
		appendStringInfoString(buf, "<title>");
		append_xml(buf, title);
		appendStringInfoString(buf, "</title>\n");
	}
	appendStringInfo(buf,
					 "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
					 "fill=\"#ffffff\"/>\n",
					 CHART_WIDTH, CHART_HEIGHT);
	if (title)
	{
		appendStringInfo(buf,
						 "<text class=\"title\" x=\"%d\" y=\"30\" text-anchor=\"middle\" "
						 "font-size=\"%d\" font-weight=\"bold\" fill=\"#222222\">",
						 CHART_WIDTH / 2, TITLE_FONT);
		append_xml(buf, utf8_truncate(title, TITLE_MAX_CHARS));
		appendStringInfoString(buf, "</text>\n");
	}
}

static void
svg_frame(StringInfo buf, const ChartLayout *lay)
{
	appendStringInfo(buf,
					 "<rect class=\"plot\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
					 "fill=\"none\" stroke=\"#888888\" stroke-width=\"1\" "
					 "shape-rendering=\"crispEdges\"/>\n",
					 lay->left, lay->top, lay->right - lay->left, lay->bottom - lay->top);
}

/* An empty chart: the title, the frame and "no data". */
static void
svg_no_data(StringInfo buf)
{
	ChartLayout lay = {40, CHART_WIDTH - 40, 48, CHART_HEIGHT - 40};

	svg_frame(buf, &lay);
	appendStringInfo(buf,
					 "<text class=\"no-data\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
					 "font-size=\"14\" fill=\"#666666\">no data</text>\n",
					 (lay.left + lay.right) / 2, (lay.top + lay.bottom) / 2);
}

static void
svg_series(StringInfo buf, const Chart *chart, const ChartLayout *lay,
		   double lo, double hi)
{
	int			i;

	appendStringInfoString(buf,
						   "<g class=\"lines\" fill=\"none\" stroke-width=\"2\" "
						   "stroke-linejoin=\"round\" stroke-linecap=\"round\">\n");
	for (i = 0; i < chart->nseries; i++)
	{
		const ChartSeries *s = &chart->series[i];
		const char *color = chart_palette[i % PALETTE_SIZE];
		const char *dash = chart_dashes[(i / PALETTE_SIZE) % lengthof(chart_dashes)];
		int			j = 0;

		appendStringInfo(buf, "<g class=\"series\" stroke=\"%s\"", color);
		if (dash)
			appendStringInfo(buf, " stroke-dasharray=\"%s\"", dash);
		appendStringInfoString(buf, "><title>");
		append_xml(buf, s->name);
		appendStringInfoString(buf, "</title>");

		/* one polyline per run of values between gaps; a dot for one value */
		while (j < s->npoints)
		{
			int			start;
			int			k;

			while (j < s->npoints && isnan(s->points[j].y))
				j++;
			start = j;
			while (j < s->npoints && !isnan(s->points[j].y))
				j++;
			if (j - start == 1)
				appendStringInfo(buf,
								 "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" stroke=\"none\"/>",
								 x_pos(chart, lay, s->points[start].x),
								 lay->bottom - (s->points[start].y - lo) / (hi - lo) *
								 (lay->bottom - lay->top),
								 color);
			else if (j - start > 1)
			{
				appendStringInfoString(buf, "<polyline points=\"");
				for (k = start; k < j; k++)
					appendStringInfo(buf, "%s%.1f,%.1f", k > start ? " " : "",
									 x_pos(chart, lay, s->points[k].x),
									 lay->bottom - (s->points[k].y - lo) / (hi - lo) *
									 (lay->bottom - lay->top));
				appendStringInfoString(buf, "\"/>");
			}
		}
		appendStringInfoString(buf, "</g>\n");
	}
	appendStringInfoString(buf, "</g>\n");
}

static void
svg_legend(StringInfo buf, const Chart *chart, double x, double top)
{
	int			shown = Min(chart->nseries, LEGEND_MAX_ITEMS);
	int			i;

	if (chart->nseries > LEGEND_MAX_ITEMS)
		shown = LEGEND_MAX_ITEMS - 1;	/* the last line says how many more */
	appendStringInfo(buf, "<g class=\"legend\" font-size=\"%d\" fill=\"#222222\">\n",
					 LEGEND_FONT);
	for (i = 0; i < shown; i++)
	{
		double		y = top + LEGEND_LINE_HEIGHT * i;
		const char *dash = chart_dashes[(i / PALETTE_SIZE) % lengthof(chart_dashes)];

		appendStringInfo(buf,
						 "<g class=\"legend-item\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
						 "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"",
						 x, y - 4, x + 20, y - 4, chart_palette[i % PALETTE_SIZE]);
		if (dash)
			appendStringInfo(buf, " stroke-dasharray=\"%s\"", dash);
		appendStringInfo(buf, "/><text x=\"%.1f\" y=\"%.1f\">", x + 26, y);
		append_xml(buf, utf8_truncate(chart->series[i].name, LEGEND_MAX_CHARS));
		appendStringInfoString(buf, "</text></g>\n");
	}
	if (shown < chart->nseries)
		appendStringInfo(buf,
						 "<text class=\"legend-more\" x=\"%.1f\" y=\"%.1f\" fill=\"#666666\">"
						 "+%d more</text>\n",
						 x + 26, top + LEGEND_LINE_HEIGHT * shown, chart->nseries - shown);
	appendStringInfoString(buf, "</g>\n");
}

/*
 * The chart of collected series: axes, grid, lines and legend.
 */
static void
svg_chart(StringInfo buf, Chart *chart, bool has_title)
{
	ChartLayout lay;
	ChartTick	yt[MAX_TICKS];
	ChartTick	xt[MAX_TICKS];
	int			nyt;
	int			nxt;
	int			ychars = 0;
	int			namechars = 0;
	double		legend_width;
	double		lo;
	double		hi;
	int			i;

	lay.top = has_title ? 48 : 20;
	lay.bottom = CHART_HEIGHT - 40;

	/* the y axis decides the left margin, the legend the right one */
	nyt = y_ticks(chart, lay.bottom - lay.top, yt, &lo, &hi);
	for (i = 0; i < nyt; i++)
		ychars = Max(ychars, (int) strlen(yt[i].label));
	lay.left = 12 + (chart->ycaption ? 20 : 0) + text_width(ychars, TICK_FONT) + 8;
	/* room for half of the first x label, centered on the plot's edge */
	lay.left = Max(lay.left, text_width(11, TICK_FONT) / 2 + 10);
	for (i = 0; i < chart->nseries && i < LEGEND_MAX_ITEMS; i++)
		namechars = Max(namechars, Min(utf8_chars(chart->series[i].name), LEGEND_MAX_CHARS));
	if (chart->nseries > LEGEND_MAX_ITEMS)
		namechars = Max(namechars, 8);	/* "+NN more" */
	legend_width = 24 + 26 + text_width(namechars, LEGEND_FONT) + 12;
	lay.right = CHART_WIDTH - legend_width;

	if (chart->xmin == chart->xmax)
	{
		int64		pad = chart->xdate ? USECS_PER_DAY : USECS_PER_HOUR;

		chart->xmin -= pad;
		chart->xmax += pad;
	}
	nxt = x_ticks(chart, &lay, xt);

	/* grid lines */
	appendStringInfoString(buf,
						   "<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\" "
						   "shape-rendering=\"crispEdges\">\n");
	for (i = 0; i < nyt; i++)
	{
		double		y = lay.bottom - (yt[i].pos - lo) / (hi - lo) * (lay.bottom - lay.top);

		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
						 lay.left, y, lay.right, y);
	}
	for (i = 0; i < nxt; i++)
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
						 xt[i].pos, lay.top, xt[i].pos, lay.bottom);
	appendStringInfoString(buf, "</g>\n");

	/* tick marks */
	appendStringInfoString(buf,
						   "<g class=\"tick-marks\" stroke=\"#888888\" stroke-width=\"1\" "
						   "shape-rendering=\"crispEdges\">\n");
	for (i = 0; i < nyt; i++)
	{
		double		y = lay.bottom - (yt[i].pos - lo) / (hi - lo) * (lay.bottom - lay.top);

		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
						 lay.left - 4, y, lay.left, y);
	}
	for (i = 0; i < nxt; i++)
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
						 xt[i].pos, lay.bottom, xt[i].pos, lay.bottom + 4);
	appendStringInfoString(buf, "</g>\n");

	/* tick labels */
	appendStringInfo(buf,
					 "<g class=\"y-axis\" font-size=\"%d\" fill=\"#444444\" text-anchor=\"end\">\n",
					 TICK_FONT);
	for (i = 0; i < nyt; i++)
	{
		double		y = lay.bottom - (yt[i].pos - lo) / (hi - lo) * (lay.bottom - lay.top);

		appendStringInfo(buf, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
						 lay.left - 7, y + 4, yt[i].label);
	}
	appendStringInfoString(buf, "</g>\n");
	appendStringInfo(buf,
					 "<g class=\"x-axis\" font-size=\"%d\" fill=\"#444444\" text-anchor=\"middle\">\n",
					 TICK_FONT);
	for (i = 0; i < nxt; i++)
		appendStringInfo(buf, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
						 xt[i].pos, lay.bottom + 18, xt[i].label);
	appendStringInfoString(buf, "</g>\n");
	if (chart->ycaption)
	{
		appendStringInfo(buf,
						 "<text class=\"y-caption\" transform=\"rotate(-90)\" x=\"%.1f\" "
						 "y=\"18\" text-anchor=\"middle\" font-size=\"%d\" fill=\"#444444\">",
						 -(lay.top + lay.bottom) / 2, LEGEND_FONT);
		append_xml(buf, utf8_truncate(chart->ycaption, 40));
		appendStringInfoString(buf, "</text>\n");
	}

	svg_frame(buf, &lay);
	svg_series(buf, chart, &lay, lo, hi);
	svg_legend(buf, chart, lay.right + 24, lay.top + 12);
}

/*
 * chart_svg: see chart.h.
 *
 * The query's rows live in SPI's memory, freed by SPI_finish; only the
 * document is allocated in the caller's context.  On an error, SPI cleans
 * up with the (sub)transaction's abort.
 */
char *
chart_svg(const char *query, const char *title)
{
	StringInfoData buf;
	SPIPlanPtr	plan;
	Chart		chart;
	char	   *utitle = NULL;
	int			rc;

	memset(&chart, 0, sizeof(chart));
	if (title && title[0] != '\0')
		utitle = chart_utf8(title);
	initStringInfo(&buf);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	check_select(plan);

	/*
	 * Not read_only: SPI then takes a new snapshot, so a chart made later in
	 * the same statement (a report's export) sees the rows just written.
	 * check_select() made sure that the query itself only reads.
	 */
	rc = SPI_execute_plan(plan, NULL, NULL, false, CHART_MAX_POINTS + 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > CHART_MAX_POINTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("chart query returned too many rows"),
				 errdetail("A chart shows at most %d rows.", CHART_MAX_POINTS),
				 errhint("Aggregate the query's rows, for example by date_trunc('hour', ts).")));
	chart_collect(&chart, SPI_tuptable, SPI_processed);

	/* buf lives in the caller's context (repalloc keeps it there) */
	svg_begin(&buf, utitle);
	if (chart.nvalues == 0)
		svg_no_data(&buf);
	else
		svg_chart(&buf, &chart, utitle != NULL);
	appendStringInfoString(&buf, "</svg>\n");

	SPI_finish();
	return buf.data;
}

/*
 * pipeline.chart_svg(query text, title text DEFAULT NULL) RETURNS text
 */
Datum
pipeline_chart_svg(PG_FUNCTION_ARGS)
{
	char	   *query;
	char	   *title = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
		title = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PG_RETURN_TEXT_P(cstring_to_text(chart_svg(query, title)));
}
