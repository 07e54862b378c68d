/*-------------------------------------------------------------------------
 *
 * chart_draw.c
 *	  The SVG document of pipeline.chart_svg: a standalone SVG 1.1 file, no
 *	  scripts, no external resources, only ASCII (everything else as an XML
 *	  character reference); text widths estimated, not measured.
 *
 * IDENTIFICATION
 *	  src/report/chart_draw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "report/chart_int.h"

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
char *
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
double
text_width(int chars, int font_size)
{
	return chars * font_size * GLYPH_WIDTH;
}

/* ----------------------------------------------------------------
 *		The document
 * ----------------------------------------------------------------
 */

void
svg_begin(StringInfo buf, const Chart *chart)
{
	appendStringInfo(buf,
					 "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
					 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
					 "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
					 "font-family=\"sans-serif\">\n",
					 chart->width, chart->height, chart->width, chart->height);
	if (chart->title)
	{
		appendStringInfoString(buf, "<title>");
		append_xml(buf, chart->title);
		appendStringInfoString(buf, "</title>\n");
	}
	appendStringInfo(buf,
					 "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
					 "fill=\"#ffffff\"/>\n",
					 chart->width, chart->height);
	if (chart->title)
	{
		/* as many characters as fit, at most TITLE_MAX_CHARS */
		int			fit = (int) ((chart->width - 40) / text_width(1, TITLE_FONT));

		appendStringInfo(buf,
						 "<text class=\"title\" x=\"%d\" y=\"30\" text-anchor=\"middle\" "
						 "font-size=\"%d\" font-weight=\"bold\" fill=\"#222222\">",
						 chart->width / 2, TITLE_FONT);
		append_xml(buf, utf8_truncate(chart->title, Min(fit, TITLE_MAX_CHARS)));
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
void
svg_no_data(StringInfo buf, const Chart *chart)
{
	ChartLayout lay = {40, chart->width - 40, 48, chart->height - 40};

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

/*
 * The narrowest distance between two x values of one series, in
 * microseconds; 0 if no series has two.
 */
static int64
x_min_gap(const Chart *chart)
{
	int64		gap = 0;
	int			i;
	int			j;

	for (i = 0; i < chart->nseries; i++)
	{
		const ChartSeries *s = &chart->series[i];

		for (j = 1; j < s->npoints; j++)
		{
			int64		d = s->points[j].x - s->points[j - 1].x;

			if (d > 0 && (gap == 0 || d < gap))
				gap = d;
		}
	}
	return gap;
}

/*
 * Bars: one per value, from the zero line to the value, the series of one
 * x side by side; a group is 80% of the narrowest gap between two x values
 * wide, a bar at most BAR_MAX_WIDTH and at least one pixel.
 */
static void
svg_bars(StringInfo buf, const Chart *chart, const ChartLayout *lay,
		 double lo, double hi, int64 gap)
{
	double		group = (x_pos(chart, lay, chart->xmin + gap) - x_pos(chart, lay, chart->xmin)) * 0.8;
	double		bar = Max(1.0, Min(BAR_MAX_WIDTH, group / chart->nseries));
	double		zero = lay->bottom - (0 - lo) / (hi - lo) * (lay->bottom - lay->top);
	int			i;
	int			j;

	appendStringInfoString(buf, "<g class=\"bars\" stroke=\"none\">\n");
	for (i = 0; i < chart->nseries; i++)
	{
		const ChartSeries *s = &chart->series[i];
		double		offset = (i - chart->nseries / 2.0) * bar;

		appendStringInfo(buf, "<g class=\"series\" fill=\"%s\"",
						 chart_palette[i % PALETTE_SIZE]);
		/* a palette's further rounds are lighter */
		if (i >= (int) PALETTE_SIZE)
			appendStringInfo(buf, " fill-opacity=\"%.2f\"",
							 1.0 - 0.2 * ((i / PALETTE_SIZE) % lengthof(chart_dashes)));
		appendStringInfoString(buf, "><title>");
		append_xml(buf, s->name);
		appendStringInfoString(buf, "</title>");
		for (j = 0; j < s->npoints; j++)
		{
			double		y;

			if (isnan(s->points[j].y))
				continue;
			y = lay->bottom - (s->points[j].y - lo) / (hi - lo) * (lay->bottom - lay->top);
			appendStringInfo(buf,
							 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
							 x_pos(chart, lay, s->points[j].x) + offset,
							 Min(y, zero), bar, fabs(zero - y));
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

		if (chart->kind == CHART_BAR)
		{
			appendStringInfo(buf,
							 "<g class=\"legend-item\"><rect x=\"%.1f\" y=\"%.1f\" width=\"20\" "
							 "height=\"10\" fill=\"%s\"",
							 x, y - 9, chart_palette[i % PALETTE_SIZE]);
			if (i >= (int) PALETTE_SIZE)
				appendStringInfo(buf, " fill-opacity=\"%.2f\"",
								 1.0 - 0.2 * ((i / PALETTE_SIZE) % lengthof(chart_dashes)));
		}
		else
		{
			appendStringInfo(buf,
							 "<g class=\"legend-item\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
							 "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"",
							 x, y - 4, x + 20, y - 4, chart_palette[i % PALETTE_SIZE]);
			if (dash)
				appendStringInfo(buf, " stroke-dasharray=\"%s\"", dash);
		}
		appendStringInfo(buf, "/><text x=\"%.1f\" y=\"%.1f\">", x + 26, y);
		append_xml(buf, utf8_truncate(chart->series[i].name, chart->legend_chars));
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
void
svg_chart(StringInfo buf, Chart *chart)
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
	int64		gap = 0;
	int			i;

	lay.top = chart->title ? 48 : 20;
	lay.bottom = chart->height - (chart->xcaption ? 58 : 40);
	if (chart->kind == CHART_BAR)
	{
		/* bars stand on zero */
		chart->ymin = Min(chart->ymin, 0);
		chart->ymax = Max(chart->ymax, 0);
	}

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
	/* the legend gets at most a third of the width: longer names are cut */
	namechars = Min(namechars,
					Max(8, (int) ((chart->width / 3.0 - 62) / text_width(1, LEGEND_FONT))));
	chart->legend_chars = namechars;
	legend_width = 24 + 26 + text_width(namechars, LEGEND_FONT) + 12;
	lay.right = chart->width - legend_width;

	if (chart->kind == CHART_BAR)
	{
		/* half a gap beside the first and the last bars */
		gap = x_min_gap(chart);
		if (gap == 0)
			gap = chart->xdate ? USECS_PER_DAY : USECS_PER_HOUR;
		chart->xmin -= gap / 2;
		chart->xmax += gap - gap / 2;
	}
	else if (chart->xmin == chart->xmax)
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
	if (chart->xcaption)
	{
		appendStringInfo(buf,
						 "<text class=\"x-caption\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
						 "font-size=\"%d\" fill=\"#444444\">",
						 (lay.left + lay.right) / 2, lay.bottom + 40, LEGEND_FONT);
		append_xml(buf, utf8_truncate(chart->xcaption, 80));
		appendStringInfoString(buf, "</text>\n");
	}

	svg_frame(buf, &lay);
	if (chart->kind == CHART_BAR)
		svg_bars(buf, chart, &lay, lo, hi, gap);
	else
		svg_series(buf, chart, &lay, lo, hi);
	svg_legend(buf, chart, lay.right + 24, lay.top + 12);
}
