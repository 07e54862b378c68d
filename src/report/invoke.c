/*-------------------------------------------------------------------------
 *
 * invoke.c
 *	  Running reports from SQL: pipeline.run_report, handle_event,
 *	  replay_unmatched, and trigger_uris inside a run.
 *
 * handle_event and replay_unmatched do what the worker does with the
 * objects of a message: queue a task for each report they concern, and
 * run those tasks now, in the caller's transaction.  They reach only the
 * reports of roles whose rights the caller has.  What fails is left to the
 * worker to retry, as if it had come from a queue.
 *
 * IDENTIFICATION
 *	  src/report/invoke.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "report/report.h"
#include "report/tasks.h"
#include "s3/s3.h"
#include "s3/event.h"
#include "util/privilege.h"

PG_FUNCTION_INFO_V1(pipeline_run_report);
PG_FUNCTION_INFO_V1(pipeline_handle_event);
PG_FUNCTION_INFO_V1(pipeline_replay_unmatched);
PG_FUNCTION_INFO_V1(pipeline_retry_dead_letters);
PG_FUNCTION_INFO_V1(pipeline_trigger_uris);

/* Tell the caller how the runs it asked for went. */
static void
report_outcome(List *results)
{
	ListCell   *lc;

	foreach(lc, results)
	{
		RunResult  *r = lfirst(lc);

		if (r->status == RUN_FAILED)
			ereport(WARNING,
					(errmsg("report \"%s\" failed: %s", r->report, r->error),
					 errdetail("The failure is recorded in pipeline.runs (id " INT64_FORMAT ").",
							   r->run_id)));
	}
}

/* The runs as rows (report, run_id, status, objects, rows, error). */
static void
return_results(FunctionCallInfo fcinfo, List *results)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	report_outcome(results);
	foreach(lc, results)
	{
		RunResult  *r = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = CStringGetTextDatum(r->report);
		values[1] = Int64GetDatum(r->run_id);
		nulls[1] = r->run_id == 0;
		values[2] = CStringGetTextDatum(run_status_name(r->status));
		values[3] = Int32GetDatum(r->objects);
		values[4] = Int64GetDatum(r->rows);
		nulls[4] = r->status != RUN_SUCCEEDED;
		if (r->error)
			values[5] = CStringGetTextDatum(r->error);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * pipeline.run_report(name): run now, without an event.  Returns the id of
 * the run in pipeline.runs; a failed run is recorded and reported as a
 * WARNING (raising it would roll the record back).  Reports chained after
 * it run too.
 */
Datum
pipeline_run_report(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	RunResult  *r;
	List	   *results;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", name);
	SPI_finish();

	r = report_run(name, TRIGGER_MANUAL, NIL, 0, true);
	results = list_make1(r);
	if (r->status == RUN_SUCCEEDED)
		results = list_concat(results, tasks_run_after(name));
	report_outcome(results);
	PG_RETURN_INT64(r->run_id);
}

/*
 * pipeline.handle_event(jsonb): what the worker does with one queue
 * message, in the caller's session and transaction, for the reports of
 * roles whose rights the caller has.
 */
Datum
pipeline_handle_event(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *body = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	List	   *objects;
	List	   *ids;
	char	   *reason;
	int			unmatched;

	InitMaterializedSRF(fcinfo, 0);
	switch (event_parse(body, strlen(body), &objects, &reason))
	{
		case EVENT_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid event: %s", reason)));
			break;
		case EVENT_IGNORED:
			ereport(NOTICE,
					(errmsg("event ignored: %s", reason)));
			return (Datum) 0;
		case EVENT_OBJECTS:
			break;
	}
	ids = tasks_add_objects(report_sources(), objects, GetUserId(), NULL, NULL, &unmatched);
	return_results(fcinfo, tasks_run(tasks_claim(ids, 0)));
	return (Datum) 0;
}

/*
 * pipeline.replay_unmatched(report): the objects kept in
 * pipeline.unmatched that the report (NULL: every report of the caller's)
 * now takes, run now as the worker would have run them; they leave
 * pipeline.unmatched.  Only objects from queues whose owner has the rights
 * of the report's owner count, as for events.
 */
Datum
pipeline_replay_unmatched(PG_FUNCTION_ARGS)
{
	char	   *only = arg_text(fcinfo, 0, "report", false);
	List	   *sources;
	List	   *ids = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	SPITupleTable *rows;
	uint64		n;
	uint64		i;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (only)
		(void) check_owned("reports", "report", only);
	sources = report_sources();
	spi_internal("SELECT id, queue, owner::oid, bucket, key, version, sequencer, etag, size, "
				 "  event_time FROM pipeline.unmatched ORDER BY id FOR UPDATE",
				 0, NULL, NULL, NULL, false, 0);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = rows->vals[i];
		TupleDesc	td = rows->tupdesc;
		EventObject *o = tasks_object_from_row(tup, td, 4);
		bool		isnull;
		Oid			queue_owner = DatumGetObjectId(SPI_getbinval(tup, td, 3, &isnull));
		const char *why;
		List	   *names;
		ListCell   *lc;
		bool		taken = false;

		names = report_match(sources, o, queue_owner, &why);
		foreach(lc, names)
		{
			char	   *name = lfirst(lc);
			ListCell   *sc;
			Oid			owner = InvalidOid;
			int64		id;
			MemoryContext old;

			foreach(sc, sources)
				if (strcmp(((ReportSource *) lfirst(sc))->name, name) == 0)
					owner = ((ReportSource *) lfirst(sc))->owner;
			if ((only && strcmp(only, name) != 0) || !has_privs_of_role(GetUserId(), owner))
				continue;
			id = tasks_add(name, o, SPI_getvalue(tup, td, 2), NULL);
			taken = true;
			if (id == 0)
				continue;
			old = MemoryContextSwitchTo(cxt);
			ids = lappend_id(ids, id);
			MemoryContextSwitchTo(old);
		}
		if (taken)
		{
			Oid			types[1] = {INT8OID};
			Datum		values[1];

			values[0] = SPI_getbinval(tup, td, 1, &isnull);
			spi_internal("DELETE FROM pipeline.unmatched WHERE id = $1",
						 1, types, values, NULL, false, 0);
		}
	}
	SPI_finish();
	return_results(fcinfo, tasks_run(tasks_claim(ids, 0)));
	return (Datum) 0;
}

