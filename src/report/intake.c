/*-------------------------------------------------------------------------
 *
 * intake.c
 *	  Objects found by listing S3 -> tasks, and listing intake: a report's
 *	  source polled by listing every list_every, for buckets that send no
 *	  notifications (as Auto Loader's directory listing mode does).
 *
 * A listed object is known by its key, ETag, size and last modification
 * (ListObjectsV2 gives neither S3's sequencer nor a version id), so its
 * version is its ETag.  It becomes a task of the report unless the report
 * has processed it already, by an event or a listing (pipeline.processed
 * has the same ETag for the key), is about to (a task of it waits), or gave
 * up on it (a dead letter).  What is left is run by the worker like the
 * objects of events, and the run records it in the same ledger; run.c
 * decides the rest (an event and a listing of one object that race each
 * other: run once).
 *
 * A poll lists the source a page at a time, each page in a transaction of
 * its own that queues its objects and records where the poll is (the last
 * key: ListObjectsV2's start-after), so that a poll stopped by an error or
 * a crash resumes where it was, and nothing it queued is queued twice.
 * Two marks keep polls from looking at history again:
 *	- keys 'increasing' (Firehose's time-ordered keys): a poll starts after
 *	  mark_key, the greatest key that was older than
 *	  pipeline.listing_lookback when the last poll began: objects written
 *	  that late out of order are still found;
 *	- keys 'any': every poll lists the whole source (S3 cannot list by
 *	  time), and only objects modified after the last poll's newest one,
 *	  less the lookback, are looked up in the ledger.
 * Objects modified before list_every was set are not polled for: that is
 * what pipeline.backfill is for.
 *
 * IDENTIFICATION
 *	  src/report/intake.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/export.h"
#include "report/intake.h"
#include "s3/credentials.h"
#include "util/own_xact.h"
#include "util/privilege.h"
#include "util/settings.h"

/* pages a poll lists in one step of the worker, before it looks at other work */
#define POLL_PAGES_PER_STEP	10

/* ----------------------------------------------------------------
 *		Listed objects -> tasks
 * ----------------------------------------------------------------
 */

AwsClient *
intake_client(Oid owner, const char *server, MemoryContext cxt)
{
	PrivSave	save;
	AwsConfig	cfg;
	AwsClient   *client;

	/* as the owner: its USAGE of the server, its user mapping */
	priv_enter_role(&save, owner, NULL);
	aws_server_config(export_server(server), owner, &cfg);
	client = aws_client_create(&cfg, cxt);
	priv_leave(&save);
	return client;
}

