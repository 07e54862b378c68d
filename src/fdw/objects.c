/*-------------------------------------------------------------------------
 *
 * objects.c
 *	  Which objects a scan reads, and in what order: the objects a filter
 *	  on uri or key names, the table's one object, or the listing, page by
 *	  page; object quals decided before any GET; GETs started ahead.
 *
 * Object quals are the WHERE clauses that only look at what is known of
 * an object before it is read: partition columns, uri, key, size and
 * last_modified.  A listed object that cannot satisfy them is never
 * fetched.  Objects named by a filter are not listed, so their size and
 * time are only known once their GET answers: clauses on those are
 * decided then, before the body is read.
 *
 * While one object is decoded, the next pipeline.prefetch ones are
 * already being fetched (several GETs in flight on one curl multi handle,
 * each paused when its buffer is full).  Each GET has a memory context of
 * its own, deleted when its object is done.
 *
 * IDENTIFICATION
 *	  src/fdw/objects.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "fdw/counters.h"
#include "fdw/scan.h"
#include "util/progress.h"
#include "util/settings.h"

/* ----------------------------------------------------------------
 *		Object quals
 * ----------------------------------------------------------------
 */

/*
 * objects_init_quals: set up the object quals of fdw_exprs (after the
 * filter): the first "ndir" are on partition columns only, and also
 * decide which directories are listed.
 */
void
objects_init_quals(FdwScanState *st, List *exprs, int ndir, PlanState *ps)
{
	ListCell   *lc;

	if (exprs == NIL)
		return;
	st->object_qual = ExecInitQual(exprs, ps);
	foreach(lc, exprs)
	{
		Bitmapset  *attnos = NULL;
		Bitmapset  *cols = NULL;
		int			a = -1;

		pull_varattnos(lfirst(lc), ((Scan *) ps->plan)->scanrelid, &attnos);
		while ((a = bms_next_member(attnos, a)) >= 0)
		{
			AttrNumber	attno = a + FirstLowInvalidHeapAttributeNumber;

			if (attno <= 0 || attno > st->natts)
				continue;
			cols = bms_add_member(cols, attno);
			if (st->source[attno - 1] == COLUMN_SIZE ||
				st->source[attno - 1] == COLUMN_LAST_MODIFIED)
				st->qual_needs_meta = true;
		}
		if (foreach_current_index(lc) < ndir)
		{
			DirQual    *dq = palloc(sizeof(DirQual));

			dq->qual = ExecInitQual(list_make1(lfirst(lc)), ps);
			dq->expr = lfirst(lc);
			dq->attnos = cols;
			st->dir_quals = lappend(st->dir_quals, dq);
		}
	}
	st->object_slot = MakeSingleTupleTableSlot(RelationGetDescr(((ScanState *) ps)->ss_currentRelation),
											   &TTSOpsVirtual);
}

/*
 * Can the object of "u" hold rows, by the object quals?  Size and time are
 * NULL when not known yet (not listed, not opened): callers only ask once
 * they are known, or when the quals do not use them.
 */
static bool
object_matches(FdwScanState *st, const S3Object *o)
{
	TupleTableSlot *slot = st->object_slot;
	ExprContext *econtext = st->econtext;
	MemoryContext old;
	bool		result;
	int			i;

	if (st->object_qual == NULL)
		return true;
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	ExecClearTuple(slot);
	for (i = 0; i < st->natts; i++)
	{
		const ColumnConv *cc = &st->conv[i];
		Datum	   *d = &slot->tts_values[i];
		bool	   *isnull = &slot->tts_isnull[i];
		char	   *text = NULL;
		ConvError	err;

		*isnull = true;
		*d = (Datum) 0;
		switch (st->source[i])
		{
			case COLUMN_PARTITION:
				*d = partition_datum(st, i, o->key, isnull);
				break;
			case COLUMN_TEMPLATE:
				*d = template_datum(st, i, o->key, isnull);
				break;
			case COLUMN_URI:
				text = s3_make_uri(o->bucket, o->key);
				break;
			case COLUMN_KEY:
				text = o->key;
				break;
			case COLUMN_SIZE:
				if (o->size >= 0)
					text = psprintf(INT64_FORMAT, o->size);
				break;
			case COLUMN_LAST_MODIFIED:
				if (o->last_modified != 0)
					text = pstrdup(timestamptz_to_str(o->last_modified));
				break;
			default:
				break;
		}
		if (text != NULL)
		{
			if (cc->kind == CONV_INT8 && st->source[i] == COLUMN_SIZE)
				*d = Int64GetDatum(o->size);
			else if (cc->kind == CONV_TIMESTAMPTZ && st->source[i] == COLUMN_LAST_MODIFIED)
				*d = TimestampTzGetDatum(o->last_modified);
			else if (!conv_text(cc, text, strlen(text), d, &err))
				continue;		/* the row will raise it; here it is NULL */
			*isnull = false;
		}
	}
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;
	result = ExecQual(st->object_qual, econtext);
	MemoryContextSwitchTo(old);
	ResetExprContext(econtext);
	return result;
}

