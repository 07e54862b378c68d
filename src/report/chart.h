/*-------------------------------------------------------------------------
 *
 * chart.h
 *	  Time-series charts: a query's result rendered as an SVG document.
 *
 * IDENTIFICATION
 *	  src/report/chart.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CHART_H
#define PIPELINE_CHART_H

/* Most series and points one chart shows; more is an error. */
#define CHART_MAX_SERIES	50
#define CHART_MAX_POINTS	100000

/* The canvas: default size and the range a chart may ask for, in pixels */
#define CHART_DEFAULT_WIDTH		960
#define CHART_DEFAULT_HEIGHT	480
#define CHART_MIN_WIDTH			320
#define CHART_MIN_HEIGHT		200
#define CHART_MAX_SIZE			4096

typedef enum ChartKind
{
	CHART_LINE,					/* one line per series */
	CHART_BAR					/* one bar per x value, series side by side */
} ChartKind;

/* How a chart looks; the strings may be NULL (none) */
typedef struct ChartOptions
{
	const char *title;
	const char *x_label;		/* caption under the x axis */
	const char *y_label;		/* caption of the y axis; default: the only
								 * value column's name */
	int			width;
	int			height;
	ChartKind	kind;
} ChartOptions;

/* The defaults: no title or labels, 960 x 480, lines. */
extern void chart_options_init(ChartOptions *opts);

/* Check an option given by a user (errors with a hint if out of range). */
extern void chart_check_size(const char *name, int value, int min);
extern ChartKind chart_kind_from_name(const char *name);

/*
 * Override "opts" with what pipeline.set_chart stored for report "name"
 * (nothing if it stored nothing).  Caller is connected to SPI.
 */
extern void chart_options_of_report(const char *name, ChartOptions *opts);

/*
 * Run "query" (a single SELECT, as the current user) and return its result
 * as a standalone SVG 1.1 document, palloc'd in the caller's memory context.
 * The document is pure ASCII (anything else is written as a character
 * reference), so it is valid UTF-8 and valid text in every server encoding.
 */
extern char *chart_svg(const char *query, const ChartOptions *opts);

#endif							/* PIPELINE_CHART_H */
