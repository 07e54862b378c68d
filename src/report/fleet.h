/*-------------------------------------------------------------------------
 *
 * fleet.h
 *	  Several PostgreSQL servers sharing the same queues: each object
 *	  version's work (report x version) is claimed across the fleet with
 *	  S3 conditional writes, so that it runs on one server only.
 *
 * With pipeline.fleet set to an s3:// prefix, a task of an event is run
 * only once its claim object (PREFIX/claims/REPORT/HASH) is ours: created
 * with If-None-Match: *, or taken over with If-Match from a holder whose
 * lease ran out by S3's clock.  A finished run marks its claim done after
 * its transaction commits (pipeline.fleet_claims is the outbox), so that
 * the same event delivered to another server runs nothing there.  See the
 * README's "Scaling out" for the protocol and its failure cases.
 *
 * IDENTIFICATION
 *	  src/report/fleet.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FLEET_H
#define PIPELINE_FLEET_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "report/tasks.h"


/* What this process did, for its heartbeat object and the benchmark. */
typedef struct FleetCounters
{
	int64		claims;			/* claims taken (created or taken over) */
	int64		takeovers;		/* of them, taken from another holder (lease out) */
	int64		busy;			/* found held by a live holder: put back */
	int64		elsewhere;		/* found done (or dead) by another: not run */
	int64		requests;		/* S3 requests for claims (retries included) */
	int64		marked;			/* claims marked done or dead after commit */
	int64		lost;			/* claims found taken over when marking: ran twice */
	int64		released;		/* messages handed back to the queue */
	int64		extended;		/* visibility extensions of messages held */
	int64		deferred;		/* messages deleted only once their work settled */
} FleetCounters;

extern FleetCounters fleet_counters;

/* Is this database part of a fleet (pipeline.fleet set)? */
extern bool fleet_enabled(void);

/* This database's name in the fleet: "server_id/database". */
extern char *fleet_holder(void);

/*
 * tasks.c, before running claimed tasks: claim each event task's object
 * version across the fleet.  Returns the tasks to run; the others are
 * settled here (done or given up on by another server: their RunResult,
 * "skipped", is appended to *results) or put back to wait (held by a live
 * server, or S3 unreachable: not counted as an attempt).  SPI is not
 * connected; the caller's transaction is the one the runs commit in.
 */
extern List *fleet_claim_tasks(List *tasks, List **results);

/* tasks.c: a task was settled by its run: its claim is marked after commit. */
extern void fleet_task_settled(const Task *t, const RunResult *r);

/*
 * The worker, after each unit of work: mark claims done whose runs
 * committed, write this server's heartbeat object, prune the local ledger
 * (after history_days).  Each in its own transaction.  Returns when it is due again (0: nothing waits).
 */
extern TimestampTz fleet_after_commit(int history_days);

#endif							/* PIPELINE_FLEET_H */
