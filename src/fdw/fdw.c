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
 * narrows the listing prefix.  Clauses on what is known of an object before
 * it is read (partition columns, uri, key, size, last_modified) become
 * object quals, decided per listed object before any GET; those on
 * partition columns only also prune whole directories.  All of them stay in
 * the plan as local filters too, so pushing them down can never change a
 * result, only its cost.
 *
 * Estimates come from one page of the listing and what else is known
 * (estimate.c), never from listing a whole prefix.  What planning hands to
 * execution is indexed by FdwScanPrivateIndex (fdw.h).  Nothing here is
 * called by the scan's files: they are below the handler.
 *
 * IDENTIFICATION
 *	  src/fdw/fdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

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
#include "fdw/gzsplit.h"
#include "fdw/template.h"
#include "s3/credentials.h"
#include "util/settings.h"

/* Bytes per record when nothing better is known (gzip JSON / plain). */
#define BYTES_PER_ROW_GZIP	40.0
#define BYTES_PER_ROW_PLAIN 220.0

/* Planner state, in baserel->fdw_private. */
typedef struct FdwPlanState
{
	FdwTableOptions opts;
	int			filter_kind;	/* FDW_FILTER_* */
	Expr	   *filter_expr;	/* for FDW_FILTER_URIS / KEYS */
	Expr	   *filter_clause;	/* the clause it comes from */
	char	   *like_prefix;	/* narrows the listing, or NULL */
	List	   *dir_quals;		/* clauses on partition columns only */
	List	   *meta_quals;		/* other clauses on what is known before reading */
	Bitmapset  *attrs_used;
	bool		need_line;		/* a "line" column is read */
	double		objects;		/* estimates */
	double		bytes;
	bool		maybe_gzip;		/* compression gzip, or auto and keys ending in .gz */
} FdwPlanState;

PG_FUNCTION_INFO_V1(pipeline_s3_fdw_handler);

/* ----------------------------------------------------------------
 *		Recognizing filters on metadata columns
 * ----------------------------------------------------------------
 */

