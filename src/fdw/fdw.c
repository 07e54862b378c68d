/*-------------------------------------------------------------------------
 *
 * fdw.c
 *	  The pipeline_s3 foreign data wrapper: handler, planning, EXPLAIN.
 *
 * Planning recognizes filters on the metadata columns that decide which
 * objects are read at all:
 *
 *	  src = 's3://b/k'		  src = ANY (array)		src = ANY (pipeline.trigger_uris())
 *	  key LIKE 'raw/2026-%'	  starts_with(key, 'raw/')
 *
 * The first kind fetches only the named objects (no listing); the second
 * narrows the listing prefix.  The quals stay in the plan as local filters
 * too, so pushing them down can never change a result, only its cost.
 *
 * IDENTIFICATION
 *	  src/fdw/fdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"
#include "s3/credentials.h"

/* Bytes per record when nothing better is known (gzip JSON / plain). */
#define BYTES_PER_ROW_GZIP	40.0
#define BYTES_PER_ROW_PLAIN 220.0

/* Planner state, in baserel->fdw_private. */
typedef struct S3PlanState
{
	S3TableOptions opts;
	S3ScanPlan	plan;
	Expr	   *filter_expr;	/* for S3_FILTER_URIS / KEYS */
	List	   *partition_quals;	/* clauses on partition columns only */
	Bitmapset  *attrs_used;
} S3PlanState;

PG_FUNCTION_INFO_V1(pipeline_s3_fdw_handler);

/* ----------------------------------------------------------------
 *		Recognizing filters on metadata columns
 * ----------------------------------------------------------------
 */

/* The metadata kind of a Var of our relation (looking through casts). */
static S3Meta
meta_of(Node *node, Index relid, Oid reloid)
{
	Var		   *var;
	char	   *field;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return S3_META_NONE;
	var = (Var *) node;
	if (var->varno != relid || var->varlevelsup != 0 || var->varattno <= 0)
		return S3_META_NONE;
	return s3_column_meta(reloid, var->varattno, &field);
}

