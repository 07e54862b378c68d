/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The worker of one database: long-polls its SQS queues, takes their
 *	  messages into the database as tasks, runs the tasks, and carries out
 *	  what must follow commits (completing exports, POSTing webhooks).
 *
 * Nothing is lost, nothing happens twice:
 *	- messages are deleted from SQS only once the tasks they became are
 *	  committed and on disk (queues.c);
 *	- a task ends in the transaction of the run that settles it, and is
 *	  retried with back-off until then, then kept as a dead letter
 *	  (report/tasks.c);
 *	- exports become objects only after their run committed, and webhooks
 *	  are POSTed only then (report/outbox.c, report/webhook.c).
 * A crash anywhere leaves the work in the database: the next worker picks
 * up tasks, exports and webhooks where this one left them.
 *
 * The loop waits on one WaitEventSet (the latch and every socket of its
 * transfers) until a receive answers, a webhook receiver answers, work is
 * due, or another backend wakes it; it never sleeps inside libcurl.
 *
 * IDENTIFICATION
 *	  src/worker/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
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

#include "report/outbox.h"
#include "report/tasks.h"
#include "report/webhook.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "worker/worker.h"

/* the schema this library works with (PIPELINE_VERSION: from the control file) */
#define PIPELINE_SCHEMA_VERSION PIPELINE_VERSION

/* How often queues are reread even if nobody woke us. */
#define RELOAD_INTERVAL_MS	30000
#define PRUNE_INTERVAL_MS	(3600 * 1000)
/* Due tasks claimed at a time, and batches before the queues are looked at again. */
#define TASKS_PER_BATCH		100
#define BATCHES_PER_LOOP	10

DbSlot	   *worker_slot = NULL;

static Oid	my_dboid;
static MemoryContext worker_cxt;
static HttpClient *http;
static TimestampTz last_reload = 0;
static TimestampTz last_prune = 0;

/* When work of each kind is due next; 0: none waits */
static TimestampTz next_tasks = 0;
static TimestampTz next_exports = 0;
static TimestampTz next_webhooks = 0;

/* ----------------------------------------------------------------
 *		Shared memory bookkeeping
 * ----------------------------------------------------------------
 */

static void
worker_detach(int code, Datum arg)
{
	if (worker_slot == NULL)
		return;
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	if (worker_slot->dboid == my_dboid && worker_slot->pid == MyProcPid)
	{
		worker_slot->pid = 0;
		worker_slot->latch = NULL;
	}
	LWLockRelease(pipeline_shared->lock);
}

static void
worker_attach(void)
{
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	worker_slot = pipeline_db_slot(my_dboid, true);
	if (worker_slot == NULL)
	{
		LWLockRelease(pipeline_shared->lock);
		ereport(ERROR,
				(errmsg("pipeline worker has no free slot in shared memory")));
	}
	if (worker_slot->pid > 0 && worker_slot->pid != MyProcPid)
	{
		/* another worker already serves this database */
		LWLockRelease(pipeline_shared->lock);
		worker_slot = NULL;
		proc_exit(0);
	}
	worker_slot->pid = MyProcPid;
	worker_slot->latch = MyLatch;
	worker_slot->state = DBW_RUNNING;
	worker_slot->reload = true;
	worker_slot->nqueues = 0;
	LWLockRelease(pipeline_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
}

/*
 * worker_check_extension: in a transaction, leave (and say so in shared
 * memory) if the extension is gone from this database; wait while its
 * schema is older than this library's (ALTER EXTENSION pipeline UPDATE
 * wakes us).
 */
void
worker_check_extension(void)
{
	static bool told = false;

	for (;;)
	{
		char	   *version;

		if (!OidIsValid(get_extension_oid("pipeline", true)))
		{
			char	   *dbname = get_database_name(MyDatabaseId);

			PopActiveSnapshot();
			CommitTransactionCommand();
			LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
			worker_slot->state = DBW_NO_EXTENSION;
			LWLockRelease(pipeline_shared->lock);
			ereport(DEBUG1,
					(errmsg("pipeline worker for database \"%s\" stops: the extension is not installed",
							dbname ? dbname : "?")));
			proc_exit(0);
		}
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		spi_internal("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pipeline'",
					 0, NULL, NULL, NULL, true, 1);
		version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		SPI_finish();
		if (strcmp(version, PIPELINE_SCHEMA_VERSION) == 0)
			return;
		if (!told)
			ereport(LOG,
					(errmsg("pipeline worker for database \"%s\" waits: the extension is at version %s, the library at %s",
							get_database_name(MyDatabaseId), version, PIPELINE_SCHEMA_VERSION),
					 errhint("Run ALTER EXTENSION pipeline UPDATE in that database.")));
		told = true;
		PopActiveSnapshot();
		CommitTransactionCommand();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 RELOAD_INTERVAL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
}

/* ----------------------------------------------------------------
 *		Units of work, each in its own transactions
 * ----------------------------------------------------------------
 */

/*
 * Run claimed tasks in one transaction.  An error that escapes the runs
 * (they record their own failures) rolls it back: the tasks come back
 * after their back-off, an attempt used.
 */
static void
run_tasks(List *claimed)
{
	MemoryContext cxt = CurrentMemoryContext;

	pgstat_report_activity(STATE_RUNNING,
						   psprintf("running %d tasks", list_length(claimed)));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		List	   *results = tasks_run(claimed);

		queues_count_runs(results);
		/* failed ones come back: when */
		next_tasks = tasks_next_due();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("pipeline worker could not run %d tasks: %s",
						list_length(claimed), edata->message)));
		next_tasks = GetCurrentTimestamp();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	/* runs make exports and webhooks */
	next_exports = next_webhooks = GetCurrentTimestamp();
}