/* ----------------------------------------------------------------
 *		Which objects
 * ----------------------------------------------------------------
 */

static WorkUnit *
named_unit(FdwScanState *st, char *key)
{
	WorkUnit   *u = palloc0(sizeof(WorkUnit));

	u->obj.bucket = st->opts.bucket;
	u->obj.key = key;
	u->obj.size = -1;
	u->part = -1;
	u->split = -1;
	u->end = -1;
	return u;
}

/* The objects a filter on uri or key names: those of this table, once each. */
static List *
filter_objects(FdwScanState *st, ExprContext *econtext)
{
	bool		isnull;
	Datum		d = ExecEvalExpr(st->filter, econtext, &isnull);
	Oid			type = exprType((Node *) st->filter->expr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *keys = NIL;
	List	   *units = NIL;
	ListCell   *lc;

	if (isnull)
		n = 0;
	else if (type_is_array(type))
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
	else
	{
		elems = &d;
		nulls = &isnull;
		n = 1;
	}
	for (i = 0; i < n; i++)
	{
		char	   *v;
		char	   *key;

		if (nulls[i])
			continue;
		v = TextDatumGetCString(elems[i]);
		if (st->filter_kind == FDW_FILTER_URIS)
		{
			char	   *bucket;

			if (pg_strncasecmp(v, "s3://", 5) != 0)
				continue;		/* cannot be one of ours */
			s3_parse_uri(v, &bucket, &key);
			if (strcmp(bucket, st->opts.bucket) != 0)
				continue;
		}
		else
			key = v;
		/* only objects of this table */
		if (st->opts.is_prefix ? strncmp(key, st->opts.key, strlen(st->opts.key)) != 0
			: strcmp(key, st->opts.key) != 0)
			continue;
		if (key[0] == '\0')
			continue;
		keys = lappend(keys, key);
	}
	list_sort(keys, (list_sort_comparator) pg_qsort_strcmp);
	foreach(lc, keys)
	{
		if (foreach_current_index(lc) > 0 &&
			strcmp(lfirst(lc), list_nth(keys, foreach_current_index(lc) - 1)) == 0)
			continue;			/* src = ANY('{a,a}') reads a once */
		units = lappend(units, named_unit(st, lfirst(lc)));
	}
	return units;
}

/*
 * objects_prepare: decide where the objects come from: the ones a filter
 * names (evaluated in "econtext"), the table's one object, or the listing
 * (the tasks of the partition walk, listed page by page as the scan goes).
 */
void
objects_prepare(FdwScanState *st, ExprContext *econtext)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	st->named = NIL;
	st->named_next = 0;
	st->tasks = NIL;
	st->lister = NULL;
	if (st->filter_kind != FDW_FILTER_NONE)
		st->named = filter_objects(st, econtext);
	else if (!st->opts.is_prefix)
		st->named = list_make1(named_unit(st, st->opts.key));
	else
	{
		char	   *prefix = fdw_effective_prefix(&st->opts, st->like_prefix);

		if (prefix != NULL)
			st->tasks = listing_tasks(st, prefix);
	}
	st->objects_ready = true;
	MemoryContextSwitchTo(old);
}

/* Remember what a complete listing found, for later plans of this session. */
static void
listing_done(FdwScanState *st)
{
	char	   *prefix;

	if (st->listing_complete || st->filter_kind != FDW_FILTER_NONE || !st->opts.is_prefix ||
		st->dir_quals != NIL)
		return;
	st->listing_complete = true;
	prefix = fdw_effective_prefix(&st->opts, st->like_prefix);
	if (prefix)
		fdw_stats_remember_listing(st->relid, st->opts.bucket, prefix,
								  (double) st->objects_listed, st->bytes_listed);
}

/* The next unit this process reads (before object quals), false when none is left. */
static bool
next_unit(FdwScanState *st, WorkUnit *u)
{
	const S3Object *o;

	if (st->shared)
		return parallel_claim(st, u);
	if (st->named_next < list_length(st->named))
	{
		*u = *(WorkUnit *) list_nth(st->named, st->named_next++);
		return true;
	}
	if (st->tasks == NIL)
		return false;
	if (st->lister == NULL)
	{
		S3ListPage *head = NULL;
		const ListTask *t = linitial(st->tasks);

		/* the planning's first page, if it listed the same */
		if (list_length(st->tasks) == 1 && !t->direct)
			head = fdw_listing_head(st->relid, st->client, st->opts.bucket, t->prefix);
		st->lister = lister_create(st->client, st->opts.bucket, st->tasks, head, st->cxt);
	}
	o = lister_next(st->lister);
	if (o == NULL)
	{
		listing_done(st);
		/* now the total is known (pruned objects count as done) */
		if (st->progress_level >= 0)
		{
			progress_set_total(st->objects_listed);
			progress_add(st->objects_pruned, 0, 0, 0);
		}
		return false;
	}
	memset(u, 0, sizeof(WorkUnit));
	u->obj = *o;
	u->listed = true;
	u->part = -1;
	u->split = -1;
	u->end = -1;
	st->objects_listed++;
	st->bytes_listed += Max(o->size, 0);
	return true;
}

