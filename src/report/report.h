/*-------------------------------------------------------------------------
 *
 * report.h
 *	  Reports: the registry (pipeline.reports), runs (executing a report's
 *	  query into its target table, exactly once per object version), and
 *	  dispatching created objects to the reports whose source they match.
 *
 * IDENTIFICATION
 *	  src/report/report.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_REPORT_H
#define PIPELINE_REPORT_H

#include "nodes/bitmapset.h"
#include "nodes/nodes.h"
#include "nodes/pg_list.h"

#include "worker/event.h"

/* An object to process, and the message (of a batch) that announced it. */
typedef struct TriggerObject
{
	EventObject *obj;
	int			msg;			/* index of the message in its batch */
} TriggerObject;

/* What happened to one report in one dispatch. */
typedef struct RunResult
{
	char	   *report;
	int64		run_id;			/* 0 if no run was recorded */
	const char *status;			/* succeeded, failed, skipped */
	int			objects;		/* objects the run read */
	int64		rows;
	char	   *error;
	char	   *export_uri;		/* the object the run exported, or NULL */
	Bitmapset  *msgs;			/* messages whose objects it processed */
} RunResult;

/* the objects of the run in progress, for pipeline.trigger_uris() */
extern List *report_trigger_uris;

/* bytes read from S3 by scans of this backend (for pipeline.runs) */
extern uint64 pipeline_scan_bytes;

/*
 * Run one report now.  "objects" (of TriggerObject) are the objects that
 * triggered it (NIL for a manual run); versions already processed are
 * dropped first, and if none remain nothing runs (status "skipped").  The
 * run happens in a subtransaction of the caller's transaction, as the
 * report's owner; a failure is recorded, not raised.
 */
extern RunResult *report_run(const char *name, const char *trigger, List *objects);
extern RunResult *report_skip(const char *name, const char *trigger, const char *why);

/*
 * Run every report that the objects concern, one run per report; returns
 * a list of RunResult.  Only reports of roles whose rights "sender" has
 * (the owner of the queue the objects came from, or the caller of
 * handle_event) run.  Reports chained with "after" follow their
 * upstream's successful runs.
 */
extern List *report_dispatch(List *objects, Oid sender);
extern List *report_run_after(const char *upstream, Bitmapset *msgs);

/*
 * Called before a run starts, with its timeout: the worker extends the
 * visibility of the messages being handled so that SQS does not deliver
 * them again while a long run is still going.
 */
extern void (*report_run_starting_hook) (int timeout_ms);

/* DROP ROLE, DROP OWNED, REASSIGN OWNED (from the ProcessUtility hook) */
extern void registry_role_utility(Node *stmt, bool after);

/* GUC */
extern int	pipeline_report_timeout;

#endif							/* PIPELINE_REPORT_H */
