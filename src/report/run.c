/*-------------------------------------------------------------------------
 *
 * run.c
 *	  Running reports: a report's query into its target table, exactly
 *	  once per object version, as the report's owner, with a timeout, and
 *	  recorded in pipeline.runs.
 *
 * One run is one subtransaction of the caller's transaction.  In it the
 * query runs (as the report's owner, in a security-restricted operation,
 * like REFRESH MATERIALIZED VIEW), the result replaces or extends the
 * target table, and the object versions it processed are recorded in
 * pipeline.processed.  So the result and the record that the objects
 * were processed commit together or not at all: a redelivered event
 * finds its version processed and runs nothing.  The worker deletes the
 * SQS message only after that commit.
 *
 * "replace" runs DELETE + INSERT in that one transaction: readers keep
 * seeing the old rows until the new ones commit, never an empty table,
 * and are never blocked.
 *
 * IDENTIFICATION
 *	  src/report/run.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "report/report.h"
#include "s3/s3.h"

List	   *report_trigger_uris = NIL;
uint64		pipeline_scan_bytes = 0;
int			pipeline_report_timeout = 600000;

/* Our own timeout: a report that runs too long is cancelled. */
static TimeoutId report_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t report_timed_out = false;

static void
report_timeout_handler(void)
{
	report_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* A report's definition, as stored. */
typedef struct ReportDef
{
	char	   *name;
	char	   *query;
	char	   *target;			/* qualified, quoted */
	bool		append;
	char	   *search_path;
	Oid			owner;
	bool		enabled;
	int			timeout_ms;
} ReportDef;

static char *
spi_text(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Load and lock (FOR UPDATE: one run of a report at a time) a report. */
static ReportDef *
load_report(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	ReportDef  *def;
	bool		isnull;
	Datum		d;

	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT name, query, target, mode, search_path, owner::oid, "
							  "       enabled, (extract(epoch FROM timeout) * 1000)::int "
							  "FROM pipeline.reports WHERE name = $1 FOR UPDATE",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read report \"%s\"", name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("report \"%s\" does not exist", name)));
	def = palloc0(sizeof(ReportDef));
	def->name = spi_text(0, 1);
	def->query = spi_text(0, 2);
	def->target = spi_text(0, 3);
	def->append = strcmp(spi_text(0, 4), "append") == 0;
	def->search_path = spi_text(0, 5);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);
	def->owner = DatumGetObjectId(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull);
	def->enabled = DatumGetBool(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull);
	def->timeout_ms = isnull ? pipeline_report_timeout : DatumGetInt32(d);
	return def;
}

/*
 * Was this version of the object processed by the report already?  Also
 * true for an event older (by S3's sequencer) than one already processed
 * for the same key: S3 may deliver out of order, and the object now holds
 * the newer content anyway.
 */
static bool
already_processed(const char *report, const EventObject *o)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[5];
	char		nulls[5] = "     ";

	args[0] = CStringGetTextDatum(report);
	args[1] = CStringGetTextDatum(o->bucket);
	args[2] = CStringGetTextDatum(o->key);
	args[3] = CStringGetTextDatum(event_object_version(o));
	if (o->sequencer && o->sequencer[0])
		args[4] = CStringGetTextDatum(o->sequencer);
	else
		nulls[4] = 'n';
	if (SPI_execute_with_args("SELECT 1 FROM pipeline.processed "
							  "WHERE report = $1 AND bucket = $2 AND key = $3 "
							  "  AND (version = $4 OR "
							  "       (sequencer IS NOT NULL AND $5 IS NOT NULL AND "
							  "        pipeline.sequencer_cmp(sequencer, $5) > 0)) "
							  "LIMIT 1",
							  5, argtypes, args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.processed");
	return SPI_processed > 0;
}

static void
mark_processed(const char *report, const EventObject *o, int64 run_id)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		args[6];
	char		nulls[6] = "      ";

	args[0] = CStringGetTextDatum(report);
	args[1] = CStringGetTextDatum(o->bucket);
	args[2] = CStringGetTextDatum(o->key);
	args[3] = CStringGetTextDatum(event_object_version(o));
	if (o->sequencer && o->sequencer[0])
		args[4] = CStringGetTextDatum(o->sequencer);
	else
		nulls[4] = 'n';
	args[5] = Int64GetDatum(run_id);
	if (SPI_execute_with_args("INSERT INTO pipeline.processed "
							  "  (report, bucket, key, version, sequencer, run_id) "
							  "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write pipeline.processed");
}

/* Does the target table exist yet (resolved as the owner would)? */
static bool
target_exists(const char *target)
{
	List	   *names = stringToQualifiedNameList(target);

	return OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true));
}