void
intake_enqueue(const char *report, RunTrigger trigger, int64 backfill, const char *bucket,
			   List *objects, IntakeCounts *counts)
{
	int			n = list_length(objects);
	Datum	   *keys;
	Datum	   *etags;
	Datum	   *sizes;
	Datum	   *times;
	bool	   *time_nulls;
	int			dims[1];
	int			lbs[1] = {1};
	Oid			types[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID,
	TIMESTAMPTZARRAYOID, INT8OID};
	Datum		values[8];
	char		nulls[8] = "        ";
	ListCell   *lc;
	bool		isnull;

	counts->listed += n;
	if (n == 0)
		return;
	keys = palloc(sizeof(Datum) * n);
	etags = palloc(sizeof(Datum) * n);
	sizes = palloc(sizeof(Datum) * n);
	times = palloc(sizeof(Datum) * n);
	time_nulls = palloc(sizeof(bool) * n);
	foreach(lc, objects)
	{
		S3Object   *o = lfirst(lc);
		int			i = foreach_current_index(lc);

		keys[i] = CStringGetTextDatum(o->key);
		/* S3 always gives an ETag; without one, what else the listing says stands for the version */
		etags[i] = CStringGetTextDatum(o->etag ? o->etag :
									   psprintf("listed:" INT64_FORMAT ":" INT64_FORMAT,
												(int64) o->last_modified, o->size));
		sizes[i] = Int64GetDatum(o->size);
		times[i] = TimestampTzGetDatum(o->last_modified);
		time_nulls[i] = o->last_modified == 0;
	}
	dims[0] = n;
	values[0] = CStringGetTextDatum(report);
	values[1] = CStringGetTextDatum(run_trigger_name(trigger));
	values[2] = CStringGetTextDatum(bucket);
	values[3] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(etags, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(sizes, n, INT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_md_array(times, time_nulls, 1, dims, lbs,
												   TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
												   TYPALIGN_DOUBLE));
	values[7] = Int64GetDatum(backfill);
	if (backfill == 0)
		nulls[7] = 'n';

	/*
	 * New, unless processed (the same version, or the same bytes: an ETag
	 * recorded by an event or a listing), waiting (likewise), or given up on.
	 */
	spi_internal("WITH o AS (SELECT * FROM unnest($4::text[], $5::text[], $6::int8[], "
				 "                                  $7::timestamptz[]) AS o (key, etag, size, lm)), "
				 "ins AS ("
				 "  INSERT INTO pipeline.tasks (report, trigger, bucket, key, version, etag, size, "
				 "                              event_time, backfill) "
				 "  SELECT $1, $2, $3, o.key, o.etag, o.etag, o.size, o.lm, $8 FROM o "
				 "  WHERE NOT EXISTS (SELECT 1 FROM pipeline.processed p "
				 "                    WHERE p.report OPERATOR(pg_catalog.=) $1 "
				 "                      AND p.bucket OPERATOR(pg_catalog.=) $3 "
				 "                      AND p.key OPERATOR(pg_catalog.=) o.key "
				 "                      AND (p.version OPERATOR(pg_catalog.=) o.etag "
				 "                           OR p.etag OPERATOR(pg_catalog.=) o.etag)) "
				 "    AND NOT EXISTS (SELECT 1 FROM pipeline.tasks t "
				 "                    WHERE t.report OPERATOR(pg_catalog.=) $1 "
				 "                      AND t.bucket OPERATOR(pg_catalog.=) $3 "
				 "                      AND t.key OPERATOR(pg_catalog.=) o.key "
				 "                      AND (t.version OPERATOR(pg_catalog.=) o.etag "
				 "                           OR t.etag OPERATOR(pg_catalog.=) o.etag)) "
				 "    AND NOT EXISTS (SELECT 1 FROM pipeline.dead_letters d "
				 "                    WHERE d.report OPERATOR(pg_catalog.=) $1 "
				 "                      AND d.object OPERATOR(pg_catalog.=) "
				 "                          ('s3://' OPERATOR(pg_catalog.||) $3 "
				 "                           OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) o.key) "
				 "                      AND d.version OPERATOR(pg_catalog.=) o.etag) "
				 "  ORDER BY o.key "
				 "  RETURNING size) "
				 "SELECT count(*), coalesce(sum(size), 0)::int8 FROM ins",
				 8, types, values, nulls, false, 0);
	counts->queued += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  1, &isnull));
	counts->bytes_queued += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 2, &isnull));
	counts->skipped = counts->listed - counts->queued;
}

void
intake_count_usage(const char *report, int64 lists, int64 objects)
{
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(report);
	values[1] = Int64GetDatum(lists);
	values[2] = Int64GetDatum(objects);
	spi_internal("INSERT INTO pipeline.listing_usage AS u (report, day, list_requests, objects_listed) "
				 "VALUES ($1, (pg_catalog.now() AT TIME ZONE 'UTC')::date, $2, $3) "
				 "ON CONFLICT (report, day) DO UPDATE "
				 "SET list_requests = u.list_requests OPERATOR(pg_catalog.+) $2, "
				 "    objects_listed = u.objects_listed OPERATOR(pg_catalog.+) $3",
				 3, types, values, NULL, false, 0);
}

/* ----------------------------------------------------------------
 *		Listing intake: one page of a poll
 * ----------------------------------------------------------------
 */

typedef enum PollStep
{
	POLL_MORE,					/* the poll goes on */
	POLL_DONE,					/* it listed the whole source */
	POLL_FAILED,				/* an error: recorded, tried again later */
	POLL_GONE					/* no such listing any more */
} PollStep;

static char *
row_text(int col)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

static TimestampTz
row_time(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetTimestampTz(d);
}

