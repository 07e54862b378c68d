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
 * Parts.  A plain (uncompressed) object of at least twice
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
 * scan fails rather than return rows cut at the wrong place.  gzip
 * objects are read whole.
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
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "utils/memutils.h"

#include "decode/inflate.h"
#include "decode/line_records.h"
#include "fdw/counters.h"
#include "fdw/scan.h"
#include "util/settings.h"

#define SHARED_SLOTS	1024	/* listed objects queued at most */
#define KEY_MAX			1024	/* S3's longest key */
#define ETAG_MAX		128
#define TOKEN_MAX		4096	/* longest continuation token we keep */
#define MAX_SPLITS		4		/* objects split at once */
#define MAX_PARTS		1024	/* parts of one object at most */
#define HEADER_MAX		8192	/* longest CSV header of a split object */
#define SNIFF_BYTES		(256 * 1024)

/* An object in shared memory. */
typedef struct SharedEntry
{
	int64		size;
	TimestampTz last_modified;
	uint16		klen;
	uint16		elen;
	bool		listed;
	char		text[KEY_MAX + ETAG_MAX];	/* key, then ETag */
} SharedEntry;

/* An object being read in parts. */
typedef struct SplitSlot
{
	bool		in_use;
	int			nparts;
	int			next_part;		/* next to claim */
	int			parts_done;
	int64		part_size;
	SharedEntry obj;
	uint32		header_len;		/* CSV: the header line, for parts > 0 */
	char		header[HEADER_MAX];
	int64		first[MAX_PARTS];	/* by part p: where its first record starts */
	int64		after[MAX_PARTS];	/* by part p - 1: where the first record
									 * after it starts (index p) */
} SplitSlot;

struct FdwShared
{
	slock_t		mutex;
	ConditionVariable cv;
	bool		named;			/* objects put in by the leader, no listing */
	int			ntasks;			/* listing tasks */
	int			task;			/* the task being listed */
	bool		task_started;	/* token continues it */
	bool		lister_busy;	/* somebody is listing a page */
	bool		listing_done;
	int			splits_pending; /* objects claimed that may become split */
	uint64		head;			/* queue: entries [head, tail) */
	uint64		tail;
	int			nslots;
	char		token[TOKEN_MAX];
	SplitSlot	split[MAX_SPLITS];
	pg_atomic_uint64 objects_read;
	pg_atomic_uint64 parts_read;
	pg_atomic_uint64 bytes_read;
	pg_atomic_uint64 bytes_decoded;
	pg_atomic_uint64 records;
	pg_atomic_uint64 objects_pruned;
	ScanAccount account;		/* budget, workers' bytes and requests */
	Size		slots_off;		/* offsets in data[] */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* tasks, then slots */
};

#define shared_slot(sh, i) \
	((SharedEntry *) ((sh)->data + (sh)->slots_off) + (i) % (sh)->nslots)

/* ----------------------------------------------------------------
 *		Entries
 * ----------------------------------------------------------------
 */

static void
entry_put(SharedEntry *e, const S3Object *o, bool listed)
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

/* Could this object be split, by its size alone? */
static bool
split_candidate(FdwScanState *st, int64 size)
{
	int64		split = (int64) pipeline_split_kb * 1024;

	return st->can_split && split > 0 && size >= 2 * split;
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
			entry_put(shared_slot(sh, tail + n), lfirst(lc), true);
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

				e = s->obj;
				SpinLockRelease(&sh->mutex);
				entry_get(&e, st->opts.bucket, u);
				u->split = i;
				u->part = p;
				u->nparts = s->nparts;
				u->start = p * s->part_size;
				u->end = Min(u->start + s->part_size, e.size);
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

/*
 * Read the first bytes of an object: true if they are plain and hold one
 * record per line.  The CSV header line goes to *header.
 */
static bool
sniff(FdwScanState *st, const WorkUnit *u, char **header, size_t *header_len)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 sniff",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	char	   *buf = palloc(SNIFF_BYTES + JSON_READER_PADDING);
	size_t		len = 0;
	S3Get	   *g;
	bool		ok = false;

	g = s3_get_start_range(st->client, &u->obj, 0, SNIFF_BYTES, SNIFF_BYTES);
	if (s3_get_open(g, true))
	{
		size_t		n;

		while (len < SNIFF_BYTES &&
			   (n = s3_get_read(g, buf + len, SNIFF_BYTES - len)) > 0)
			len += n;
		st->bytes_read += s3_get_bytes(g);
		pipeline_scan_bytes += s3_get_bytes(g);
		scan_account_read(st, s3_get_bytes(g));
		if (!(st->opts.compression == FDW_COMPRESSION_AUTO && inflate_is_gzip(buf, len)))
			ok = line_records_check(st->opts.format == FDW_FORMAT_CSV, buf, len,
									st->opts.delimiter, st->opts.quote,
									st->opts.format == FDW_FORMAT_CSV &&
									(st->opts.header || st->opts.header_skip),
									header_len);
		if (ok && *header_len > HEADER_MAX)
			ok = false;
		if (ok && *header_len > 0)
		{
			*header = MemoryContextAlloc(old, *header_len);
			memcpy(*header, buf, *header_len);
		}
	}
	s3_get_close(g);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return ok;
}

