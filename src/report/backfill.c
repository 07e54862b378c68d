/*-------------------------------------------------------------------------
 *
 * backfill.c
 *	  pipeline.backfill: a report run over the objects already under its
 *	  source (last modified in [since, until)), in batches, by the worker;
 *	  resumable, with its progress in pipeline.backfills and
 *	  pipeline.progress.
 *
 * A backfill feeds the worker's durable work queue, as events do: the
 * worker lists the source a page at a time (ListObjectsV2 after the last
 * key queued), and in one transaction queues the page's objects as tasks
 * and records the page's last key.  Tasks are run (one run per report for
 * up to 100 objects), retried and dead-lettered like the objects of
 * events, and recorded in the same ledger: an object the report processed
 * by an event is not queued, and one the backfill processed is not run
 * again by its event.  A crash loses nothing: the listing resumes after
 * the last key queued, and the tasks are in the table.  At most
 * BACKFILL_MAX_PENDING tasks of a backfill wait at a time, so a backfill of
 * a million objects does not fill pipeline.tasks, and events still get
 * their turn.
 *
 * Who may backfill a report: whoever may run it (its owner's rights); the
 * listing is made with the owner's user mapping, and the runs run as the
 * owner, like every run.
 *
 * IDENTIFICATION
 *	  src/report/backfill.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/export.h"
#include "report/intake.h"
#include "report/report.h"
#include "report/tasks.h"
#include "util/own_xact.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "util/shared.h"

PG_FUNCTION_INFO_V1(pipeline_backfill);
PG_FUNCTION_INFO_V1(pipeline_cancel_backfill);

/* tasks of one backfill waiting at most; pages listed per step */
#define BACKFILL_MAX_PENDING	2000
#define BACKFILL_PAGES_PER_STEP	5

/*
 * pipeline.backfill(report, since, until): queue a backfill of the
 * objects under the report's source; returns its id.
 */
Datum
pipeline_backfill(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "report", true);
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = "      ";
	Oid			owner;
	char	   *source;
	char	   *server;
	char	   *bucket;
	char	   *prefix;
	bool		isnull;
	int64		id;

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2) &&
		PG_GETARG_TIMESTAMPTZ(1) >= PG_GETARG_TIMESTAMPTZ(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"since\" must be earlier than \"until\""),
				 errdetail("A backfill takes the objects last modified at or after \"since\" and before \"until\".")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the same rule as running it */
	owner = check_owned("reports", "report", name);
	values[0] = CStringGetTextDatum(name);
	spi_internal("SELECT source, server FROM pipeline.reports WHERE name = $1",
				 1, types, values, NULL, false, 1);
	source = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	server = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("report \"%s\" has no source", name),
				 errhint("A backfill runs a report over the objects under its source: give it one with pipeline.alter_report('%s', source => 's3://...').",
						 name)));
	s3_parse_uri(source, &bucket, &prefix);
	/* the owner lists with its own rights: checked now as well as for every page */
	{
		PrivSave	save;

		priv_enter_role(&save, owner, NULL);
		(void) export_server(server);
		priv_leave(&save);
	}

	values[1] = CStringGetTextDatum(bucket);
	values[2] = CStringGetTextDatum(prefix);
	if (PG_ARGISNULL(1))
		nulls[3] = 'n';
	else
		values[3] = TimestampTzGetDatum(PG_GETARG_TIMESTAMPTZ(1));
	if (PG_ARGISNULL(2))
		nulls[4] = 'n';
	else
		values[4] = TimestampTzGetDatum(PG_GETARG_TIMESTAMPTZ(2));
	values[5] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	spi_internal("INSERT INTO pipeline.backfills (report, bucket, prefix, since, until, requested_by) "
				 "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
				 6, types, values, nulls, false, 0);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (pipeline_shared == NULL)
		ereport(WARNING,
				(errmsg("backfill " INT64_FORMAT " waits for the pipeline worker, which is not running", id),
				 errhint("The worker needs shared_preload_libraries = 'pipeline'.")));
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_INT64(id);
}

/*
 * pipeline.cancel_backfill(id): nothing more is listed, and its objects
 * that wait are dropped (a run under way finishes).
 */
