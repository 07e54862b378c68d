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
 * target table, its export is staged, and the object versions it processed
 * are recorded in pipeline.processed.  So the result, the record that the
 * objects were processed and the export (completed by the worker after
 * commit) stand together or not at all: a redelivered event finds its
 * version processed and runs nothing.
 *
 * "replace" runs DELETE + INSERT in that one transaction: readers keep
 * seeing the old rows until the new ones commit, never an empty table,
 * and are never blocked.
 *
 * Here: the run's control flow (load and lock the report, the timeout,
 * the statements, the export, the outcome).  Whether a version was
 * processed already: run_processed.c; the run's records (pipeline.runs,
 * its rejects, the NOTIFY, the webhook summary): run_record.c.
 *
 * IDENTIFICATION
 *	  src/report/run.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "fdw/counters.h"
#include "fdw/fdw.h"
#include "report/export.h"
#include "report/export_template.h"
#include "report/intake.h"
#include "report/outbox.h"
#include "report/report.h"
#include "report/run_int.h"
#include "report/target.h"
#include "report/webhook.h"
#include "s3/credentials.h"
#include "s3/s3.h"
#include "s3/sigv4.h"
#include "util/privilege.h"
#include "util/progress.h"
#include "util/settings.h"

List	   *report_trigger_uris = NIL;

static const char *const run_status_names[] = {
	[RUN_SUCCEEDED] = "succeeded",
	[RUN_FAILED] = "failed",
	[RUN_SKIPPED] = "skipped",
	[RUN_PAUSED] = "paused",
};

static const char *const run_trigger_names[] = {
	[TRIGGER_EVENT] = "event",
	[TRIGGER_MANUAL] = "manual",
	[TRIGGER_AFTER] = "after",
	[TRIGGER_BACKFILL] = "backfill",
	[TRIGGER_LISTING] = "listing",
	[TRIGGER_SCHEDULE] = "schedule",
};

const char *
run_status_name(RunStatus status)
{
	Assert(status >= 0 && status < lengthof(run_status_names));
	return run_status_names[status];
}

const char *
run_trigger_name(RunTrigger trigger)
{
	Assert(trigger >= 0 && trigger < lengthof(run_trigger_names));
	return run_trigger_names[trigger];
}

RunTrigger
run_trigger_from_name(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(run_trigger_names); i++)
		if (strcmp(name, run_trigger_names[i]) == 0)
			return (RunTrigger) i;
	elog(ERROR, "unknown run trigger \"%s\"", name);
	pg_unreachable();
}

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
	{
		target_create(def->target, columns);
		(void) target_resolve(def->target, &relid);
	}
	else
	{
		target_check_columns(relid, def->target, columns, !def->append);
		if (!def->append)
		{
			rc = SPI_execute(psprintf("DELETE FROM %s", def->target), false, 0);
			if (rc != SPI_OK_DELETE)
				elog(ERROR, "DELETE failed: %s", SPI_result_code_string(rc));
		}
	}
	return target_write(def->target, relid, columns, def->query);
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
 * (ending in "/") gets one object per run: named after the object versions
 * that triggered it, so that a retried run writes the same key instead of
 * a second copy, or (manual and chained runs) after the run's time and id.
 */
static char *
export_uri(ReportDef *def, List *todo, TimestampTz started, int64 run_id)
{
	/* placeholders ({date}, ...) filled now, as the export is staged */
	char	   *export = export_template_fill(def->export, started);
	const char *ext;
	StringInfoData ids;
	ListCell   *lc;
	char		hash[SIGV4_HEX_LEN + 1];
	List	   *names = NIL;

	if (export[strlen(export) - 1] != '/')
		return export;
	ext = strcmp(def->export_format, "csv") == 0 ? ".csv.gz" :
		strcmp(def->export_format, "svg") == 0 ? ".svg" : ".json.gz";
	if (todo == NIL)
	{
		struct pg_tm tm;
		fsec_t		fsec;

		timestamp2tm(started, NULL, &tm, &fsec, NULL, NULL);
		return psprintf("%s%s-%04d%02d%02dT%02d%02d%02dZ-run" INT64_FORMAT "%s",
						export, def->name, tm.tm_year, tm.tm_mon, tm.tm_mday,
						tm.tm_hour, tm.tm_min, tm.tm_sec, run_id, ext);
	}
	foreach(lc, todo)
	{
		EventObject *o = lfirst(lc);

		names = lappend(names, psprintf("%s/%s@%s", o->bucket, o->key, event_object_version(o)));
	}
	list_sort(names, (list_sort_comparator) pg_qsort_strcmp);
	initStringInfo(&ids);
	foreach(lc, names)
		appendStringInfo(&ids, "%s\n", (char *) lfirst(lc));
	if (!sigv4_sha256_hex(ids.data, ids.len, hash))
		elog(ERROR, "could not hash the trigger objects");
	hash[16] = '\0';
	return psprintf("%s%s-%s%s", export, def->name, hash, ext);
}