/* The literal prefix of a LIKE pattern ("raw/2026-%" -> "raw/2026-"). */
static char *
like_literal_prefix(const char *pattern)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = pattern; *p; p++)
	{
		if (*p == '%' || *p == '_')
			break;
		if (*p == '\\')
		{
			if (p[1] == '\0')
				break;
			p++;
		}
		appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/*
 * Look at one restriction clause; remember what it says about which
 * objects can hold matching rows.
 */
static void
classify_qual(S3PlanState *ps, Expr *clause, Index relid, Oid reloid)
{
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *l = linitial(op->args);
		Node	   *r = lsecond(op->args);
		Oid			func = get_opcode(op->opno);
		S3Meta		m = meta_of(l, relid, reloid);

		if (m == S3_META_NONE && func == F_TEXTEQ)
		{
			/* 'const' = src */
			Node	   *t = l;

			l = r;
			r = t;
			m = meta_of(l, relid, reloid);
		}
		if (m != S3_META_URI && m != S3_META_KEY)
			return;

		if (func == F_TEXTEQ && ps->plan.filter_kind == S3_FILTER_NONE &&
			is_pseudo_constant_clause(r))
		{
			ps->plan.filter_kind = m == S3_META_URI ? S3_FILTER_URIS : S3_FILTER_KEYS;
			ps->filter_expr = (Expr *) r;
		}
		else if ((func == F_TEXTLIKE || func == F_STARTS_WITH) &&
				 IsA(r, Const) && !((Const *) r)->constisnull)
		{
			char	   *pat = TextDatumGetCString(((Const *) r)->constvalue);
			char	   *prefix = func == F_TEXTLIKE ? like_literal_prefix(pat) : pat;

			if (m == S3_META_URI)
			{
				/* s3://bucket/keyprefix -> keyprefix, if the bucket is ours */
				char	   *head = psprintf("s3://%s/", ps->opts.bucket);

				if (strncmp(prefix, head, strlen(head)) != 0)
					return;
				prefix += strlen(head);
			}
			if (ps->plan.like_prefix == NULL ||
				strlen(prefix) > strlen(ps->plan.like_prefix))
				ps->plan.like_prefix = pstrdup(prefix);
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		S3Meta		m = meta_of(linitial(sa->args), relid, reloid);
		Node	   *r = lsecond(sa->args);

		if ((m == S3_META_URI || m == S3_META_KEY) && sa->useOr &&
			get_opcode(sa->opno) == F_TEXTEQ &&
			ps->plan.filter_kind == S3_FILTER_NONE && is_pseudo_constant_clause(r))
		{
			ps->plan.filter_kind = m == S3_META_URI ? S3_FILTER_URIS : S3_FILTER_KEYS;
			ps->filter_expr = (Expr *) r;
		}
	}
}

/*
 * A clause that only looks at partition columns can be decided per object,
 * from its key, before anything is read: Hive-style partition pruning.
 */
static bool
is_partition_qual(Expr *clause, Index relid, Oid reloid)
{
	Bitmapset  *attnos = NULL;
	int			a = -1;

	if (contain_volatile_functions((Node *) clause) || contain_subplans((Node *) clause))
		return false;
	pull_varattnos((Node *) clause, relid, &attnos);
	if (bms_is_empty(attnos))
		return false;
	while ((a = bms_next_member(attnos, a)) >= 0)
	{
		AttrNumber	attno = a + FirstLowInvalidHeapAttributeNumber;
		char	   *field;

		if (attno <= 0 || s3_column_meta(reloid, attno, &field) != S3_META_PARTITION)
			return false;
	}
	return true;
}

/*
 * The listing prefix: the table's, or a longer one from a LIKE filter.
 * Returns NULL if the two cannot both hold (no object can match).
 */
char *
s3_effective_prefix(const S3TableOptions *opts, const char *like_prefix)
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
 *		The listing of one statement, shared by planning and execution
 * ----------------------------------------------------------------
 */

typedef struct ListingCache
{
	MemoryContext cxt;
	MemoryContextCallback cb;
	TimestampTz stmt_start;
	Oid			relid;
	Oid			userid;
	char	   *bucket;
	char	   *prefix;
	List	   *objects;
} ListingCache;

static ListingCache *listing_cache = NULL;

static void
listing_cache_forget(void *arg)
{
	listing_cache = NULL;
}

/*
 * s3_cached_listing: the objects under bucket/prefix.  Planning lists to
 * estimate; execution of the same statement reuses that listing instead
 * of asking S3 again.  A plan executed by a later statement lists anew.
 */
List *
s3_cached_listing(Oid relid, S3Client *client, const char *bucket, const char *prefix)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	ListingCache *lc = listing_cache;
	List	   *objects;
	MemoryContext cxt;
	MemoryContext old;
	ListCell   *cell;

	if (lc && lc->stmt_start == now && lc->relid == relid && lc->userid == GetUserId() &&
		strcmp(lc->bucket, bucket) == 0 && strcmp(lc->prefix, prefix) == 0)
		return lc->objects;

	objects = s3_list_objects(client, bucket, prefix);

	if (listing_cache)
		MemoryContextDelete(listing_cache->cxt);
	cxt = AllocSetContextCreate(TopTransactionContext, "pipeline_s3 listing",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	lc = palloc0(sizeof(ListingCache));
	lc->cxt = cxt;
	lc->stmt_start = now;
	lc->relid = relid;
	lc->userid = GetUserId();
	lc->bucket = pstrdup(bucket);
	lc->prefix = pstrdup(prefix);
	foreach(cell, objects)
	{
		S3Object   *src = lfirst(cell);
		S3Object   *o = palloc(sizeof(S3Object));

		o->bucket = lc->bucket;
		o->key = pstrdup(src->key);
		o->etag = src->etag ? pstrdup(src->etag) : NULL;
		o->size = src->size;
		o->last_modified = src->last_modified;
		lc->objects = lappend(lc->objects, o);
	}
	lc->cb.func = listing_cache_forget;
	MemoryContextRegisterResetCallback(cxt, &lc->cb);
	MemoryContextSwitchTo(old);
	listing_cache = lc;
	return lc->objects;
}

/* ----------------------------------------------------------------
 *		Planning
 * ----------------------------------------------------------------
 */

static Oid
plan_userid(RelOptInfo *baserel)
{
	return OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
}

static void
s3GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	S3PlanState *ps = palloc0(sizeof(S3PlanState));
	ListCell   *lc;
	double		per_row;
	double		ntuples;

	s3_table_options(foreigntableid, &ps->opts);

	foreach(lc, baserel->baserestrictinfo)
	{
		Expr	   *clause = ((RestrictInfo *) lfirst(lc))->clause;

		classify_qual(ps, clause, baserel->relid, foreigntableid);
		if (is_partition_qual(clause, baserel->relid, foreigntableid))
			ps->partition_quals = lappend(ps->partition_quals, clause);
	}

	/* the columns the query needs: only those are parsed and converted */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &ps->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, baserel->relid,
					   &ps->attrs_used);

	if (ps->plan.filter_kind != S3_FILTER_NONE)
	{
		/* named objects: as many as the array has, if we can tell */
		Expr	   *e = ps->filter_expr;

		ps->plan.objects = 1;
		if (IsA(e, Const) && !((Const *) e)->constisnull &&
			type_is_array(((Const *) e)->consttype))
			ps->plan.objects = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) e)->constvalue)),
											  ARR_DIMS(DatumGetArrayTypeP(((Const *) e)->constvalue)));
		else if (!IsA(e, Const))
			ps->plan.objects = 10;
		ps->plan.bytes = ps->plan.objects * 1024 * 1024;
	}
	else
	{
		S3Config	cfg;
		S3Client   *client;
		char	   *prefix = s3_effective_prefix(&ps->opts, ps->plan.like_prefix);

		s3_server_config(GetForeignTable(foreigntableid)->serverid, plan_userid(baserel), &cfg);
		client = s3_client_create(&cfg, CurrentMemoryContext);
		if (prefix == NULL)
			ps->plan.objects = 0;
		else if (ps->opts.is_prefix)
		{
			List	   *objects = s3_cached_listing(foreigntableid, client,
													ps->opts.bucket, prefix);

			foreach(lc, objects)
				ps->plan.bytes += ((S3Object *) lfirst(lc))->size;
			ps->plan.objects = list_length(objects);
		}
		else
		{
			/* an estimate only: if HEAD fails, the scan will say why */
			S3Object   *o = s3_head_object(client, ps->opts.bucket, ps->opts.key, true);

			ps->plan.objects = o ? 1 : 0;
			ps->plan.bytes = o ? o->size : 0;
		}
		http_client_destroy(client->http);
	}

	/*
	 * Rows: ANALYZE's rows per 8 kB of compressed bytes if there are any,
	 * else a guess; scaled to the bytes listed now, then filtered by the
	 * quals' selectivity (ANALYZE's statistics make that meaningful).
	 */
	if (baserel->tuples >= 0 && baserel->pages > 0)
		ntuples = baserel->tuples / baserel->pages * (ps->plan.bytes / BLCKSZ);
	else
	{
		per_row = ps->opts.compression == S3_COMPRESSION_NONE ? BYTES_PER_ROW_PLAIN : BYTES_PER_ROW_GZIP;
		ntuples = ps->plan.bytes / per_row;
	}
	baserel->tuples = Max(1.0, clamp_row_est(ntuples));
	baserel->rows = clamp_row_est(baserel->tuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
	baserel->fdw_private = ps;
}

