/*-------------------------------------------------------------------------
 *
 * shared.h
 *	  What the sessions (report/) and the background workers (worker/)
 *	  share: the shared-memory slot of each database's worker, with the
 *	  statistics of its queues, and the ways to wake that worker.
 *
 * A session that changes queues or reports (report/registry.c), stages an
 * export (report/outbox.c) or queues a webhook (report/webhook.c) wakes
 * the worker of its database when it commits; the worker (worker/) fills
 * its slot and reads the wake-ups.  Both sides include only this.
 *
 * IDENTIFICATION
 *	  src/util/shared.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SHARED_H
#define PIPELINE_SHARED_H

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* Longest name of a queue or a report, with its terminating NUL. */
#define PIPELINE_NAME_LEN 64

/* Queues whose statistics a worker shows (pipeline.status). */
#define PIPELINE_MAX_QUEUE_STATS 32

/* What the worker of one database tells the world about one queue. */
typedef struct QueueStats
{
	char		name[PIPELINE_NAME_LEN];
	Oid			owner;			/* who may see these statistics */
	uint64		url_hash;		/* to notice a queue two databases poll */
	char		state[16];		/* polling, backing off, failing */
	TimestampTz last_poll;		/* last answered ReceiveMessage */
	TimestampTz last_message;
	TimestampTz oldest_pending; /* sent time of the oldest message awaiting
								 * a retry; 0 if none */
	int64		received;
	int64		deleted;
	int64		dead_letters;
	int64		runs_succeeded;
	int64		runs_failed;
	char		last_error[256];
} QueueStats;

typedef enum DbWorkerState
{
	DBW_UNKNOWN = 0,			/* not looked at yet */
	DBW_RUNNING,
	DBW_NO_EXTENSION,			/* the worker found no extension and left */
	DBW_RECHECK					/* CREATE EXTENSION: start a worker again */
} DbWorkerState;

/* One database, in shared memory. */
typedef struct DbSlot
{
	Oid			dboid;			/* InvalidOid: slot unused */
	DbWorkerState state;
	pid_t		pid;			/* the worker's, 0 if none runs */
	Latch	   *latch;			/* the worker's latch, to wake it */
	bool		reload;			/* queues or reports changed */
	TimestampTz paused_until;	/* no worker before this (DROP DATABASE...) */
	TimestampTz last_start;
	int			nqueues;
	QueueStats	queues[PIPELINE_MAX_QUEUE_STATS];
} DbSlot;

typedef struct PipelineShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			nslots;
	DbSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} PipelineShared;

/* NULL unless the library was preloaded (shared_preload_libraries). */
extern PGDLLIMPORT PipelineShared *pipeline_shared;

/*
 * Whether the workers' shared memory exists, i.e. the library was
 * preloaded: without it no worker ever comes to do what a session leaves
 * for one.
 */
extern bool pipeline_shared_exists(void);

/* The shared memory (worker/launcher.c requests it and sets it up). */
extern Size pipeline_shared_size(void);
extern void pipeline_shared_init(void);

/*
 * The slot of a database; with "create", take a free one if it has none.
 * Caller holds pipeline_shared->lock (exclusively to create).
 */
extern DbSlot *pipeline_db_slot(Oid dboid, bool create);

/*
 * Wake the worker of a database: its queues or reports changed; with
 * "recheck", also the extension may have been created there (the
 * launcher then starts a worker).  The _at_commit form does it when the
 * current transaction commits, which is when the changes become visible.
 */
extern void pipeline_wake_worker(Oid dboid, bool recheck);
extern void pipeline_wake_worker_at_commit(bool recheck);

/* The hash a queue URL is known by in the slots (QueueStats.url_hash). */
extern uint64 pipeline_url_hash(const char *url);

/* The database (other than this one) whose worker polls "url", or InvalidOid. */
extern Oid	pipeline_queue_polled_elsewhere(const char *url);

#endif							/* PIPELINE_SHARED_H */
