/*-------------------------------------------------------------------------
 *
 * queues.c
 *	  The worker's queues: long polls on all of them at once (one curl
 *	  multi handle, waiting on the latch), and the messages they bring
 *	  taken into the database.
 *
 * A batch of messages is taken in one transaction: each object it
 * announces becomes a task for every report it concerns (pipeline.tasks),
 * objects that no report takes are kept in pipeline.unmatched, messages
 * that are not events become dead letters, and the queue's counters move.
 * Only after that transaction has committed, and is on disk whatever
 * synchronous_commit says, are the messages deleted from SQS: from then
 * on the work is in the database.  A crash before the deletion means SQS
 * delivers the messages again after their (short) visibility timeout; the
 * versions a report has processed make their second tasks no-ops.
 *
 * IDENTIFICATION
 *	  src/worker/queues.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "report/tasks.h"
#include "s3/credentials.h"
#include "s3/event.h"
#include "s3/sqs.h"
#include "util/backoff.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "worker/worker.h"

/* One queue, as this worker polls it. */
typedef struct Queue
{
	char	   *name;
	char	   *url;
	char	   *server;
	Oid			owner;
	AwsClient  *client;			/* NULL if its server/credentials failed */
	SqsReceive *receive;		/* in flight, or NULL */
	List	   *deletes;		/* DeleteMessageBatch in flight */
	TimestampTz receive_started;
	TimestampTz next_poll;		/* back-off after failures, pacing */
	int			failures;		/* consecutive */
	bool		failing;
	bool		warned_shared;	/* said that another database polls it */
	int			stats;			/* index in the slot's QueueStats */
} Queue;

static List *queues = NIL;
static MemoryContext queues_cxt = NULL;	/* where they and their receives live */

/* How long the runs of a batch wait for its messages to be deleted. */
#define DELETE_WAIT_MS			2000

/* An empty answer sooner than this after the request does not repeat at once. */
#define MIN_POLL_INTERVAL_MS	1000

/* A queue that goes: nothing of it may stay in the client. */
static void
queue_cancel(Queue *q)
{
	ListCell   *lc;

	if (q->receive)
		sqs_receive_cancel(q->receive);
	q->receive = NULL;
	foreach(lc, q->deletes)
		sqs_delete_cancel(lfirst(lc));
	q->deletes = NIL;
}

/* Update one queue's statistics under the lock. */
#define STATS_UPDATE(q, stmt) \
	do { \
		if ((q)->stats >= 0) \
		{ \
			QueueStats *st_ = &worker_slot->queues[(q)->stats]; \
			LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE); \
			stmt; \
			LWLockRelease(pipeline_shared->lock); \
		} \
	} while (0)

int
queues_count(void)
{
	return list_length(queues);
}

static Queue *
find_queue(List *list, const char *name)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(((Queue *) lfirst(lc))->name, name) == 0)
			return lfirst(lc);
	return NULL;
}

/*
 * Lay out the statistics slots of the queues, and warn about a queue that
 * the worker of another database polls too: competing consumers, each of
 * which takes (and keeps) the messages it receives.
 */
static void
layout_stats(void)
{
	ListCell   *lc;
	int			nstats = 0;
	List	   *shared = NIL;

	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	foreach(lc, queues)
	{
		Queue	   *q = lfirst(lc);
		uint64		h = pipeline_url_hash(q->url);
		int			j;
		int			found = -1;

		for (j = 0; j < worker_slot->nqueues; j++)
			if (strcmp(worker_slot->queues[j].name, q->name) == 0)
				found = j;
		if (nstats >= PIPELINE_MAX_QUEUE_STATS)
		{
			q->stats = -1;
			continue;
		}
		if (found >= 0 && found != nstats)
		{
			QueueStats	tmp = worker_slot->queues[nstats];

			worker_slot->queues[nstats] = worker_slot->queues[found];
			worker_slot->queues[found] = tmp;
		}
		else if (found < 0)
		{
			memset(&worker_slot->queues[nstats], 0, sizeof(QueueStats));
			strlcpy(worker_slot->queues[nstats].name, q->name, PIPELINE_NAME_LEN);
			strlcpy(worker_slot->queues[nstats].state, q->client ? "polling" : "failing", 16);
		}
		worker_slot->queues[nstats].owner = q->owner;
		worker_slot->queues[nstats].url_hash = h;
		q->stats = nstats++;

		for (j = 0; j < pipeline_shared->nslots; j++)
		{
			DbSlot	   *other = &pipeline_shared->slots[j];
			int			k;

			if (other == worker_slot || other->pid <= 0)
				continue;
			for (k = 0; k < other->nqueues && !q->warned_shared; k++)
				if (other->queues[k].url_hash == h)
				{
					shared = lappend(shared, psprintf("%s:%u", q->name, other->dboid));
					q->warned_shared = true;
				}
		}
	}
	worker_slot->nqueues = nstats;
	worker_slot->reload = false;
	LWLockRelease(pipeline_shared->lock);

	foreach(lc, shared)
	{
		char	   *colon = strrchr(lfirst(lc), ':');
		char	   *dbname;

		*colon = '\0';
		dbname = get_database_name(strtoul(colon + 1, NULL, 10));
		ereport(WARNING,
				(errmsg("queue \"%s\" is polled by the pipeline worker of database \"%s\" too",
						(char *) lfirst(lc), dbname ? dbname : colon + 1),
				 errdetail("Workers that poll one queue compete for its messages: each event goes to one database only."),
				 errhint("Give each database a queue of its own (an SNS topic can fan out to several).")));
	}
}

