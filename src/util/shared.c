/*-------------------------------------------------------------------------
 *
 * shared.c
 *	  The workers' shared memory, and waking a database's worker: what
 *	  report/ and worker/ both need (see shared.h).
 *
 * One slot per database that has, or had, a worker, under one LWLock.
 * worker/launcher.c requests the memory and calls pipeline_shared_init
 * from its shmem hooks; nothing here starts or stops a process.
 *
 * IDENTIFICATION
 *	  src/util/shared.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/shmem.h"

#include "util/shared.h"

PipelineShared *pipeline_shared = NULL;

bool
pipeline_shared_exists(void)
{
	return pipeline_shared != NULL;
}

static int
shared_slots(void)
{
	return Max(max_worker_processes, 8);
}

Size
pipeline_shared_size(void)
{
	return add_size(offsetof(PipelineShared, slots),
					mul_size(shared_slots(), sizeof(DbSlot)));
}

/*
 * pipeline_shared_init: attach to (or create) the slots; from the
 * shmem_startup hook, AddinShmemInitLock held.
 */
void
pipeline_shared_init(void)
{
	bool		found;

	pipeline_shared = ShmemInitStruct("pipeline", pipeline_shared_size(), &found);
	if (!found)
	{
		memset(pipeline_shared, 0, pipeline_shared_size());
		pipeline_shared->lock = &(GetNamedLWLockTranche("pipeline"))->lock;
		pipeline_shared->nslots = shared_slots();
	}
}

/*
 * pipeline_db_slot: the slot of a database; with "create", take a free
 * one if it has none.  Caller holds the lock (exclusively to create).
 */
DbSlot *
pipeline_db_slot(Oid dboid, bool create)
{
	int			i;
	DbSlot	   *free_slot = NULL;

	for (i = 0; i < pipeline_shared->nslots; i++)
	{
		DbSlot	   *s = &pipeline_shared->slots[i];

		if (s->dboid == dboid)
			return s;
		if (s->dboid == InvalidOid && free_slot == NULL)
			free_slot = s;
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(DbSlot));
	free_slot->dboid = dboid;
	return free_slot;
}

/*
 * pipeline_wake_worker: tell the worker of a database that its queues or
 * reports changed; with "recheck", also that the extension may have been
 * created there (the launcher then starts a worker).
 */
void
pipeline_wake_worker(Oid dboid, bool recheck)
{
	DbSlot	   *s;
	Latch	   *worker = NULL;
	Latch	   *launcher = NULL;

	if (pipeline_shared == NULL)
		return;
	LWLockAcquire(pipeline_shared->lock, LW_EXCLUSIVE);
	s = pipeline_db_slot(dboid, true);
	if (s)
	{
		s->reload = true;
		if (recheck && s->pid == 0)
		{
			s->state = DBW_RECHECK;
			s->last_start = 0;
		}
		worker = s->pid > 0 ? s->latch : NULL;
	}
	launcher = pipeline_shared->launcher_latch;
	LWLockRelease(pipeline_shared->lock);
	if (worker)
		SetLatch(worker);
	if (launcher && recheck)
		SetLatch(launcher);
}

/*
 * Waking this database's worker when the transaction commits: what
 * add_queue, create_report, CREATE and DROP EXTENSION changed is visible
 * to it only then.
 */

static bool wake_registered = false;
static bool wake_recheck = false;

static void
wake_at_commit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
		pipeline_wake_worker(MyDatabaseId, wake_recheck);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		UnregisterXactCallback(wake_at_commit, NULL);
		wake_registered = false;
		wake_recheck = false;
	}
}

/* The worker rereads queues and reports once this transaction commits. */
void
pipeline_wake_worker_at_commit(bool recheck)
{
	wake_recheck |= recheck;
	if (!wake_registered)
	{
		RegisterXactCallback(wake_at_commit, NULL);
		wake_registered = true;
	}
}

/* The hash a queue URL is known by in shared memory. */
uint64
pipeline_url_hash(const char *url)
{
	return hash_bytes_extended((const unsigned char *) url, strlen(url), 0);
}

/*
 * pipeline_queue_polled_elsewhere: the database (other than this one) whose
 * worker polls the queue at "url", or InvalidOid.
 */
Oid
pipeline_queue_polled_elsewhere(const char *url)
{
	uint64		h = pipeline_url_hash(url);
	Oid			found = InvalidOid;
	int			i;
	int			k;

	if (pipeline_shared == NULL)
		return InvalidOid;
	LWLockAcquire(pipeline_shared->lock, LW_SHARED);
	for (i = 0; i < pipeline_shared->nslots && !OidIsValid(found); i++)
	{
		DbSlot	   *s = &pipeline_shared->slots[i];

		if (s->dboid == MyDatabaseId || s->pid <= 0)
			continue;
		for (k = 0; k < s->nqueues; k++)
			if (s->queues[k].url_hash == h)
				found = s->dboid;
	}
	LWLockRelease(pipeline_shared->lock);
	return found;
}
