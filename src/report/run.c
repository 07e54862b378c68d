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
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "report/export.h"
#include "report/report.h"
#include "report/target.h"
#include "report/webhook.h"
#include "s3/sigv4.h"
#include "utils/datetime.h"
#include "s3/s3.h"
#include "util/privilege.h"

List	   *report_trigger_uris = NIL;
uint64		pipeline_scan_bytes = 0;
int			pipeline_report_timeout = 300000;
void		(*report_run_starting_hook) (int timeout_ms) = NULL;

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
	char	   *export;			/* s3:// key or prefix, or NULL */
	char	   *export_format;
	char	   *server;			/* for the export; NULL: the default */
	char	   *webhook;		/* URL the run summary is POSTed to, or NULL */
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
	spi_internal("SELECT name, query, target, mode, search_path, owner::oid, "
				 "       enabled, (extract(epoch FROM timeout) * 1000)::int, "
				 "       export, export_format, server, webhook "
				 "FROM pipeline.reports WHERE name = $1 FOR UPDATE",
				 1, argtypes, args, NULL, false, 1);
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
	def->export = spi_text(0, 9);
	def->export_format = spi_text(0, 10);
	def->server = spi_text(0, 11);
	def->webhook = spi_text(0, 12);
	return def;
}

/*
 * Was this version of the object processed by the report already?  Also
 * true for an event older (by S3's sequencer) than one already processed
 * for the same key: S3 may deliver out of order, and the object now holds
 * the newer content anyway.
 */
/* Parameters $1..$5 of the queries on pipeline.processed. */
static void
version_args(const char *report, const EventObject *o, Datum *args, char *nulls)
{
	args[0] = CStringGetTextDatum(report);
	args[1] = CStringGetTextDatum(o->bucket);
	args[2] = CStringGetTextDatum(o->key);
	args[3] = CStringGetTextDatum(event_object_version(o));
	memset(nulls, ' ', 5);
	if (o->sequencer && o->sequencer[0])
		args[4] = CStringGetTextDatum(o->sequencer);
	else
		nulls[4] = 'n';
}

static bool
already_processed(const char *report, const EventObject *o)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[5];
	char		nulls[5];

	version_args(report, o, args, nulls);
	spi_internal("SELECT 1 FROM pipeline.processed "
				 "WHERE report = $1 AND bucket = $2 AND key = $3 "
				 "  AND (version = $4 OR "
				 "       (sequencer IS NOT NULL AND $5 IS NOT NULL AND "
				 "        pipeline.sequencer_cmp(sequencer, $5) > 0)) "
				 "LIMIT 1",
				 5, argtypes, args, nulls, false, 1);
	return SPI_processed > 0;
}

static void
mark_processed(const char *report, const EventObject *o, int64 run_id)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		args[6];
	char		nulls[6];

	version_args(report, o, args, nulls);
	nulls[5] = ' ';
	args[5] = Int64GetDatum(run_id);
	spi_internal("INSERT INTO pipeline.processed "
				 "  (report, bucket, key, version, sequencer, run_id) "
				 "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
				 6, argtypes, args, nulls, false, 0);
}

/*
 * The run's statements, as the report's owner: the target is created again
 * if it was dropped, and the result goes in by column name.
 */
static int64
execute_report(ReportDef *def)
{
	TupleDesc	columns = target_query_columns(def->query, false);
	Oid			relid;
	int			rc;

	(void) target_resolve(def->target, &relid);
	if (!OidIsValid(relid))
		target_create(def->target, columns);
	else
	{
		target_check_columns(relid, def->target, columns);
		if (!def->append)
		{
			rc = SPI_execute(psprintf("DELETE FROM %s", def->target), false, 0);
			if (rc != SPI_OK_DELETE)
				elog(ERROR, "DELETE failed: %s", SPI_result_code_string(rc));
		}
	}
	rc = SPI_execute(target_insert_sql(def->target, columns, def->query), false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "INSERT failed: %s", SPI_result_code_string(rc));
	return (int64) SPI_processed;
}

static int64
record_run(RunResult *r, const char *trigger, List *uris, TimestampTz started,
		   uint64 bytes)
{
	Oid			argtypes[10] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID,
	INT8OID, INT8OID, INT4OID, TEXTOID, TEXTOID};
	Datum		args[10];
	char		nulls[10] = "          ";
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
	if (r->export_uri)
		args[9] = CStringGetTextDatum(r->export_uri);
	else
		nulls[9] = 'n';
	spi_internal("INSERT INTO pipeline.runs "
				 "  (report, trigger, trigger_uris, status, started_at, finished_at, "
				 "   rows, bytes, objects, error, export_uri) "
				 "VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6, $7, $8, $9, $10) "
				 "RETURNING id",
				 10, argtypes, args, nulls, false, 1);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* The summary of a run, as NOTIFY and webhooks carry it (JSON). */
