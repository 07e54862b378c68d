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

PG_FUNCTION_INFO_V1(pipeline_chart_svg);

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