/* One page of the poll of "report", in the current transaction. */
static PollStep
poll_page(const char *report, MemoryContext page_cxt)
{
	Oid			types[8] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT8OID, BOOLOID,
	TIMESTAMPTZOID};
	Datum		values[8];
	char		nulls[8] = "        ";
	char	   *source;
	char	   *server;
	char	   *keys;
	char	   *poll_after;
	char	   *mark_key;
	char	   *poll_mark_key;
	char	   *listed_source;
	TimestampTz since;
	TimestampTz mark_time;
	TimestampTz poll_started;
	TimestampTz poll_max_time;
	TimestampTz threshold;
	TimestampTz settled;
	Oid			owner;
	bool		isnull;
	bool		increasing;
	char	   *bucket;
	char	   *prefix;
	AwsClient   *client;
	S3ListPage *page;
	S3Requests	before;
	List	   *fresh = NIL;
	IntakeCounts counts;
	ListCell   *lc;
	bool		done;

	values[0] = CStringGetTextDatum(report);
	spi_internal("SELECT r.source, r.server, r.owner::oid, l.keys, l.since, l.mark_key, "
				 "  l.mark_time, l.poll_after, l.poll_started, l.poll_max_time, l.poll_mark_key, "
				 "  l.source "
				 "FROM pipeline.listings l JOIN pipeline.reports r ON r.name = l.report "
				 "WHERE l.report = $1 FOR UPDATE OF l",
				 1, types, values, NULL, false, 1);
	if (SPI_processed == 0)
		return POLL_GONE;
	source = row_text(1);
	server = row_text(2);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3,
										   &isnull));
	keys = row_text(4);
	since = row_time(5);
	mark_key = row_text(6);
	mark_time = row_time(7);
	poll_after = row_text(8);
	poll_started = row_time(9);
	poll_max_time = row_time(10);
	poll_mark_key = row_text(11);
	listed_source = row_text(12);
	increasing = strcmp(keys, "increasing") == 0;
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("report \"%s\" has no source to list", report),
				 errhint("Give it one with pipeline.alter_report('%s', source => 's3://...'), or stop listing with list_every => '0'.",
						 report)));
	/* a new source: what was marked was of the old one */
	if (listed_source == NULL || strcmp(listed_source, source) != 0)
	{
		mark_key = poll_mark_key = poll_after = NULL;
		mark_time = poll_max_time = poll_started = 0;
	}
	if (poll_started == 0)
	{
		/* a new poll */
		poll_started = GetCurrentTransactionStartTimestamp();
		poll_max_time = mark_time;
		poll_mark_key = mark_key;
		poll_after = increasing ? mark_key : NULL;
	}
	threshold = since;
	if (!increasing && mark_time != 0)
		threshold = Max(threshold,
						mark_time - (TimestampTz) pipeline_listing_lookback * USECS_PER_SEC);
	settled = poll_started - (TimestampTz) pipeline_listing_lookback * USECS_PER_SEC;

	s3_parse_uri(source, &bucket, &prefix);
	{
		MemoryContext old = MemoryContextSwitchTo(page_cxt);

		client = intake_client(owner, server, page_cxt);
		before = client->requests;
		PG_TRY();
		{
			page = s3_list_finish(s3_list_start_after(client, bucket, prefix, NULL, NULL,
													  poll_after, pipeline_list_page_size));
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

		if (o->last_modified >= threshold || o->last_modified == 0)
			fresh = lappend(fresh, o);
		if (o->last_modified > poll_max_time)
			poll_max_time = o->last_modified;
		/* keys written before "settled" will not be followed by smaller ones */
		if (increasing && o->last_modified != 0 && o->last_modified <= settled)
			poll_mark_key = o->key;
		poll_after = o->key;
	}
	memset(&counts, 0, sizeof(counts));
	intake_enqueue(report, TRIGGER_LISTING, 0, bucket, fresh, &counts);
	intake_count_usage(report, (int64) (client->requests.list - before.list),
					   list_length(page->objects));

	done = page->next_token == NULL;
	values[1] = poll_after ? CStringGetTextDatum(poll_after) : (Datum) 0;
	nulls[1] = poll_after ? ' ' : 'n';
	values[2] = poll_mark_key ? CStringGetTextDatum(poll_mark_key) : (Datum) 0;
	nulls[2] = poll_mark_key ? ' ' : 'n';
	values[3] = TimestampTzGetDatum(poll_max_time);
	nulls[3] = poll_max_time ? ' ' : 'n';
	values[4] = CStringGetTextDatum(source);
	values[5] = Int64GetDatum(counts.queued);
	values[6] = BoolGetDatum(done);
	values[7] = TimestampTzGetDatum(poll_started);
	/* the poll goes on after this page, or is over: the marks move */
	spi_internal("UPDATE pipeline.listings SET source = $5, failures = 0, last_error = NULL, "
				 "  objects = objects + $6, "
				 "  poll_after = CASE WHEN $7 THEN NULL ELSE $2 END, "
				 "  poll_started = CASE WHEN $7 THEN NULL ELSE $8 END, "
				 "  poll_max_time = CASE WHEN $7 THEN NULL ELSE $4 END, "
				 "  poll_mark_key = CASE WHEN $7 THEN NULL ELSE $3 END, "
				 "  mark_time = CASE WHEN $7 THEN $4 ELSE mark_time END, "
				 "  mark_key = CASE WHEN $7 THEN $3 ELSE mark_key END, "
				 "  last_poll = CASE WHEN $7 THEN pg_catalog.now() ELSE last_poll END, "
				 "  polls = polls + $7::int, "
				 "  next_poll = CASE WHEN $7 THEN greatest(pg_catalog.now(), $8 + every) "
				 "    ELSE next_poll END "
				 "WHERE report = $1",
				 8, types, values, nulls, false, 0);
	return done ? POLL_DONE : POLL_MORE;
}

