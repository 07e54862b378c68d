/*-------------------------------------------------------------------------
 *
 * parallel.c
 *	  Parallel scans: objects, and parts of large objects, handed to the
 *	  participants through the DSM segment.
 *
 * Objects.  With a filter (or a table of one object) the leader puts the
 * objects in the DSM before the workers start.  Otherwise the listing is
 * streamed through it: the DSM holds a queue of at most SHARED_SLOTS
 * listed objects and the listing's cursor (which task, which continuation
 * token).  A participant that finds the queue half empty, while nobody is
 * listing, lists the next page itself and appends it; others wait on a
 * condition variable only when the queue is empty.  Each object is
 * claimed by exactly one participant, and memory is flat whatever the
 * number of objects.
 *
 * Parts (parallel_parts.c).  A plain (uncompressed) object of at least twice
 * pipeline.split_size is read in parts of that size (or more, for at most
 * MAX_PARTS parts): the participant that claims it reads its first 256 kB
 * and, if the records there are one per line (JSON lines, CSV without
 * quoted line ends), makes it a split object: parts are claimed like
 * objects, before any further object.  A part holds the lines that start
 * in it: it begins after its first line end, and reads on to the first
 * record that starts a line at or after its end (so junk after a record
 * on a line crossing the end is its own, as in a whole read).  Each part
 * reports where its first record starts, and where that next one starts:
 * the two must agree at every boundary, or the object did not have one
 * record per line after all (a pretty-printed record later on), and the
 * scan fails rather than return rows cut at the wrong place.
 *
 * gzip parts.  A gzip object with a restart index in the cache (gzsplit.c:
 * built the first time a parallel scan read it whole) is split the same
 * way, one part per restart point, in decompressed offsets: the claimer
 * reads the index and the first 256 kB, and the slot holds where each part
 * starts, in the object (decompressed) and in the compressed bytes.
 * Without an index a gzip object is read whole, and that read builds the
 * index.
 *
 * IDENTIFICATION
 *	  src/fdw/parallel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_bitutils.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "utils/memutils.h"

#include "fdw/counters.h"
#include "fdw/gzsplit.h"
#include "fdw/parallel_int.h"
#include "fdw/scan.h"
#include "util/settings.h"


/* ----------------------------------------------------------------
 *		Entries
 * ----------------------------------------------------------------
 */

void
parallel_entry_put(SharedEntry *e, const S3Object *o, bool listed)
{
	size_t		klen = strlen(o->key);
	size_t		elen = o->etag ? strlen(o->etag) : 0;

	if (klen > KEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key \"%.40s...\" is longer than %d bytes", o->key, KEY_MAX)));
	if (elen > ETAG_MAX)
		elen = 0;				/* no ETag is better than a wrong one */
	e->size = o->size;
	e->last_modified = o->last_modified;
	e->klen = (uint16) klen;
	e->elen = (uint16) elen;
	e->listed = listed;
	memcpy(e->text, o->key, klen);
	if (elen)
		memcpy(e->text + klen, o->etag, elen);
}

/* A unit for the object of an entry (palloc'd strings). */
static void
entry_get(const SharedEntry *e, const char *bucket, WorkUnit *u)
{
	memset(u, 0, sizeof(WorkUnit));
	u->obj.bucket = (char *) bucket;
	u->obj.key = pnstrdup(e->text, e->klen);
	u->obj.etag = e->elen ? pnstrdup(e->text + e->klen, e->elen) : NULL;
	u->obj.size = e->size;
	u->obj.last_modified = e->last_modified;
	u->listed = e->listed;
	u->part = -1;
	u->split = -1;
	u->end = -1;
}

/* Tasks: direct flag, prefix length, prefix; one after the other. */
static Size
tasks_size(List *tasks)
{
	Size		n = 0;
	ListCell   *lc;

	foreach(lc, tasks)
		n = add_size(n, 1 + sizeof(uint32) + strlen(((ListTask *) lfirst(lc))->prefix));
	return MAXALIGN(n);
}

