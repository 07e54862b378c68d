/*-------------------------------------------------------------------------
 *
 * tasks.c
 *	  The durable work queue of report runs (pipeline.tasks).
 *
 * The worker takes messages off a queue by inserting one task per object
 * and report it concerns, in a transaction that commits (and is flushed)
 * before the messages are deleted from SQS: from then on the work is in
 * the database, and nothing depends on SQS delivering the message again.
 * A task is deleted in the transaction of the run that settles it, so the
 * result, the versions recorded as processed and the end of the task
 * commit together.
 *
 * Claiming a task counts an attempt and sets when it comes back (the
 * report's retry_delay, doubling), committed before the run when the
 * worker picks due tasks: a run that crashes the worker, or is killed with
 * it, has used an attempt, and the task returns after its back-off.  After
 * max_attempts the task becomes a dead letter.
 *
 * One run takes all the claimed objects of a report.  If it fails, each
 * object runs alone: the good ones commit, and only the bad one is retried
 * (Firehose flushes many objects at once; one bad record must not hold the
 * others back).  A chained report ("after") gets a task of its own when
 * its upstream succeeds, with the same retries.
 *
 * IDENTIFICATION
 *	  src/report/tasks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "report/tasks.h"
#include "s3/s3.h"
#include "util/privilege.h"
#include "util/settings.h"

StaticAssertDecl(sizeof(void *) >= sizeof(int64), "task ids are kept in pointers");

/* ----------------------------------------------------------------
 *		Adding work
 * ----------------------------------------------------------------
 */

/* Parameters $1..$7 of an object: bucket, key, version, sequencer, etag, size, event time. */
static void
object_args(const EventObject *o, Datum *values, char *nulls)
{
	values[0] = CStringGetTextDatum(o->bucket);
	values[1] = CStringGetTextDatum(o->key);
	values[2] = CStringGetTextDatum(event_object_version(o));
	nulls[3] = o->sequencer ? ' ' : 'n';
	if (o->sequencer)
		values[3] = CStringGetTextDatum(o->sequencer);
	nulls[4] = o->etag ? ' ' : 'n';
	if (o->etag)
		values[4] = CStringGetTextDatum(o->etag);
	values[5] = Int64GetDatum(o->size);
	nulls[5] = o->size < 0 ? 'n' : ' ';
	values[6] = TimestampTzGetDatum(o->event_time);
	nulls[6] = o->event_time == 0 ? 'n' : ' ';
}

/* Queue one object for one report; returns the task's id.  SPI connected. */
int64
tasks_add(const char *report, const EventObject *o, const char *queue, const char *message_id)
{
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID,
	TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[10];
	char		nulls[10] = "          ";
	bool		isnull;

	object_args(o, values, nulls);
	if (queue)
		values[7] = CStringGetTextDatum(queue);
	else
		nulls[7] = 'n';
	if (message_id)
		values[8] = CStringGetTextDatum(message_id);
	else
		nulls[8] = 'n';
	values[9] = CStringGetTextDatum(report);
	/* S3 delivers at least once: a version waiting or given up on is not queued twice */
	spi_internal("INSERT INTO pipeline.tasks (bucket, key, version, sequencer, etag, size, "
				 "  event_time, queue, message_id, report, trigger) "
				 "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'event' "
				 "WHERE NOT EXISTS (SELECT 1 FROM pipeline.tasks t WHERE t.report = $10 "
				 "                    AND t.bucket = $1 AND t.key = $2 AND t.version = $3) "
				 "  AND NOT EXISTS (SELECT 1 FROM pipeline.dead_letters d WHERE d.report = $10 "
				 "                    AND d.object = 's3://' || $1 || '/' || $2 AND d.version = $3) "
				 "RETURNING id",
				 10, types, values, nulls, false, 0);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Keep an object no report took, and why. */
static void
add_unmatched(const EventObject *o, const char *queue, Oid owner, const char *why)
{
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID,
	TIMESTAMPTZOID, TEXTOID, OIDOID, TEXTOID};
	Datum		values[10];
	char		nulls[10] = "          ";

	object_args(o, values, nulls);
	values[7] = CStringGetTextDatum(queue);
	values[8] = ObjectIdGetDatum(owner);
	values[9] = CStringGetTextDatum(why);
	spi_internal("INSERT INTO pipeline.unmatched (bucket, key, version, sequencer, etag, "
				 "  size, event_time, queue, owner, reason) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
				 10, types, values, nulls, false, 0);
}