/*
 * parallel_split: settle a unit claimed as a candidate for splitting: if
 * "keep" (it is to be read) and it is fit, make it a split object and the
 * unit its first part.  Wakes up whoever waits for the outcome.
 */
void
parallel_split(FdwScanState *st, WorkUnit *u, bool keep)
{
	FdwShared  *sh = st->shared;
	char	   *header = NULL;
	size_t		header_len = 0;
	int			slot = -1;

	u->split_pending = false;
	if (keep && sniff(st, u, &header, &header_len))
	{
		int64		part_size = Max((int64) pipeline_split_kb * 1024,
									(u->obj.size + MAX_PARTS - 1) / MAX_PARTS);
		int			nparts = (int) ((u->obj.size + part_size - 1) / part_size);
		int			i;

		SpinLockAcquire(&sh->mutex);
		for (i = 0; i < MAX_SPLITS; i++)
			if (!sh->split[i].in_use)
			{
				SplitSlot  *s = &sh->split[i];

				slot = i;
				s->in_use = true;
				s->nparts = nparts;
				s->next_part = 1;	/* part 0 is ours */
				s->parts_done = 0;
				s->part_size = part_size;
				entry_put(&s->obj, &u->obj, u->listed);
				s->header_len = (uint32) header_len;
				if (header_len)
					memcpy(s->header, header, header_len);
				memset(s->first, 0xff, sizeof(int64) * nparts);	/* -1: not yet */
				memset(s->after, 0xff, sizeof(int64) * nparts);
				break;
			}
		if (slot >= 0)
		{
			u->split = slot;
			u->part = 0;
			u->nparts = nparts;
			u->start = 0;
			u->end = part_size;
		}
		sh->splits_pending--;
		SpinLockRelease(&sh->mutex);
	}
	else
	{
		SpinLockAcquire(&sh->mutex);
		sh->splits_pending--;
		SpinLockRelease(&sh->mutex);
	}
	ConditionVariableBroadcast(&sh->cv);
}

/* The CSV header of a split object, for its later parts. */
void
parallel_part_header(FdwScanState *st, const WorkUnit *u, char **header, size_t *len)
{
	SplitSlot  *s = &st->shared->split[u->split];

	/* set before any part but the first was handed out, and fixed since */
	*header = s->header;
	*len = s->header_len;
}

/* Part p's first record and the record after part p - 1 must be the same. */
static void
check_boundary(FdwScanState *st, const WorkUnit *u, int p, int64 first, int64 after)
{
	if (first >= 0 && after >= 0 && first != after)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not read \"%s\" in parts: its records are not one per line",
						s3_make_uri(u->obj.bucket, u->obj.key)),
				 errdetail("Part %d begins with the record at byte %lld, but the part before it found the next record at byte %lld.",
						   p + 1, (long long) first, (long long) after),
				 errhint("Set pipeline.split_size to 0 to read such objects whole.")));
}

/* parallel_part_first: where the first record of a part starts. */
void
parallel_part_first(FdwScanState *st, const WorkUnit *u, int64 offset)
{
	SplitSlot  *s = &st->shared->split[u->split];
	int64		after;

	if (u->part == 0)
		return;
	SpinLockAcquire(&st->shared->mutex);
	s->first[u->part] = offset;
	after = s->after[u->part];
	SpinLockRelease(&st->shared->mutex);
	check_boundary(st, u, u->part, offset, after);
}

/* parallel_part_next: where the first record after a part starts. */
void
parallel_part_next(FdwScanState *st, const WorkUnit *u, int64 offset)
{
	SplitSlot  *s = &st->shared->split[u->split];
	int64		first;
	int			p = u->part + 1;

	if (p >= u->nparts)
		return;
	SpinLockAcquire(&st->shared->mutex);
	s->after[p] = offset;
	first = s->first[p];
	SpinLockRelease(&st->shared->mutex);
	check_boundary(st, u, p, first, offset);
}

/* parallel_part_done: a part is read; the last one frees the slot. */
void
parallel_part_done(FdwScanState *st, const WorkUnit *u)
{
	SplitSlot  *s = &st->shared->split[u->split];

	SpinLockAcquire(&st->shared->mutex);
	if (++s->parts_done == s->nparts)
		s->in_use = false;
	SpinLockRelease(&st->shared->mutex);
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
	for (i = 0; i < MAX_SPLITS; i++)
		sh->split[i].in_use = false;
	if (sh->named)
	{
		ListCell   *lc;

		foreach(lc, st->named)
		{
			WorkUnit   *u = lfirst(lc);

			entry_put(shared_slot(sh, sh->tail), &u->obj, u->obj.size >= 0);
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
	if (!IsParallelWorker())
		pipeline_scan_bytes += st->shared_bytes_read - st->bytes_published;
	scan_account_shutdown(st);
	st->shared = NULL;
}
