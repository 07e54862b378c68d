/*-------------------------------------------------------------------------
 *
 * run_int.h
 *	  What the files of a report run share: the run's control flow
 *	  (run.c), exactly once per object version (run_processed.c), and what
 *	  a run records and announces (run_record.c).
 *
 * IDENTIFICATION
 *	  src/report/run_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_RUN_INT_H
#define PIPELINE_RUN_INT_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "report/report.h"
#include "s3/event.h"

/* A report's definition, as stored. */
typedef struct ReportDef
{
	char	   *name;
	char	   *query;
	char	   *target;			/* qualified, quoted */
	bool		append;
	char	   *search_path;
	Oid			owner;
	bool		enabled;
	int			timeout_ms;
	char	   *export;			/* s3:// key or prefix, or NULL */
	char	   *export_format;
	char	   *server;			/* for the export; NULL: the default */
	char	   *webhook;		/* URL the run summary is POSTed to, or NULL */
} ReportDef;

/* What a run records in pipeline.runs. */
typedef struct RunRecord
{
	RunTrigger	trigger;
	List	   *uris;			/* of String */
	TimestampTz started;
	uint64		bytes;
	TimestampTz oldest_event;	/* 0 if unknown */
	int			attempt;		/* 0 if not counted */
} RunRecord;

/* run_processed.c: pipeline.processed, as the caller's SPI connection */
extern bool run_already_processed(ReportDef *def, const EventObject *o);
extern void run_mark_processed(const char *report, const EventObject *o, int64 run_id);

/* run_record.c: pipeline.runs, pipeline.run_rejects, the summary, NOTIFY */
extern void run_record(const RunResult *r, const RunRecord *rec);
extern int64 run_new_id(void);
extern void run_record_reject(void *arg, const char *uri, int64 record, int64 line,
							  const char *error, const char *raw);
extern char *run_summary(const RunResult *r, RunTrigger trigger);
extern void run_notify(int64 run_id);

#endif							/* PIPELINE_RUN_INT_H */