/*
 * pipeline.trigger_uris(): the s3:// URIs of the objects that triggered
 * the run in progress; empty outside a run and in manual runs.
 */
Datum
pipeline_trigger_uris(PG_FUNCTION_ARGS)
{
	int			n = list_length(report_trigger_uris);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ListCell   *lc;

	foreach(lc, report_trigger_uris)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(strVal(lfirst(lc)));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * pipeline.retry_dead_letters(report): after fixing what made them fail, run
 * the report's dead-lettered objects (and chained runs) again now, with
 * fresh attempts; they leave pipeline.dead_letters.  What fails again is
 * retried by the worker as usual.
 */
Datum
pipeline_retry_dead_letters(PG_FUNCTION_ARGS)
{
	char	   *report = arg_text(fcinfo, 0, "report", true);
	MemoryContext cxt = CurrentMemoryContext;
	List	   *ids = NIL;
	SPITupleTable *rows;
	uint64		n;
	uint64		i;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", report);
	values[0] = CStringGetTextDatum(report);
	spi_internal("DELETE FROM pipeline.dead_letters WHERE report = $1 "
				 "RETURNING object, version, body::jsonb ->> 'sequencer', body::jsonb ->> 'etag', "
				 "  queue, message_id",
				 1, types, values, NULL, false, 0);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = rows->vals[i];
		TupleDesc	td = rows->tupdesc;
		char	   *object = SPI_getvalue(tup, td, 1);
		int64		id;
		MemoryContext old;

		if (object)
		{
			EventObject *o = palloc0(sizeof(EventObject));

			s3_parse_uri(object, &o->bucket, &o->key);
			o->version_id = SPI_getvalue(tup, td, 2);
			o->sequencer = SPI_getvalue(tup, td, 3);
			o->etag = SPI_getvalue(tup, td, 4);
			o->size = -1;
			id = tasks_add(report, o, SPI_getvalue(tup, td, 5), SPI_getvalue(tup, td, 6));
		}
		else
			id = tasks_add_after(report);
		if (id == 0)
			continue;
		old = MemoryContextSwitchTo(cxt);
		ids = lappend_id(ids, id);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return_results(fcinfo, tasks_run(tasks_claim(ids, 0)));
	return (Datum) 0;
}