static char *
run_summary(const RunResult *r, const char *trigger)
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
static void
notify_run(int64 run_id)
{
	Async_Notify("pipeline_runs", psprintf(INT64_FORMAT, run_id));
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

/*
 * Where a run's export goes.  A key is overwritten by every run; a prefix
 * (ending in "/") gets one object per run, named after the object versions
 * that triggered it, so that a retried run writes the same key instead of
 * a second copy.
 */
static char *
export_uri(ReportDef *def, List *todo, TimestampTz started)
{
	const char *ext;
	StringInfoData ids;
	ListCell   *lc;
	char		hash[SIGV4_HEX_LEN + 1];
	List	   *names = NIL;

	if (def->export[strlen(def->export) - 1] != '/')
		return def->export;
	ext = strcmp(def->export_format, "csv") == 0 ? ".csv.gz" :
		strcmp(def->export_format, "svg") == 0 ? ".svg" : ".json.gz";
	if (todo == NIL)
	{
		struct pg_tm tm;
		fsec_t		fsec;

		timestamp2tm(started, NULL, &tm, &fsec, NULL, NULL);
		return psprintf("%s%s-%04d%02d%02dT%02d%02d%02dZ%s", def->export, def->name,
						tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
						tm.tm_sec, ext);
	}
	foreach(lc, todo)
	{
		EventObject *o = ((TriggerObject *) lfirst(lc))->obj;

		names = lappend(names, psprintf("%s/%s@%s", o->bucket, o->key, event_object_version(o)));
	}
	list_sort(names, (list_sort_comparator) pg_qsort_strcmp);
	initStringInfo(&ids);
	foreach(lc, names)
		appendStringInfo(&ids, "%s\n", (char *) lfirst(lc));
	if (!sigv4_sha256_hex(ids.data, ids.len, hash))
		elog(ERROR, "could not hash the trigger objects");
	hash[16] = '\0';
	return psprintf("%s%s-%s%s", def->export, def->name, hash, ext);
}

/* Export the run's result table; returns the object's URI (NULL if empty). */
static char *
export_result(ReportDef *def, List *todo, TimestampTz started)
{
	char	   *uri = export_uri(def, todo, started);
	ExportFormat fmt = export_format_from_name(def->export_format);
	bool		gzip = fmt != EXPORT_SVG &&
		(def->export[strlen(def->export) - 1] == '/' ||
		 (strlen(uri) > 3 && strcmp(uri + strlen(uri) - 3, ".gz") == 0));

	return export_query(psprintf("SELECT * FROM %s", def->target), uri, fmt, gzip,
						export_server(def->server), false, def->name).uri;
}

/* Does the role still exist?  (A report of a dropped role never runs.) */
static bool
role_exists(Oid role)
{
	return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role));
}

RunResult *
report_run(const char *name, const char *trigger, List *objects)
{
	RunResult  *r = palloc0(sizeof(RunResult));
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
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

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	def = load_report(name);
	if (!def->enabled && strcmp(trigger, "manual") != 0)
	{
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
		SPI_finish();
		return r;
	}
	r->objects = list_length(uris);

	if (report_run_starting_hook)
		report_run_starting_hook(def->timeout_ms);
	started = GetCurrentTimestamp();
	bytes_before = pipeline_scan_bytes;
	if (report_timeout_id == MAX_TIMEOUTS)
		report_timeout_id = RegisterTimeout(USER_TIMEOUT, report_timeout_handler);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		PrivSave	save;

		if (!role_exists(def->owner))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the owner of report \"%s\" no longer exists", name),
					 errhint("Drop the report, or give it to an existing role with REASSIGN OWNED.")));

		/* as the owner, like REFRESH MATERIALIZED VIEW */
		priv_enter_role(&save, def->owner, def->search_path);
		report_trigger_uris = uris;
		report_timed_out = false;
		if (def->timeout_ms > 0)
			enable_timeout_after(report_timeout_id, def->timeout_ms);
		r->rows = execute_report(def);
		report_trigger_uris = NIL;
		/* last: nothing after it may fail and leave an object for a rolled-back run */
		if (def->export)
			r->export_uri = export_result(def, todo, started);
		disable_timeout(report_timeout_id, false);
		priv_leave(&save);

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
		/* also gives back the user id and settings of before the run */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

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
	notify_run(r->run_id);
	if (def->webhook)
		webhook_enqueue(name, r->run_id, def->webhook, run_summary(r, trigger));

	SPI_finish();
	return r;
}

/*
 * report_skip: record that a report did not run because nothing it reads
 * changed (only_if_changed), and announce it like any run.
 */
RunResult *
report_skip(const char *name, const char *trigger, const char *why)
{
	RunResult  *r = palloc0(sizeof(RunResult));

	r->report = pstrdup(name);
	r->status = "skipped";
	r->error = pstrdup(why);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	r->run_id = record_run(r, trigger, NIL, GetCurrentTimestamp(), 0);
	notify_run(r->run_id);
	SPI_finish();
	return r;
}
