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

/*
 * Run "query" (a single SELECT, as the current user) and return its result
 * as a standalone SVG 1.1 document, palloc'd in the caller's memory context.
 * "title" may be NULL.  The document is pure ASCII (anything else is written
 * as a character reference), so it is valid UTF-8 and valid text in every
 * server encoding.
 */
extern char *chart_svg(const char *query, const char *title);

#endif							/* PIPELINE_CHART_H */
