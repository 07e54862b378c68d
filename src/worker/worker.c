/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The worker of one database: long-polls its SQS queues (all at once,
 *	  on one curl multi handle, waiting on the latch) and hands each batch
 *	  of messages to the reports their objects concern.
 *
 * Nothing is lost: a message is deleted from its queue only after the
 * transaction that ran its reports (and recorded the object versions as
 * processed) has committed.  A message whose report failed is left in
 * the queue; SQS delivers it again after a back-off, and after
 * pipeline.max_attempts deliveries it is kept as a dead letter with its
 * last error and deleted.  A crash anywhere means SQS redelivers, and the
 * processed versions make the redelivery a no-op for what had committed.
 *
 * IDENTIFICATION
 *	  src/worker/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/report.h"
#include "report/webhook.h"
#include "s3/credentials.h"
#include "s3/sqs.h"
#include "util/privilege.h"
#include "worker/event.h"
#include "worker/worker.h"

int			pipeline_poll_wait = 20;
int			pipeline_visibility_timeout = 600;
int			pipeline_max_attempts = 5;
int			pipeline_retry_delay = 10;
int			pipeline_history_days = 30;

/* How often queues are reread even if nobody woke us. */
#define RELOAD_INTERVAL_MS	30000
#define PRUNE_INTERVAL_MS	(3600 * 1000)

/* One queue, as this worker polls it. */
typedef struct Queue
{
	char	   *name;
	char	   *url;
	char	   *server;
	Oid			owner;
	S3Client   *client;			/* NULL if its server/credentials failed */
	SqsReceive *receive;		/* in flight, or NULL */
	TimestampTz next_poll;		/* back-off after failures */
	int			failures;		/* consecutive */
	bool		failing;
	int			stats;			/* index in the slot's QueueStats */
} Queue;

static Oid	my_dboid;
static DbSlot *my_slot;
static MemoryContext worker_cxt;
static HttpClient *http;
static List *queues = NIL;
static TimestampTz last_reload = 0;
static TimestampTz last_prune = 0;
static TimestampTz next_webhook = 0;	/* 0: none waiting */

/* ----------------------------------------------------------------
 *		Shared memory bookkeeping
 * ----------------------------------------------------------------
 */

static void
worker_detach(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	if (my_slot->dboid == my_dboid && my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
	}
	LWLockRelease(pipeline_shared->lock);
}

static void
worker_attach(void)
{
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	my_slot = pipeline_db_slot(my_dboid, true);
	if (my_slot == NULL)
	{
		LWLockRelease(pipeline_shared->lock);
		ereport(ERROR,
				(errmsg("pipeline worker has no free slot in shared memory")));
	}
	if (my_slot->pid > 0 && my_slot->pid != MyProcPid)
	{
		/* another worker already serves this database */
		LWLockRelease(pipeline_shared->lock);
		my_slot = NULL;
		proc_exit(0);
	}
	my_slot->pid = MyProcPid;
	my_slot->latch = MyLatch;
	my_slot->state = DBW_RUNNING;
	my_slot->reload = true;
	my_slot->nqueues = 0;
	LWLockRelease(pipeline_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
}

/* Update one queue's statistics under the lock. */
#define STATS_UPDATE(q, stmt) \
	do { \
		if ((q)->stats >= 0) \
		{ \
			QueueStats *st_ = &my_slot->queues[(q)->stats]; \
			LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE); \
			stmt; \
			LWLockRelease(pipeline_shared->lock); \
			(void) st_; \
		} \
	} while (0)

/* ----------------------------------------------------------------
 *		Queues
 * ----------------------------------------------------------------
 */

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
 * Reread pipeline.queues.  Leaves (and records why) if the extension is
 * gone from this database.
 */