/*
 * A page failed: say so, and come back after a back-off (the poll resumes
 * where it was).
 */
static void
poll_failed(const char *report, const char *error)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(report);
	values[1] = CStringGetTextDatum(error);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("UPDATE pipeline.listings SET failures = failures + 1, last_error = $2, "
				 "  next_poll = pg_catalog.now() + least(interval '5 minutes', "
				 "    interval '1 second' * 2 ^ least(failures, 10)) "
				 "WHERE report = $1",
				 2, types, values, NULL, false, 0);
	SPI_finish();
}

/* own_xact_step's view of poll_page and poll_failed */
static int
poll_page_step(void *arg, MemoryContext page_cxt)
{
	return (int) poll_page((const char *) arg, page_cxt);
}

static void
poll_page_failed(void *arg, const char *error)
{
	poll_failed((const char *) arg, error);
}

/* One page of a poll in a transaction of its own. */
static PollStep
poll_one(const char *report)
{
	OwnXactStep s = {
		.cxt_name = "pipeline listing page",
		.activity = psprintf("listing the source of report %s", report),
		.what = psprintf("listing the source of report \"%s\" failed", report),
		.hint = "The poll resumes where it was after a back-off; pipeline.listings shows the error.",
		.step = poll_page_step,
		.failed = poll_page_failed,
		.failed_result = POLL_FAILED,
	};
	PollStep	result = (PollStep) own_xact_step(&s, (void *) report);

	pfree((char *) s.activity);
	pfree((char *) s.what);
	return result;
}

