/*-------------------------------------------------------------------------
 *
 * load.c
 *	  A query's result into a table the way COPY FROM writes: batches of
 *	  rows through table_multi_insert with one BulkInsertState (a ring of
 *	  buffers, one WAL record per page), indexes and constraints kept, and
 *	  the query run to completion as a SELECT, so that the planner may give
 *	  it parallel workers (an INSERT ... SELECT never gets any in
 *	  PostgreSQL 15).  pipeline.load() is the same for users who load
 *	  without a report.
 *
 * A table that needs more than COPY's fast path gives it (triggers,
 * foreign keys, partitions, generated or defaulted columns the query does
 * not fill, domain-typed columns, row-level security, columns of another
 * type than the query's) is written with INSERT ... SELECT instead: the
 * same rows, PostgreSQL's own rules, without the speed.
 *
 * IDENTIFICATION
 *	  src/report/load.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/sysattr.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "report/target.h"

/* Rows per table_multi_insert, as COPY's buffer holds */
#define LOAD_BATCH 1000

typedef struct LoadDest
{
	DestReceiver pub;
	MemoryContext cxt;			/* where the slots live (not the executor's) */
	Relation	rel;
	ResultRelInfo *rri;
	EState	   *estate;
	BulkInsertState bistate;
	int		   *map;			/* target column of each query column (0-based) */
	int			nmap;
	TupleTableSlot *slots[LOAD_BATCH];
	int			nbuffered;
	MemoryContext batch_cxt;	/* the values of the buffered rows */
	CommandId	cid;
	int64		rows;
} LoadDest;

/* Write the buffered rows, then their index entries; memory of a batch goes with it. */
static void
load_flush(LoadDest *d)
{
	MemoryContext old;
	int			i;

	if (d->nbuffered == 0)
		return;
	old = MemoryContextSwitchTo(d->batch_cxt);
	table_multi_insert(d->rel, d->slots, d->nbuffered, d->cid, 0, d->bistate);
	if (d->rri->ri_NumIndices > 0)
	{
		for (i = 0; i < d->nbuffered; i++)
		{
			(void) ExecInsertIndexTuples(d->rri, d->slots[i], d->estate, false, false,
										 NULL, NIL);
			ResetPerTupleExprContext(d->estate);
		}
	}
	MemoryContextSwitchTo(old);
	for (i = 0; i < d->nbuffered; i++)
		ExecClearTuple(d->slots[i]);
	d->rows += d->nbuffered;
	d->nbuffered = 0;
	MemoryContextReset(d->batch_cxt);
}

static bool
load_receive(TupleTableSlot *in, DestReceiver *self)
{
	LoadDest   *d = (LoadDest *) self;
	TupleTableSlot *out;
	TupleDesc	td;
	MemoryContext old;
	int			i;

	if (d->slots[d->nbuffered] == NULL)
	{
		old = MemoryContextSwitchTo(d->cxt);
		d->slots[d->nbuffered] = table_slot_create(d->rel, NULL);
		MemoryContextSwitchTo(old);
	}
	out = d->slots[d->nbuffered];
	td = out->tts_tupleDescriptor;
	slot_getallattrs(in);
	ExecClearTuple(out);
	for (i = 0; i < td->natts; i++)
	{
		out->tts_values[i] = (Datum) 0;
		out->tts_isnull[i] = true;
	}
	/* the input slot's values go with its next row: keep them until the flush */
	old = MemoryContextSwitchTo(d->batch_cxt);
	for (i = 0; i < d->nmap; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, d->map[i]);

		out->tts_isnull[d->map[i]] = in->tts_isnull[i];
		if (!in->tts_isnull[i])
			out->tts_values[d->map[i]] = datumCopy(in->tts_values[i], att->attbyval, att->attlen);
	}
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(out);
	if (d->rel->rd_att->constr)
	{
		ExecConstraints(d->rri, out, d->estate);
		ResetPerTupleExprContext(d->estate);
	}
	if (++d->nbuffered == LOAD_BATCH)
		load_flush(d);
	return true;
}

static void
load_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
load_shutdown(DestReceiver *self)
{
	load_flush((LoadDest *) self);
}

static void
load_destroy(DestReceiver *self)
{
}

/*
 * Can the rows go straight into the table?  Fills map (query column i ->
 * table column) if so.
 */