static void
reload_queues(void)
{
	List	   *fresh = NIL;
	ListCell   *lc;
	uint64		i;
	int			nstats = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	if (!OidIsValid(get_extension_oid("pipeline", true)))
	{
		char	   *dbname = get_database_name(MyDatabaseId);

		PopActiveSnapshot();
		CommitTransactionCommand();
		LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
		my_slot->state = DBW_NO_EXTENSION;
		LWLockRelease(pipeline_shared->lock);
		ereport(DEBUG1,
				(errmsg("pipeline worker for database \"%s\" stops: the extension is not installed",
						dbname ? dbname : "?")));
		proc_exit(0);
	}

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

		/* the list of queues outlives this transaction: worker_cxt */
		if (old && strcmp(old->url, url) == 0 && strcmp(old->server, server) == 0 &&
			old->owner == owner && old->client != NULL)
		{
			/* unchanged: keep it, and its receive in flight */
			oldcxt = MemoryContextSwitchTo(worker_cxt);
			queues = list_delete_ptr(queues, old);
			fresh = lappend(fresh, old);
			MemoryContextSwitchTo(oldcxt);
			continue;
		}

		oldcxt = MemoryContextSwitchTo(worker_cxt);
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
			S3Config	cfg;
			ForeignServer *fs = GetForeignServerByName(server, false);

			s3_server_config(fs->serverid, owner, &cfg);
			q->client = s3_client_create_shared(&cfg, http, worker_cxt);
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
		oldcxt = MemoryContextSwitchTo(worker_cxt);
		if (old)
		{
			if (old->receive)
				sqs_receive_cancel(old->receive);
			queues = list_delete_ptr(queues, old);
		}
		fresh = lappend(fresh, q);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* queues that were dropped */
	foreach(lc, queues)
	{
		Queue	   *q = lfirst(lc);

		if (q->receive)
			sqs_receive_cancel(q->receive);
	}
	queues = fresh;

	/* lay out the statistics slots */
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	foreach(lc, queues)
	{
		Queue	   *q = lfirst(lc);
		int			j;
		int			found = -1;

		for (j = 0; j < my_slot->nqueues; j++)
			if (strcmp(my_slot->queues[j].name, q->name) == 0)
				found = j;
		if (nstats >= PIPELINE_MAX_QUEUE_STATS)
		{
			q->stats = -1;
			continue;
		}
		if (found >= 0 && found != nstats)
		{
			QueueStats	tmp = my_slot->queues[nstats];

			my_slot->queues[nstats] = my_slot->queues[found];
			my_slot->queues[found] = tmp;
		}
		else if (found < 0)
		{
			memset(&my_slot->queues[nstats], 0, sizeof(QueueStats));
			strlcpy(my_slot->queues[nstats].name, q->name, PIPELINE_NAME_LEN);
			strlcpy(my_slot->queues[nstats].state, q->client ? "polling" : "failing", 16);
		}
		my_slot->queues[nstats].owner = q->owner;
		q->stats = nstats++;
	}
	my_slot->nqueues = nstats;
	my_slot->reload = false;
	LWLockRelease(pipeline_shared->lock);
	last_reload = GetCurrentTimestamp();
}

/* ----------------------------------------------------------------
 *		Handling a batch of messages
 * ----------------------------------------------------------------
 */

static void
insert_dead_letter(Queue *q, SqsMessage *m, const char *reason)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[5];

	values[0] = CStringGetTextDatum(q->name);
	values[1] = CStringGetTextDatum(m->message_id);
	values[2] = CStringGetTextDatum(m->body);
	values[3] = CStringGetTextDatum(reason);
	values[4] = Int32GetDatum(m->receive_count);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("INSERT INTO pipeline.dead_letters "
				 "  (queue, message_id, body, reason, attempts) "
				 "VALUES ($1, $2, $3, $4, $5)",
				 5, types, values, NULL, false, 0);
	SPI_finish();
}

/* The batch being handled, for extending its visibility during long runs. */
static Queue *batch_queue = NULL;
static List *batch_msgs = NIL;
static TimestampTz batch_visible_at = 0;	/* when SQS would deliver it again */

/*
 * report_run_starting_hook: before a run, make sure the batch's messages
 * stay invisible for the run's whole timeout (and ten seconds to commit).
 */
static void
extend_visibility(int timeout_ms)
{
	TimestampTz need = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms + 10000);
	int			secs = Min((timeout_ms + 10000) / 1000 + 1, 12 * 3600);
	ListCell   *lc;

	if (batch_queue == NULL || need <= batch_visible_at)
		return;
	foreach(lc, batch_msgs)
		sqs_change_visibility(batch_queue->client, batch_queue->url,
							  ((SqsMessage *) lfirst(lc))->receipt_handle, secs);
	batch_visible_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), secs * 1000L);
}