static void
tasks_put(List *tasks, char *p)
{
	ListCell   *lc;

	foreach(lc, tasks)
	{
		ListTask   *t = lfirst(lc);
		uint32		len = strlen(t->prefix);

		*p++ = t->direct ? 1 : 0;
		memcpy(p, &len, sizeof(uint32));
		p += sizeof(uint32);
		memcpy(p, t->prefix, len);
		p += len;
	}
}

static List *
tasks_get(const char *p, int n)
{
	List	   *tasks = NIL;
	int			i;

	for (i = 0; i < n; i++)
	{
		ListTask   *t = palloc(sizeof(ListTask));
		uint32		len;

		t->direct = *p++ != 0;
		memcpy(&len, p, sizeof(uint32));
		p += sizeof(uint32);
		t->prefix = pnstrdup(p, len);
		p += len;
		tasks = lappend(tasks, t);
	}
	return tasks;
}

/* ----------------------------------------------------------------
 *		Claiming objects and parts
 * ----------------------------------------------------------------
 */

/* Could this plain object be split, by its size alone? */
bool
parallel_split_plain(FdwScanState *st, int64 size)
{
	int64		split = (int64) pipeline_split_kb * 1024;

	return st->can_split && split > 0 && size >= 2 * split;
}

/* Could this object be split: plain, or gzip with an index (looked at later)? */
static bool
split_candidate(FdwScanState *st, int64 size)
{
	return parallel_split_plain(st, size) ||
		(st->can_split && st->opts.compression != FDW_COMPRESSION_NONE &&
		 gzsplit_worth_indexing(size));
}

/*
 * List the next page into the queue.  The caller has set lister_busy and
 * copied the cursor: the task and the token (empty: the task's first page);
 * "room" entries are free (and stay free: only this lister adds).
 */
static void
list_page(FdwScanState *st, int task, bool started, char *token, int room)
{
	FdwShared  *sh = st->shared;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 listing page",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	S3ListPage *page = NULL;
	ListCell   *lc;
	uint64		tail;
	int			n = 0;

	if (started && token[0] == '\0')
		task++;					/* the previous page was its task's last */
	if (task < sh->ntasks)
		page = listing_fetch(st->client, st->opts.bucket, list_nth(st->tasks, task),
							 started && token[0] ? token : NULL, Min(room, 1000));
	if (page && page->next_token && strlen(page->next_token) >= TOKEN_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("continuation token of the listing of \"%s\" is too long",
						s3_make_uri(st->opts.bucket, ((ListTask *) list_nth(st->tasks, task))->prefix))));

	SpinLockAcquire(&sh->mutex);
	tail = sh->tail;
	SpinLockRelease(&sh->mutex);
	if (page)
	{
		foreach(lc, page->objects)
		{
			parallel_entry_put(shared_slot(sh, tail + n), lfirst(lc), true);
			n++;
		}
	}
	st->objects_listed += n;

	SpinLockAcquire(&sh->mutex);
	sh->tail += n;
	sh->task = task;
	sh->task_started = true;
	if (page && page->next_token)
		strlcpy(sh->token, page->next_token, TOKEN_MAX);
	else
		sh->token[0] = '\0';
	if (page == NULL || (page->next_token == NULL && task + 1 >= sh->ntasks))
		sh->listing_done = true;
	sh->lister_busy = false;
	SpinLockRelease(&sh->mutex);
	ConditionVariableBroadcast(&sh->cv);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * parallel_claim: the next object or part for this participant, false
 * when there is none left for anyone.
 */