static bool
load_fast_path(Relation rel, TupleDesc columns, int *map)
{
	TupleDesc	td = RelationGetDescr(rel);
	bool	   *filled = palloc0(sizeof(bool) * td->natts);
	int			i;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL ||
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED ||
		(td->constr && td->constr->has_generated_stored))
		return false;
	for (i = 0; i < columns->natts; i++)
	{
		Form_pg_attribute q = TupleDescAttr(columns, i);
		int			j;

		for (j = 0; j < td->natts; j++)
		{
			Form_pg_attribute t = TupleDescAttr(td, j);

			if (!t->attisdropped && strcmp(NameStr(t->attname), NameStr(q->attname)) == 0)
				break;
		}
		if (j == td->natts)
			return false;
		/* the same type (no coercion to make), and no domain to check */
		if (TupleDescAttr(td, j)->atttypid != q->atttypid ||
			get_typtype(q->atttypid) == TYPTYPE_DOMAIN ||
			(TupleDescAttr(td, j)->atttypmod != -1 &&
			 TupleDescAttr(td, j)->atttypmod != q->atttypmod))
			return false;
		map[i] = j;
		filled[j] = true;
	}
	/* a column the query leaves out must be NULL then: no default, no identity */
	for (i = 0; i < td->natts; i++)
	{
		Form_pg_attribute t = TupleDescAttr(td, i);

		if (!filled[i] && !t->attisdropped && (t->atthasdef || t->attidentity))
			return false;
	}
	return true;
}

int64
target_write(const char *target, Oid relid, TupleDesc columns, const char *query)
{
	Relation	rel;
	LoadDest   *d;
	RangeTblEntry *rte;
	SPIExecuteOptions options;
	int			rc;
	int			i;

	rel = table_open(relid, RowExclusiveLock);
	d = palloc0(sizeof(LoadDest));
	d->map = palloc(sizeof(int) * Max(columns->natts, 1));
	d->nmap = columns->natts;
	if (!load_fast_path(rel, columns, d->map))
	{
		table_close(rel, NoLock);
		rc = SPI_execute(target_insert_sql(target, columns, query), false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "INSERT failed: %s", SPI_result_code_string(rc));
		return (int64) SPI_processed;
	}

	/* as COPY FROM sets up its target, with INSERT rights checked */
	d->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	for (i = 0; i < d->nmap; i++)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   d->map[i] + 1 - FirstLowInvalidHeapAttributeNumber);
	(void) ExecCheckRTPerms(list_make1(rte), true);
	ExecInitRangeTable(d->estate, list_make1(rte));
	d->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(d->estate, d->rri, 1);
	ExecOpenIndices(d->rri, false);
	d->rel = d->rri->ri_RelationDesc;
	table_close(rel, NoLock);	/* the executor holds it now */

	d->pub.receiveSlot = load_receive;
	d->pub.rStartup = load_startup;
	d->pub.rShutdown = load_shutdown;
	d->pub.rDestroy = load_destroy;
	d->pub.mydest = DestNone;
	d->cxt = CurrentMemoryContext;
	d->bistate = GetBulkInsertState();
	d->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline load batch",
										 ALLOCSET_DEFAULT_SIZES);
	d->cid = GetCurrentCommandId(true);

	/*
	 * run to completion: the planner may use parallel workers.  The rows are
	 * written while the plan runs, in parallel mode, where no transaction id
	 * can be assigned: take it now (an empty target in replace mode, or a
	 * first append, has written nothing yet in this transaction)
	 */
	(void) GetCurrentTransactionId();
	memset(&options, 0, sizeof(options));
	options.dest = &d->pub;
	rc = SPI_execute_extended(query, &options);
	/* (a SELECT whose rows go to a DestNone receiver counts as a utility) */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute_extended failed: %s", SPI_result_code_string(rc));

	FreeBulkInsertState(d->bistate);
	for (i = 0; i < LOAD_BATCH; i++)
		if (d->slots[i])
			ExecDropSingleTupleTableSlot(d->slots[i]);
	ExecCloseResultRelations(d->estate);	/* its indexes too */
	ExecCloseRangeTableRelations(d->estate);
	FreeExecutorState(d->estate);
	MemoryContextDelete(d->batch_cxt);
	/* what this command wrote is seen by the next one (the export) */
	CommandCounterIncrement();
	return d->rows;
}

PG_FUNCTION_INFO_V1(pipeline_load);

/*
 * pipeline.load(source regclass, target regclass) -> rows: every row of
 * source (a pipeline_s3 foreign table, say) into target, by column name,
 * as a report's run writes, as the caller.
 */
Datum
pipeline_load(PG_FUNCTION_ARGS)
{
	Oid			source = PG_GETARG_OID(0);
	Oid			target = PG_GETARG_OID(1);
	char	   *query = psprintf("SELECT * FROM %s",
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
															get_rel_name(source)));
	char	   *target_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)),
														 get_rel_name(target));
	TupleDesc	columns;
	int64		rows;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	columns = target_query_columns(query, true);
	target_check_columns(target, target_name, columns, false);
	rows = target_write(target_name, target, columns, query);
	SPI_finish();
	PG_RETURN_INT64(rows);
}