/*
 * Stage the export of the run's result table for completion after commit;
 * returns the object's URI (NULL if the result is empty).
 */
static char *
export_result(ReportDef *def, List *todo, TimestampTz started, int64 run_id)
{
	char	   *uri = export_uri(def, todo, started, run_id);
	ExportFormat fmt = export_format_from_name(def->export_format);
	bool		gzip = fmt != EXPORT_SVG &&
		(def->export[strlen(def->export) - 1] == '/' ||
		 (strlen(uri) > 3 && strcmp(uri + strlen(uri) - 3, ".gz") == 0));
	Oid			serverid = export_server(def->server);
	ExportResult r;
	ChartOptions chart;

	/* a chart is titled with the report's name, unless set_chart says */
	chart_options_init(&chart);
	chart.title = def->name;
	if (fmt == EXPORT_SVG)
		chart_options_of_report(def->name, &chart);
	r = export_query(psprintf("SELECT * FROM %s", def->target), uri, fmt, gzip, serverid,
					 false, &chart);
	if (r.uri)
		outbox_add_export(&r, serverid, def->owner, run_id, def->name);
	return r.uri;
}

/* Does the role still exist?  (A report of a dropped role never runs.) */
static bool
role_exists(Oid role)
{
	return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role));
}

/* The versions of "objects" the report has still to process. */
static List *
still_to_do(ReportDef *def, List *objects)
{
	List	   *todo = NIL;
	ListCell   *lc;

	foreach(lc, objects)
	{
		EventObject *o = lfirst(lc);
		ListCell   *seen;
		bool		dup = false;

		foreach(seen, todo)
		{
			EventObject *t = lfirst(seen);

			if (strcmp(o->bucket, t->bucket) == 0 && strcmp(o->key, t->key) == 0 &&
				strcmp(event_object_version(o), event_object_version(t)) == 0)
				dup = true;
		}
		if (!dup && !run_already_processed(def, o))
			todo = lappend(todo, o);
	}
	return todo;
}

