/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher background worker, the requests for the shared memory
 *	  the workers report in (util/shared.c), and the hooks that keep them
 *	  out of the way of DROP DATABASE.
 *
 * The launcher (registered at server start) looks at pg_database every
 * pipeline.launcher_naptime, or when woken, and starts one worker per
 * database that may have the extension.  A worker that finds no
 * extension says so in shared memory and leaves; it is not started again
 * until CREATE EXTENSION in that database wakes the launcher at commit.
 *
 * A worker connected to a database would make DROP DATABASE (and ALTER
 * DATABASE RENAME, CREATE DATABASE ... TEMPLATE) fail with "database is
 * being accessed by other users".  A ProcessUtility hook asks the worker
 * to leave first and keeps the launcher from restarting it meanwhile.
 *
 * IDENTIFICATION
 *	  src/worker/launcher.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/outbox.h"
#include "report/report.h"
#include "util/progress.h"
#include "util/settings.h"
#include "worker/worker.h"

/* do not start a failed worker again sooner than this */
#define RESTART_DELAY_MS	5000

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void
pipeline_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(pipeline_shared_size());
	RequestNamedLWLockTranche("pipeline", 1);
	RequestAddinShmemSpace(outbox_shmem_size());
	RequestNamedLWLockTranche("pipeline outbox", 1);
	RequestAddinShmemSpace(progress_shmem_size());
}

static void
pipeline_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pipeline_shared_init();
	outbox_shmem_init();
	progress_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* ----------------------------------------------------------------
 *		Keeping workers out of DROP DATABASE's way
 * ----------------------------------------------------------------
 */

/*
 * Ask the worker of a database to leave, and keep the launcher from
 * starting another one for "pause_ms".  Waits (at most 10 seconds) until
 * it has gone.
 */
static void
pause_db_worker(const char *dbname, int pause_ms)
{
	Oid			dboid;
	int			waited;

	if (pipeline_shared == NULL || dbname == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;

	for (waited = 0; waited < 10000; waited += 20)
	{
		DbSlot	   *s;
		pid_t		pid = 0;

		LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
		s = pipeline_db_slot(dboid, false);
		if (s)
		{
			s->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pause_ms);
			pid = s->pid;
		}
		LWLockRelease(pipeline_shared->lock);
		if (pid == 0)
			return;
		if (pid > 0)
			kill(pid, SIGTERM);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
resume_db_worker(const char *dbname)
{
	Oid			dboid = dbname ? get_database_oid(dbname, true) : InvalidOid;
	DbSlot	   *s;

	if (pipeline_shared == NULL || !OidIsValid(dboid))
		return;
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	s = pipeline_db_slot(dboid, false);
	if (s)
		s->paused_until = 0;
	LWLockRelease(pipeline_shared->lock);
	pipeline_wake_worker(dboid, false);
}

/* The database a utility statement needs to itself, if any. */
static const char *
exclusive_database(Node *stmt)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) stmt)->dbname;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) stmt)->subname;
			break;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *d = lfirst(lc);

				if (strcmp(d->defname, "template") == 0 && d->arg)
					return defGetString(d);
			}
			break;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
			{
				DefElem    *d = lfirst(lc);

				if (strcmp(d->defname, "tablespace") == 0)
					return ((AlterDatabaseStmt *) stmt)->dbname;
			}
			break;
		default:
			break;
	}
	return NULL;
}

/* DROP EXTENSION pipeline: the worker should notice at once. */
static bool
drops_extension(Node *stmt)
{
	ListCell   *lc;

	if (!IsA(stmt, DropStmt) || ((DropStmt *) stmt)->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, ((DropStmt *) stmt)->objects)
		if (strcmp(strVal(lfirst(lc)), "pipeline") == 0)
			return true;
	return false;
}

static void
pipeline_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	const char *dbname = exclusive_database(pstmt->utilityStmt);
	bool		dropping = IsA(pstmt->utilityStmt, DropdbStmt);

	bool		roles = IsA(pstmt->utilityStmt, DropRoleStmt) ||
		IsA(pstmt->utilityStmt, DropOwnedStmt) || IsA(pstmt->utilityStmt, ReassignOwnedStmt);

	bool		drops = drops_extension(pstmt->utilityStmt);
	char	   *mydb = drops ? get_database_name(MyDatabaseId) : NULL;

	if (dbname)
		pause_db_worker(dbname, 60000);

	/*
	 * DROP EXTENSION takes its objects' locks one by one, while the worker's
	 * transactions take them in their own order: ask the worker to leave
	 * first (it finds no extension when it comes back, and stays away).
	 */
	if (drops)
	{
		pause_db_worker(mydb, 60000);
		pipeline_wake_worker_at_commit(true);
	}
	if (roles)
		registry_role_utility(pstmt->utilityStmt, false);
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
		if (roles)
			registry_role_utility(pstmt->utilityStmt, true);
	}
	PG_FINALLY();
	{
		/* without the extension, its worker comes back only to leave */
		if (drops)
			resume_db_worker(mydb);
		/* a renamed or copied database gets its worker back */
		if (dbname && !dropping)
		{
			const char *now_named = dbname;

			if (IsA(pstmt->utilityStmt, RenameStmt))
				now_named = ((RenameStmt *) pstmt->utilityStmt)->newname;
			resume_db_worker(now_named);
			resume_db_worker(dbname);
		}
	}
	PG_END_TRY();
}

/* ----------------------------------------------------------------
 *		The launcher
 * ----------------------------------------------------------------
 */

typedef struct LaunchedWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} LaunchedWorker;

static List *launched = NIL;