/*
 * queues_reload: reread pipeline.queues.  Queues that did not change keep
 * their receive in flight.  Leaves (and records why) if the extension is
 * gone from this database.  Lists live in "cxt".
 */
void
queues_reload(HttpClient *http, MemoryContext cxt)
{
	List	   *fresh = NIL;
	ListCell   *lc;
	uint64		i;
	MemoryContext caller = CurrentMemoryContext;

	queues_cxt = cxt;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	worker_check_extension();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT name, url, server, owner::oid FROM pipeline.queues ORDER BY name",
				 0, NULL, NULL, NULL, true, 0);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, td, 1);
		char	   *url = SPI_getvalue(tup, td, 2);
		char	   *server = SPI_getvalue(tup, td, 3);
		bool		isnull;
		Oid			owner = DatumGetObjectId(SPI_getbinval(tup, td, 4, &isnull));
		Queue	   *old = find_queue(queues, name);
		Queue	   *q;
		MemoryContext oldcxt;

		if (old && strcmp(old->url, url) == 0 && strcmp(old->server, server) == 0 &&
			old->owner == owner && old->client != NULL)
		{
			/* unchanged: keep it, and its receive in flight */
			oldcxt = MemoryContextSwitchTo(cxt);
			queues = list_delete_ptr(queues, old);
			fresh = lappend(fresh, old);
			MemoryContextSwitchTo(oldcxt);
			continue;
		}

		oldcxt = MemoryContextSwitchTo(cxt);
		q = palloc0(sizeof(Queue));
		q->name = pstrdup(name);
		q->url = pstrdup(url);
		q->server = pstrdup(server);
		q->owner = owner;
		q->stats = -1;
		MemoryContextSwitchTo(oldcxt);

		/* the server's region and the owner's credentials */
		PG_TRY();
		{
			AwsConfig	cfg;
			ForeignServer *fs = GetForeignServerByName(server, false);

			if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("its owner no longer exists")));
			aws_server_config(fs->serverid, owner, &cfg);
			q->client = aws_client_create_shared(&cfg, http, cxt);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			ereport(WARNING,
					(errmsg("pipeline cannot poll queue \"%s\": %s", name, edata->message),
					 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
			q->client = NULL;
			q->failing = true;
		}
		PG_END_TRY();
		oldcxt = MemoryContextSwitchTo(cxt);
		if (old)
		{
			queue_cancel(old);
			queues = list_delete_ptr(queues, old);
		}
		fresh = lappend(fresh, q);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();

	/* queues that were dropped */
	foreach(lc, queues)
		queue_cancel(lfirst(lc));
	queues = fresh;
	layout_stats();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);
}

/* ----------------------------------------------------------------
 *		Taking messages into the database
 * ----------------------------------------------------------------
 */

static void
insert_dead_letter(Queue *q, SqsMessage *m, const char *reason)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, OIDOID};
	Datum		values[6];

	values[0] = CStringGetTextDatum(q->name);
	values[1] = CStringGetTextDatum(m->message_id);
	values[2] = CStringGetTextDatum(m->body);
	values[3] = CStringGetTextDatum(reason);
	values[4] = Int32GetDatum(m->receive_count);
	values[5] = ObjectIdGetDatum(q->owner);
	spi_internal("INSERT INTO pipeline.dead_letters "
				 "  (queue, message_id, body, reason, attempts, owner) "
				 "VALUES ($1, $2, $3, $4, $5, $6)",
				 6, types, values, NULL, false, 0);
}

/* What a batch of messages brought. */
typedef struct Intake
{
	int64		messages;
	int64		redelivered;
	int64		objects;
	int64		unmatched;
	int64		ignored;
	int64		invalid;
} Intake;

