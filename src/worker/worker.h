/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background workers: one launcher, and one worker per database
 *	  where the extension is installed, which long-polls that database's
 *	  SQS queues and runs the reports their events ask for.
 *
 * IDENTIFICATION
 *	  src/worker/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_WORKER_H
#define PIPELINE_WORKER_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#define PIPELINE_MAX_QUEUE_STATS 32
#define PIPELINE_NAME_LEN 64

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

extern PipelineShared *pipeline_shared;

/* launcher.c */
extern void pipeline_worker_init(void);
extern DbSlot *pipeline_db_slot(Oid dboid, bool create);
extern void pipeline_wake_worker(Oid dboid, bool recheck);
extern void pipeline_wake_worker_at_commit(bool recheck);
extern uint64 pipeline_url_hash(const char *url);
extern Oid	pipeline_queue_polled_elsewhere(const char *url);
extern PGDLLEXPORT void pipeline_launcher_main(Datum arg);

/* worker.c */
extern PGDLLEXPORT void pipeline_worker_main(Datum arg);
extern DbSlot *worker_slot;		/* this worker's */
extern void worker_check_extension(void);

/* queues.c: the worker's queues */
struct HttpClient;
extern void queues_reload(struct HttpClient *http, MemoryContext cxt);
extern void queues_start_receives(void);
extern TimestampTz queues_next_poll(void);
extern List *queues_finish_receives(MemoryContext cxt);
extern void queues_count_runs(List *results);
extern int	queues_count(void);

#endif							/* PIPELINE_WORKER_H */