static void
start_db_worker(DbSlot *s)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	LaunchedWorker *lw;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "pipeline", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "pipeline_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "pipeline worker for database %u", s->dboid);
	strlcpy(w.bgw_type, "pipeline worker", BGW_MAXLEN);
	w.bgw_main_arg = ObjectIdGetDatum(s->dboid);
	w.bgw_notify_pid = MyProcPid;

	s->last_start = GetCurrentTimestamp();
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
	{
		ereport(LOG,
				(errmsg("pipeline launcher could not start a worker for database %u", s->dboid),
				 errhint("Raise max_worker_processes.")));
		return;
	}
	s->pid = -1;				/* starting; the worker puts its pid */
	old = MemoryContextSwitchTo(TopMemoryContext);
	lw = palloc(sizeof(LaunchedWorker));
	lw->dboid = s->dboid;
	lw->handle = handle;
	launched = lappend(launched, lw);
	MemoryContextSwitchTo(old);
}

/* Forget workers that have stopped; a slot still "starting" is freed. */
static void
reap_workers(void)
{
	ListCell   *lc;

	foreach(lc, launched)
	{
		LaunchedWorker *lw = lfirst(lc);
		pid_t		pid;

		if (GetBackgroundWorkerPid(lw->handle, &pid) == BGWH_STOPPED)
		{
			DbSlot	   *s;

			LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
			s = pipeline_db_slot(lw->dboid, false);
			if (s && s->pid == -1)
				s->pid = 0;
			LWLockRelease(pipeline_shared->lock);
			launched = foreach_delete_current(launched, lc);
			pfree(lw->handle);
			pfree(lw);
		}
	}
}

/* The databases a worker may serve. */
static List *
database_list(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(cxt);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return result;
}

static void
launcher_scan(void)
{
	List	   *dbs = database_list();
	TimestampTz now = GetCurrentTimestamp();
	ListCell   *lc;
	int			i;

	reap_workers();
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);

	/* forget databases that are gone */
	for (i = 0; i < pipeline_shared->nslots; i++)
	{
		DbSlot	   *s = &pipeline_shared->slots[i];

		if (s->dboid != InvalidOid && s->pid == 0 && !list_member_oid(dbs, s->dboid))
			s->dboid = InvalidOid;
	}

	foreach(lc, dbs)
	{
		DbSlot	   *s = pipeline_db_slot(lfirst_oid(lc), true);

		if (s == NULL || s->pid != 0 || s->state == DBW_NO_EXTENSION)
			continue;
		if (s->paused_until > now)
			continue;
		if (s->last_start != 0 &&
			!TimestampDifferenceExceeds(s->last_start, now, RESTART_DELAY_MS))
			continue;
		start_db_worker(s);
	}
	LWLockRelease(pipeline_shared->lock);
}

void
pipeline_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("pipeline launcher");

	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	pipeline_shared->launcher_pid = MyProcPid;
	pipeline_shared->launcher_latch = MyLatch;
	LWLockRelease(pipeline_shared->lock);

	ereport(LOG, (errmsg("pipeline launcher started")));

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		launcher_scan();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pipeline_launcher_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * pipeline_worker_init: from _PG_init.  Shared memory and the launcher
 * only exist when loaded by shared_preload_libraries; the hooks always.
 */
void
pipeline_worker_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pipeline_ProcessUtility;

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pipeline_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pipeline_shmem_startup;

	{
		BackgroundWorker w;

		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = 5;
		strlcpy(w.bgw_library_name, "pipeline", BGW_MAXLEN);
		strlcpy(w.bgw_function_name, "pipeline_launcher_main", BGW_MAXLEN);
		strlcpy(w.bgw_name, "pipeline launcher", BGW_MAXLEN);
		strlcpy(w.bgw_type, "pipeline launcher", BGW_MAXLEN);
		RegisterBackgroundWorker(&w);
	}
}

PG_FUNCTION_INFO_V1(pipeline_queue_stats);

/*
 * pipeline.queue_stats(): what this database's worker says about each of
 * its queues (behind the pipeline.status view): the queues of roles whose
 * rights the caller has.
 */
Datum
pipeline_queue_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DbSlot		copy;
	DbSlot	   *s;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (pipeline_shared == NULL)
		return (Datum) 0;
	LWLockAcquire(pipeline_shared->lock, LW_SHARED);
	s = pipeline_db_slot(MyDatabaseId, false);
	if (s)
		memcpy(&copy, s, sizeof(DbSlot));
	LWLockRelease(pipeline_shared->lock);
	if (s == NULL)
		return (Datum) 0;

	for (i = 0; i < copy.nqueues; i++)
	{
		QueueStats *q = &copy.queues[i];
		Datum		values[12];
		bool		nulls[12] = {0};

		if (!has_privs_of_role(GetUserId(), q->owner))
			continue;

		values[0] = CStringGetTextDatum(q->name);
		values[1] = Int32GetDatum(copy.pid > 0 ? copy.pid : 0);
		nulls[1] = copy.pid <= 0;
		values[2] = CStringGetTextDatum(copy.pid > 0 ? q->state : "stopped");
		values[3] = TimestampTzGetDatum(q->last_poll);
		nulls[3] = q->last_poll == 0;
		values[4] = TimestampTzGetDatum(q->last_message);
		nulls[4] = q->last_message == 0;
		values[5] = TimestampTzGetDatum(q->oldest_pending);
		nulls[5] = q->oldest_pending == 0;
		values[6] = Int64GetDatum(q->received);
		values[7] = Int64GetDatum(q->deleted);
		values[8] = Int64GetDatum(q->dead_letters);
		values[9] = Int64GetDatum(q->runs_succeeded);
		values[10] = Int64GetDatum(q->runs_failed);
		values[11] = CStringGetTextDatum(q->last_error);
		nulls[11] = q->last_error[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
