/*-------------------------------------------------------------------------
 *
 * fleet_queue.c
 *	  Queues shared by a fleet: SQS distributes the work.
 *
 * Alone, a worker deletes a message as soon as the tasks it became are
 * committed: from then on its database holds the work.  In a fleet that is
 * not enough: if this server dies, the work it holds must reach another
 * one, and only SQS can bring it there.  So a message whose work waits here
 * is not deleted at once but held: kept invisible (its visibility timeout
 * extended while the work waits) and deleted once its tasks are settled
 * (run, or given up on).  If this server dies, SQS delivers the message
 * again after its visibility timeout, to whichever server asks, which finds
 * the claims (report/fleet.c): done ones run nothing, an expired one is
 * taken over.
 *
 * A message announcing objects that no report here takes is handed back to
 * the queue (visible again after a second) for another server, instead of being
 * kept in pipeline.unmatched and deleted; after pipeline.fleet_max_receives
 * receives (or the queue's own redrive policy) it is kept as unmatched
 * where it is.
 *
 * Held messages are remembered in this process only: after a crash SQS
 * delivers them again, and their tasks (committed) are found by message id.
 *
 * IDENTIFICATION
 *	  src/worker/fleet_queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/fleet.h"
#include "report/report.h"
#include "report/tasks.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "worker/fleet_queue.h"
#include "worker/worker.h"

/* A message whose work waits here. */
typedef struct Held
{
	char	   *queue;
	char	   *message_id;
	char	   *receipt;		/* of its latest receive */
	TimestampTz visible_until;	/* when SQS would deliver it again */
	bool		release;		/* hand it back (rather than delete it) once settled */
} Held;

/*
 * A message handed back is visible again after this long: at once (0) two
 * servers that both lack its report would pass it to and fro without pause
 * until pipeline.fleet_max_receives; a second lets a server that has the
 * report, long-polling meanwhile, take it.
 */
#define FLEET_RELEASE_SECONDS	1

static List *held = NIL;
static MemoryContext held_cxt = NULL;

/* ----------------------------------------------------------------
 *		Taking a batch
 * ----------------------------------------------------------------
 */

List *
fleet_take_objects(List *sources, List *objects, Oid owner, const char *queue,
				   const SqsMessage *m, int *unmatched, FleetDisposition *disp)
{
	List	   *here = NIL;
	List	   *ids;
	bool		pass_on;
	bool		work;
	ListCell   *lc;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	foreach(lc, objects)
	{
		const char *why;

		if (report_match(sources, lfirst(lc), owner, &why) != NIL)
			here = lappend(here, lfirst(lc));
	}
	pass_on = list_length(here) < list_length(objects) &&
		m->receive_count < pipeline_fleet_max_receives;
	ids = tasks_add_objects(sources, pass_on ? here : objects, owner, queue, m->message_id,
							unmatched);

	/* its work here: new tasks, or those of an earlier delivery still waiting */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(queue);
	values[1] = CStringGetTextDatum(m->message_id);
	/* (not read-only: the tasks were inserted after the transaction's snapshot) */
	spi_internal("SELECT 1 FROM pipeline.tasks WHERE message_id = $2 AND queue = $1 LIMIT 1",
				 2, types, values, NULL, false, 1);
	work = SPI_processed > 0;
	SPI_finish();

	if (work)
		*disp = pass_on ? FD_HOLD_RELEASE : FD_HOLD;
	else
		*disp = pass_on ? FD_RELEASE : FD_DELETE;
	return ids;
}

