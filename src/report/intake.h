/*-------------------------------------------------------------------------
 *
 * intake.h
 *	  Work that does not come from events: backfills (objects already in
 *	  S3), listing intake (a source polled by listing, for buckets without
 *	  notifications), schedules; and what runs read and cost (scan
 *	  budgets, S3 requests, the ETags a run read, prices).
 *
 *	  intake.c		listed objects -> tasks; listing intake; the report options
 *	  backfill.c	pipeline.backfill, cancel_backfill, the worker's backfill step
 *	  schedule.c	schedules (cron or interval), the worker's schedule step, run_time()
 *	  accounting.c	a run's requests, budget and the ETags it read; prices
 *
 * All of it feeds pipeline.tasks: the worker runs these objects like those
 * of events, and the ledger (pipeline.processed) is the same.
 *
 * IDENTIFICATION
 *	  src/report/intake.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_INTAKE_H
#define PIPELINE_INTAKE_H

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "s3/event.h"
#include "s3/s3.h"
#include "report/report.h"

/* ----------------------------------------------------------------
 *		intake.c
 * ----------------------------------------------------------------
 */

/* What a listing found to queue for one report, and how it went. */
typedef struct IntakeCounts
{
	int64		listed;			/* objects on the page, in range */
	int64		queued;			/* new tasks */
	int64		skipped;		/* processed, waiting or given up on already */
	int64		bytes_queued;
} IntakeCounts;

/*
 * An S3 client as report owner "owner" through the report's server
 * (NULL: the default), in memory context "cxt"; in a transaction.  Destroy
 * its HTTP client (http_client_destroy) when done.
 */
extern AwsClient *intake_client(Oid owner, const char *server, MemoryContext cxt);

/*
 * Queue the listed objects (of S3Object, in bucket "bucket") for "report",
 * as tasks of trigger "trigger" (TRIGGER_BACKFILL, TRIGGER_LISTING) and backfill "backfill"
 * (0: none); the report's ledger, its waiting tasks and its dead letters
 * decide which are new.  SPI connected.
 */
extern void intake_enqueue(const char *report, RunTrigger trigger, int64 backfill,
						   const char *bucket, List *objects, IntakeCounts *counts);

/* LIST requests made outside runs, counted for pipeline.costs.  SPI connected. */
extern void intake_count_usage(const char *report, int64 lists, int64 objects);

/*
 * The options of create_report and alter_report that are intake's:
 * schedule, list_every, list_keys, max_bytes_scanned (arguments "first"
 * onwards), applied to report "name" (SPI connected, the report row
 * written).
 */
extern void intake_report_options(FunctionCallInfo fcinfo, int first, const char *name,
								  bool creating);

/* The worker's step: poll the listings that are due; returns when the next is due (0: none). */
extern TimestampTz intake_poll_listings(void);


/* ----------------------------------------------------------------
 *		backfill.c
 * ----------------------------------------------------------------
 */

/* The worker's step: list the next page of each backfill that has room; when next. */
extern TimestampTz backfill_step(void);

/* A task of backfill "id" was settled: done (succeeded or skipped) or given up on.  SPI connected. */
extern void backfill_settled(int64 id, bool done, int64 size);

/* ----------------------------------------------------------------
 *		schedule.c
 * ----------------------------------------------------------------
 */

/*
 * Check a schedule (a cron expression or an interval), erroring as
 * PostgreSQL does for a bad value; returns its first tick after "after".
 */
extern TimestampTz schedule_check(const char *schedule, TimestampTz after);

/* The worker's step: queue the scheduled runs that are due; returns when the next is due. */
extern TimestampTz schedule_step(void);

/* The tick the run about to start stands for (0: not a scheduled run); set by tasks.c. */
extern TimestampTz report_scheduled_for;

/* ----------------------------------------------------------------
 *		accounting.c
 * ----------------------------------------------------------------
 */

/* What one run read and cost, from accounting_begin to accounting_record. */
typedef struct RunAccounting
{
	char	   *report;
	S3Requests	before;			/* s3_requests when the run began */
	uint64		max_bytes;		/* the report's max_bytes_scanned; 0: none */
	TimestampTz scheduled_for;	/* 0: not a scheduled run */
	TimestampTz run_time;		/* scheduled_for, else when the run started */
	List	   *read;			/* of ReadObject: the run's objects, as read */
	bool		active;
} RunAccounting;

/* Before the run: its requests count from now on. */
extern void accounting_begin(RunAccounting *acct, const char *report);

/*
 * The run is about to execute over "todo" (of EventObject), started at
 * "started": set its scan budget, and note the ETags its scans read of
 * those objects.
 */
extern void accounting_expect(RunAccounting *acct, List *todo, TimestampTz started);

/* The run's query is over (or failed): budget and notes off.  Safe to call twice. */
extern void accounting_end(RunAccounting *acct);

/*
 * The ETag to record for object "o" of the run: the one its scans read
 * (the object may have been overwritten since it was announced or
 * listed), else the one announced.
 */
extern char *accounting_etag(RunAccounting *acct, const EventObject *o);

/* Record the run's requests and tick in its row of pipeline.runs.  SPI connected. */
extern void accounting_record(RunAccounting *acct, int64 run_id);


#endif							/* PIPELINE_INTAKE_H */
