/*-------------------------------------------------------------------------
 *
 * fleet_mark.c
 *	  The fleet's work after commits: claims marked done (or dead) once the
 *	  run that settled them committed, and this server's heartbeat object
 *	  (what pipeline.fleet shows: fleet_view.c).
 *
 * pipeline.fleet_claims is the outbox of the marks: a row is written in
 * the transaction of the run, and the worker writes the claim's new state
 * to S3 (If-Match its ETag) after that transaction is on disk.  A crash in
 * between leaves the row: the next worker marks it.  If the claim was
 * taken over meanwhile (this server was away longer than the lease), the
 * work ran twice: said in the log, and counted.
 *
 * Each server writes PREFIX/servers/SERVER_ID/DATABASE.json every third of
 * its lease: the claims it holds, what it ran, its counters.  S3's
 * Last-Modified of that object is its heartbeat, by S3's clock.
 *
 * IDENTIFICATION
 *	  src/report/fleet_mark.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/fleet.h"
#include "report/fleet_int.h"
#include "report/report.h"
#include "util/privilege.h"
#include "util/settings.h"

#define MARKS_PER_ROUND		100
#define PRUNE_INTERVAL_MS	(3600 * 1000)

static TimestampTz next_heartbeat = 0;
static TimestampTz next_prune = 0;
static char *instance = NULL;		/* this process's, in its heartbeat */
static char *started = NULL;

/* ----------------------------------------------------------------
 *		Marking claims after commit
 * ----------------------------------------------------------------
 */

typedef struct Mark
{
	char	   *report;
	char	   *bucket;
	char	   *key;
	char	   *version;
	char	   *claim;
	char	   *state;
	int64		run_id;
	char	   *etag;
	char	   *token;
	int			attempts;
	S3CondCall *call;
	char	   *new_etag;		/* marked: the claim's ETag now */
	char	   *error;			/* not marked: why */
	bool		lost;			/* found taken over: the work ran twice */
} Mark;

static Claim
mark_doc(const Mark *m)
{
	Claim		c;

	memset(&c, 0, sizeof(c));
	c.claim = m->claim;
	c.report = m->report;
	c.object = s3_make_uri(m->bucket, m->key);
	c.version = m->version;
	c.holder = fleet_holder();
	c.state = m->state;
	c.lease = pipeline_fleet_lease;
	c.heartbeat = fleet_iso_now();
	c.token = m->token ? m->token : "";
	c.run = m->run_id;
	return c;
}

/* A mark answered 412 or 404: see what the claim is now, and write over it. */
static void
mark_resolve(AwsClient *client, const char *bucket, Mark *m)
{
	char	   *me = fleet_holder();
	int			round;

	for (round = 0; round < 4; round++)
	{
		S3CondAnswer *g = s3_cond_get(client, bucket, m->claim);
		Claim		doc = mark_doc(m);
		char	   *body = fleet_claim_body(&doc);
		S3CondAnswer *p;
		Claim		c;
		char	   *why;

		fleet_counters.requests += g->attempts;
		if (g->status == 200 && fleet_claim_parse(g->body, g->body_len, &c, &why) &&
			!(strcmp(c.holder, me) == 0 && m->token && strcmp(c.token, m->token) == 0))
		{
			/* not our claim any more: this server was away longer than its lease */
			m->lost = true;
			ereport(WARNING,
					(errmsg("pipeline fleet: %s of report \"%s\" ran on this server and on %s",
							s3_make_uri(m->bucket, m->key), m->report, c.holder),
					 errdetail("The claim was taken over after its lease ran out before this server could mark it %s (it is %s there).",
							   m->state, c.state),
					 errhint("A server away for longer than pipeline.fleet_lease between a commit and its mark can have its work run again; its export has the same key.")));
			if (strcmp(c.state, "done") == 0)
			{
				m->new_etag = g->etag;
				return;
			}
		}
		if (g->status != 200 && g->status != 404)
		{
			m->error = psprintf("could not read the claim: %s",
								g->code ? g->code : g->error ? g->error : "?");
			return;
		}
		p = s3_cond_put(client, bucket, m->claim, body, strlen(body), "application/json",
						g->status == 404 ? NULL : g->etag);
		fleet_counters.requests += p->attempts;
		if (p->status == 200)
		{
			m->new_etag = p->etag;
			return;
		}
		if (p->status != 412 && p->status != 404)
		{
			m->error = psprintf("could not mark the claim: %s",
								p->code ? p->code : p->error ? p->error : "?");
			return;
		}
	}
	m->error = pstrdup("the claim kept changing");
}