static void
hold(const char *queue, const SqsMessage *m, bool release)
{
	MemoryContext old;
	ListCell   *lc;
	Held	   *h = NULL;

	if (held_cxt == NULL)
		held_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline fleet held messages",
										 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(held_cxt);
	foreach(lc, held)
	{
		Held	   *x = lfirst(lc);

		if (strcmp(x->queue, queue) == 0 && strcmp(x->message_id, m->message_id) == 0)
			h = x;
	}
	if (h == NULL)
	{
		h = palloc0(sizeof(Held));
		h->queue = pstrdup(queue);
		h->message_id = pstrdup(m->message_id);
		held = lappend(held, h);
		fleet_counters.deferred++;
	}
	else
		pfree(h->receipt);
	/* a redelivery (our visibility lapsed during a long run): its new receipt counts */
	h->receipt = pstrdup(m->receipt_handle);
	h->visible_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   pipeline_visibility_timeout * 1000L);
	h->release = release;
	MemoryContextSwitchTo(old);
}

/* Visibility of up to 10 receipts of one queue; logs and goes on if it fails. */
static int
change_visibility(AwsClient *client, const char *queue, const char *url, List *receipts,
				  int seconds, List **failed)
{
	char	   *error;
	int			n;

	*failed = NIL;
	if (receipts == NIL)
		return 0;
	n = sqs_change_visibility_batch(client, url, receipts, seconds, failed, &error);
	if (n < 0)
		ereport(LOG,
				(errmsg("pipeline fleet could not change the visibility of %d messages of queue \"%s\"",
						list_length(receipts), queue),
				 errdetail_internal("%s", error)));
	return n;
}

List *
fleet_after_intake(const char *queue, AwsClient *client, const char *url, List *msgs,
				   const FleetDisposition *disp)
{
	List	   *deletes = NIL;
	List	   *releases = NIL;
	List	   *failed;
	ListCell   *lc;

	foreach(lc, msgs)
	{
		SqsMessage *m = lfirst(lc);

		switch (disp[foreach_current_index(lc)])
		{
			case FD_DELETE:
				deletes = lappend(deletes, m->receipt_handle);
				break;
			case FD_RELEASE:
				releases = lappend(releases, m->receipt_handle);
				break;
			case FD_HOLD:
				hold(queue, m, false);
				break;
			case FD_HOLD_RELEASE:
				hold(queue, m, true);
				break;
		}
	}
	PG_TRY();
	{
		int			n = change_visibility(client, queue, url, releases, FLEET_RELEASE_SECONDS, &failed);

		if (n > 0)
			fleet_counters.released += n;
	}
	PG_CATCH();
	{
		/* they come back after their visibility timeout anyway */
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
	return deletes;
}

/* ----------------------------------------------------------------
 *		Held messages
 * ----------------------------------------------------------------
 */

/* The message ids (String nodes) of "held" that still have tasks here. */
static List *
still_waiting(void)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *waiting = NIL;
	Datum	   *ids = palloc(sizeof(Datum) * list_length(held));
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	ListCell   *lc;
	uint64		i;

	foreach(lc, held)
		ids[foreach_current_index(lc)] = CStringGetTextDatum(((Held *) lfirst(lc))->message_id);
	values[0] = PointerGetDatum(construct_array(ids, list_length(held), TEXTOID, -1, false,
												TYPALIGN_INT));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT DISTINCT message_id FROM pipeline.tasks "
				 "WHERE message_id OPERATOR(pg_catalog.=) ANY ($1)",
				 1, types, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		waiting = lappend(waiting, makeString(pstrdup(SPI_getvalue(SPI_tuptable->vals[i],
																   SPI_tuptable->tupdesc, 1))));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);
	return waiting;
}

static void
forget(Held *h)
{
	held = list_delete_ptr(held, h);
	pfree(h->queue);
	pfree(h->message_id);
	pfree(h->receipt);
	pfree(h);
}

