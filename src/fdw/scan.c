/*-------------------------------------------------------------------------
 *
 * scan.c
 *	  Executing a pipeline_s3 foreign scan: objects -> bytes -> records ->
 *	  rows.
 *
 * For each object (objects.c: named by a filter, or listed page by page):
 * a streamed GET feeds the object's byte stream (stream.c: gzip inflated
 * by decode/inflate.c), the record reader (decode/json_reader.cpp or
 * csv_reader.c) cuts records and extracts just the fields the query uses,
 * and rows.c makes Datums (convert.c).  Parallel scans hand out objects,
 * and parts of large plain objects, through the DSM (parallel.c).
 *
 * This file sets a scan up, runs the executor's callbacks and shows what
 * the scan did in EXPLAIN ANALYZE.  See scan.h for the map of the others.
 *
 * IDENTIFICATION
 *	  src/fdw/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fdw/counters.h"
#include "fdw/scan.h"
#include "util/progress.h"
#include "s3/credentials.h"
#include "util/settings.h"

/* The bytes this backend's scans read (counters.h). */
uint64		pipeline_scan_bytes = 0;

static void scan_cleanup(void *arg);

/* ----------------------------------------------------------------
 *		Setting up
 * ----------------------------------------------------------------
 */

/*
 * What the decoders may take besides the data buffer, counted against
 * pipeline.max_record_size: their memory is malloc'd, outside
 * PostgreSQL's accounting, and would otherwise grow with what a record
 * holds rather than with its size (a 64 MB record of 32 million array
 * elements took 2.5 GB; a line of 32 million commas 1.5 GB).
 *	- JSON: the array elements decoded per record (a JsonValue each);
 *	- CSV: the fields kept per record: only those a column reads (the
 *	  first csv_need), and for a header, which is matched by name, as
 *	  many as the budget holds.
 */
static void
decoder_limits(FdwScanState *st)
{
	size_t		budget = (size_t) pipeline_max_record_mb * 1024 * 1024;

	if (st->jr)
		json_reader_set_max_elements(st->jr, budget / sizeof(JsonValue));
	if (st->cr)
	{
		st->csv_header_max = st->nfields == 0 ? 0 :
			(int) Min(budget / csv_reader_field_bytes(), (size_t) INT_MAX - 1);
		/* without a header, columns are the first fields, in order */
		st->csv_need = st->opts.header ? 0 : st->nfields;
		csv_reader_set_max_fields(st->cr, st->csv_need);
	}
}

static int
add_json_field(FdwScanState *st, const char *path, const ColumnConv *cc)
{
	int			i;
	bool		elements;
	JsonWant	want = conv_json_want(cc, &elements);

	for (i = 0; i < st->nfields; i++)
		if (strcmp(st->jfields[i].path, path) == 0 &&
			st->jfields[i].want == want && st->jfields[i].want_elements == elements)
			return i;
	st->jfields[st->nfields].path = pstrdup(path);
	st->jfields[st->nfields].want = want;
	st->jfields[st->nfields].want_elements = elements;
	return st->nfields++;
}

/*
 * scan_create: the state of a scan of "rel" as "userid", reading the
 * columns in "attrs" (attribute numbers; NIL: all of them).  Used by the
 * executor's scans and by ANALYZE's sampling.
 */