/* Where a Var of our relation takes its values from (looking through casts). */
static ColumnSource
source_of(Node *node, Index relid, Oid reloid)
{
	Var		   *var;
	char	   *field;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return COLUMN_FIELD;
	var = (Var *) node;
	if (var->varno != relid || var->varlevelsup != 0 || var->varattno <= 0)
		return COLUMN_FIELD;
	return fdw_column_source(reloid, var->varattno, &field);
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
classify_qual(FdwPlanState *ps, Expr *clause, Index relid, Oid reloid)
{
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *l = linitial(op->args);
		Node	   *r = lsecond(op->args);
		Oid			func = get_opcode(op->opno);
		ColumnSource m = source_of(l, relid, reloid);

		if (m == COLUMN_FIELD && func == F_TEXTEQ)
		{
			/* 'const' = src */
			Node	   *t = l;

			l = r;
			r = t;
			m = source_of(l, relid, reloid);
		}
		if (m != COLUMN_URI && m != COLUMN_KEY)
			return;

		if (func == F_TEXTEQ && ps->filter_kind == FDW_FILTER_NONE &&
			is_pseudo_constant_clause(r))
		{
			ps->filter_kind = m == COLUMN_URI ? FDW_FILTER_URIS : FDW_FILTER_KEYS;
			ps->filter_expr = (Expr *) r;
		}
		else if ((func == F_TEXTLIKE || func == F_STARTS_WITH) &&
				 IsA(r, Const) && !((Const *) r)->constisnull)
		{
			char	   *pat = TextDatumGetCString(((Const *) r)->constvalue);
			char	   *prefix = func == F_TEXTLIKE ? like_literal_prefix(pat) : pat;

			if (m == COLUMN_URI)
			{
				/* s3://bucket/keyprefix -> keyprefix, if the bucket is ours */
				char	   *head = psprintf("s3://%s/", ps->opts.bucket);

				if (strncmp(prefix, head, strlen(head)) != 0)
					return;
				prefix += strlen(head);
			}
			if (ps->like_prefix == NULL ||
				strlen(prefix) > strlen(ps->like_prefix))
				ps->like_prefix = pstrdup(prefix);
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		ColumnSource m = source_of(linitial(sa->args), relid, reloid);
		Node	   *r = lsecond(sa->args);

		if ((m == COLUMN_URI || m == COLUMN_KEY) && sa->useOr &&
			get_opcode(sa->opno) == F_TEXTEQ &&
			ps->filter_kind == FDW_FILTER_NONE && is_pseudo_constant_clause(r))
		{
			ps->filter_kind = m == COLUMN_URI ? FDW_FILTER_URIS : FDW_FILTER_KEYS;
			ps->filter_expr = (Expr *) r;
		}
	}
}

/*
 * A clause that only looks at what is known of an object before it is
 * read (its partition columns, uri, key, size and last_modified) can be
 * decided per object, from the listing: Hive-style partition pruning, and
 * more.  Returns 0 for other clauses, 1 for clauses on partition columns
 * only (which can also prune whole directories), 2 for the rest.
 */
static int
object_qual_kind(Expr *clause, Index relid, Oid reloid)
{
	Bitmapset  *attnos = NULL;
	bool		partitions_only = true;
	int			a = -1;

	if (contain_volatile_functions((Node *) clause) || contain_subplans((Node *) clause))
		return 0;
	pull_varattnos((Node *) clause, relid, &attnos);
	if (bms_is_empty(attnos))
		return 0;
	while ((a = bms_next_member(attnos, a)) >= 0)
	{
		AttrNumber	attno = a + FirstLowInvalidHeapAttributeNumber;
		char	   *field;

		if (attno <= 0)
			return 0;
		switch (fdw_column_source(reloid, attno, &field))
		{
			case COLUMN_PARTITION:
			case COLUMN_TEMPLATE:
				break;
			case COLUMN_URI:
			case COLUMN_KEY:
			case COLUMN_SIZE:
			case COLUMN_LAST_MODIFIED:
				partitions_only = false;
				break;
			default:
				return 0;
		}
	}
	return partitions_only ? 1 : 2;
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

/* Does this key look like gzip (for planning only: scans look at the bytes)? */
static bool
key_looks_gzip(const char *key)
{
	size_t		len = strlen(key);

	return len >= 3 && (pg_strcasecmp(key + len - 3, ".gz") == 0 ||
						(len >= 5 && pg_strcasecmp(key + len - 5, ".gzip") == 0));
}

static void
s3GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FdwPlanState *ps = palloc0(sizeof(FdwPlanState));
	ListCell   *lc;
	double		ntuples;
	double		per_row = 0;
	S3Object   *sample = NULL;
	AwsClient  *client = NULL;
	int			a = -1;

	fdw_table_options(foreigntableid, &ps->opts);

	foreach(lc, baserel->baserestrictinfo)
	{
		Expr	   *clause = ((RestrictInfo *) lfirst(lc))->clause;

		classify_qual(ps, clause, baserel->relid, foreigntableid);
		if (ps->filter_kind != FDW_FILTER_NONE && ps->filter_clause == NULL)
		{
			/* it names the objects: deciding them by it again is moot */
			ps->filter_clause = clause;
			continue;
		}
		switch (object_qual_kind(clause, baserel->relid, foreigntableid))
		{
			case 1:
				ps->dir_quals = lappend(ps->dir_quals, clause);
				break;
			case 2:
				ps->meta_quals = lappend(ps->meta_quals, clause);
				break;
		}
	}

	/* the columns the query needs: only those are parsed and converted */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &ps->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, baserel->relid,
					   &ps->attrs_used);
	while ((a = bms_next_member(ps->attrs_used, a)) >= 0)
	{
		AttrNumber	attno = a + FirstLowInvalidHeapAttributeNumber;
		char	   *field;

		if (attno > 0 && fdw_column_source(foreigntableid, attno, &field) == COLUMN_LINE)
			ps->need_line = true;
	}
	ps->maybe_gzip = ps->opts.compression == FDW_COMPRESSION_GZIP;

	if (ps->filter_kind != FDW_FILTER_NONE)
	{
		/* named objects: as many as the array has, if we can tell */
		Expr	   *e = ps->filter_expr;

		ps->objects = 1;
		if (IsA(e, Const) && !((Const *) e)->constisnull &&
			type_is_array(((Const *) e)->consttype))
			ps->objects = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) e)->constvalue)),
										 ARR_DIMS(DatumGetArrayTypeP(((Const *) e)->constvalue)));
		else if (!IsA(e, Const))
			ps->objects = 10;
		ps->bytes = ps->objects * 1024 * 1024;
	}
	else
	{
		AwsConfig	cfg;
		char	   *prefix = fdw_effective_prefix(&ps->opts, ps->like_prefix);

		/* equality on key template parts narrows it (template.c) */
		if (prefix && ps->opts.key_template && ps->dir_quals)
			prefix = template_plan_prefix(foreigntableid, ps->opts.key_template, ps->dir_quals,
										  baserel->relid, prefix);
		aws_server_config(GetForeignTable(foreigntableid)->serverid, plan_userid(baserel), &cfg);
		client = aws_client_create(&cfg, CurrentMemoryContext);
		if (prefix == NULL)
			ps->objects = 0;
		else if (ps->opts.is_prefix)
		{
			FdwEstimate	est;

			/* one page of the listing, and what is known of the rest */
			fdw_estimate(foreigntableid, client, &ps->opts, prefix, &est,
						baserel->tuples >= 0 ? (double) baserel->pages * BLCKSZ : 0);
			ps->objects = est.objects;
			ps->bytes = est.bytes;
			per_row = est.bytes_per_row;
			{
				S3ListPage *head = fdw_listing_head(foreigntableid, client, ps->opts.bucket, prefix);

				if (head->objects != NIL)
				{
					sample = linitial(head->objects);
					if (ps->opts.compression == FDW_COMPRESSION_AUTO)
						ps->maybe_gzip = key_looks_gzip(sample->key);
				}
			}
		}
		else
		{
			/* an estimate only: if HEAD fails, the scan will say why */
			sample = s3_head_object(client, ps->opts.bucket, ps->opts.key, true);
			ps->objects = sample ? 1 : 0;
			ps->bytes = sample ? sample->size : 0;
			if (ps->opts.compression == FDW_COMPRESSION_AUTO)
				ps->maybe_gzip = key_looks_gzip(ps->opts.key);
		}
	}

	/*
	 * Rows: ANALYZE's rows per 8 kB page of compressed bytes if there are
	 * any (pages counted as ANALYZE counts them, rounded up, so that an
	 * unchanged table gets exactly ANALYZE's rows); else rows per byte as
	 * this session saw them, or measured on a sample; scaled to the bytes
	 * listed now, then filtered by the quals' selectivity.
	 */
	if (baserel->tuples >= 0 && baserel->pages > 0)
		ntuples = baserel->tuples / baserel->pages * ceil(ps->bytes / BLCKSZ);
	else
	{
		if (per_row <= 0 && client != NULL && sample != NULL)
			per_row = fdw_estimate_bytes_per_row(foreigntableid, client, &ps->opts, sample);
		if (per_row <= 0)
			per_row = ps->maybe_gzip || ps->opts.compression == FDW_COMPRESSION_AUTO
				? BYTES_PER_ROW_GZIP : BYTES_PER_ROW_PLAIN;
		ntuples = ps->bytes / per_row;
	}
	if (client != NULL)
		aws_client_destroy(client);
	baserel->tuples = Max(1.0, clamp_row_est(ntuples));
	baserel->rows = clamp_row_est(baserel->tuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
	baserel->fdw_private = ps;
}

