/*-------------------------------------------------------------------------
 *
 * export.h
 *	  Query results -> S3 objects (JSON lines, CSV, SVG; gzip or plain).
 *
 * IDENTIFICATION
 *	  src/report/export.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_EXPORT_H
#define PIPELINE_EXPORT_H

#include "nodes/pg_list.h"

#include "report/chart.h"

typedef enum ExportFormat
{
	EXPORT_JSON,
	EXPORT_CSV,
	EXPORT_SVG
} ExportFormat;

/* A staged export: a multipart upload waiting to be completed. */
typedef struct ExportResult
{
	char	   *uri;			/* NULL if nothing was staged */
	int64		rows;
	int64		bytes;
	char	   *bucket;
	char	   *key;
	char	   *upload_id;
	List	   *etags;			/* of its parts, in order */
} ExportResult;

extern ExportResult export_query(const char *query, const char *uri, ExportFormat format,
								 bool gzip, Oid serverid, bool allow_empty,
								 const ChartOptions *chart);
extern ExportFormat export_format_from_name(const char *name);
extern Oid	export_server(const char *name);
extern Oid	pipeline_s3_server(const char *name, int *nservers);

#endif							/* PIPELINE_EXPORT_H */