/* Due listings, and when the next one is due (in a transaction of its own). */
static List *
due_listings(TimestampTz *next)
{
	List	   *due = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT report FROM pipeline.listings WHERE next_poll <= pg_catalog.now() "
				 "ORDER BY next_poll", 0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		due = lappend(due, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	*next = spi_internal_timestamp("SELECT min(next_poll) FROM pipeline.listings "
								   "WHERE next_poll > pg_catalog.now()", 0, NULL, NULL);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return due;
}

TimestampTz
intake_poll_listings(void)
{
	TimestampTz next;
	List	   *due = due_listings(&next);
	ListCell   *lc;

	foreach(lc, due)
	{
		const char *report = lfirst(lc);
		int			pages;

		for (pages = 0; pages < POLL_PAGES_PER_STEP; pages++)
		{
			PollStep	s = poll_one(report);

			CHECK_FOR_INTERRUPTS();
			if (s != POLL_MORE)
				break;
		}
	}
	/* the polls just made are due again (a poll that goes on: at once) */
	if (due != NIL)
	{
		MemoryContext cxt = CurrentMemoryContext;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		next = spi_internal_timestamp("SELECT min(next_poll) FROM pipeline.listings",
									  0, NULL, NULL);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	return next;
}

/* ----------------------------------------------------------------
 *		create_report and alter_report
 * ----------------------------------------------------------------
 */

static void
set_schedule(const char *name, const char *schedule)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = "   ";

	values[0] = CStringGetTextDatum(name);
	if (schedule == NULL)
		nulls[1] = nulls[2] = 'n';
	else
	{
		values[1] = CStringGetTextDatum(schedule);
		values[2] = TimestampTzGetDatum(schedule_check(schedule, GetCurrentTransactionStartTimestamp()));
	}
	spi_internal("UPDATE pipeline.reports SET schedule = $2, next_run = $3 WHERE name = $1",
				 3, types, values, nulls, false, 0);
}

static void
set_listing(const char *name, Interval *every, const char *keys)
{
	Oid			types[3] = {TEXTOID, INTERVALOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";
	Interval	zero;
	char	   *source;
	char	   *server;
	Oid			owner;
	bool		isnull;

	memset(&zero, 0, sizeof(zero));
	values[0] = CStringGetTextDatum(name);
	if (every && DatumGetBool(DirectFunctionCall2(interval_eq, IntervalPGetDatum(every),
												  IntervalPGetDatum(&zero))))
	{
		spi_internal("DELETE FROM pipeline.listings WHERE report = $1",
					 1, types, values, NULL, false, 0);
		return;
	}
	if (keys && strcmp(keys, "any") != 0 && strcmp(keys, "increasing") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list_keys \"%s\"", keys),
				 errhint("Valid values are: any, increasing (keys written in increasing order, as Firehose's).")));
	if (every && (every->month < 0 || every->day < 0 || every->time < 0 ||
				  (every->month == 0 && every->day == 0 && every->time < USECS_PER_SEC)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("list_every must be at least 1 second"),
				 errhint("'0' stops listing.")));

	spi_internal("SELECT source, server, owner::oid FROM pipeline.reports WHERE name = $1",
				 1, types, values, NULL, false, 1);
	source = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	server = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3,
										   &isnull));
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("report \"%s\" has no source to list", name),
				 errhint("Listing intake polls the objects under a report's source: give it one.")));
	/* the owner lists with its own rights: checked now as well as at every poll */
	{
		PrivSave	save;

		priv_enter_role(&save, owner, NULL);
		(void) export_server(server);
		priv_leave(&save);
	}

	if (every)
		values[1] = IntervalPGetDatum(every);
	else
		nulls[1] = 'n';
	if (keys)
		values[2] = CStringGetTextDatum(keys);
	else
		nulls[2] = 'n';
	if (every == NULL)
	{
		spi_internal("UPDATE pipeline.listings SET keys = $3 WHERE report = $1",
					 3, types, values, nulls, false, 0);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("list_keys needs list_every"),
					 errhint("Say how often the source is listed, e.g. list_every => '1 minute'.")));
		return;
	}
	spi_internal("INSERT INTO pipeline.listings AS l (report, every, keys) "
				 "VALUES ($1, $2, coalesce($3, 'any')) "
				 "ON CONFLICT (report) DO UPDATE SET every = $2, keys = coalesce($3, l.keys), "
				 "  next_poll = least(l.next_poll, pg_catalog.now() + $2)",
				 3, types, values, nulls, false, 0);
}

void
intake_report_options(FunctionCallInfo fcinfo, int first, const char *name, bool creating)
{
	/* (an older schema passes fewer arguments) */
	if (PG_NARGS() < first + 4)
		return;
	if (!PG_ARGISNULL(first))
	{
		char	   *schedule = text_to_cstring(PG_GETARG_TEXT_PP(first));

		set_schedule(name, schedule[0] ? schedule : NULL);
	}
	if (!PG_ARGISNULL(first + 1) || !PG_ARGISNULL(first + 2))
		set_listing(name, PG_ARGISNULL(first + 1) ? NULL : PG_GETARG_INTERVAL_P(first + 1),
					PG_ARGISNULL(first + 2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(first + 2)));
	if (!PG_ARGISNULL(first + 3))
	{
		int64		max_bytes = PG_GETARG_INT64(first + 3);
		Oid			types[2] = {TEXTOID, INT8OID};
		Datum		values[2];
		char		nulls[2] = "  ";

		if (max_bytes < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_bytes_scanned must not be negative"),
					 errhint("0 means no limit.")));
		values[0] = CStringGetTextDatum(name);
		values[1] = Int64GetDatum(max_bytes);
		if (max_bytes == 0)
			nulls[1] = 'n';
		spi_internal("UPDATE pipeline.reports SET max_bytes_scanned = $2 WHERE name = $1",
					 2, types, values, nulls, false, 0);
	}
}