static void
count_intake(Queue *q, const Intake *in)
{
	Oid			types[7] = {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[7];

	values[0] = CStringGetTextDatum(q->name);
	values[1] = Int64GetDatum(in->messages);
	values[2] = Int64GetDatum(in->redelivered);
	values[3] = Int64GetDatum(in->objects);
	values[4] = Int64GetDatum(in->unmatched);
	values[5] = Int64GetDatum(in->ignored);
	values[6] = Int64GetDatum(in->invalid);
	spi_internal("INSERT INTO pipeline.queue_counters AS c "
				 "  (queue, messages, redelivered, objects, unmatched, ignored, invalid) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7) "
				 "ON CONFLICT (queue) DO UPDATE SET "
				 "  messages = c.messages + excluded.messages, "
				 "  redelivered = c.redelivered + excluded.redelivered, "
				 "  objects = c.objects + excluded.objects, "
				 "  unmatched = c.unmatched + excluded.unmatched, "
				 "  ignored = c.ignored + excluded.ignored, "
				 "  invalid = c.invalid + excluded.invalid",
				 7, types, values, NULL, false, 0);
}

/*
 * take_batch: the messages of one receive into the database (see the file
 * header), then off the queue.  Returns the tasks it claimed for a run
 * right away (in "cxt"); NIL if the batch could not be taken (the messages
 * come back by themselves).
 */
static List *
take_batch(Queue *q, List *msgs, MemoryContext cxt)
{
	List	   *claimed = NIL;
	List	   *receipts = NIL;
	Intake		in;
	volatile bool committed = false;
	ListCell   *lc;

	memset(&in, 0, sizeof(in));
	foreach(lc, msgs)
		receipts = lappend(receipts, ((SqsMessage *) lfirst(lc))->receipt_handle);
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("taking %d messages from queue %s", list_length(msgs), q->name));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		List	   *ids = NIL;
		List	   *sources = report_sources();

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		foreach(lc, msgs)
		{
			SqsMessage *m = lfirst(lc);
			List	   *objects;
			char	   *reason;
			int			unmatched;

			in.messages += m->receive_count <= 1;
			in.redelivered += m->receive_count > 1;
			switch (event_parse(m->body, strlen(m->body), &objects, &reason))
			{
				case EVENT_INVALID:
					insert_dead_letter(q, m, reason);
					in.invalid++;
					break;
				case EVENT_IGNORED:
					in.ignored++;
					break;
				case EVENT_OBJECTS:
					{
						List	   *mine = tasks_add_objects(sources, objects, q->owner,
														   q->name, m->message_id,
														   &unmatched);
						MemoryContext old = MemoryContextSwitchTo(cxt);

						/* (the SPI connection's memory goes at SPI_finish) */
						ids = list_concat(ids, mine);
						MemoryContextSwitchTo(old);
					}
					in.objects += list_length(objects);
					in.unmatched += unmatched;
					break;
			}
		}
		count_intake(q, &in);
		SPI_finish();
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			claimed = ids ? tasks_claim(ids, 0) : NIL;
			MemoryContextSwitchTo(old);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		committed = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("pipeline worker could not take %d messages from queue \"%s\": %s",
						list_length(msgs), q->name, edata->message)));
		STATS_UPDATE(q, strlcpy(st_->last_error, edata->message, sizeof(st_->last_error)));
		claimed = NIL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	if (!committed)
		return NIL;

	/*
	 * Only now, after the commit, and once it is on disk whatever
	 * synchronous_commit says (an asynchronous commit can vanish in a crash,
	 * and the messages with it): delete them.
	 */
	XLogFlush(XactLastCommitEnd);
	PG_TRY();
	{
		MemoryContext old = MemoryContextSwitchTo(queues_cxt);
		SqsDelete  *d = sqs_delete_start(q->client, q->url, receipts);

		q->deletes = lappend(q->deletes, d);
		MemoryContextSwitchTo(old);

		/*
		 * Give the delete a moment before the runs take the worker away from
		 * its transfers (a long run would otherwise hold the messages until
		 * their visibility timeout, and see them again); a queue that does
		 * not answer does not hold the runs back.
		 */
		(void) sqs_delete_wait(d, DELETE_WAIT_MS);
	}
	PG_CATCH();
	{
		/* they come back; the processed versions make their tasks no-ops */
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();

	STATS_UPDATE(q, {
		st_->received += in.messages + in.redelivered;
		st_->dead_letters += in.invalid;
		st_->last_message = GetCurrentTimestamp();
	});
	return claimed;
}

/* ----------------------------------------------------------------
 *		Polling
 * ----------------------------------------------------------------
 */