FdwScanState *
scan_create(Relation rel, Oid userid, List *attrs, MemoryContext parent)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	FdwScanState *st;
	AwsConfig	cfg;
	MemoryContext old;
	int			i;

	st = MemoryContextAllocZero(parent, sizeof(FdwScanState));
	st->cxt = AllocSetContextCreate(parent, "pipeline_s3 scan", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(st->cxt);

	st->relid = RelationGetRelid(rel);
	st->relname = pstrdup(RelationGetRelationName(rel));
	st->progress_level = -1;
	fdw_table_options(st->relid, &st->opts);
	st->tmpl = template_parse(st->opts.key_template);
	aws_server_config(GetForeignTable(st->relid)->serverid, userid, &cfg);
	st->client = aws_client_create(&cfg, st->cxt);

	/* columns */
	st->natts = tupdesc->natts;
	st->source = palloc0(sizeof(ColumnSource) * st->natts);
	st->conv = palloc0(sizeof(ColumnConv) * st->natts);
	st->field = palloc(sizeof(int) * st->natts);
	st->field_name = palloc0(sizeof(char *) * st->natts);
	st->active = palloc(sizeof(int) * Max(st->natts, 1));
	st->jfields = palloc0(sizeof(JsonField) * Max(st->natts, 1));
	for (i = 0; i < st->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		char	   *path;
		bool		needed = attrs == NIL || list_member_int(attrs, att->attnum);

		st->field[i] = -1;
		if (att->attisdropped)
			continue;
		st->source[i] = fdw_column_source(st->relid, att->attnum, &path);
		st->field_name[i] = path ? path : pstrdup(NameStr(att->attname));
		conv_init(&st->conv[i], att->atttypid, att->atttypmod, st->opts.skip_errors);
		st->conv[i].epoch_unit = fdw_column_epoch_unit(st->relid, att->attnum);
		if (st->conv[i].epoch_unit > 0 && st->conv[i].kind != CONV_TIMESTAMPTZ &&
			st->conv[i].kind != CONV_TIMESTAMP)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"format\" of column \"%s\" needs a timestamp or timestamptz column",
							NameStr(att->attname)),
					 errhint("Declare the column as timestamptz, or drop the option to read the number as it is.")));
		if (st->source[i] == COLUMN_LINE && needed)
			st->need_line = true;
		if (needed)
			st->active[st->nactive++] = i;
		if (st->source[i] != COLUMN_FIELD || !needed)
			continue;
		if (st->opts.format == FDW_FORMAT_JSON)
			st->field[i] = add_json_field(st, st->field_name[i], &st->conv[i]);
		else
			st->field[i] = st->nfields++;
	}

	if (st->opts.format == FDW_FORMAT_JSON)
	{
		st->jvalues = palloc0(sizeof(JsonValue) * Max(st->nfields, 1));
		st->jr = st->opts.case_insensitive ?
			json_reader_create_folded(st->jfields, st->nfields) :
			json_reader_create(st->jfields, st->nfields);
	}
	else
	{
		st->cr = csv_reader_create(st->opts.delimiter, st->opts.quote);
		st->csv_pos = palloc(sizeof(int) * Max(st->nfields, 1));
	}
	stream_init(&st->stream, st->client, st->opts.compression,
				(size_t) pipeline_read_buffer_kb * 1024,
				(size_t) pipeline_max_record_mb * 1024 * 1024);
	st->stream.role = userid;	/* gzip indexes are the role's own (gzsplit.c) */
	st->cleanup.func = scan_cleanup;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(st->cxt, &st->cleanup);
	if ((st->opts.format == FDW_FORMAT_JSON && st->jr == NULL) ||
		(st->opts.format == FDW_FORMAT_CSV && st->cr == NULL) || st->stream.z == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for the decoders of \"%s\"", st->relname)));
	decoder_limits(st);

	/*
	 * Plain objects, and gzip objects with a restart index (gzsplit.c), may
	 * be read in parts by a parallel scan, unless a
	 * column needs line numbers (counted from an object's start) or bad
	 * records are skipped (such scans are not parallel).
	 */
	st->can_split = !st->need_line && !st->opts.skip_errors;
	MemoryContextSwitchTo(old);
	return st;
}

/* Free what the decoders malloc'd, also when the scan ends in an error. */
static void
scan_cleanup(void *arg)
{
	FdwScanState *st = (FdwScanState *) arg;

	if (st->jr)
		json_reader_free(st->jr);
	if (st->cr)
		csv_reader_free(st->cr);
	stream_free(&st->stream);
	st->jr = NULL;
	st->cr = NULL;
}

void
s3BeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	FdwScanState *st;
	RangeTblEntry *rte;
	Oid			userid;
	List	   *attrs = (List *) list_nth(plan->fdw_private, FdwScanPrivateAttrs);
	List	   *exprs = plan->fdw_exprs;
	MemoryContext old;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	rte = exec_rt_fetch(plan->scan.scanrelid, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	if (list_length(attrs) == 1 && linitial_int(attrs) == -1)
		attrs = NIL;			/* a whole-row reference: every column */
	else if (attrs == NIL)
		attrs = list_make1_int(0);	/* no column at all (count(*)) */
	st = scan_create(node->ss.ss_currentRelation, userid, attrs, estate->es_query_cxt);
	node->fdw_state = st;

	old = MemoryContextSwitchTo(st->cxt);
	st->filter_kind = intVal(list_nth(plan->fdw_private, FdwScanPrivateFilterKind));
	st->like_prefix = strVal(list_nth(plan->fdw_private, FdwScanPrivateLikePrefix));
	if (st->like_prefix[0] == '\0')
		st->like_prefix = NULL;
	if (st->filter_kind != FDW_FILTER_NONE)
	{
		st->filter = ExecInitExpr(linitial(exprs), (PlanState *) node);
		exprs = list_delete_first(list_copy(exprs));
	}
	/* the rest are object quals: they decide which objects to read */
	objects_init_quals(st, exprs,
					   intVal(list_nth(plan->fdw_private, FdwScanPrivateNumDirQuals)),
					   (PlanState *) node);
	MemoryContextSwitchTo(old);

	/*
	 * Object quals are evaluated in a context of their own: while a row is
	 * being made, the node's per-tuple memory must not be reset under it.
	 */
	st->econtext = CreateExprContext(estate);
}