static void
s3GetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	S3PlanState *ps = baserel->fdw_private;
	Cost		startup = 10.0 * Max(1.0, Min(ps->plan.objects, 10.0));
	Cost		run;

	/* decoding costs like a sequential page read per 32 kB, plus per row */
	run = seq_page_cost * ps->plan.bytes / 32768.0 + cpu_tuple_cost * baserel->tuples * 2;
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, startup + run, NIL, NULL, NULL, NIL));

	/*
	 * A parallel scan hands whole objects to the participants: worth it with
	 * several objects.  Workers as for a table of that many bytes.
	 */
	if (baserel->consider_parallel && ps->plan.objects > 1)
	{
		int			workers = compute_parallel_worker(baserel, ps->plan.bytes / BLCKSZ, -1,
													  max_parallel_workers_per_gather);
		ForeignPath *path;
		double		divisor;

		workers = Min(workers, (int) ps->plan.objects - 1);
		if (workers <= 0)
			return;
		divisor = workers + 1;	/* the leader reads objects too */
		path = create_foreignscan_path(root, baserel, NULL, baserel->rows / divisor,
									   startup, startup + run / divisor, NIL, NULL, NULL, NIL);
		path->path.parallel_aware = true;
		path->path.parallel_safe = true;
		path->path.parallel_workers = workers;
		add_partial_path(baserel, (Path *) path);
	}
}

