/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  Progress of long work in shared memory, and the pipeline.progress
 *	  view's function (see progress.h).
 *
 * Each slot has one writer, its backend; readers copy a slot until its
 * change count is even and did not move, as PostgreSQL's own backend
 * status does (st_changecount), so they never see half an update.
 *
 * IDENTIFICATION
 *	  src/util/progress.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "util/progress.h"

#define PROGRESS_WHAT_LEN	256
#define PROGRESS_LEVELS		4

typedef struct ProgressCounters
{
	int64		objects_done;
	int64		objects_total;	/* -1: unknown */
	int64		bytes;
	int64		rows;
	int64		rejects;
} ProgressCounters;

typedef struct ProgressSlot
{
	uint32		changecount;	/* odd while the backend writes */
	int			pid;			/* 0: nothing in progress */
	int			leader_pid;		/* of a parallel worker, else 0 */
	Oid			dboid;
	Oid			userid;
	ProgressKind kind;
	char		what[PROGRESS_WHAT_LEN];
	char		within[PROGRESS_WHAT_LEN];	/* the work around it, or "" */
	TimestampTz started;
	ProgressCounters c;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	nslots = 0;

/* This backend's work, innermost last */
typedef struct Level
{
	ProgressKind kind;
	char		what[PROGRESS_WHAT_LEN];
	TimestampTz started;
	ProgressCounters c;
} Level;

static Level levels[PROGRESS_LEVELS];
static int	depth = 0;
static bool callback_registered = false;

Size
progress_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(ProgressSlot));
}

void
progress_shmem_init(void)
{
	bool		found;

	slots = ShmemInitStruct("pipeline progress", progress_shmem_size(), &found);
	if (!found)
		memset(slots, 0, progress_shmem_size());
	nslots = MaxBackends;
}

static ProgressSlot *
my_slot(void)
{
	if (slots == NULL || MyBackendId == InvalidBackendId || MyBackendId > nslots)
		return NULL;
	return &slots[MyBackendId - 1];
}

/* Show the innermost work (or nothing) in this backend's slot. */
static void
publish(void)
{
	ProgressSlot *s = my_slot();
	Level	   *top = depth > 0 ? &levels[Min(depth, PROGRESS_LEVELS) - 1] : NULL;

	if (s == NULL)
		return;
	s->changecount++;
	pg_write_barrier();
	if (top == NULL)
		s->pid = 0;
	else
	{
		s->pid = MyProcPid;
		s->leader_pid = MyProc->lockGroupLeader && MyProc->lockGroupLeader != MyProc
			? MyProc->lockGroupLeader->pid : 0;
		s->dboid = MyDatabaseId;
		s->userid = GetUserId();
		s->kind = top->kind;
		strlcpy(s->what, top->what, sizeof(s->what));
		strlcpy(s->within, depth > 1 ? levels[Min(depth, PROGRESS_LEVELS) - 2].what : "",
				sizeof(s->within));
		s->started = top->started;
		s->c = top->c;
	}
	pg_write_barrier();
	s->changecount++;
}

/* Nothing a transaction started goes on after it ends, committed or not. */
static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (depth > 0 &&
		(event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		 event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT))
	{
		depth = 0;
		publish();
	}
}

int
progress_start(ProgressKind kind, const char *what)
{
	Level	   *l;

	if (!callback_registered)
	{
		RegisterXactCallback(progress_xact_callback, NULL);
		callback_registered = true;
	}
	if (depth < PROGRESS_LEVELS)
	{
		l = &levels[depth];
		l->kind = kind;
		strlcpy(l->what, what ? what : "", sizeof(l->what));
		l->started = GetCurrentTimestamp();
		memset(&l->c, 0, sizeof(l->c));
		l->c.objects_total = -1;
	}
	depth++;
	publish();
	return depth - 1;
}

void
progress_set_total(int64 objects_total)
{
	if (depth == 0 || depth > PROGRESS_LEVELS)
		return;
	levels[depth - 1].c.objects_total = objects_total;
	publish();
}

void
progress_add(int64 objects, int64 bytes, int64 rows, int64 rejects)
{
	int			i;

	if (depth == 0)
		return;
	/*
	 * The work around counts the bytes, rows and rejects of the work inside;
	 * objects are the innermost work's own (a run's objects are the ones that
	 * triggered it, not every object its scans read).
	 */
	if (depth <= PROGRESS_LEVELS)
		levels[depth - 1].c.objects_done += objects;
	for (i = 0; i < Min(depth, PROGRESS_LEVELS); i++)
	{
		levels[i].c.bytes += bytes;
		levels[i].c.rows += rows;
		levels[i].c.rejects += rejects;
	}
	publish();
}

void
progress_end(int level)
{
	if (level < 0 || level >= depth)
		return;
	depth = level;
	publish();
}

PG_FUNCTION_INFO_V1(pipeline_progress);

/*
 * pipeline.progress(): what every backend reports, for the backends of
 * roles whose rights the caller has (or everything, with pg_read_all_stats).
 */
Datum
pipeline_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < nslots; i++)
	{
		ProgressSlot copy;
		Datum		values[14];
		bool		nulls[14] = {0};
		static const char *const kinds[] = {"scan", "export", "run"};
		double		elapsed;

		for (;;)
		{
			uint32		before = slots[i].changecount;

			pg_read_barrier();
			memcpy(&copy, &slots[i], sizeof(copy));
			pg_read_barrier();
			if (before == slots[i].changecount && (before & 1) == 0)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		if (copy.pid == 0 || copy.dboid != MyDatabaseId)
			continue;
		if (!all && !has_privs_of_role(GetUserId(), copy.userid))
			continue;
		elapsed = (double) (now - copy.started) / USECS_PER_SEC;
		values[0] = Int32GetDatum(copy.pid);
		values[1] = Int32GetDatum(copy.leader_pid);
		nulls[1] = copy.leader_pid == 0;
		values[2] = ObjectIdGetDatum(copy.userid);
		values[3] = CStringGetTextDatum(kinds[copy.kind]);
		values[4] = CStringGetTextDatum(copy.what);
		values[5] = CStringGetTextDatum(copy.within);
		nulls[5] = copy.within[0] == '\0';
		values[6] = Int64GetDatum(copy.c.objects_done);
		values[7] = Int64GetDatum(copy.c.objects_total);
		nulls[7] = copy.c.objects_total < 0;
		values[8] = Int64GetDatum(copy.c.bytes);
		values[9] = Int64GetDatum(copy.c.rows);
		values[10] = Int64GetDatum(copy.c.rejects);
		values[11] = TimestampTzGetDatum(copy.started);
		values[12] = Float8GetDatum(elapsed);
		/* what is left, at the pace so far */
		if (copy.c.objects_total > 0 && copy.c.objects_done > 0)
			values[13] = Float8GetDatum(elapsed * (copy.c.objects_total - copy.c.objects_done) /
										copy.c.objects_done);
		else
			nulls[13] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