Datum
pipeline_cancel_backfill(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *report;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(id);
	spi_internal("SELECT report FROM pipeline.backfills WHERE id = $1", 1, types, values, NULL,
				 false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("backfill " INT64_FORMAT " does not exist", id)));
	report = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	(void) check_owned("reports", "report", report);
	spi_internal("UPDATE pipeline.backfills SET state = 'cancelled', finished_at = pg_catalog.now() "
				 "WHERE id = $1 AND state IN ('listing', 'running')",
				 1, types, values, NULL, false, 0);
	spi_internal("DELETE FROM pipeline.tasks WHERE backfill = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 *		Settling tasks (from tasks.c)
 * ----------------------------------------------------------------
 */

void
backfill_settled(int64 id, bool done, int64 size)
{
	Oid			types[3] = {INT8OID, BOOLOID, INT8OID};
	Datum		values[3];

	values[0] = Int64GetDatum(id);
	values[1] = BoolGetDatum(done);
	values[2] = Int64GetDatum(Max(size, 0));
	spi_internal("UPDATE pipeline.backfills SET "
				 "  objects_done = objects_done + $2::int, "
				 "  objects_failed = objects_failed + (NOT $2)::int, "
				 "  bytes_done = bytes_done + $3 "
				 "WHERE id = $1",
				 3, types, values, NULL, false, 0);
}

/* ----------------------------------------------------------------
 *		The worker's step
 * ----------------------------------------------------------------
 */

typedef enum BackfillStep
{
	BACKFILL_LISTED,			/* a page was queued; more to list */
	BACKFILL_WAIT,				/* enough waits, or the listing is over: later */
	BACKFILL_OVER				/* done, failed, gone */
} BackfillStep;

/* One page of backfill "id", in the current transaction. */
static BackfillStep
backfill_page(int64 id, MemoryContext page_cxt)
{
	Oid			types[8] = {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, BOOLOID,
	INT8OID};
	Datum		values[8];
	char		nulls[8] = "        ";
	bool		isnull;
	char	   *report;
	char	   *bucket;
	char	   *prefix;
	char	   *state;
	char	   *after;
	char	   *server;
	TimestampTz since;
	TimestampTz until;
	Oid			owner;
	int64		pending;
	AwsClient   *client;
	S3ListPage *page;
	S3Requests	before;
	List	   *in_range = NIL;
	IntakeCounts counts;
	ListCell   *lc;
	Datum		d;
	bool		more;

	values[0] = Int64GetDatum(id);
	spi_internal("SELECT b.report, b.bucket, b.prefix, b.state, b.listed_after, r.server, "
				 "  r.owner::oid, b.since, b.until, "
				 "  (SELECT count(*) FROM pipeline.tasks t WHERE t.backfill = b.id) "
				 "FROM pipeline.backfills b JOIN pipeline.reports r ON r.name = b.report "
				 "WHERE b.id = $1 AND b.state IN ('listing', 'running') FOR UPDATE OF b",
				 1, types, values, NULL, false, 1);
	if (SPI_processed == 0)
		return BACKFILL_OVER;
	report = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	bucket = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	prefix = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	after = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	server = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7,
										   &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull);
	since = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9, &isnull);
	until = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	pending = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10,
										  &isnull));

	if (strcmp(state, "running") == 0)
	{
		/* everything is listed: over when the last task is */
		if (pending > 0)
			return BACKFILL_WAIT;
		spi_internal("UPDATE pipeline.backfills SET state = 'done', finished_at = pg_catalog.now() "
					 "WHERE id = $1", 1, types, values, NULL, false, 0);
		return BACKFILL_OVER;
	}
	if (pending >= BACKFILL_MAX_PENDING)
		return BACKFILL_WAIT;

	{
		MemoryContext old = MemoryContextSwitchTo(page_cxt);

		client = intake_client(owner, server, page_cxt);
		before = client->requests;
		PG_TRY();
		{
			page = s3_list_finish(s3_list_start_after(client, bucket, prefix, NULL, NULL, after,
													  pipeline_list_page_size));
		}
		PG_FINALLY();
		{
			aws_client_destroy(client);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
	}
	foreach(lc, page->objects)
	{
		S3Object   *o = lfirst(lc);

		if (o->last_modified == 0 || (o->last_modified >= since && o->last_modified < until))
			in_range = lappend(in_range, o);
		after = o->key;
	}
	memset(&counts, 0, sizeof(counts));
	intake_enqueue(report, TRIGGER_BACKFILL, id, bucket, in_range, &counts);
	intake_count_usage(report, (int64) (client->requests.list - before.list),
					   list_length(page->objects));
	more = page->next_token != NULL && page->objects != NIL;

	values[1] = after ? CStringGetTextDatum(after) : (Datum) 0;
	nulls[1] = after ? ' ' : 'n';
	values[2] = Int64GetDatum(counts.listed);
	values[3] = Int64GetDatum(counts.queued);
	values[4] = Int64GetDatum(counts.bytes_queued);
	values[5] = Int64GetDatum((int64) (client->requests.list - before.list));
	values[6] = BoolGetDatum(more);
	values[7] = Int64GetDatum(counts.listed - counts.queued);
	spi_internal("UPDATE pipeline.backfills SET listed_after = $2, "
				 "  objects_listed = objects_listed + $3, objects_queued = objects_queued + $4, "
				 "  objects_skipped = objects_skipped + $8, bytes_queued = bytes_queued + $5, "
				 "  list_requests = list_requests + $6, failures = 0, last_error = NULL, "
				 "  state = CASE WHEN $7 THEN 'listing' ELSE 'running' END, "
				 "  listed_at = CASE WHEN $7 THEN NULL ELSE pg_catalog.now() END "
				 "WHERE id = $1",
				 8, types, values, nulls, false, 0);
	return more ? BACKFILL_LISTED : BACKFILL_WAIT;
}

