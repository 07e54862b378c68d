/*-------------------------------------------------------------------------
 *
 * analyze.c
 *	  ANALYZE of a pipeline_s3 table: a sample of rows from a sample of
 *	  objects.
 *
 * The listing is streamed, never held: while it goes by, the objects are
 * counted and a reservoir keeps pipeline.analyze_objects of them, chosen
 * at random.  Their compressed bytes, as 8 kB pages, become relpages, so
 * that the planner scales the rows per page ANALYZE found to the bytes
 * it sees at planning time; the counts are also kept for the planning of
 * this session (estimate.c).
 *
 * IDENTIFICATION
 *	  src/fdw/analyze.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "commands/vacuum.h"
#include "common/pg_prng.h"
#include "executor/tuptable.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "fdw/scan.h"
#include "s3/credentials.h"
#include "util/settings.h"

static int	fdw_acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
								   double *totalrows, double *totaldeadrows);

/* what ANALYZE's set-up found, for its sampling */
static List *analyze_sample = NIL;	/* of WorkUnit */
static double analyze_objects = 0;
static double analyze_bytes = 0;

static WorkUnit *
sample_unit(const S3Object *o)
{
	WorkUnit   *u = palloc0(sizeof(WorkUnit));

	u->obj.bucket = pstrdup(o->bucket);
	u->obj.key = pstrdup(o->key);
	u->obj.etag = o->etag ? pstrdup(o->etag) : NULL;
	u->obj.size = o->size;
	u->obj.last_modified = o->last_modified;
	u->listed = true;
	u->part = -1;
	u->split = -1;
	u->end = -1;
	return u;
}

/*
 * fdw_analyze_setup: list the objects, keeping a random sample of them.
 */
bool
fdw_analyze_setup(Relation rel, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	Oid			relid = RelationGetRelid(rel);
	FdwTableOptions opts;
	AwsConfig	cfg;
	AwsClient  *client;
	int			k = pipeline_analyze_objects;

	fdw_table_options(relid, &opts);
	aws_server_config(GetForeignTable(relid)->serverid, GetUserId(), &cfg);
	client = aws_client_create(&cfg, CurrentMemoryContext);
	analyze_sample = NIL;
	analyze_objects = 0;
	analyze_bytes = 0;
	if (opts.is_prefix)
	{
		ListTask	task = {opts.key, false};
		Lister	   *l = lister_create(client, opts.bucket, list_make1(&task), NULL,
									  CurrentMemoryContext);
		const S3Object *o;

		/* reservoir sampling (Algorithm R) over the streamed listing */
		while ((o = lister_next(l)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			if (analyze_objects < k)
				analyze_sample = lappend(analyze_sample, sample_unit(o));
			else
			{
				uint64		j = pg_prng_uint64_range(&pg_global_prng_state, 0,
													 (uint64) analyze_objects);

				if (j < (uint64) k)
					list_nth_cell(analyze_sample, (int) j)->ptr_value = sample_unit(o);
			}
			analyze_objects += 1;
			analyze_bytes += Max(o->size, 0);
		}
		lister_free(l);
		fdw_stats_remember_listing(relid, opts.bucket, opts.key, analyze_objects, analyze_bytes);
	}
	else
	{
		S3Object   *o = s3_head_object(client, opts.bucket, opts.key, true);

		if (o)
		{
			analyze_sample = list_make1(sample_unit(o));
			analyze_objects = 1;
			analyze_bytes = Max(o->size, 0);
		}
	}
	aws_client_destroy(client);
	*totalpages = (BlockNumber) Max(1.0, ceil(analyze_bytes / BLCKSZ));
	*func = fdw_acquire_sample_rows;
	return true;
}

static int
fdw_acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
					   double *totalrows, double *totaldeadrows)
{
	FdwScanState *st = scan_create(rel, GetUserId(), NIL, CurrentMemoryContext);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 analyze row",
												  ALLOCSET_DEFAULT_SIZES);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	ReservoirStateData rstate;
	double		total_bytes = analyze_bytes;
	double		seen = 0;
	double		rowstoskip = -1;
	int			numrows = 0;

	/* the sample of objects; the econtext only serves object quals, of which there are none */
	st->named = analyze_sample;
	st->objects_ready = true;

	reservoir_init_selection_state(&rstate, targrows);
	for (;;)
	{
		MemoryContext old;
		bool		found;

		vacuum_delay_point();
		MemoryContextReset(rowcxt);
		old = MemoryContextSwitchTo(rowcxt);
		ExecClearTuple(slot);
		found = scan_next(st, slot);
		MemoryContextSwitchTo(old);
		if (!found)
			break;

		/* Vitter's reservoir sampling, as file_fdw does */
		if (numrows < targrows)
			rows[numrows++] = heap_form_tuple(slot->tts_tupleDescriptor, slot->tts_values,
											  slot->tts_isnull);
		else
		{
			if (rowstoskip < 0)
				rowstoskip = reservoir_get_next_S(&rstate, seen, targrows);
			if (rowstoskip <= 0)
			{
				int			k = (int) (targrows * sampler_random_fract(&rstate.randstate));

				heap_freetuple(rows[k]);
				rows[k] = heap_form_tuple(slot->tts_tupleDescriptor, slot->tts_values,
										  slot->tts_isnull);
			}
			rowstoskip -= 1;
		}
		seen += 1;
	}

	/* extrapolate by bytes: the sample's rows per byte, times all bytes */
	*totalrows = st->bytes_read > 0 ? seen * total_bytes / (double) st->bytes_read : seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": read %d of %.0f objects, %.0f rows; %d rows in sample, %.0f estimated total rows",
					RelationGetRelationName(rel), list_length(analyze_sample), analyze_objects,
					seen, numrows, *totalrows)));
	if (st->bytes_read > 0)
		fdw_stats_remember_rows(st->relid, (double) st->bytes_read, seen);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(st->cxt);
	return numrows;
}