bool
parallel_claim(FdwScanState *st, WorkUnit *u)
{
	FdwShared  *sh = st->shared;
	char	   *token = palloc(TOKEN_MAX);
	bool		result = false;

	for (;;)
	{
		int			i;
		bool		list = false;
		bool		got = false;
		bool		done = false;
		int			task = 0;
		bool		started = false;
		int			room = 0;
		SharedEntry e;

		CHECK_FOR_INTERRUPTS();
		SpinLockAcquire(&sh->mutex);
		/* parts of split objects first: they finish the largest work */
		for (i = 0; i < MAX_SPLITS; i++)
		{
			SplitSlot  *s = &sh->split[i];

			if (s->in_use && s->next_part < s->nparts)
			{
				int			p = s->next_part++;

				sh->part_readers |= UINT64CONST(1) << ((ParallelWorkerNumber + 1) % 64);
				e = s->obj;
				SpinLockRelease(&sh->mutex);
				entry_get(&e, st->opts.bucket, u);
				u->split = i;
				u->part = p;
				u->nparts = s->nparts;
				if (s->gzip)
				{
					u->gz_part = true;
					u->gz_point = p;
					u->start = s->gz_out[p];
					u->end = s->gz_out[p + 1];
					u->comp_start = s->gz_first[p];
					u->comp_end = p + 1 < s->nparts ? s->gz_comp[p + 1] : e.size;
					u->out_size = s->gz_out[s->nparts];
				}
				else
				{
					u->start = p * s->part_size;
					u->end = Min(u->start + s->part_size, e.size);
				}
				pfree(token);
				return true;
			}
		}
		if (sh->head < sh->tail)
		{
			e = *shared_slot(sh, sh->head);
			sh->head++;
			got = true;
			if (split_candidate(st, e.size))
				sh->splits_pending++;
		}
		if (!sh->named && !sh->lister_busy && !sh->listing_done &&
			(sh->tail - sh->head) * 2 <= (uint64) sh->nslots)
		{
			list = true;
			sh->lister_busy = true;
			task = sh->task;
			started = sh->task_started;
			strlcpy(token, sh->token, TOKEN_MAX);
			room = sh->nslots - (int) (sh->tail - sh->head);
		}
		if (!got && !list && (sh->named || sh->listing_done) && sh->splits_pending == 0)
			done = true;
		SpinLockRelease(&sh->mutex);

		if (list)
			list_page(st, task, started, token, room);
		if (got)
		{
			entry_get(&e, st->opts.bucket, u);
			u->split_pending = split_candidate(st, e.size);
			/* smaller than a plain split: only gzip with an index in the cache */
			if (u->split_pending && !parallel_split_plain(st, e.size) &&
				!gzsplit_cached(&st->stream, &u->obj))
				parallel_split(st, u, false);
			result = true;
			break;
		}
		if (done)
			break;
		if (!list)
			ConditionVariableSleep(&sh->cv, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	pfree(token);
	return result;
}

/* ----------------------------------------------------------------
 *		Parallel scan callbacks
 * ----------------------------------------------------------------
 */

Size
s3EstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	FdwScanState *st = node->fdw_state;
	Size		n;

	/* the leader decides the objects (or the listing tasks) once, for everyone */
	if (!st->objects_ready)
		objects_prepare(st, node->ss.ps.ps_ExprContext);
	/* the table's one object: its size, to know whether to split it */
	if (st->can_split && !st->opts.is_prefix && list_length(st->named) == 1)
	{
		WorkUnit   *u = linitial(st->named);

		if (u->obj.size < 0)
		{
			S3Object   *o = s3_head_object(st->client, u->obj.bucket, u->obj.key, true);

			if (o)
			{
				u->obj.size = o->size;
				u->obj.etag = o->etag;
				u->obj.last_modified = o->last_modified;
			}
		}
	}
	n = add_size(offsetof(FdwShared, data), tasks_size(st->tasks));
	n = add_size(n, mul_size(Max(st->named != NIL ? list_length(st->named) : SHARED_SLOTS, 1),
							 sizeof(SharedEntry)));
	return n;
}

/* Put the objects (or the start of the listing) in the DSM. */
static void
shared_reset(FdwScanState *st, FdwShared *sh)
{
	int			i;

	sh->head = 0;
	sh->tail = 0;
	sh->task = 0;
	sh->task_started = false;
	sh->token[0] = '\0';
	sh->lister_busy = false;
	sh->splits_pending = 0;
	sh->part_readers = 0;
	for (i = 0; i < MAX_SPLITS; i++)
		sh->split[i].in_use = false;
	if (sh->named)
	{
		ListCell   *lc;

		foreach(lc, st->named)
		{
			WorkUnit   *u = lfirst(lc);

			parallel_entry_put(shared_slot(sh, sh->tail), &u->obj, u->obj.size >= 0);
			sh->tail++;
		}
	}
	sh->listing_done = sh->named || sh->ntasks == 0;
}

void
s3InitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt, void *coordinate)
{
	FdwScanState *st = node->fdw_state;
	FdwShared  *sh = (FdwShared *) coordinate;

	SpinLockInit(&sh->mutex);
	ConditionVariableInit(&sh->cv);
	pg_atomic_init_u64(&sh->objects_read, 0);
	pg_atomic_init_u64(&sh->parts_read, 0);
	pg_atomic_init_u64(&sh->bytes_read, 0);
	pg_atomic_init_u64(&sh->bytes_decoded, 0);
	pg_atomic_init_u64(&sh->records, 0);
	pg_atomic_init_u64(&sh->objects_pruned, 0);
	sh->named = st->tasks == NIL;
	sh->ntasks = list_length(st->tasks);
	sh->nslots = sh->named ? Max(list_length(st->named), 1) : SHARED_SLOTS;
	sh->slots_off = tasks_size(st->tasks);
	tasks_put(st->tasks, sh->data);
	shared_reset(st, sh);
	st->shared = sh;
	/* a parallel scan of a one-object table indexes it if it is gzip (gzsplit.c) */
	st->stream.gz_build = !st->opts.is_prefix;
	scan_account_init(st, &sh->account, pcxt->seg);
}

