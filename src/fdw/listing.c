/*-------------------------------------------------------------------------
 *
 * listing.c
 *	  The objects under a table's prefix, page by page: a listing is never
 *	  held whole in memory.
 *
 * A scan lists as it reads: the Lister hands out the objects of one page
 * (at most 1,000 keys, in a memory context of its own) and asks for the
 * next page while the second half of the current one is being read, so
 * that listing and reading overlap and memory stays flat however many
 * objects there are.  Parallel scans list the same way, one page at a time
 * by whichever participant runs short (parallel.c).
 *
 * What is listed: the table's prefix, narrowed by a LIKE on the uri or key
 * column, and by Hive partitions: with WHERE clauses on partition columns,
 * the directories under the prefix are walked level by level (listings
 * with delimiter '/'), and a "dt=2026-11-25/" directory whose value cannot
 * satisfy them is never listed.  The walk is bounded: a level with many
 * entries, or a walk that takes many requests, lists what is left whole.
 *
 * The first page of the planning's listing is kept for the execution of
 * the same statement, which starts reading from it.
 *
 * IDENTIFICATION
 *	  src/fdw/listing.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fdw/scan.h"

/* The partition walk's bounds: pages of one level, requests in all, listings made. */
#define WALK_MAX_LEVEL_PAGES	4
#define WALK_MAX_REQUESTS		100
#define WALK_MAX_TASKS			10000

struct Lister
{
	AwsClient  *client;
	char	   *bucket;
	List	   *tasks;			/* of ListTask */
	int			task;			/* the task being listed */
	char	   *token;			/* its continuation (in page_cxt); NULL: first page */
	bool		task_started;
	MemoryContext cxt;
	MemoryContext page_cxt;		/* the page being handed out */
	List	   *page;			/* of S3Object */
	int			pos;
	MemoryContext next_cxt;		/* the next page, requested ahead */
	S3ListCall *next;
	bool		done;
};

/*
 * fdw_effective_prefix: the listing prefix: the table's, or a longer one
 * from a LIKE filter.  Returns NULL if the two cannot both hold (no object
 * can match).
 */
char *
fdw_effective_prefix(const FdwTableOptions *opts, const char *like_prefix)
{
	if (like_prefix == NULL || !opts->is_prefix)
		return opts->key;
	if (strncmp(like_prefix, opts->key, strlen(opts->key)) == 0)
		return (char *) like_prefix;
	if (strncmp(opts->key, like_prefix, strlen(like_prefix)) == 0)
		return opts->key;
	return NULL;
}

/* ----------------------------------------------------------------
 *		The first page, shared by planning and execution of a statement
 * ----------------------------------------------------------------
 */

typedef struct ListingHead
{
	MemoryContext cxt;
	MemoryContextCallback cb;
	TimestampTz stmt_start;
	Oid			relid;
	Oid			userid;
	char	   *bucket;
	char	   *prefix;
	S3ListPage *page;
} ListingHead;

static ListingHead *listing_head = NULL;

static void
listing_head_forget(void *arg)
{
	listing_head = NULL;
}

/*
 * fdw_listing_head: the first page of the listing of bucket/prefix.
 * Planning lists it to estimate; the execution of the same statement
 * starts from it instead of asking S3 again.  A plan executed by a later
 * statement lists anew.
 */
S3ListPage *
fdw_listing_head(Oid relid, AwsClient *client, const char *bucket, const char *prefix)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	ListingHead *lh = listing_head;
	MemoryContext cxt;
	MemoryContext old;

	if (lh && lh->stmt_start == now && lh->relid == relid && lh->userid == GetUserId() &&
		strcmp(lh->bucket, bucket) == 0 && strcmp(lh->prefix, prefix) == 0)
		return lh->page;

	if (listing_head)
		MemoryContextDelete(listing_head->cxt);
	cxt = AllocSetContextCreate(TopTransactionContext, "pipeline_s3 listing head",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	lh = palloc0(sizeof(ListingHead));
	lh->cxt = cxt;
	lh->stmt_start = now;
	lh->relid = relid;
	lh->userid = GetUserId();
	lh->bucket = pstrdup(bucket);
	lh->prefix = pstrdup(prefix);
	lh->page = s3_list_page(client, bucket, prefix, NULL, NULL, 0);
	lh->cb.func = listing_head_forget;
	MemoryContextRegisterResetCallback(cxt, &lh->cb);
	MemoryContextSwitchTo(old);
	listing_head = lh;
	return lh->page;
}

/* ----------------------------------------------------------------
 *		Listing page by page
 * ----------------------------------------------------------------
 */

/* One page of one task (parallel scans list with this). */
S3ListPage *
listing_fetch(AwsClient *client, const char *bucket, const ListTask *task,
			  const char *token, int max_keys)
{
	return s3_list_page(client, bucket, task->prefix, task->direct ? "/" : NULL,
						token, max_keys);
}

/*
 * lister_create: list "tasks" one after the other.  "head", if not NULL,
 * is the first page of the first task, already listed.
 */
