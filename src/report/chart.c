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
 * This file reads the query's result into series; chart_axis.c places the
 * ticks, chart_draw.c writes the document (chart_int.h holds what they
 * share).
 *
 * IDENTIFICATION
 *	  src/report/chart.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "access/htup_details.h"
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

#include "report/chart_int.h"
#include "report/report.h"
#include "util/privilege.h"

PG_FUNCTION_INFO_V1(pipeline_chart_svg);
PG_FUNCTION_INFO_V1(pipeline_set_chart);

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
 *		Options
 * ----------------------------------------------------------------
 */

void
chart_options_init(ChartOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->width = CHART_DEFAULT_WIDTH;
	opts->height = CHART_DEFAULT_HEIGHT;
	opts->kind = CHART_LINE;
}

void
chart_check_size(const char *name, int value, int min)
{
	if (value < min || value > CHART_MAX_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chart %s %d is out of range", name, value),
				 errhint("A chart's %s is %d to %d pixels.", name, min, CHART_MAX_SIZE)));
}

ChartKind
chart_kind_from_name(const char *name)
{
	if (strcmp(name, "line") == 0)
		return CHART_LINE;
	if (strcmp(name, "bar") == 0)
		return CHART_BAR;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown chart kind \"%s\"", name),
			 errhint("A chart's kind is \"line\" or \"bar\".")));
	return CHART_LINE;			/* keep compiler quiet */
}

/* chart_options_of_report: see chart.h */
void
chart_options_of_report(const char *name, ChartOptions *opts)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	Datum		d;

	values[0] = CStringGetTextDatum(name);
	spi_internal("SELECT title, x_label, y_label, width, height, kind "
				 "FROM pipeline.charts WHERE report OPERATOR(pg_catalog.=) $1",
				 1, types, values, NULL, true, 0);
	if (SPI_processed == 0)
		return;
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	if (!heap_attisnull(tup, 1, td))
		opts->title = SPI_getvalue(tup, td, 1);
	opts->x_label = SPI_getvalue(tup, td, 2);
	opts->y_label = SPI_getvalue(tup, td, 3);
	d = SPI_getbinval(tup, td, 4, &isnull);
	if (!isnull)
		opts->width = DatumGetInt32(d);
	d = SPI_getbinval(tup, td, 5, &isnull);
	if (!isnull)
		opts->height = DatumGetInt32(d);
	if (!heap_attisnull(tup, 6, td))
		opts->kind = chart_kind_from_name(SPI_getvalue(tup, td, 6));
}

/* Text for the document: UTF-8, NULL if there is none. */
static char *
option_text(const char *s)
{
	return s && s[0] != '\0' ? chart_utf8(s) : NULL;
}

/*
 * chart_svg: see chart.h.
 *
 * The query's rows live in SPI's memory, freed by SPI_finish; only the
 * document is allocated in the caller's context.  On an error, SPI cleans
 * up with the (sub)transaction's abort.
 */
char *
chart_svg(const char *query, const ChartOptions *opts)
{
	StringInfoData buf;
	SPIPlanPtr	plan;
	Chart		chart;
	int			rc;

	chart_check_size("width", opts->width, CHART_MIN_WIDTH);
	chart_check_size("height", opts->height, CHART_MIN_HEIGHT);
	memset(&chart, 0, sizeof(chart));
	chart.width = opts->width;
	chart.height = opts->height;
	chart.kind = opts->kind;
	chart.title = option_text(opts->title);
	chart.xcaption = option_text(opts->x_label);
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
	if (opts->y_label && opts->y_label[0] != '\0')
		chart.ycaption = chart_utf8(opts->y_label);

	/* buf lives in the caller's context (repalloc keeps it there) */
	svg_begin(&buf, &chart);
	if (chart.nvalues == 0)
		svg_no_data(&buf, &chart);
	else
		svg_chart(&buf, &chart);
	appendStringInfoString(&buf, "</svg>\n");

	SPI_finish();
	return buf.data;
}

/*
 * pipeline.chart_svg(query text, title text DEFAULT NULL,
 *					  x_label text DEFAULT NULL, y_label text DEFAULT NULL,
 *					  width int DEFAULT 960, height int DEFAULT 480,
 *					  kind text DEFAULT 'line') RETURNS text
 */
Datum
pipeline_chart_svg(PG_FUNCTION_ARGS)
{
	char	   *query;
	ChartOptions opts;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	chart_options_init(&opts);
	if (!PG_ARGISNULL(1))
		opts.title = text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* the 1.0 function has only query and title */
	if (PG_NARGS() >= 7)
	{
		if (!PG_ARGISNULL(2))
			opts.x_label = text_to_cstring(PG_GETARG_TEXT_PP(2));
		if (!PG_ARGISNULL(3))
			opts.y_label = text_to_cstring(PG_GETARG_TEXT_PP(3));
		if (!PG_ARGISNULL(4))
			opts.width = PG_GETARG_INT32(4);
		if (!PG_ARGISNULL(5))
			opts.height = PG_GETARG_INT32(5);
		if (!PG_ARGISNULL(6))
			opts.kind = chart_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(6)));
	}
	PG_RETURN_TEXT_P(cstring_to_text(chart_svg(query, &opts)));
}

/*
 * pipeline.set_chart(report, title, x_label, y_label, width, height, kind):
 * how the chart a report exports (export_format 'svg') looks; NULL keeps
 * the default (the title: the report's name).  Only the report's owner.
 */
Datum
pipeline_set_chart(PG_FUNCTION_ARGS)
{
	char	   *report = arg_text(fcinfo, 0, "report", true);
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID};
	Datum		values[7];
	char		nulls[7];
	int			i;

	if (!PG_ARGISNULL(4))
		chart_check_size("width", PG_GETARG_INT32(4), CHART_MIN_WIDTH);
	if (!PG_ARGISNULL(5))
		chart_check_size("height", PG_GETARG_INT32(5), CHART_MIN_HEIGHT);
	if (!PG_ARGISNULL(6))
		(void) chart_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(6)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", report);
	for (i = 0; i < 7; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	values[0] = CStringGetTextDatum(report);
	spi_internal("INSERT INTO pipeline.charts AS c (report, title, x_label, y_label, width, height, kind) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7) "
				 "ON CONFLICT (report) DO UPDATE SET title = $2, x_label = $3, y_label = $4, "
				 "  width = $5, height = $6, kind = $7",
				 7, types, values, nulls, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}
