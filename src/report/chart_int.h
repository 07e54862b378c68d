/*-------------------------------------------------------------------------
 *
 * chart_int.h
 *	  What the three files of pipeline.chart_svg share: the chart's data
 *	  model and layout, and the functions each offers the others.
 *
 *	  chart.c       the query's result -> series (the data model)
 *	  chart_axis.c  calendar and axis arithmetic: where the ticks go
 *	  chart_draw.c  text and the SVG document
 *
 * IDENTIFICATION
 *	  src/report/chart_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CHART_INT_H
#define PIPELINE_CHART_INT_H

#include "lib/stringinfo.h"

#include "report/chart.h"


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
#define BAR_MAX_WIDTH		40
#define MAX_TICKS			64

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
	int			width;			/* the canvas, in pixels */
	int			height;
	ChartKind	kind;
	char	   *title;			/* UTF-8, or NULL */
	char	   *xcaption;		/* UTF-8, or NULL */
	int			legend_chars;	/* longest legend name, in characters */
	bool		xtz;			/* x is timestamptz: local time of the session */
	bool		xdate;			/* x is a date: no ticks within a day */
	char	   *ycaption;		/* y_label, else the name of the only value
								 * column, or NULL */
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

/* Where the plot area is, once the labels are measured */
typedef struct ChartLayout
{
	double		left;
	double		right;
	double		top;
	double		bottom;
} ChartLayout;

/* chart_draw.c */
extern char *chart_utf8(const char *s);
extern double text_width(int chars, int font_size);
extern void svg_begin(StringInfo buf, const Chart *chart);
extern void svg_no_data(StringInfo buf, const Chart *chart);
extern void svg_chart(StringInfo buf, Chart *chart);

/* chart_axis.c */
extern double x_pos(const Chart *chart, const ChartLayout *lay, int64 x);
extern int	x_ticks(const Chart *chart, const ChartLayout *lay, ChartTick *ticks);
extern int	y_ticks(Chart *chart, double height, ChartTick *ticks, double *lo, double *hi);

#endif							/* PIPELINE_CHART_INT_H */