Lister *
lister_create(AwsClient *client, const char *bucket, List *tasks, S3ListPage *head,
			  MemoryContext parent)
{
	Lister	   *l = MemoryContextAllocZero(parent, sizeof(Lister));

	l->cxt = parent;
	l->client = client;
	l->bucket = MemoryContextStrdup(parent, bucket);
	l->tasks = tasks;
	l->done = tasks == NIL;
	if (head && !l->done)
	{
		l->page = head->objects;
		l->token = head->next_token;
		l->task_started = true;
	}
	return l;
}

/* Is there a page after the current one (of this task or the next)? */
static bool
lister_more(const Lister *l)
{
	if (l->done)
		return false;
	if (!l->task_started || l->token != NULL)
		return true;
	return l->task + 1 < list_length(l->tasks);
}

/* Send the request for the page after the current one. */
static void
lister_request_next(Lister *l)
{
	MemoryContext old;
	const ListTask *t;
	const char *token = l->token;
	int			task = l->task;

	if (l->next != NULL || !lister_more(l))
		return;
	if (l->task_started && token == NULL)
		task++;					/* the current task is listed to its end */
	t = list_nth(l->tasks, task);
	l->next_cxt = AllocSetContextCreate(l->cxt, "pipeline_s3 listing page",
										ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(l->next_cxt);
	l->next = s3_list_start(l->client, l->bucket, t->prefix, t->direct ? "/" : NULL,
							l->task_started && task == l->task ? token : NULL, 0);
	MemoryContextSwitchTo(old);
}

/* Make the requested next page the current one. */
static void
lister_take_next(Lister *l)
{
	S3ListPage *page = s3_list_finish(l->next);

	if (l->task_started && l->token == NULL)
		l->task++;
	l->task_started = true;
	l->next = NULL;
	if (l->page_cxt)
		MemoryContextDelete(l->page_cxt);
	l->page_cxt = l->next_cxt;
	l->next_cxt = NULL;
	l->page = page->objects;
	l->pos = 0;
	l->token = page->next_token;
}

/*
 * lister_next: the next object listed, or NULL after the last.  Valid
 * until the call after the one that ends its page: callers copy what
 * they keep.
 */
const S3Object *
lister_next(Lister *l)
{
	for (;;)
	{
		if (l->pos < list_length(l->page))
		{
			const S3Object *o = list_nth(l->page, l->pos++);

			/* past half of the page: the next one is on its way */
			if (l->pos * 2 >= list_length(l->page))
				lister_request_next(l);
			return o;
		}
		if (!lister_more(l))
		{
			l->done = true;
			return NULL;
		}
		lister_request_next(l);
		lister_take_next(l);
	}
}

/* lister_free: abandon a listing (a rescan): its pages and request. */
void
lister_free(Lister *l)
{
	if (l->next)
		s3_list_cancel(l->next);
	if (l->next_cxt)
		MemoryContextDelete(l->next_cxt);
	if (l->page_cxt)
		MemoryContextDelete(l->page_cxt);
	pfree(l);
}

/* ----------------------------------------------------------------
 *		Partition directories
 * ----------------------------------------------------------------
 */

typedef enum DirVerdict
{
	DIR_PRUNE,					/* nothing under it can match */
	DIR_LIST,					/* list everything under it */
	DIR_DESCEND					/* look at its directories */
} DirVerdict;

/* The partition column of a "name=value/" directory, or -1. */
static int
dir_partition(FdwScanState *st, const char *dir)
{
	size_t		len = strlen(dir);
	const char *seg;
	const char *eq;
	int			i;

	if (len < 2 || dir[len - 1] != '/')
		return -1;
	for (seg = dir + len - 2; seg > dir && seg[-1] != '/'; seg--)
		;
	eq = memchr(seg, '=', dir + len - 1 - seg);
	if (eq == NULL)
		return -1;
	for (i = 0; i < st->natts; i++)
		if (st->source[i] == COLUMN_PARTITION &&
			strlen(st->field_name[i]) == (size_t) (eq - seg) &&
			strncmp(st->field_name[i], seg, eq - seg) == 0)
			return i;
	return -1;
}

/*
 * What to do with directory "dir" (a common prefix, ending in '/'): a key
 * under it has, for each partition column, the value of the first
 * "name=value" directory of its path, so those found in "dir" are known
 * for all of them.  A clause on known columns only that is false prunes
 * the directory; clauses on columns not known yet make it worth looking
 * one level deeper, if it is a partition directory itself.
 */
static DirVerdict
dir_verdict(FdwScanState *st, const char *dir)
{
	TupleTableSlot *slot = st->object_slot;
	ExprContext *econtext = st->econtext;
	Bitmapset  *known = NULL;
	bool		unknown = false;
	ListCell   *lc;
	MemoryContext old;
	int			i;

	if (dir_partition(st, dir) < 0 && st->tmpl == NULL)
		return DIR_LIST;
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	ExecClearTuple(slot);
	for (i = 0; i < st->natts; i++)
	{
		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
		if (st->source[i] == COLUMN_PARTITION && partition_value(dir, st->field_name[i]) != NULL)
		{
			slot->tts_values[i] = partition_datum(st, i, dir, &slot->tts_isnull[i]);
			known = bms_add_member(known, i + 1);
		}
	}
	if (st->tmpl)
		template_dir_values(st, dir, slot, &known, false);
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;
	foreach(lc, st->dir_quals)
	{
		DirQual    *dq = lfirst(lc);

		if (!bms_is_subset(dq->attnos, known))
			unknown = true;
		else if (!ExecQual(dq->qual, econtext))
		{
			/*
			 * Keys under dir that do not match the key template further down
			 * have NULL parts: pruned only if the clause is false for them too.
			 */
			if (st->tmpl && !bms_is_empty(dq->attnos))
			{
				Bitmapset  *scratch = NULL;	/* (known stays what dir decides) */
				bool		pass;

				template_dir_values(st, dir, slot, &scratch, true);
				pass = ExecQual(dq->qual, econtext);
				template_dir_values(st, dir, slot, &scratch, false);
				if (pass)
				{
					unknown = true;
					continue;
				}
			}
			MemoryContextSwitchTo(old);
			ResetExprContext(econtext);
			return DIR_PRUNE;
		}
	}
	MemoryContextSwitchTo(old);
	ResetExprContext(econtext);
	return unknown ? DIR_DESCEND : DIR_LIST;
}

static ListTask *
make_task(const char *prefix, bool direct)
{
	ListTask   *t = palloc(sizeof(ListTask));

	t->prefix = pstrdup(prefix);
	t->direct = direct;
	return t;
}

/*
 * listing_tasks: what to list to find every object under "prefix" that
 * the partition clauses of the scan allow: the prefix itself without such
 * clauses; otherwise the directories left after the walk, each listed
 * whole, and the objects right under each level walked.  In st->cxt.
 */
List *
listing_tasks(FdwScanState *st, const char *prefix)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	MemoryContext page_cxt;
	List	   *tasks = NIL;
	List	   *levels;
	int			requests = 0;

	if (st->dir_quals == NIL)
	{
		tasks = list_make1(make_task(prefix, false));
		MemoryContextSwitchTo(old);
		return tasks;
	}

	/* a key template: equality narrows the prefix; the clauses may decide it whole */
	if (st->tmpl)
	{
		char	   *narrowed = template_prefix(st, prefix);
		DirVerdict	v = narrowed ? dir_verdict(st, narrowed) : DIR_PRUNE;

		if (v == DIR_PRUNE)
		{
			st->dirs_pruned++;
			MemoryContextSwitchTo(old);
			return NIL;
		}
		prefix = narrowed;
		if (v == DIR_LIST)
		{
			tasks = list_make1(make_task(prefix, false));
			MemoryContextSwitchTo(old);
			return tasks;
		}
	}

	page_cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 partition walk",
									 ALLOCSET_DEFAULT_SIZES);
	levels = list_make1(pstrdup(prefix));
	while (levels != NIL)
	{
		char	   *level = linitial(levels);
		List	   *found = NIL;	/* tasks of this level */
		List	   *deeper = NIL;	/* directories to walk */
		char	   *token = NULL;
		bool		objects = false;
		bool		whole = false;
		int			pages = 0;

		levels = list_delete_first(levels);
		CHECK_FOR_INTERRUPTS();
		if (requests >= WALK_MAX_REQUESTS ||
			list_length(tasks) + list_length(levels) >= WALK_MAX_TASKS)
		{
			tasks = lappend(tasks, make_task(level, false));
			continue;
		}
		for (;;)
		{
			S3ListPage *page;
			ListCell   *lc;

			MemoryContextSwitchTo(page_cxt);
			page = s3_list_page(st->client, st->opts.bucket, level, "/", token, 0);
			MemoryContextSwitchTo(st->cxt);
			requests++;
			pages++;
			objects |= page->objects != NIL;
			foreach(lc, page->prefixes)
			{
				char	   *dir = lfirst(lc);

				switch (dir_verdict(st, dir))
				{
					case DIR_PRUNE:
						st->dirs_pruned++;
						break;
					case DIR_LIST:
						found = lappend(found, make_task(dir, false));
						break;
					case DIR_DESCEND:
						deeper = lappend(deeper, pstrdup(dir));
						break;
				}
			}
			token = page->next_token ? pstrdup(page->next_token) : NULL;
			MemoryContextReset(page_cxt);
			if (token == NULL)
				break;
			if (pages >= WALK_MAX_LEVEL_PAGES || requests >= WALK_MAX_REQUESTS)
			{
				whole = true;	/* a large level: list it all */
				break;
			}
		}
		if (whole)
		{
			tasks = lappend(tasks, make_task(level, false));
			continue;
		}
		if (objects)
			tasks = lappend(tasks, make_task(level, true));
		tasks = list_concat(tasks, found);
		levels = list_concat(levels, deeper);
	}
	MemoryContextDelete(page_cxt);
	MemoryContextSwitchTo(old);
	return tasks;
}