List *
tasks_add_objects(List *sources, List *objects, Oid sender, const char *queue,
				  const char *message_id, int *unmatched)
{
	List	   *ids = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;

	*unmatched = 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, objects)
	{
		EventObject *o = lfirst(lc);
		const char *why = NULL;
		List	   *reports = report_match(sources, o, sender, &why);
		ListCell   *rc;

		if (reports == NIL)
		{
			(*unmatched)++;
			if (queue)
				add_unmatched(o, queue, sender, why);
			continue;
		}
		foreach(rc, reports)
		{
			int64		id = tasks_add(lfirst(rc), o, queue, message_id);
			MemoryContext old;

			if (id == 0)
				continue;		/* the same version is queued or given up on */
			old = MemoryContextSwitchTo(cxt);
			ids = lappend_id(ids, id);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return ids;
}

static char *
text_or_null(HeapTuple tup, TupleDesc td, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, td, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * tasks_object_from_row: the object stored in columns first..first+6 of a
 * row (bucket, key, version, sequencer, etag, size, event_time), as
 * pipeline.tasks and pipeline.unmatched keep it.
 */
EventObject *
tasks_object_from_row(HeapTuple tup, TupleDesc td, int first)
{
	EventObject *o = palloc0(sizeof(EventObject));
	bool		isnull;
	Datum		d;

	o->bucket = text_or_null(tup, td, first);
	o->key = text_or_null(tup, td, first + 1);
	/* what event_object_version made of it, as it was */
	o->version_id = text_or_null(tup, td, first + 2);
	o->sequencer = text_or_null(tup, td, first + 3);
	o->etag = text_or_null(tup, td, first + 4);
	d = SPI_getbinval(tup, td, first + 5, &isnull);
	o->size = isnull ? -1 : DatumGetInt64(d);
	d = SPI_getbinval(tup, td, first + 6, &isnull);
	o->event_time = isnull ? 0 : DatumGetTimestampTz(d);
	return o;
}

/* ----------------------------------------------------------------
 *		Claiming
 * ----------------------------------------------------------------
 */

static int
compare_task_ids(const ListCell *a, const ListCell *b)
{
	int64		x = ((Task *) lfirst(a))->id;
	int64		y = ((Task *) lfirst(b))->id;

	return x < y ? -1 : x > y ? 1 : 0;
}


List *
tasks_claim(List *ids, int limit)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *claimed = NIL;
	Oid			types[4] = {INT8ARRAYOID, INT4OID, INT4OID, INT4OID};
	Datum		values[4];
	char		nulls[4] = "    ";
	Datum	   *elems;
	ListCell   *lc;
	uint64		i;

	if (ids != NIL)
	{
		elems = palloc(sizeof(Datum) * list_length(ids));
		foreach(lc, ids)
			elems[foreach_current_index(lc)] = Int64GetDatum(lfirst_id(lc));
		values[0] = PointerGetDatum(construct_array(elems, list_length(ids), INT8OID, 8,
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	else
		nulls[0] = 'n';
	values[1] = Int32GetDatum(limit > 0 ? limit : INT_MAX);
	values[2] = Int32GetDatum(pipeline_retry_delay);
	values[3] = Int32GetDatum(pipeline_max_attempts);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("UPDATE pipeline.tasks t SET attempts = t.attempts + 1, "
				 "  next_attempt = now() + least(interval '12 hours', "
				 "    coalesce(r.retry_delay, $3 * interval '1 second') * 2 ^ t.attempts) "
				 "FROM pipeline.reports r "
				 "WHERE r.name = t.report AND t.id IN ("
				 "  SELECT c.id FROM pipeline.tasks c JOIN pipeline.reports cr ON cr.name = c.report "
				 "  WHERE cr.enabled AND CASE WHEN $1 IS NULL THEN c.next_attempt <= now() "
				 "                            ELSE c.id = ANY ($1) END "
				 "  ORDER BY c.id LIMIT $2 FOR UPDATE OF c SKIP LOCKED) "
				 "RETURNING t.id, t.report, t.trigger, t.bucket, t.key, t.version, t.sequencer, "
				 "  t.etag, t.size, t.event_time, t.attempts, coalesce(r.max_attempts, $4), "
				 "  t.queue, t.message_id",
				 4, types, values, nulls, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Task	   *t = palloc0(sizeof(Task));
		bool		isnull;

		t->id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		t->report = text_or_null(tup, td, 2);
		if (run_trigger_from_name(SPI_getvalue(tup, td, 3)) == TRIGGER_EVENT)
			t->obj = tasks_object_from_row(tup, td, 4);
		t->attempt = DatumGetInt32(SPI_getbinval(tup, td, 11, &isnull));
		t->max_attempts = DatumGetInt32(SPI_getbinval(tup, td, 12, &isnull));
		t->queue = text_or_null(tup, td, 13);
		t->message_id = text_or_null(tup, td, 14);
		claimed = lappend(claimed, t);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	/* in the order they came */
	list_sort(claimed, compare_task_ids);
	return claimed;
}

/* ----------------------------------------------------------------
 *		Running
 * ----------------------------------------------------------------
 */

/* A settled task: its run succeeded (or had nothing to do). */
static void
task_done(Task *t)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(t->id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("DELETE FROM pipeline.tasks WHERE id = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
}

/* A description of a task's work, for its dead letter. */
static char *
task_body(Task *t)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"report\":");
	escape_json(&buf, t->report);
	if (t->obj)
	{
		appendStringInfoString(&buf, ",\"bucket\":");
		escape_json(&buf, t->obj->bucket);
		appendStringInfoString(&buf, ",\"key\":");
		escape_json(&buf, t->obj->key);
		appendStringInfoString(&buf, ",\"version\":");
		escape_json(&buf, event_object_version(t->obj));
		if (t->obj->etag)
		{
			appendStringInfoString(&buf, ",\"etag\":");
			escape_json(&buf, t->obj->etag);
		}
		if (t->obj->sequencer)
		{
			appendStringInfoString(&buf, ",\"sequencer\":");
			escape_json(&buf, t->obj->sequencer);
		}
	}
	else
	{
		appendStringInfoString(&buf, ",\"trigger\":");
		escape_json(&buf, run_trigger_name(TRIGGER_AFTER));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * A task whose run failed: retried when its back-off (set when it was
 * claimed) is over, or, after its last attempt, kept as a dead letter.
 */
static void
task_failed(Task *t, const char *error)
{
	Oid			types[9] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID,
	TEXTOID};
	Datum		values[9];
	char		nulls[9] = "         ";

	values[0] = Int64GetDatum(t->id);
	values[1] = CStringGetTextDatum(error);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (t->attempt < t->max_attempts)
	{
		spi_internal("UPDATE pipeline.tasks SET last_error = $2 WHERE id = $1",
					 2, types, values, NULL, false, 0);
		SPI_finish();
		return;
	}
	if (t->queue)
		values[2] = CStringGetTextDatum(t->queue);
	else
		nulls[2] = 'n';
	if (t->message_id)
		values[3] = CStringGetTextDatum(t->message_id);
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(task_body(t));
	values[5] = Int32GetDatum(t->attempt);
	values[6] = CStringGetTextDatum(t->report);
	if (t->obj)
		values[7] = CStringGetTextDatum(s3_make_uri(t->obj->bucket, t->obj->key));
	else
		nulls[7] = 'n';
	if (t->obj)
		values[8] = CStringGetTextDatum(event_object_version(t->obj));
	else
		nulls[8] = 'n';
	spi_internal("INSERT INTO pipeline.dead_letters (queue, message_id, body, reason, attempts, "
				 "  report, object, version, owner) "
				 "SELECT $3, $4, $5, 'gave up after ' || $6 || ' attempts: ' || $2, $6, $7, $8, $9, "
				 "       r.owner "
				 "FROM pipeline.reports r WHERE r.name = $7",
				 9, types, values, nulls, false, 0);
	spi_internal("DELETE FROM pipeline.tasks WHERE id = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
	ereport(LOG,
			(errmsg("report \"%s\" gave up on %s after %d attempts",
					t->report, t->obj ? s3_make_uri(t->obj->bucket, t->obj->key) : "a chained run",
					t->attempt),
			 errdetail_internal("%s", error),
			 errhint("It is kept in pipeline.dead_letters.")));
}

/* A task claimed but not run (its report was paused meanwhile): as it was. */
static void
task_unclaim(Task *t)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(t->id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("UPDATE pipeline.tasks SET attempts = attempts - 1, next_attempt = now() "
				 "WHERE id = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
}

static List *run_chained(Task *t);

/* Settle a task by the outcome of its run. */
static void
settle(Task *t, RunResult *r)
{
	r->queue = t->queue;
	if (r->status == RUN_SUCCEEDED || r->status == RUN_SKIPPED)
		task_done(t);
	else if (r->status == RUN_PAUSED)
		task_unclaim(t);
	else
		task_failed(t, r->error);
}

/* The event tasks of one report: one run, then one per object if it failed. */
static List *
run_objects(const char *report, List *tasks)
{
	List	   *results = NIL;
	List	   *objects = NIL;
	int			attempt = 0;
	bool		succeeded = false;
	ListCell   *lc;
	RunResult  *r;

	foreach(lc, tasks)
	{
		Task	   *t = lfirst(lc);

		objects = lappend(objects, t->obj);
		attempt = Max(attempt, t->attempt);
	}
	r = report_run(report, TRIGGER_EVENT, objects, attempt, list_length(tasks) == 1);
	if (r->status != RUN_FAILED || list_length(tasks) == 1)
	{
		foreach(lc, tasks)
			settle(lfirst(lc), r);
		succeeded = r->status == RUN_SUCCEEDED;
		results = lappend(results, r);
	}
	else
	{
		/* find the bad objects: each alone */
		ereport(DEBUG1,
				(errmsg("report \"%s\" failed on %d objects; running each alone",
						report, list_length(tasks)),
				 errdetail_internal("%s", r->error)));
		foreach(lc, tasks)
		{
			Task	   *t = lfirst(lc);

			r = report_run(report, TRIGGER_EVENT, list_make1(t->obj), t->attempt, true);
			settle(t, r);
			succeeded |= r->status == RUN_SUCCEEDED;
			results = lappend(results, r);
		}
	}
	if (succeeded)
		results = list_concat(results, tasks_run_after(report));
	return results;
}

/* A chained run; skipped if its upstream's result did not change. */
static List *
run_chained(Task *t)
{
	List	   *results = NIL;
	bool		unchanged;
	char	   *upstream = NULL;
	char	   *fingerprint = report_upstream_fingerprint(t->report, &unchanged, &upstream);
	RunResult  *r;

	if (fingerprint && unchanged)
	{
		r = report_skip(t->report, TRIGGER_AFTER,
						psprintf("the result of \"%s\" did not change", upstream));
		settle(t, r);
		return list_make1(r);
	}
	r = report_run(t->report, TRIGGER_AFTER, NIL, t->attempt, true);
	settle(t, r);
	results = lappend(results, r);
	if (r->status == RUN_SUCCEEDED)
	{
		if (fingerprint)
			report_consumed(t->report, fingerprint);
		results = list_concat(results, tasks_run_after(t->report));
	}
	return results;
}

List *
tasks_run(List *tasks)
{
	List	   *results = NIL;
	List	   *reports = NIL;
	ListCell   *lc;

	/* the reports, in the order of their first task */
	foreach(lc, tasks)
	{
		Task	   *t = lfirst(lc);

		if (t->obj && !list_member(reports, makeString(t->report)))
			reports = lappend(reports, makeString(t->report));
	}
	foreach(lc, reports)
	{
		const char *report = strVal(lfirst(lc));
		List	   *mine = NIL;
		ListCell   *tc;

		foreach(tc, tasks)
		{
			Task	   *t = lfirst(tc);

			if (t->obj && strcmp(t->report, report) == 0)
				mine = lappend(mine, t);
		}
		results = list_concat(results, run_objects(report, mine));
	}
	foreach(lc, tasks)
	{
		Task	   *t = lfirst(lc);

		if (t->obj == NULL)
			results = list_concat(results, run_chained(t));
	}
	return results;
}

/*
 * Queue a chained run of "report"; returns the task's id.  One pending
 * chained run per report: new upstream data joins the one waiting, which
 * is due now.  SPI connected.
 */
int64
tasks_add_after(const char *report)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(report);
	spi_internal("INSERT INTO pipeline.tasks (report, trigger) VALUES ($1, 'after') "
				 "ON CONFLICT (report) WHERE trigger = 'after' "
				 "DO UPDATE SET next_attempt = now() RETURNING id",
				 1, types, values, NULL, false, 0);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

List *
tasks_run_after(const char *upstream)
{
	List	   *results = NIL;
	List	   *downs = report_downstream(upstream);
	List	   *ids = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;

	if (downs == NIL)
		return NIL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, downs)
	{
		int64		id = tasks_add_after(lfirst(lc));
		MemoryContext old = MemoryContextSwitchTo(cxt);

		ids = lappend_id(ids, id);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	foreach(lc, tasks_claim(ids, 0))
		results = list_concat(results, run_chained(lfirst(lc)));
	return results;
}

TimestampTz
tasks_next_due(void)
{
	TimestampTz next;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	next = spi_internal_timestamp("SELECT min(t.next_attempt) FROM pipeline.tasks t "
								  "JOIN pipeline.reports r ON r.name = t.report WHERE r.enabled",
								  0, NULL, NULL);
	SPI_finish();
	return next;
}