static void
mark_claims(void)
{
	MemoryContext caller;
	MemoryContext cxt;
	List	   *marks = NIL;
	char	   *bucket;
	char	   *prefix;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	uint64		i;
	ListCell   *lc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* what S3 is told must be durable first: the runs' commits */
	XLogFlush(XactLastCommitEnd);
	caller = CurrentMemoryContext;
	fleet_location(&bucket, &prefix);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(fleet_holder());
	spi_internal("SELECT report, bucket, key, version, claim, state, run_id, etag, token, attempts "
				 "FROM pipeline.fleet_claims "
				 "WHERE NOT marked AND holder = $1 AND next_attempt <= now() "
				 "ORDER BY updated_at LIMIT " CppAsString2(MARKS_PER_ROUND) " FOR UPDATE SKIP LOCKED",
				 1, types, values, NULL, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		Mark	   *m = palloc0(sizeof(Mark));
		bool		isnull;
		Datum		d;

		m->report = SPI_getvalue(tup, td, 1);
		m->bucket = SPI_getvalue(tup, td, 2);
		m->key = SPI_getvalue(tup, td, 3);
		m->version = SPI_getvalue(tup, td, 4);
		m->claim = SPI_getvalue(tup, td, 5);
		m->state = SPI_getvalue(tup, td, 6);
		d = SPI_getbinval(tup, td, 7, &isnull);
		m->run_id = isnull ? 0 : DatumGetInt64(d);
		m->etag = SPI_getvalue(tup, td, 8);
		m->token = SPI_getvalue(tup, td, 9);
		m->attempts = DatumGetInt32(SPI_getbinval(tup, td, 10, &isnull));
		marks = lappend(marks, m);
		MemoryContextSwitchTo(old);
	}

	if (marks != NIL)
	{
		pgstat_report_activity(STATE_RUNNING, psprintf("marking %d claims of the fleet",
													   list_length(marks)));
		cxt = AllocSetContextCreate(caller, "pipeline fleet marks", ALLOCSET_DEFAULT_SIZES);
		PG_TRY();
		{
			AwsClient  *client = fleet_client(cxt);

			MemoryContextSwitchTo(cxt);
			foreach(lc, marks)
			{
				Mark	   *m = lfirst(lc);
				Claim		doc = mark_doc(m);
				char	   *body = fleet_claim_body(&doc);

				m->call = s3_cond_put_start(client, bucket, m->claim, body, strlen(body),
											"application/json",
											m->etag && m->etag[0] ? m->etag : NULL);
			}
			foreach(lc, marks)
			{
				Mark	   *m = lfirst(lc);
				S3CondAnswer *a = s3_cond_finish(m->call);

				m->call = NULL;
				fleet_counters.requests += a->attempts;
				if (a->status == 200)
					m->new_etag = a->etag;
				else if (a->status == 412 || a->status == 404)
					mark_resolve(client, bucket, m);
				else
					m->error = psprintf("could not mark the claim: %s",
										a->code ? a->code : a->error ? a->error : "?");
				m->new_etag = m->new_etag ? MemoryContextStrdup(caller, m->new_etag) : NULL;
				m->error = m->error ? MemoryContextStrdup(caller, m->error) : NULL;
			}
		}
		PG_FINALLY();
		{
			MemoryContextSwitchTo(caller);
			MemoryContextDelete(cxt);
		}
		PG_END_TRY();
	}

	foreach(lc, marks)
	{
		Mark	   *m = lfirst(lc);
		Oid			utypes[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID,
		BOOLOID};
		Datum		uvalues[8];
		char		unulls[8] = "        ";

		uvalues[0] = CStringGetTextDatum(m->report);
		uvalues[1] = CStringGetTextDatum(m->bucket);
		uvalues[2] = CStringGetTextDatum(m->key);
		uvalues[3] = CStringGetTextDatum(m->version);
		if (m->new_etag)
			uvalues[4] = CStringGetTextDatum(m->new_etag);
		else
			unulls[4] = 'n';
		if (m->error)
			uvalues[5] = CStringGetTextDatum(m->error);
		else
			unulls[5] = 'n';
		uvalues[6] = Int32GetDatum(m->attempts + 1);
		uvalues[7] = BoolGetDatum(m->lost);
		/* failed: back-off 1 s doubling, at most a minute */
		spi_internal("UPDATE pipeline.fleet_claims SET "
					 "  marked = $6 IS NULL, etag = coalesce($5, etag), last_error = $6, "
					 "  lost = lost OR $8, "
					 "  attempts = CASE WHEN $6 IS NULL THEN attempts ELSE $7 END, "
					 "  next_attempt = CASE WHEN $6 IS NULL THEN next_attempt "
					 "    ELSE now() + least(60, 2 ^ ($7 - 1)) * interval '1 second' END, "
					 "  updated_at = now() "
					 "WHERE report = $1 AND bucket = $2 AND key = $3 AND version = $4",
					 8, utypes, uvalues, unulls, false, 0);
		if (m->error == NULL)
			fleet_counters.marked++;
		if (m->lost)
			fleet_counters.lost++;
		if (m->error && m->attempts == 0)
			ereport(LOG,
					(errmsg("pipeline fleet could not mark the claim of %s for report \"%s\" %s, retrying",
							s3_make_uri(m->bucket, m->key), m->report, m->state),
					 errdetail_internal("%s", m->error)));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* ----------------------------------------------------------------
 *		This server's heartbeat object
 * ----------------------------------------------------------------
 */

/* PREFIX/servers/SERVER_ID/DATABASE.json: the holder is "server_id/database" */
static char *
heartbeat_key(const char *prefix, const char *holder)
{
	return psprintf("%sservers/%s.json", prefix, holder);
}

static void
append_counts(StringInfo buf, const char *name, const char *state)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	uint64		i;

	values[0] = CStringGetTextDatum(fleet_holder());
	values[1] = CStringGetTextDatum(state);
	spi_internal("SELECT report, count(*) FROM pipeline.fleet_claims "
				 "WHERE holder = $1 AND state = $2 AND run_id IS NOT NULL "
				 "GROUP BY report ORDER BY report", 2, types, values, NULL, true, 0);
	appendStringInfo(buf, ",\"%s\":{", name);
	for (i = 0; i < SPI_processed; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		escape_json(buf, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		appendStringInfo(buf, ":%s", SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}
	appendStringInfoChar(buf, '}');
}

static void
write_heartbeat(void)
{
	MemoryContext caller;
	MemoryContext cxt;
	StringInfoData buf;
	char	   *holder;
	char	   *slash;
	char	   *bucket;
	char	   *prefix;
	char	   *body;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	caller = CurrentMemoryContext;
	holder = fleet_holder();
	if (instance == NULL)
	{
		instance = MemoryContextStrdup(TopMemoryContext, fleet_new_token());
		started = MemoryContextStrdup(TopMemoryContext, fleet_iso_now());
	}
	fleet_location(&bucket, &prefix);
	slash = strrchr(holder, '/');

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"v\":1,\"holder\":");
	escape_json(&buf, holder);
	appendStringInfoString(&buf, ",\"server\":");
	escape_json(&buf, pnstrdup(holder, slash - holder));
	appendStringInfoString(&buf, ",\"database\":");
	escape_json(&buf, slash + 1);
	appendStringInfo(&buf, ",\"instance\":\"%s\",\"started\":\"%s\",\"heartbeat\":\"%s\",\"lease\":%d",
					 instance, started, fleet_iso_now(), pipeline_fleet_lease);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the claims held: runs that failed and will be retried, and marks not written yet */
	values[0] = CStringGetTextDatum(holder);
	spi_internal("SELECT report, 's3://' || bucket || '/' || key, version FROM pipeline.fleet_claims "
				 "WHERE holder = $1 AND (state = 'held' OR NOT marked) "
				 "ORDER BY updated_at LIMIT 100", 1, types, values, NULL, true, 0);
	appendStringInfoString(&buf, ",\"held\":[");
	for (i = 0; i < SPI_processed; i++)
	{
		appendStringInfoString(&buf, i > 0 ? ",{\"report\":" : "{\"report\":");
		escape_json(&buf, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		appendStringInfoString(&buf, ",\"object\":");
		escape_json(&buf, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		appendStringInfoString(&buf, ",\"version\":");
		escape_json(&buf, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3));
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	append_counts(&buf, "ran", "done");
	append_counts(&buf, "gave_up", "dead");
	SPI_finish();
	appendStringInfo(&buf, ",\"counters\":{\"claims\":" INT64_FORMAT ",\"takeovers\":" INT64_FORMAT
					 ",\"busy\":" INT64_FORMAT ",\"elsewhere\":" INT64_FORMAT ",\"requests\":" INT64_FORMAT
					 ",\"marked\":" INT64_FORMAT ",\"lost\":" INT64_FORMAT ",\"released\":" INT64_FORMAT
					 ",\"extended\":" INT64_FORMAT ",\"deferred\":" INT64_FORMAT "}",
					 fleet_counters.claims, fleet_counters.takeovers, fleet_counters.busy,
					 fleet_counters.elsewhere, fleet_counters.requests, fleet_counters.marked,
					 fleet_counters.lost, fleet_counters.released, fleet_counters.extended,
					 fleet_counters.deferred);
	body = fleet_signed_document(&buf);

	cxt = AllocSetContextCreate(caller, "pipeline fleet heartbeat", ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		AwsClient  *client = fleet_client(cxt);
		S3CondAnswer *a;

		MemoryContextSwitchTo(cxt);
		a = s3_plain_put(client, bucket, heartbeat_key(prefix, holder), body, strlen(body),
						 "application/json");
		fleet_counters.requests += a->attempts;
		if (a->status != 200)
			ereport(LOG,
					(errmsg("pipeline fleet could not write this server's heartbeat: %s",
							a->code ? a->code : a->error ? a->error : psprintf("HTTP %ld", a->status))));
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

static void
prune(int history_days)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int32GetDatum(history_days);
	spi_internal("DELETE FROM pipeline.fleet_claims WHERE (marked AND state <> 'held') "
				 "  AND updated_at < now() - make_interval(days => $1)",
				 1, types, values, NULL, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

TimestampTz
fleet_after_commit(int history_days)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next;

	if (!fleet_enabled())
		return 0;
	mark_claims();
	if (now >= next_heartbeat)
	{
		next_heartbeat = TimestampTzPlusMilliseconds(now, Max(1000, pipeline_fleet_lease * 1000 / 3));
		write_heartbeat();
	}
	if (now >= next_prune)
	{
		next_prune = TimestampTzPlusMilliseconds(now, PRUNE_INTERVAL_MS);
		prune(history_days);
	}
	next = next_heartbeat;
	/* marks that failed come back by their back-off: look again within a second */
	return Min(next, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000));
}