/* The run's statements, as the report's owner. */
static int64
execute_report(ReportDef *def)
{
	int64		rows;
	int			rc;

	if (!target_exists(def->target))
	{
		rc = SPI_execute(psprintf("CREATE TABLE %s AS %s", def->target, def->query), false, 0);
		if (rc != SPI_OK_UTILITY)
			elog(ERROR, "CREATE TABLE AS failed: %s", SPI_result_code_string(rc));
		return (int64) SPI_processed;
	}
	if (!def->append)
	{
		rc = SPI_execute(psprintf("DELETE FROM %s", def->target), false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "DELETE failed: %s", SPI_result_code_string(rc));
	}
	rc = SPI_execute(psprintf("INSERT INTO %s %s", def->target, def->query), false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "INSERT failed: %s", SPI_result_code_string(rc));
	rows = (int64) SPI_processed;
	return rows;
}

static int64
record_run(RunResult *r, const char *trigger, List *uris, TimestampTz started,
		   uint64 bytes)
{
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID,
	INT8OID, INT8OID, INT4OID, TEXTOID};
	Datum		args[9];
	char		nulls[9] = "         ";
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(uris), 1));
	ListCell   *lc;
	bool		isnull;

	foreach(lc, uris)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(strVal(lfirst(lc)));
	args[0] = CStringGetTextDatum(r->report);
	args[1] = CStringGetTextDatum(trigger);
	args[2] = PointerGetDatum(construct_array(elems, list_length(uris), TEXTOID, -1, false,
											  TYPALIGN_INT));
	args[3] = CStringGetTextDatum(r->status);
	args[4] = TimestampTzGetDatum(started);
	args[5] = Int64GetDatum(r->rows);
	args[6] = Int64GetDatum((int64) bytes);
	args[7] = Int32GetDatum(r->objects);
	if (r->error)
		args[8] = CStringGetTextDatum(r->error);
	else
		nulls[8] = 'n';
	if (strcmp(r->status, "succeeded") != 0)
		nulls[5] = 'n';
	if (SPI_execute_with_args("INSERT INTO pipeline.runs "
							  "  (report, trigger, trigger_uris, status, started_at, finished_at, "
							  "   rows, bytes, objects, error) "
							  "VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6, $7, $8, $9) "
							  "RETURNING id",
							  9, argtypes, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not write pipeline.runs");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* NOTIFY pipeline_runs: delivered when the transaction commits. */
static void
notify_run(const RunResult *r, const char *trigger)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"id\":");
	appendStringInfo(&buf, INT64_FORMAT, r->run_id);
	appendStringInfoString(&buf, ",\"report\":");
	escape_json(&buf, r->report);
	appendStringInfoString(&buf, ",\"trigger\":");
	escape_json(&buf, trigger);
	appendStringInfoString(&buf, ",\"status\":");
	escape_json(&buf, r->status);
	appendStringInfo(&buf, ",\"objects\":%d,\"rows\":" INT64_FORMAT, r->objects, r->rows);
	if (r->error)
	{
		appendStringInfoString(&buf, ",\"error\":");
		escape_json(&buf, r->error);
	}
	appendStringInfoChar(&buf, '}');
	/* NOTIFY payloads are limited to 8000 bytes */
	if (buf.len >= 8000)
		buf.data[7999] = '\0';
	Async_Notify("pipeline_runs", buf.data);
}