/* Delete or hand back up to 10 settled messages of one queue. */
static void
finish_settled(const char *queue, List *batch, bool release)
{
	AwsClient  *client;
	char	   *url;
	List	   *receipts = NIL;
	List	   *failed;
	ListCell   *lc;

	if (!queues_client(queue, &client, &url))
	{
		/* the queue was dropped: its messages are not ours to delete */
		foreach(lc, batch)
			forget(lfirst(lc));
		return;
	}
	foreach(lc, batch)
		receipts = lappend(receipts, ((Held *) lfirst(lc))->receipt);
	PG_TRY();
	{
		if (release)
		{
			int			n = change_visibility(client, queue, url, receipts, FLEET_RELEASE_SECONDS, &failed);

			if (n > 0)
				fleet_counters.released += n;
		}
		else
		{
			SqsDelete  *d = sqs_delete_start(client, url, receipts);
			char	   *error;

			if (sqs_delete_finish(d, &error) < 0)
				ereport(LOG,
						(errmsg("pipeline fleet could not delete %d settled messages from queue \"%s\"",
								list_length(receipts), queue),
						 errdetail("They come back after their visibility timeout; their work is done, so they run nothing."),
						 errdetail_internal("%s", error ? error : "?")));
		}
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
	/* gone, or coming back: either way no longer held here */
	foreach(lc, batch)
		forget(lfirst(lc));
}

/* Keep invisible, for another visibility timeout, up to 10 held messages of one queue. */
static void
extend(const char *queue, List *batch)
{
	AwsClient  *client;
	char	   *url;
	List	   *receipts = NIL;
	List	   *failed = NIL;
	ListCell   *lc;
	int			n = -1;

	if (!queues_client(queue, &client, &url))
		return;
	foreach(lc, batch)
		receipts = lappend(receipts, ((Held *) lfirst(lc))->receipt);
	PG_TRY();
	{
		n = change_visibility(client, queue, url, receipts, pipeline_visibility_timeout, &failed);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
	if (n < 0)
		return;					/* tried again next round */
	foreach(lc, batch)
	{
		Held	   *h = lfirst(lc);
		bool		lost = false;
		ListCell   *fc;

		foreach(fc, failed)
			if (atoi(lfirst(fc)) == foreach_current_index(lc))
				lost = true;
		if (lost)
		{
			/* no longer ours (delivered to another consumer): its work stays in our tasks */
			forget(h);
			continue;
		}
		h->visible_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   pipeline_visibility_timeout * 1000L);
		fleet_counters.extended++;
	}
}

void
fleet_queues_step(void)
{
	List	   *waiting;
	List	   *todo;
	TimestampTz now;
	long		margin_ms = Max(2000L, pipeline_visibility_timeout * 1000L / 3);
	ListCell   *lc;

	if (held == NIL)
		return;
	pgstat_report_activity(STATE_RUNNING, "settling the fleet's held messages");
	waiting = still_waiting();

	/* settled: delete or hand back, per queue, 10 at a time */
	for (;;)
	{
		Held	   *first = NULL;
		List	   *batch = NIL;

		foreach(lc, held)
		{
			Held	   *h = lfirst(lc);

			if (list_member(waiting, makeString(h->message_id)))
				continue;
			if (first == NULL)
				first = h;
			if (strcmp(h->queue, first->queue) == 0 && h->release == first->release &&
				list_length(batch) < 10)
				batch = lappend(batch, h);
		}
		if (batch == NIL)
			break;
		finish_settled(first->queue, batch, first->release);
	}

	/* the others: still invisible when their timeout comes near */
	now = GetCurrentTimestamp();
	todo = NIL;
	foreach(lc, held)
	{
		Held	   *h = lfirst(lc);

		if (TimestampTzPlusMilliseconds(now, margin_ms) >= h->visible_until)
			todo = lappend(todo, h);
	}
	while (todo != NIL)
	{
		Held	   *first = linitial(todo);
		List	   *batch = NIL;

		foreach(lc, todo)
		{
			Held	   *h = lfirst(lc);

			if (strcmp(h->queue, first->queue) == 0 && list_length(batch) < 10)
				batch = lappend(batch, h);
		}
		foreach(lc, batch)
			todo = list_delete_ptr(todo, lfirst(lc));
		extend(first->queue, batch);
	}
}