/*
 * process_batch: run the reports a batch of messages asks for, in one
 * transaction, then delete the messages that are done with.
 */
static void
process_batch(Queue *q, List *msgs)
{
	int			n = list_length(msgs);
	EventKind  *kinds = palloc(sizeof(EventKind) * n);
	char	  **reasons = palloc0(sizeof(char *) * n);
	char	  **errors = palloc0(sizeof(char *) * n);
	bool	   *done = palloc0(sizeof(bool) * n);
	List	   *triggers = NIL;
	List	   *deletes = NIL;
	volatile bool committed = false;
	int64		succeeded = 0;
	int64		failed_runs = 0;
	int64		dead = 0;
	TimestampTz oldest = 0;
	ListCell   *lc;
	int			i;

	pgstat_report_activity(STATE_RUNNING,
							psprintf("handling %d messages from queue %s", n, q->name));

	foreach(lc, msgs)
	{
		SqsMessage *m = lfirst(lc);
		List	   *objects;
		ListCell   *oc;

		i = foreach_current_index(lc);
		kinds[i] = event_parse(m->body, strlen(m->body), &objects, &reasons[i]);
		foreach(oc, objects)
		{
			TriggerObject *t = palloc(sizeof(TriggerObject));

			t->obj = lfirst(oc);
			t->msg = i;
			triggers = lappend(triggers, t);
		}
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	batch_queue = q;
	batch_msgs = msgs;
	PG_TRY();
	{
		List	   *results = triggers ? report_dispatch(triggers, q->owner) : NIL;

		foreach(lc, results)
		{
			RunResult  *r = lfirst(lc);
			int			m = -1;

			if (strcmp(r->status, "succeeded") == 0)
				succeeded++;
			if (strcmp(r->status, "failed") != 0)
				continue;
			failed_runs++;
			while ((m = bms_next_member(r->msgs, m)) >= 0)
				errors[m] = psprintf("report \"%s\": %s", r->report, r->error);
		}
		foreach(lc, msgs)
		{
			SqsMessage *m = lfirst(lc);

			i = foreach_current_index(lc);
			if (kinds[i] == EVENT_INVALID)
			{
				insert_dead_letter(q, m, reasons[i]);
				dead++;
				done[i] = true;
			}
			else if (errors[i] == NULL)
				done[i] = true;
			else if (m->receive_count >= pipeline_max_attempts)
			{
				insert_dead_letter(q, m, psprintf("gave up after %d attempts: %s",
												  m->receive_count, errors[i]));
				dead++;
				done[i] = true;
			}
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		committed = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("pipeline worker could not handle %d messages from queue \"%s\": %s",
						n, q->name, edata->message)));
		for (i = 0; i < n; i++)
		{
			done[i] = false;
			errors[i] = pstrdup(edata->message);
		}
	}
	PG_END_TRY();

	batch_queue = NULL;
	batch_msgs = NIL;

	/*
	 * Only now, after the commit, and once it is on disk whatever
	 * synchronous_commit says (an asynchronous commit can vanish in a crash,
	 * and the message with it): delete what is done.
	 */
	if (committed)
		XLogFlush(XactLastCommitEnd);
	foreach(lc, msgs)
	{
		SqsMessage *m = lfirst(lc);

		i = foreach_current_index(lc);
		if (done[i])
			deletes = lappend(deletes, m->receipt_handle);
	}
	PG_TRY();
	{
		if (deletes)
			(void) sqs_delete_messages(q->client, q->url, deletes);
		/* failed ones come back after a growing delay */
		foreach(lc, msgs)
		{
			SqsMessage *m = lfirst(lc);

			i = foreach_current_index(lc);
			if (!done[i])
			{
				int			delay = pipeline_retry_delay << Min(m->receive_count - 1, 10);

				sqs_change_visibility(q->client, q->url, m->receipt_handle,
									  Min(delay, 12 * 3600));
				if (oldest == 0 || m->sent < oldest)
					oldest = m->sent;
			}
		}
	}
	PG_CATCH();
	{
		/* they come back by themselves; the processed versions dedupe them */
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();

	STATS_UPDATE(q, {
		st_->received += n;
		st_->deleted += list_length(deletes);
		st_->dead_letters += dead;
		st_->runs_succeeded += succeeded;
		st_->runs_failed += failed_runs;
		st_->last_message = GetCurrentTimestamp();
		st_->oldest_pending = oldest;
		if (failed_runs > 0 || !committed)
		{
			for (i = 0; i < n; i++)
				if (errors[i])
					strlcpy(st_->last_error, errors[i], sizeof(st_->last_error));
		}
	});
}

/* ----------------------------------------------------------------
 *		Polling
 * ----------------------------------------------------------------
 */

static void
start_receives(void)
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
			MemoryContext old = MemoryContextSwitchTo(worker_cxt);

			q->receive = sqs_receive_start(q->client, q->url, 10, pipeline_poll_wait,
										   pipeline_visibility_timeout);
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

/* A receive answered: note failure or success, and handle the messages. */
static void
finish_receive(Queue *q)
{
	char	   *error;
	List	   *msgs;
	MemoryContext old = MemoryContextSwitchTo(worker_cxt);

	msgs = sqs_receive_finish(q->receive, &error);
	MemoryContextSwitchTo(old);
	q->receive = NULL;

	if (error)
	{
		long		backoff = Min(30000L, 500L << Min(q->failures, 6));

		q->failures++;
		q->next_poll = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff);
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
		return;
	}
	if (q->failing)
		ereport(LOG,
				(errmsg("pipeline worker receives from queue \"%s\" again", q->name)));
	q->failing = false;
	q->failures = 0;
	STATS_UPDATE(q, {
		strlcpy(st_->state, "polling", sizeof(st_->state));
		st_->last_poll = GetCurrentTimestamp();
	});
	if (msgs != NIL)
	{
		/* received just now with pipeline.visibility_timeout */
		batch_visible_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   pipeline_visibility_timeout * 1000L - 5000);
		process_batch(q, msgs);
	}
}