/* Is this error one we record as a failed run, rather than pass on? */
static bool
run_error_is_recordable(ErrorData *edata)
{
	/* a cancel that is not our timeout belongs to whoever asked for it */
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !report_timed_out)
		return false;
	return true;
}

RunResult *
report_run(const char *name, const char *trigger, List *objects)
{
	RunResult  *r = palloc0(sizeof(RunResult));
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	ReportDef  *def;
	List	   *todo = NIL;
	List	   *uris = NIL;
	ListCell   *lc;
	TimestampTz started;
	uint64		bytes_before;
	volatile bool failed = false;

	r->report = pstrdup(name);
	r->status = "skipped";
	foreach(lc, objects)
		r->msgs = bms_add_member(r->msgs, ((TriggerObject *) lfirst(lc))->msg);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* our own tables are read and written with the extension's rights */
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	def = load_report(name);
	if (!def->enabled && strcmp(trigger, "manual") != 0)
	{
		SetUserIdAndSecContext(save_userid, save_sec);
		SPI_finish();
		return r;
	}

	/* exactly once: keep only versions this report has not processed yet */
	foreach(lc, objects)
	{
		TriggerObject *t = lfirst(lc);
		char	   *uri = s3_make_uri(t->obj->bucket, t->obj->key);
		ListCell   *seen;
		bool		dup = false;

		foreach(seen, todo)
		{
			EventObject *o = ((TriggerObject *) lfirst(seen))->obj;

			if (strcmp(o->bucket, t->obj->bucket) == 0 && strcmp(o->key, t->obj->key) == 0 &&
				strcmp(event_object_version(o), event_object_version(t->obj)) == 0)
				dup = true;
		}
		if (dup || already_processed(name, t->obj))
			continue;
		todo = lappend(todo, t);
		if (!list_member(uris, makeString(uri)))
			uris = lappend(uris, makeString(uri));
	}
	if (objects != NIL && todo == NIL)
	{
		SetUserIdAndSecContext(save_userid, save_sec);
		SPI_finish();
		return r;
	}
	r->objects = list_length(uris);

	started = GetCurrentTimestamp();
	bytes_before = pipeline_scan_bytes;
	if (report_timeout_id == MAX_TIMEOUTS)
		report_timeout_id = RegisterTimeout(USER_TIMEOUT, report_timeout_handler);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		/* as the owner, like REFRESH MATERIALIZED VIEW */
		SetUserIdAndSecContext(def->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		if (def->search_path)
			(void) set_config_option("search_path", def->search_path, PGC_USERSET,
									 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		report_trigger_uris = NIL;
		report_trigger_uris = uris;

		report_timed_out = false;
		if (def->timeout_ms > 0)
			enable_timeout_after(report_timeout_id, def->timeout_ms);
		r->rows = execute_report(def);
		disable_timeout(report_timeout_id, false);
		report_trigger_uris = NIL;
		AtEOXact_GUC(true, nestlevel);

		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		r->status = "succeeded";
		r->run_id = record_run(r, trigger, uris, started, pipeline_scan_bytes - bytes_before);
		foreach(lc, todo)
			mark_processed(name, ((TriggerObject *) lfirst(lc))->obj, r->run_id);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(report_timeout_id, false);
		report_trigger_uris = NIL;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (!run_error_is_recordable(edata))
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);

		failed = true;
		r->status = "failed";
		r->run_id = 0;
		if (report_timed_out)
			r->error = psprintf("the report ran longer than its timeout (%d ms)", def->timeout_ms);
		else
			r->error = edata->detail
				? psprintf("%s (%s)", edata->message, edata->detail)
				: pstrdup(edata->message);
		report_timed_out = false;
	}
	PG_END_TRY();

	if (failed)
		r->run_id = record_run(r, trigger, uris, started, pipeline_scan_bytes - bytes_before);
	notify_run(r, trigger);

	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	return r;
}