/* A page failed: back off, or give up after pipeline.max_attempts failures in a row. */
static void
backfill_failed(int64 id, const char *error)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(error);
	values[2] = Int32GetDatum(pipeline_max_attempts);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("UPDATE pipeline.backfills SET failures = failures + 1, last_error = $2, "
				 "  next_attempt = pg_catalog.now() + least(interval '5 minutes', "
				 "    interval '1 second' * 2 ^ least(failures, 10)), "
				 "  state = CASE WHEN failures + 1 >= $3 THEN 'failed' ELSE state END, "
				 "  finished_at = CASE WHEN failures + 1 >= $3 THEN pg_catalog.now() END "
				 "WHERE id = $1 RETURNING state",
				 3, types, values, NULL, false, 0);
	if (SPI_processed == 1 &&
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "failed") == 0)
		ereport(LOG,
				(errmsg("backfill " INT64_FORMAT " gave up after %d failures in a row", id,
						pipeline_max_attempts),
				 errdetail_internal("%s", error)));
	SPI_finish();
}

/* own_xact_step's view of backfill_page and backfill_failed */
static int
backfill_page_step(void *arg, MemoryContext page_cxt)
{
	return (int) backfill_page(*(int64 *) arg, page_cxt);
}

static void
backfill_page_failed(void *arg, const char *error)
{
	backfill_failed(*(int64 *) arg, error);
}

/* One page of a backfill in a transaction of its own. */
static BackfillStep
backfill_one(int64 id)
{
	OwnXactStep s = {
		.cxt_name = "pipeline backfill page",
		.activity = psprintf("listing backfill " INT64_FORMAT, id),
		.what = psprintf("backfill " INT64_FORMAT " could not list", id),
		.hint = "It resumes after the last key it queued; pipeline.backfills shows the error.",
		.step = backfill_page_step,
		.failed = backfill_page_failed,
		.failed_result = BACKFILL_WAIT,
	};
	BackfillStep result = (BackfillStep) own_xact_step(&s, &id);

	pfree((char *) s.activity);
	pfree((char *) s.what);
	return result;
}

TimestampTz
backfill_step(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *ids = NIL;
	TimestampTz next;
	uint64		i;
	ListCell   *lc;
	bool		listing = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT id FROM pipeline.backfills WHERE state IN ('listing', 'running') "
				 "  AND next_attempt <= pg_catalog.now() ORDER BY id",
				 0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
													 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(cxt);

		ids = lappend_id(ids, id);
		MemoryContextSwitchTo(old);
	}
	/* a backfill backing off is due then */
	next = spi_internal_timestamp("SELECT min(next_attempt) FROM pipeline.backfills "
								  "WHERE state IN ('listing', 'running') "
								  "  AND next_attempt > pg_catalog.now()", 0, NULL, NULL);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	foreach(lc, ids)
	{
		int			pages;
		BackfillStep s = BACKFILL_LISTED;

		for (pages = 0; pages < BACKFILL_PAGES_PER_STEP && s == BACKFILL_LISTED; pages++)
		{
			s = backfill_one(lfirst_id(lc));
			CHECK_FOR_INTERRUPTS();
		}
		if (s != BACKFILL_OVER)
			listing = true;
	}
	/* backfills under way: look again once their tasks had a turn */
	if (listing)
	{
		TimestampTz soon = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 200);

		next = next == 0 ? soon : Min(next, soon);
	}
	return next;
}