/* Tell pipeline.progress at most every this many records */
#define PROGRESS_EVERY_RECORDS	8192

/*
 * scan_progress: tell pipeline.progress what was read since the last time
 * (an object finished, if "object_done").  The bytes of the object being
 * read count when it is closed.
 */
void
scan_progress(FdwScanState *st, bool object_done)
{
	if (st->progress_level < 0)
		return;
	progress_add(object_done ? 1 : 0,
				 (int64) (st->bytes_read - st->progress_bytes),
				 (int64) (st->records - st->progress_records),
				 (int64) (st->rejected - st->progress_rejected));
	st->progress_bytes = st->bytes_read;
	st->progress_records = st->records;
	st->progress_rejected = st->rejected;
	st->progress_countdown = PROGRESS_EVERY_RECORDS;
}

/*
 * scan_next: the next row into "slot" (values in the current memory
 * context); false when every object has been read.
 */
bool
scan_next(FdwScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		if (!st->reading && !objects_open_next(st))
		{
			scan_publish(st);
			return false;
		}
		if (rows_next(st, slot))
		{
			if (--st->progress_countdown <= 0)
				scan_progress(st, false);
			return true;
		}
		objects_close(st);
	}
}

TupleTableSlot *
s3IterateForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	ExecClearTuple(slot);
	if (!st->objects_ready)
	{
		objects_prepare(st, node->ss.ps.ps_ExprContext);
		/* shown in pipeline.progress from the first row asked for */
		if (st->progress_level < 0)
		{
			st->progress_level = progress_start(PROGRESS_SCAN, st->relname);
			if (st->named != NIL && st->shared == NULL)
				progress_set_total(list_length(st->named));
		}
	}

	/* values are made in the per-tuple context, reset for every row */
	old = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	(void) scan_next(st, slot);
	MemoryContextSwitchTo(old);
	return slot;
}

void
s3ReScanForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;

	objects_rewind(st);
}

/*
 * After a scan that read everything: what it learnt of the table (its
 * rows per byte), for the estimates of later plans in this session.
 */
static void
remember_rows(FdwScanState *st)
{
	uint64		bytes = st->bytes_read + st->shared_bytes_read;
	uint64		records = st->records + st->shared_records;

	if (st->shared_bytes_read > 0)
	{
		/* the shared counters hold everyone's, this process's included */
		bytes = st->shared_bytes_read;
		records = st->shared_records;
	}
	if (bytes > 0 && st->rejected == 0)
		fdw_stats_remember_rows(st->relid, (double) bytes, (double) records);
}

void
s3EndForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;

	if (st == NULL)
		return;
	objects_rewind(st);
	if (st->object_slot)
		ExecDropSingleTupleTableSlot(st->object_slot);
	st->object_slot = NULL;
	remember_rows(st);
	if (st->rejected > 0)
		ereport(WARNING,
				(errmsg_plural("skipped %llu bad record of foreign table \"%s\"",
							   "skipped %llu bad records of foreign table \"%s\"",
							   st->rejected,
							   (unsigned long long) st->rejected, st->relname),
				 errhint("SELECT * FROM pipeline.rejects() shows them and why.")));
	if (st->progress_level >= 0)
		progress_end(st->progress_level);
	MemoryContextDelete(st->cxt);
	node->fdw_state = NULL;
}

void
s3ExplainScanStats(ForeignScanState *node, ExplainState *es)
{
	FdwScanState *st = node->fdw_state;
	uint64		parts;

	if (st == NULL)
		return;
	ExplainPropertyUInteger("Objects Read", NULL, st->objects_read + st->shared_objects_read, es);
	parts = st->parts_read + st->shared_parts_read;
	if (parts > 0)
	{
		ExplainPropertyUInteger("Object Parts Read", NULL, parts, es);
		if (st->shared_part_readers > 0)
			ExplainPropertyUInteger("Part Readers", NULL, st->shared_part_readers, es);
	}
	ExplainPropertyUInteger("Bytes Read", "bytes", st->bytes_read + st->shared_bytes_read, es);
	ExplainPropertyUInteger("Bytes Decoded", "bytes",
							st->stream.bytes_decoded + st->shared_bytes_decoded, es);
	ExplainPropertyUInteger("Records", NULL, st->records + st->shared_records, es);
	ExplainPropertyUInteger("Rejected Records", NULL, st->rejected, es);
	if (st->object_qual)
		ExplainPropertyUInteger("Objects Pruned", NULL,
								st->objects_pruned + st->shared_objects_pruned, es);
	if (st->dir_quals)
		ExplainPropertyUInteger("Directories Pruned", NULL, st->dirs_pruned, es);
}
