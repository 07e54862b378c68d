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

#include "util/shared.h"

/* launcher.c */
extern void pipeline_worker_init(void);
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