/*
 * Claim the next unit whose object can hold rows, as far as can be told
 * before reading it; a large plain object of a parallel scan becomes its
 * first part, the other parts left to the other participants.
 */
static bool
claim_unit(FdwScanState *st, WorkUnit *u)
{
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (!next_unit(st, u))
			return false;
		if (u->part >= 0)
			return true;		/* a part: its object was decided already */
		/* shard 'k/n': another share's object is another server's */
		if (st->opts.shard_n > 1 &&
			!fdw_shard_mine(u->obj.key, st->opts.shard_k, st->opts.shard_n))
		{
			st->objects_pruned++;
			if (u->split_pending)
				parallel_split(st, u, false);
			continue;
		}
		if ((u->listed || !st->qual_needs_meta) && !object_matches(st, &u->obj))
		{
			st->objects_pruned++;
			if (u->split_pending)
				parallel_split(st, u, false);
			continue;
		}
		if (u->split_pending)
			parallel_split(st, u, true);
		return true;
	}
}

/* Keep "depth" GETs in flight besides the one being read. */
static void
top_up_prefetch(FdwScanState *st, int depth)
{
	depth = Min(depth, MAX_PREFETCH);
	while (st->nprefetched < depth)
	{
		WorkUnit	u;

		if (!claim_unit(st, &u))
			break;
		stream_start_get(&st->prefetched[st->nprefetched++], st->client, &u, st->cxt);
	}
}

/*
 * objects_open_next: open the next object (or part) that exists and may
 * hold rows.  Objects listed a moment ago may be gone, and objects named
 * by a filter may never have existed: neither has rows, neither is an
 * error.
 */
bool
objects_open_next(FdwScanState *st)
{
	for (;;)
	{
		PendingGet	pg;

		top_up_prefetch(st, 1);
		if (st->nprefetched == 0)
			return false;
		pg = st->prefetched[0];
		memmove(&st->prefetched[0], &st->prefetched[1],
				sizeof(PendingGet) * (st->nprefetched - 1));
		st->nprefetched--;
		top_up_prefetch(st, pipeline_prefetch);

		if (!s3_get_open(pg.get, true))
		{
			stream_cancel_get(&pg);
			continue;
		}
		if (!pg.unit.listed && st->qual_needs_meta && pg.unit.part < 0 &&
			!object_matches(st, s3_get_object(pg.get)))
		{
			st->objects_pruned++;
			stream_cancel_get(&pg);
			continue;
		}
		/* within the scan's budget, or stop before reading it */
		scan_budget_charge(st, &pg.unit, s3_get_object(pg.get));
		if (pipeline_object_read_hook && pg.unit.part <= 0)
		{
			const S3Object *o = s3_get_object(pg.get);

			pipeline_object_read_hook(o->bucket ? o->bucket : pg.unit.obj.bucket,
									  o->key ? o->key : pg.unit.obj.key, o->etag);
		}
		{
			char	   *header = NULL;
			size_t		header_len = 0;

			/* later parts of a CSV object begin with its header */
			if (pg.unit.part > 0 && st->opts.format == FDW_FORMAT_CSV &&
				(st->opts.header || st->opts.header_skip))
				parallel_part_header(st, &pg.unit, &header, &header_len);
			stream_begin(&st->stream, &pg, header, header_len);
		}
		st->reading = true;
		if (st->stream.cur.unit.part <= 0)
			st->objects_read++;
		if (st->stream.cur.unit.part >= 0)
			st->parts_read++;
		rows_begin_object(st);
		return true;
	}
}

/* objects_close: done with the object being read. */
void
objects_close(FdwScanState *st)
{
	if (st->reading)
	{
		uint64		n = stream_bytes_read(&st->stream);
		bool		whole = st->stream.cur.unit.part <= 0;	/* an object, or its first part */

		st->bytes_read += n;
		pipeline_scan_bytes += n;
		scan_account_read(st, n);
		/* (after the DSM is gone, at the end of a scan stopped early, no one cares) */
		if (st->stream.cur.unit.part >= 0 && st->shared != NULL)
			parallel_part_done(st, &st->stream.cur.unit);
		stream_end(&st->stream);
		st->reading = false;
		scan_progress(st, whole);
	}
	st->reading = false;
}

/* objects_rewind: for a rescan: nothing read, nothing in flight. */
void
objects_rewind(FdwScanState *st)
{
	int			i;

	objects_close(st);
	for (i = 0; i < st->nprefetched; i++)
		stream_cancel_get(&st->prefetched[i]);
	st->nprefetched = 0;
	st->named_next = 0;
	if (st->lister)
		lister_free(st->lister);
	st->lister = NULL;
	st->listing_complete = false;
	st->objects_listed = 0;
	st->bytes_listed = 0;
	/* a parallel scan's objects are the DSM's (ReInitializeDSM rewinds them) */
	if (st->shared == NULL)
		st->objects_ready = false;
}