/*
 * Parallel scans are safe unless on_error 'skip': skipping a bad value needs
 * a subtransaction, and rejects are remembered in the leader's memory.
 */
static bool
s3IsForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	S3TableOptions opts;

	s3_table_options(rte->relid, &opts);
	return !opts.skip_errors;
}

static ForeignScan *
s3GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	S3PlanState *ps = baserel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *attrs = NIL;
	List	   *fdw_private;
	int			attno = -1;
	bool		whole_row;

	scan_clauses = extract_actual_clauses(scan_clauses, false);
	if (ps->plan.filter_kind != S3_FILTER_NONE)
		fdw_exprs = list_make1(ps->filter_expr);
	/* copies: the same clauses stay in the plan's quals, checked per row */
	fdw_exprs = list_concat(fdw_exprs, copyObject(ps->partition_quals));

	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, ps->attrs_used);
	while ((attno = bms_next_member(ps->attrs_used, attno)) >= 0)
	{
		AttrNumber	a = attno + FirstLowInvalidHeapAttributeNumber;

		if (a > 0)
			attrs = lappend_int(attrs, a);
	}

	fdw_private = list_make5(makeInteger(ps->plan.filter_kind),
							 ps->plan.like_prefix ? makeString(ps->plan.like_prefix) : makeString(""),
							 makeFloat(psprintf("%.0f", ps->plan.objects)),
							 makeFloat(psprintf("%.0f", ps->plan.bytes)),
							 whole_row ? list_make1_int(-1) : attrs);

	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

/* ----------------------------------------------------------------
 *		EXPLAIN
 * ----------------------------------------------------------------
 */

static const char *
format_name(S3Format f)
{
	return f == S3_FORMAT_CSV ? "csv" : "json";
}

static const char *
compression_name(S3Compression c)
{
	return c == S3_COMPRESSION_GZIP ? "gzip" : c == S3_COMPRESSION_NONE ? "none" : "auto";
}

static void
s3ExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	S3TableOptions opts;
	int			filter_kind = intVal(linitial(plan->fdw_private));
	char	   *like_prefix = strVal(lsecond(plan->fdw_private));

	s3_table_options(RelationGetRelid(node->ss.ss_currentRelation), &opts);
	ExplainPropertyText("S3 URI", opts.uri, es);
	ExplainPropertyText("Format", format_name(opts.format), es);
	ExplainPropertyText("Compression", compression_name(opts.compression), es);
	if (filter_kind != S3_FILTER_NONE)
		ExplainPropertyText("Objects From", filter_kind == S3_FILTER_URIS ?
							"filter on uri" : "filter on key", es);
	if (list_length(plan->fdw_exprs) > (filter_kind != S3_FILTER_NONE ? 1 : 0))
		ExplainPropertyText("Partition Pruning", "on", es);
	else if (like_prefix[0] && opts.is_prefix)
	{
		char	   *prefix = s3_effective_prefix(&opts, like_prefix);

		ExplainPropertyText("Listing Prefix",
							prefix ? s3_make_uri(opts.bucket, prefix) : "(none can match)", es);
	}
	if (es->costs)
	{
		ExplainPropertyFloat("Estimated Objects", NULL,
							 floatVal(lthird(plan->fdw_private)), 0, es);
		ExplainPropertyFloat("Estimated Bytes", NULL,
							 floatVal(lfourth(plan->fdw_private)), 0, es);
	}
	if (es->analyze)
		s3ExplainScanStats(node, es);
}

static bool
s3AnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
					  BlockNumber *totalpages)
{
	return s3_analyze_setup(relation, func, totalpages);
}