/* Claim and run the tasks that are due; note when the next ones are. */
static void
run_due_tasks(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			batch;

	for (batch = 0; batch < BATCHES_PER_LOOP; batch++)
	{
		List	   *claimed;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		MemoryContextSwitchTo(cxt);
		claimed = tasks_claim(NIL, TASKS_PER_BATCH);
		PopActiveSnapshot();
		/* the attempts count even if the run takes the worker down */
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
		if (claimed == NIL)
			break;
		run_tasks(claimed);
		CHECK_FOR_INTERRUPTS();
	}
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	next_tasks = batch == BATCHES_PER_LOOP ? GetCurrentTimestamp() : tasks_next_due();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/* Forget history older than pipeline.history_retention ($1 days). */
static const char *const prune[] = {
	"DELETE FROM pipeline.runs WHERE finished_at < now() - make_interval(days => $1)",
	"DELETE FROM pipeline.run_rejects r "
	"WHERE NOT EXISTS (SELECT 1 FROM pipeline.runs u WHERE u.id = r.run_id) AND $1 > 0",
	"DELETE FROM pipeline.processed WHERE processed_at < now() - make_interval(days => $1)",
	"DELETE FROM pipeline.unmatched WHERE received_at < now() - make_interval(days => $1)",
	"DELETE FROM pipeline.exports WHERE state <> 'pending' "
	"  AND created_at < now() - make_interval(days => $1)",
	"DELETE FROM pipeline.webhooks WHERE (delivered_at IS NOT NULL OR gave_up) "
	"  AND created_at < now() - make_interval(days => $1)",
};

static void
prune_history(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	int			i;

	values[0] = Int32GetDatum(pipeline_history_days);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pruning history");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (i = 0; i < lengthof(prune); i++)
		spi_internal(prune[i], 1, types, values, NULL, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	last_prune = GetCurrentTimestamp();
}

/*
 * Run one of the steps above; an error in it is logged and must not stop
 * the worker: the step is tried again in ten seconds (*retry_at).
 */
static void
guarded(void (*step) (void), const char *what, TimestampTz *retry_at)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		step();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG, (errmsg("pipeline worker will try %s again", what)));
		if (retry_at)
			*retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

static void
complete_exports(void)
{
	next_exports = outbox_complete_exports();
}

static void
start_webhooks(void)
{
	next_webhooks = webhook_start(http, worker_cxt);
}

static void
finish_webhooks(void)
{
	if (webhook_finish())
		next_webhooks = GetCurrentTimestamp();
}

static void
reload_queues(void)
{
	queues_reload(http, worker_cxt);
	last_reload = GetCurrentTimestamp();
}

/* Milliseconds until "when" (0 if past), at most "cap"; "when" 0 is never. */
static long
ms_until(TimestampTz when, TimestampTz now, long cap)
{
	long		secs;
	int			usecs;

	if (when == 0)
		return cap;
	if (when <= now)
		return 0;
	TimestampDifference(now, when, &secs, &usecs);
	return Min(cap, secs * 1000 + usecs / 1000 + 1);
}

static bool
due(TimestampTz when, TimestampTz now)
{
	return when != 0 && when <= now;
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

	/* whatever a previous worker left: at once */
	next_tasks = next_exports = next_webhooks = GetCurrentTimestamp();

	for (;;)
	{
		bool		reload;
		TimestampTz now;
		long		wait;
		List	   *claimed;

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
		reload = worker_slot->reload;
		LWLockRelease(pipeline_shared->lock);
		if (reload || TimestampDifferenceExceeds(last_reload, now, RELOAD_INTERVAL_MS))
		{
			reload_queues();
			/* woken: a session may have committed work for us */
			next_tasks = next_exports = next_webhooks = now;
		}
		if (TimestampDifferenceExceeds(last_prune, now, PRUNE_INTERVAL_MS))
			guarded(prune_history, "pruning history", NULL);
		guarded(outbox_abort_rolled_back, "aborting staged uploads", NULL);

		queues_start_receives();
		pgstat_report_activity(STATE_IDLE,
							   psprintf("waiting for messages on %d queues", queues_count()));
		now = GetCurrentTimestamp();
		wait = ms_until(next_tasks, now, 1000);
		wait = Min(wait, ms_until(next_exports, now, 1000));
		wait = Min(wait, ms_until(next_webhooks, now, 1000));
		wait = Min(wait, ms_until(queues_next_poll(), now, 1000));
		http_wait_any(http, wait);

		/* new messages first: they are new work, run at once */
		claimed = queues_finish_receives(loop_cxt);
		if (claimed != NIL)
			run_tasks(claimed);
		now = GetCurrentTimestamp();
		if (due(next_tasks, now))
			guarded(run_due_tasks, "running due tasks", &next_tasks);
		if (due(next_exports, now))
			guarded(complete_exports, "completing exports", &next_exports);
		guarded(finish_webhooks, "recording webhook deliveries", NULL);
		if (due(next_webhooks, GetCurrentTimestamp()))
			guarded(start_webhooks, "delivering webhooks", &next_webhooks);
		pgstat_report_stat(false);
	}
}
