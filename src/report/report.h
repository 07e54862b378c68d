/*-------------------------------------------------------------------------
 *
 * report.h
 *	  Reports: the registry (pipeline.reports), runs (executing a report's
 *	  query into its target table, exactly once per object version), the
 *	  durable work queue of runs to do (pipeline.tasks), and matching
 *	  created objects to the reports whose source they fall under.
 *
 * IDENTIFICATION
 *	  src/report/report.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_REPORT_H
#define PIPELINE_REPORT_H

#include "fmgr.h"
#include "nodes/nodes.h"
#include "nodes/pg_list.h"

#include "s3/event.h"

/* How a run ended: pipeline.runs.status (see run_status_name). */
typedef enum RunStatus
{
	RUN_SUCCEEDED,
	RUN_FAILED,
	RUN_SKIPPED,				/* nothing to do: every version processed
								 * already, or the upstream's result did not
								 * change (only_if_changed) */
	RUN_PAUSED					/* not run: the report is paused (never
								 * recorded) */
} RunStatus;

/* What started a run: pipeline.runs.trigger (see run_trigger_name). */
typedef enum RunTrigger
{
	TRIGGER_EVENT,				/* objects an event announced */
	TRIGGER_MANUAL,				/* pipeline.run_report() */
	TRIGGER_AFTER				/* the report it is chained after succeeded */
} RunTrigger;

/*
 * The names the tables (pipeline.runs, pipeline.tasks) and the run
 * summaries use, and back (an unknown name is an error).
 */
extern const char *run_status_name(RunStatus status);
extern const char *run_trigger_name(RunTrigger trigger);
extern RunTrigger run_trigger_from_name(const char *name);

/* What happened to one report in one run. */
typedef struct RunResult
{
	char	   *report;
	int64		run_id;			/* 0 if no run was recorded */
	RunStatus	status;
	int			objects;		/* objects the run read */
	int64		rows;
	int64		rejects;		/* records its scans skipped */
	char	   *error;
	char	   *export_uri;		/* the object the run exported, or NULL */
	const char *queue;			/* where the work came from, if from a queue */
} RunResult;

/* the objects of the run in progress, for pipeline.trigger_uris() */
extern List *report_trigger_uris;

/*
 * Run one report now.  "objects" (of EventObject) are the objects that
 * triggered it (NIL for a manual or chained run); versions already
 * processed are dropped first, and if none remain nothing runs
 * (RUN_SKIPPED, not recorded).  A paused report runs only by hand
 * (RUN_PAUSED otherwise).  The run happens in a subtransaction of the
 * caller's transaction, as the report's owner; a failure is recorded (if
 * record_failure) and returned, not raised.  "attempt" is the how-many-th
 * try of this work it is (0: not counted).
 */
extern RunResult *report_run(const char *name, RunTrigger trigger, List *objects,
							 int attempt, bool record_failure);
extern RunResult *report_skip(const char *name, RunTrigger trigger, const char *why);

/* A report with a source, as report_match reads them (report_sources). */
typedef struct ReportSource
{
	char	   *name;
	char	   *source;
	Oid			owner;
} ReportSource;

extern List *report_sources(void);

/*
 * The reports an object concerns: those whose source prefix it falls
 * under, of roles whose rights "sender" has (the owner of the queue it came
 * from, or the caller of handle_event).  Returns a list of report names;
 * *why says why there is none.
 */
extern List *report_match(List *sources, const EventObject *o, Oid sender, const char **why);

/* The reports chained after "upstream" (after => upstream), by name. */
extern List *report_downstream(const char *upstream);

/*
 * For a report created with after and only_if_changed: the fingerprint of
 * its upstream's result now, and whether it is the one it last ran on
 * (then the run is skipped); NULL for other reports.  report_consumed
 * notes the fingerprint a successful run ran on.
 */
extern char *report_upstream_fingerprint(const char *report, bool *unchanged,
										 char **upstream);
extern void report_consumed(const char *report, const char *fingerprint);

/* registry.c: helpers of the SQL functions (caller connected to SPI) */
extern char *arg_text(FunctionCallInfo fcinfo, int n, const char *name, bool required);
extern Oid	owner_of(const char *table, const char *name);
extern Oid	check_owned(const char *table, const char *kind, const char *name);

/* roles.c: DROP ROLE, DROP OWNED, REASSIGN OWNED (from the ProcessUtility hook) */
extern void registry_role_utility(Node *stmt, bool after);

#endif							/* PIPELINE_REPORT_H */