void
s3ReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt, void *coordinate)
{
	FdwScanState *st = node->fdw_state;

	shared_reset(st, (FdwShared *) coordinate);
}

void
s3InitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc, void *coordinate)
{
	FdwScanState *st = node->fdw_state;
	FdwShared  *sh = (FdwShared *) coordinate;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	st->tasks = tasks_get(sh->data, sh->ntasks);
	MemoryContextSwitchTo(old);
	st->objects_ready = true;
	st->shared = sh;
	st->stream.gz_build = !st->opts.is_prefix;
	scan_account_attach(st, &sh->account);
}

/* scan_publish: add this process's counters to the shared ones. */
void
scan_publish(FdwScanState *st)
{
	FdwShared  *sh = st->shared;

	if (sh == NULL)
		return;
	pg_atomic_fetch_add_u64(&sh->objects_read, st->objects_read);
	pg_atomic_fetch_add_u64(&sh->parts_read, st->parts_read);
	pg_atomic_fetch_add_u64(&sh->bytes_read, st->bytes_read);
	pg_atomic_fetch_add_u64(&sh->bytes_decoded, st->stream.bytes_decoded);
	pg_atomic_fetch_add_u64(&sh->records, st->records);
	pg_atomic_fetch_add_u64(&sh->objects_pruned, st->objects_pruned);
	st->bytes_published += st->bytes_read;
	st->objects_read = st->parts_read = st->bytes_read = st->records = 0;
	st->stream.bytes_decoded = 0;
	st->objects_pruned = 0;
	scan_account_read(st, 0);
}

/*
 * Before the DSM segment goes: keep everyone's counters for EXPLAIN
 * ANALYZE, and count the workers' bytes as this backend's (a report's
 * run records what its scans read, whoever read it).
 */
void
s3ShutdownForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;
	FdwShared  *sh;

	if (st == NULL || st->shared == NULL)
		return;
	sh = st->shared;
	scan_publish(st);
	st->shared_objects_read = pg_atomic_read_u64(&sh->objects_read);
	st->shared_parts_read = pg_atomic_read_u64(&sh->parts_read);
	st->shared_bytes_read = pg_atomic_read_u64(&sh->bytes_read);
	st->shared_bytes_decoded = pg_atomic_read_u64(&sh->bytes_decoded);
	st->shared_records = pg_atomic_read_u64(&sh->records);
	st->shared_objects_pruned = pg_atomic_read_u64(&sh->objects_pruned);
	SpinLockAcquire(&sh->mutex);
	st->shared_part_readers = pg_popcount64(sh->part_readers);
	SpinLockRelease(&sh->mutex);
	if (!IsParallelWorker())
		pipeline_scan_bytes += st->shared_bytes_read - st->bytes_published;
	scan_account_shutdown(st);
	st->shared = NULL;
}
