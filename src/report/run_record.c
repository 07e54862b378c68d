/*-------------------------------------------------------------------------
 *
 * run_record.c
 *	  What a report run leaves: its row in pipeline.runs, the records its
 *	  scans skipped (pipeline.run_rejects), its summary as webhooks carry
 *	  it, and the NOTIFY that announces it (see run.c).
 *
 * IDENTIFICATION
 *	  src/report/run_record.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "report/run_int.h"
#include "util/privilege.h"

/* The run's row in pipeline.runs. */
void
run_record(const RunResult *r, const RunRecord *rec)
{
	Oid			argtypes[14] = {INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID,
		INT8OID, INT8OID, INT4OID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, INT4OID};
	Datum		args[14];
	char		nulls[14] = "              ";
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(rec->uris), 1));
	ListCell   *lc;

	foreach(lc, rec->uris)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(strVal(lfirst(lc)));
	args[0] = Int64GetDatum(r->run_id);
	args[1] = CStringGetTextDatum(r->report);
	args[2] = CStringGetTextDatum(run_trigger_name(rec->trigger));
	args[3] = PointerGetDatum(construct_array(elems, list_length(rec->uris), TEXTOID, -1, false,
											  TYPALIGN_INT));
	args[4] = CStringGetTextDatum(run_status_name(r->status));
	args[5] = TimestampTzGetDatum(rec->started);
	args[6] = Int64GetDatum(r->rows);
	if (r->status != RUN_SUCCEEDED)
		nulls[6] = 'n';
	args[7] = Int64GetDatum((int64) rec->bytes);
	args[8] = Int32GetDatum(r->objects);
	if (r->error)
		args[9] = CStringGetTextDatum(r->error);
	else
		nulls[9] = 'n';
	if (r->export_uri)
		args[10] = CStringGetTextDatum(r->export_uri);
	else
		nulls[10] = 'n';
	args[11] = Int64GetDatum(r->rejects);
	args[12] = TimestampTzGetDatum(rec->oldest_event);
	if (rec->oldest_event == 0)
		nulls[12] = 'n';
	args[13] = Int32GetDatum(rec->attempt);
	if (rec->attempt == 0)
		nulls[13] = 'n';
	spi_internal("INSERT INTO pipeline.runs "
				 "  (id, report, trigger, trigger_uris, status, started_at, finished_at, "
				 "   rows, bytes, objects, error, export_uri, rejects, oldest_event, attempt) "
				 "VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7, $8, $9, $10, $11, "
				 "        $12, $13, $14)",
				 14, argtypes, args, nulls, false, 0);
}

/* A new run id, taken before the run so that its export can be named after it. */
int64
run_new_id(void)
{
	bool		isnull;

	spi_internal("SELECT nextval('pipeline.runs_id_seq')", 0, NULL, NULL, NULL, false, 1);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* pipeline.run_rejects: what the run's scans skipped (fdw_rejects_foreach). */
void
run_record_reject(void *arg, const char *uri, int64 record, int64 line, const char *error,
			  const char *raw)
{
	Oid			argtypes[6] = {INT8OID, TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = "      ";

	args[0] = Int64GetDatum(*(int64 *) arg);
	args[1] = CStringGetTextDatum(uri);
	args[2] = Int64GetDatum(record);
	args[3] = Int64GetDatum(line);
	args[4] = CStringGetTextDatum(error);
	if (raw)
		args[5] = CStringGetTextDatum(raw);
	else
		nulls[5] = 'n';
	spi_internal("INSERT INTO pipeline.run_rejects (run_id, uri, record, line, error, raw) "
				 "VALUES ($1, $2, $3, $4, $5, $6)", 6, argtypes, args, nulls, false, 0);
}

/* The summary of a run, as webhooks carry it (JSON). */
char *
run_summary(const RunResult *r, RunTrigger trigger)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"id\":");
	appendStringInfo(&buf, INT64_FORMAT, r->run_id);
	appendStringInfoString(&buf, ",\"report\":");
	escape_json(&buf, r->report);
	appendStringInfoString(&buf, ",\"trigger\":");
	escape_json(&buf, run_trigger_name(trigger));
	appendStringInfoString(&buf, ",\"status\":");
	escape_json(&buf, run_status_name(r->status));
	appendStringInfo(&buf, ",\"objects\":%d,\"rows\":" INT64_FORMAT ",\"rejects\":" INT64_FORMAT,
					 r->objects, r->rows, r->rejects);
	if (r->error)
	{
		appendStringInfoString(&buf, ",\"error\":");
		escape_json(&buf, r->error);
	}
	if (r->export_uri)
	{
		appendStringInfoString(&buf, ",\"export\":");
		escape_json(&buf, r->export_uri);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * NOTIFY pipeline_runs, delivered when the transaction commits.  Any role
 * may LISTEN on any channel, so the payload is the run's id only: what the
 * run was is in pipeline.runs, which shows each role its own runs.
 */
void
run_notify(int64 run_id)
{
	Async_Notify("pipeline_runs", psprintf(INT64_FORMAT, run_id));
}