/* Forget history older than pipeline.history_retention. */
static void
prune_history(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1];

	values[0] = Int32GetDatum(pipeline_history_days);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pruning history");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("DELETE FROM pipeline.runs "
				 "WHERE finished_at < now() - make_interval(days => $1)",
				 1, types, values, NULL, false, 0);
	spi_internal("DELETE FROM pipeline.processed "
				 "WHERE processed_at < now() - make_interval(days => $1)",
				 1, types, values, NULL, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	last_prune = GetCurrentTimestamp();
}

/* POST due run summaries; an error here must not stop the polling. */
static void
deliver_webhooks(void)
{
	PG_TRY();
	{
		next_webhook = webhook_deliver(http);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		next_webhook = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
	}
	PG_END_TRY();
}

void
pipeline_worker_main(Datum arg)
{
	MemoryContext loop_cxt;

	my_dboid = DatumGetObjectId(arg);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(my_dboid, InvalidOid, 0);
	pgstat_report_appname("pipeline worker");

	/*
	 * Not the database's search_path (its owner may have set one with
	 * ALTER DATABASE): every statement of ours also fixes its own, this is
	 * for anything that would not.
	 */
	SetConfigOption("search_path", PIPELINE_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION);
	worker_attach();

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline worker",
									   ALLOCSET_DEFAULT_SIZES);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline worker loop",
									 ALLOCSET_DEFAULT_SIZES);
	http = http_client_create(worker_cxt);
	report_run_starting_hook = extend_visibility;

	for (;;)
	{
		bool		reload;
		TimestampTz now;
		ListCell   *lc;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		LWLockAcquire(pipeline_shared->lock, LW_SHARED);
		reload = my_slot->reload;
		LWLockRelease(pipeline_shared->lock);
		if (reload || TimestampDifferenceExceeds(last_reload, now, RELOAD_INTERVAL_MS))
			reload_queues();
		if (TimestampDifferenceExceeds(last_prune, now, PRUNE_INTERVAL_MS))
			prune_history();

		if (reload || (next_webhook != 0 && now >= next_webhook))
			deliver_webhooks();

		start_receives();
		pgstat_report_activity(STATE_IDLE,
							   psprintf("waiting for messages on %d queues", list_length(queues)));
		http_wait_any(http, 1000);

		foreach(lc, queues)
		{
			Queue	   *q = lfirst(lc);

			if (q->receive && sqs_receive_done(q->receive))
				finish_receive(q);
		}
	}
}
