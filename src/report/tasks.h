/*-------------------------------------------------------------------------
 *
 * tasks.h
 *	  The durable work queue of report runs (pipeline.tasks): objects that
 *	  events announced, one task per report they concern, and runs of
 *	  reports chained after another; retried with back-off, then dead
 *	  letters.
 *
 * IDENTIFICATION
 *	  src/report/tasks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_TASKS_H
#define PIPELINE_TASKS_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "report/report.h"

/* task ids in a List (pointers are 64 bits wide where PostgreSQL 15 runs) */
#define lappend_id(l, id)	lappend((l), (void *) (intptr_t) (id))
#define lfirst_id(lc)		((int64) (intptr_t) lfirst(lc))

/* One claimed piece of work. */
typedef struct Task
{
	int64		id;
	char	   *report;
	EventObject *obj;			/* NULL: a chained run */
	int			attempt;		/* this one, from 1 */
	int			max_attempts;
	char	   *queue;			/* NULL unless it came from a queue */
	char	   *message_id;
} Task;

/*
 * Queue the objects of one message (or handle_event call) for the reports
 * they concern (of "sources", from report_sources()), of roles whose rights
 * "sender" has; objects no report took are kept in pipeline.unmatched if
 * they came from a queue.  Returns the ids of the new tasks; *unmatched
 * counts the others.
 */
extern List *tasks_add_objects(List *sources, List *objects, Oid sender, const char *queue,
							   const char *message_id, int *unmatched);

/* The object a row of pipeline.tasks or pipeline.unmatched holds, from column "first". */
extern EventObject *tasks_object_from_row(HeapTuple tup, TupleDesc td, int first);

/*
 * Queue one object for one report; returns the task's id, or 0 if the same
 * version is queued already or was given up on (a dead letter).  SPI
 * connected.
 */
extern int64 tasks_add(const char *report, const EventObject *o, const char *queue,
					   const char *message_id);

/* Queue a chained run of a report (one waits at most); returns its id.  SPI connected. */
extern int64 tasks_add_after(const char *report);

/*
 * Claim tasks of reports that are not paused: those of "ids", or (ids NIL)
 * up to "limit" that are due.  Each counts as one more attempt, and comes
 * back after the report's back-off unless its run settles it first (so a
 * crash in the middle of a run is an attempt too).  Returns a list of Task,
 * in the caller's memory context.
 */
extern List *tasks_claim(List *ids, int limit);

/*
 * Run claimed tasks, one run per report for its objects; a failed run of
 * several objects is run again one object at a time, so that good objects
 * commit and only the bad one is retried.  Successful runs start the
 * reports chained after them.  Returns a list of RunResult.
 */
extern List *tasks_run(List *tasks);

/* Queue and run, now, the reports chained after "upstream". */
extern List *tasks_run_after(const char *upstream);

/* When the next task of a report that is not paused is due; 0: none. */
extern TimestampTz tasks_next_due(void);

#endif							/* PIPELINE_TASKS_H */