RunResult *
report_run(const char *name, RunTrigger trigger, List *objects, int attempt,
		   bool record_failure)
{
	RunResult  *r = palloc0(sizeof(RunResult));
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ReportDef  *def;
	List	   *todo;
	RunRecord	rec;
	ListCell   *lc;
	uint64		bytes_before;
	int			level;
	RunAccounting acct;

	r->report = pstrdup(name);
	r->status = RUN_SKIPPED;
	memset(&rec, 0, sizeof(rec));
	rec.trigger = trigger;
	rec.attempt = attempt;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	def = load_report(name);
	if (!def->enabled && trigger != TRIGGER_MANUAL)
	{
		r->status = RUN_PAUSED;
		SPI_finish();
		return r;
	}

	/* its requests count from here (a HEAD to order versions too) */
	accounting_begin(&acct, name);

	/* exactly once: keep only versions this report has not processed yet */
	todo = still_to_do(def, objects);
	if (objects != NIL && todo == NIL)
	{
		SPI_finish();
		return r;
	}
	foreach(lc, todo)
	{
		EventObject *o = lfirst(lc);
		String	   *uri = makeString(s3_make_uri(o->bucket, o->key));

		if (!list_member(rec.uris, uri))
			rec.uris = lappend(rec.uris, uri);
		if (o->event_time != 0 && (rec.oldest_event == 0 || o->event_time < rec.oldest_event))
			rec.oldest_event = o->event_time;
	}
	r->objects = list_length(rec.uris);
	r->run_id = run_new_id();

	rec.started = GetCurrentTimestamp();
	bytes_before = pipeline_scan_bytes;
	/* its scan budget; the versions its scans read */
	accounting_expect(&acct, todo, rec.started);
	if (report_timeout_id == MAX_TIMEOUTS)
		report_timeout_id = RegisterTimeout(USER_TIMEOUT, report_timeout_handler);

	level = progress_start(PROGRESS_RUN, name);
	progress_set_total(list_length(rec.uris));
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
		report_trigger_uris = rec.uris;
		report_timed_out = false;
		fdw_rejects_reset();
		if (def->timeout_ms > 0)
			enable_timeout_after(report_timeout_id, def->timeout_ms);
		r->rows = execute_report(def);
		report_trigger_uris = NIL;
		/* last: nothing after it may fail and leave an object for a rolled-back run */
		if (def->export)
			r->export_uri = export_result(def, todo, acct.run_time, r->run_id);
		disable_timeout(report_timeout_id, false);
		priv_leave(&save);
		accounting_end(&acct);

		r->status = RUN_SUCCEEDED;
		r->rejects = fdw_rejects_foreach(run_record_reject, &r->run_id);
		fdw_rejects_reset();
		rec.bytes = pipeline_scan_bytes - bytes_before;
		run_record(r, &rec);
		accounting_record(&acct, r->run_id);
		foreach(lc, todo)
		{
			/* the version it read: the one announced, or a newer one */
			EventObject read = *(EventObject *) lfirst(lc);

			read.etag = accounting_etag(&acct, lfirst(lc));
			run_mark_processed(name, &read, r->run_id);
		}

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		progress_end(level);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		accounting_end(&acct);
		progress_end(level);
		disable_timeout(report_timeout_id, false);
		report_trigger_uris = NIL;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (!run_error_is_recordable(edata))
		{
			/*
			 * Not ours to record: end our subtransaction before passing the
			 * error on, so that a caller that catches it (a PL/pgSQL
			 * EXCEPTION block) rolls back its own and not ours.  (An export
			 * it staged is aborted at the end of the transaction.)
			 */
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			fdw_rejects_reset();
			ReThrowError(edata);
		}
		/* also gives back the user id and settings of before the run */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		fdw_rejects_reset();
		/* an export it staged is no object, and never will be */
		outbox_abort_abandoned();

		r->status = RUN_FAILED;
		r->rows = 0;
		r->rejects = 0;
		r->export_uri = NULL;
		if (report_timed_out)
			r->error = psprintf("the report ran longer than its timeout (%d ms)", def->timeout_ms);
		else
			r->error = edata->detail
				? psprintf("%s (%s)", edata->message, edata->detail)
				: pstrdup(edata->message);
		report_timed_out = false;
		if (!record_failure)
		{
			r->run_id = 0;
			SPI_finish();
			return r;
		}
		rec.bytes = pipeline_scan_bytes - bytes_before;
		run_record(r, &rec);
		accounting_record(&acct, r->run_id);
		if (IsBackgroundWorker)
			ereport(LOG,
					(errmsg("report \"%s\" failed: %s", name, r->error),
					 errdetail("The failure is recorded in pipeline.runs (id " INT64_FORMAT ").",
							   r->run_id)));
	}
	PG_END_TRY();

	run_notify(r->run_id);
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
report_skip(const char *name, RunTrigger trigger, const char *why)
{
	RunResult  *r = palloc0(sizeof(RunResult));
	RunRecord	rec;

	r->report = pstrdup(name);
	r->status = RUN_SKIPPED;
	r->error = pstrdup(why);
	memset(&rec, 0, sizeof(rec));
	rec.trigger = trigger;
	rec.started = GetCurrentTimestamp();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	r->run_id = run_new_id();
	run_record(r, &rec);
	run_notify(r->run_id);
	SPI_finish();
	return r;
}