/*
 * How many pieces of work a parallel scan would have: the objects, plus
 * the parts a large object would be read in.
 */
static double
parallel_units(FdwPlanState *ps)
{
	double		split = (double) pipeline_split_kb * 1024;
	double		avg;

	if (ps->objects < 1)
		return 0;
	avg = ps->bytes / ps->objects;
	if (split <= 0 || ps->need_line)
		return ps->objects;

	/*
	 * gzip: read in parts once a whole read has indexed it (gzsplit.c),
	 * one part per split_size decompressed; planned as if it inflated 4x.
	 */
	if (ps->maybe_gzip)
		return gzsplit_worth_indexing((int64) avg) ?
			ps->objects * Max(2.0, ceil(avg * 4 / split)) : ps->objects;
	if (avg < 2 * split)
		return ps->objects;
	return ps->objects * ceil(avg / split);
}

static void
s3GetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FdwPlanState *ps = baserel->fdw_private;
	Cost		startup = 10.0 * Max(1.0, Min(ps->objects, 10.0));
	Cost		run;
	double		units = parallel_units(ps);

	/* decoding costs like a sequential page read per 32 kB, plus per row */
	run = seq_page_cost * ps->bytes / 32768.0 + cpu_tuple_cost * baserel->tuples * 2;
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, startup + run, NIL, NULL, NULL, NIL));

	/*
	 * A parallel scan hands objects, and parts of large plain objects, to
	 * the participants: worth it with several of them.  Workers as for a
	 * table of that many bytes.
	 */
	if (baserel->consider_parallel && units > 1)
	{
		int			workers = compute_parallel_worker(baserel, ps->bytes / BLCKSZ, -1,
													  max_parallel_workers_per_gather);
		ForeignPath *path;
		double		divisor;

		workers = (int) Min((double) workers, units - 1);
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
	FdwTableOptions opts;

	fdw_table_options(rte->relid, &opts);
	return !opts.skip_errors;
}