void
queues_start_receives(void)
{
	TimestampTz now = GetCurrentTimestamp();
	ListCell   *lc;

	foreach(lc, queues)
	{
		Queue	   *q = lfirst(lc);

		if (q->client == NULL || q->receive != NULL || q->next_poll > now)
			continue;
		PG_TRY();
		{
			MemoryContext old = MemoryContextSwitchTo(queues_cxt);

			q->receive = sqs_receive_start(q->client, q->url, 10, pipeline_poll_wait,
										   pipeline_visibility_timeout);
			q->receive_started = now;
			MemoryContextSwitchTo(old);
		}
		PG_CATCH();
		{
			EmitErrorReport();
			FlushErrorState();
			q->next_poll = TimestampTzPlusMilliseconds(now, 5000);
		}
		PG_END_TRY();
	}
}

/* When the next receive is due (for the wait); 0 if one is in flight or none waits. */
TimestampTz
queues_next_poll(void)
{
	TimestampTz next = 0;
	ListCell   *lc;

	foreach(lc, queues)
	{
		Queue	   *q = lfirst(lc);

		if (q->client == NULL || q->receive != NULL)
			continue;
		if (next == 0 || q->next_poll < next)
			next = q->next_poll;
	}
	return next;
}

/* A receive answered: note failure or success, and take the messages. */
static List *
finish_receive(Queue *q, MemoryContext cxt)
{
	char	   *error;
	List	   *msgs;
	TimestampTz now;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	msgs = sqs_receive_finish(q->receive, &error);
	MemoryContextSwitchTo(old);
	q->receive = NULL;
	now = GetCurrentTimestamp();

	if (error)
	{
		long		backoff = backoff_ms(q->failures, 500, 30000, false);

		q->failures++;
		q->next_poll = TimestampTzPlusMilliseconds(now, backoff);
		/* log state changes, not every poll */
		if (!q->failing)
			ereport(LOG,
					(errmsg("pipeline worker cannot receive from queue \"%s\", retrying with back-off",
							q->name),
					 errdetail_internal("%s", error)));
		q->failing = true;
		STATS_UPDATE(q, {
			strlcpy(st_->state, "backing off", sizeof(st_->state));
			strlcpy(st_->last_error, error, sizeof(st_->last_error));
		});
		return NIL;
	}
	if (q->failing)
		ereport(LOG,
				(errmsg("pipeline worker receives from queue \"%s\" again", q->name)));
	q->failing = false;
	q->failures = 0;
	STATS_UPDATE(q, {
		strlcpy(st_->state, "polling", sizeof(st_->state));
		st_->last_poll = now;
	});
	if (msgs == NIL)
	{
		/*
		 * A long poll answers empty after pipeline.poll_wait; one that answers
		 * at once (poll_wait 0, or an odd endpoint) is not repeated at once.
		 */
		q->next_poll = TimestampTzPlusMilliseconds(q->receive_started, MIN_POLL_INTERVAL_MS);
		return NIL;
	}
	return take_batch(q, msgs, cxt);
}

/* Deletes that answered: the messages are gone (or come back: no harm). */
static void
finish_deletes(Queue *q)
{
	ListCell   *lc;

	foreach(lc, q->deletes)
	{
		SqsDelete  *d = lfirst(lc);
		char	   *error;
		int			deleted;

		if (!sqs_delete_done(d))
			continue;
		q->deletes = foreach_delete_current(q->deletes, lc);
		deleted = sqs_delete_finish(d, &error);
		if (deleted < 0)
			ereport(LOG,
					(errmsg("pipeline worker could not delete messages from queue \"%s\"", q->name),
					 errdetail("They come back after the visibility timeout; what they brought is done, so they change nothing."),
					 error ? errdetail_internal("%s", error) : 0));
		else
			STATS_UPDATE(q, st_->deleted += deleted);
	}
}

/*
 * queues_finish_receives: take the messages of every receive that has
 * answered; returns the tasks claimed for a run right away.
 */
List *
queues_finish_receives(MemoryContext cxt)
{
	List	   *claimed = NIL;
	ListCell   *lc;

	foreach(lc, queues)
	{
		Queue	   *q = lfirst(lc);

		finish_deletes(q);
		if (q->receive && sqs_receive_done(q->receive))
			claimed = list_concat(claimed, finish_receive(q, cxt));
	}
	return claimed;
}

/* Count the runs of a batch against the queues their work came from. */
void
queues_count_runs(List *results)
{
	ListCell   *lc;

	foreach(lc, results)
	{
		RunResult  *r = lfirst(lc);
		Queue	   *q = r->queue ? find_queue(queues, r->queue) : NULL;

		if (q == NULL)
			continue;
		if (r->status == RUN_SUCCEEDED)
			STATS_UPDATE(q, st_->runs_succeeded++);
		else if (r->status == RUN_FAILED)
			STATS_UPDATE(q, {
				st_->runs_failed++;
				strlcpy(st_->last_error, r->error, sizeof(st_->last_error));
			});
	}
}