Datum
pipeline_s3_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = s3GetForeignRelSize;
	routine->GetForeignPaths = s3GetForeignPaths;
	routine->GetForeignPlan = s3GetForeignPlan;
	routine->ExplainForeignScan = s3ExplainForeignScan;
	routine->BeginForeignScan = s3BeginForeignScan;
	routine->IterateForeignScan = s3IterateForeignScan;
	routine->ReScanForeignScan = s3ReScanForeignScan;
	routine->EndForeignScan = s3EndForeignScan;
	routine->AnalyzeForeignTable = s3AnalyzeForeignTable;
	routine->IsForeignScanParallelSafe = s3IsForeignScanParallelSafe;
	routine->EstimateDSMForeignScan = s3EstimateDSMForeignScan;
	routine->InitializeDSMForeignScan = s3InitializeDSMForeignScan;
	routine->ReInitializeDSMForeignScan = s3ReInitializeDSMForeignScan;
	routine->InitializeWorkerForeignScan = s3InitializeWorkerForeignScan;
	routine->ShutdownForeignScan = s3ShutdownForeignScan;

	PG_RETURN_POINTER(routine);
}

/* ----------------------------------------------------------------
 *		Rejected records of on_error 'skip' scans
 * ----------------------------------------------------------------
 */

typedef struct Reject
{
	Oid			relid;
	char	   *uri;
	int64		record;
	int64		line;
	char	   *error;
	char	   *raw;
} Reject;

/* The rejects of the last statement that had any, in this session. */
static MemoryContext rejects_cxt = NULL;
static List *rejects = NIL;
static int64 rejects_total = 0; /* remembered or not */
static TimestampTz rejects_stmt = 0;

/* Most rejects remembered per statement; counting goes on beyond. */
int			pipeline_max_rejects = 1000;

#define REJECT_RAW_MAX 4096

void
s3_reject_remember(Oid relid, const char *uri, int64 record, int64 line,
				   const char *error, const char *raw, size_t rawlen)
{
	MemoryContext old;
	Reject	   *r;

	if (rejects_cxt == NULL)
		rejects_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline_s3 rejects",
											ALLOCSET_SMALL_SIZES);
	if (rejects_stmt != GetCurrentStatementStartTimestamp())
		s3_rejects_reset();
	rejects_total++;
	if (list_length(rejects) >= pipeline_max_rejects)
		return;					/* counted by the scan, not remembered */
	old = MemoryContextSwitchTo(rejects_cxt);
	r = palloc(sizeof(Reject));
	r->relid = relid;
	r->uri = pstrdup(uri);
	r->record = record;
	r->line = line;
	r->error = pstrdup(error);
	rawlen = Min(rawlen, REJECT_RAW_MAX);
	if (raw)
		rawlen = pg_mbcliplen(raw, (int) rawlen, (int) rawlen);
	r->raw = raw ? pnstrdup(raw, rawlen) : NULL;
	rejects = lappend(rejects, r);
	MemoryContextSwitchTo(old);
}

/*
 * s3_rejects_reset: forget the rejects remembered so far; a report run
 * starts with none, so that it can keep its own (s3_rejects_foreach).
 */
void
s3_rejects_reset(void)
{
	if (rejects_cxt)
		MemoryContextReset(rejects_cxt);
	rejects = NIL;
	rejects_total = 0;
	rejects_stmt = GetCurrentStatementStartTimestamp();
}

/* The rejects since the last reset: each remembered one, and how many in all. */
int64
s3_rejects_foreach(s3_reject_fn fn, void *arg)
{
	ListCell   *lc;

	foreach(lc, rejects)
	{
		Reject	   *r = lfirst(lc);

		fn(arg, r->uri, r->record, r->line, r->error, r->raw);
	}
	return rejects_total;
}

PG_FUNCTION_INFO_V1(pipeline_rejects);

/*
 * pipeline.rejects(): the records that on_error 'skip' scans of the last
 * statement that skipped any left out, with the reason.
 */
Datum
pipeline_rejects(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, rejects)
	{
		Reject	   *r = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = ObjectIdGetDatum(r->relid);
		values[1] = CStringGetTextDatum(r->uri);
		values[2] = Int64GetDatum(r->record);
		values[3] = Int64GetDatum(r->line);
		values[4] = CStringGetTextDatum(r->error);
		if (r->raw)
			values[5] = CStringGetTextDatum(r->raw);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