static ForeignScan *
s3GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	FdwPlanState *ps = baserel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *attrs = NIL;
	List	   *fdw_private;
	int			attno = -1;
	bool		whole_row;

	scan_clauses = extract_actual_clauses(scan_clauses, false);
	if (ps->filter_kind != FDW_FILTER_NONE)
		fdw_exprs = list_make1(ps->filter_expr);
	/* copies: the same clauses stay in the plan's quals, checked per row */
	fdw_exprs = list_concat(fdw_exprs, copyObject(ps->dir_quals));
	fdw_exprs = list_concat(fdw_exprs, copyObject(ps->meta_quals));

	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, ps->attrs_used);
	while ((attno = bms_next_member(ps->attrs_used, attno)) >= 0)
	{
		AttrNumber	a = attno + FirstLowInvalidHeapAttributeNumber;

		if (a > 0)
			attrs = lappend_int(attrs, a);
	}

	/* in the order of FdwScanPrivateIndex */
	fdw_private = list_make5(makeInteger(ps->filter_kind),
							 makeString(ps->like_prefix ? ps->like_prefix : ""),
							 makeFloat(psprintf("%.0f", ps->objects)),
							 makeFloat(psprintf("%.0f", ps->bytes)),
							 whole_row ? list_make1_int(-1) : attrs);
	fdw_private = lappend(fdw_private, makeInteger(list_length(ps->dir_quals)));

	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

/* ----------------------------------------------------------------
 *		EXPLAIN
 * ----------------------------------------------------------------
 */

static const char *
format_name(FdwFormat f)
{
	return f == FDW_FORMAT_CSV ? "csv" : "json";
}

static const char *
compression_name(FdwCompression c)
{
	return c == FDW_COMPRESSION_GZIP ? "gzip" : c == FDW_COMPRESSION_NONE ? "none" : "auto";
}

static void
s3ExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	List	   *fdw_private = plan->fdw_private;
	FdwTableOptions opts;
	int			filter_kind = intVal(list_nth(fdw_private, FdwScanPrivateFilterKind));
	char	   *like_prefix = strVal(list_nth(fdw_private, FdwScanPrivateLikePrefix));
	int			ndir = intVal(list_nth(fdw_private, FdwScanPrivateNumDirQuals));
	int			nobject = list_length(plan->fdw_exprs) - (filter_kind != FDW_FILTER_NONE ? 1 : 0);

	fdw_table_options(RelationGetRelid(node->ss.ss_currentRelation), &opts);
	ExplainPropertyText("S3 URI", opts.uri, es);
	ExplainPropertyText("Format", format_name(opts.format), es);
	ExplainPropertyText("Compression", compression_name(opts.compression), es);
	if (opts.shard_n > 1)
		ExplainPropertyText("Shard", psprintf("%d/%d", opts.shard_k, opts.shard_n), es);
	if (filter_kind != FDW_FILTER_NONE)
		ExplainPropertyText("Objects From", filter_kind == FDW_FILTER_URIS ?
							"filter on uri" : "filter on key", es);
	if (ndir > 0)
		ExplainPropertyText("Partition Pruning", "on", es);
	if (nobject > ndir)
		ExplainPropertyText("Object Filter", "on", es);
	if (opts.key_template && opts.is_prefix && ndir > 0)
	{
		int			first = filter_kind != FDW_FILTER_NONE ? 1 : 0;

		/* equality on key template parts narrows the listing (template.c) */
		ExplainPropertyText("Listing Prefix",
							template_explain_prefix(node, &opts, like_prefix,
													list_truncate(list_copy_tail(plan->fdw_exprs, first), ndir)),
							es);
	}
	else if (like_prefix[0] && opts.is_prefix && ndir == 0)
	{
		char	   *prefix = fdw_effective_prefix(&opts, like_prefix);

		ExplainPropertyText("Listing Prefix",
							prefix ? s3_make_uri(opts.bucket, prefix) : "(none can match)", es);
	}
	if (es->costs)
	{
		ExplainPropertyFloat("Estimated Objects", NULL,
							 floatVal(list_nth(fdw_private, FdwScanPrivateObjects)), 0, es);
		ExplainPropertyFloat("Estimated Bytes", NULL,
							 floatVal(list_nth(fdw_private, FdwScanPrivateBytes)), 0, es);
	}
	if (es->analyze)
		s3ExplainScanStats(node, es);
}

static bool
s3AnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
					  BlockNumber *totalpages)
{
	return fdw_analyze_setup(relation, func, totalpages);
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
	routine->ImportForeignSchema = s3ImportForeignSchema;

	PG_RETURN_POINTER(routine);
}

