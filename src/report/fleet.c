/*-------------------------------------------------------------------------
 *
 * fleet.c
 *	  Claims across a fleet of servers: each event task's object version is
 *	  run only by the server that holds its claim in S3.
 *
 * The order, and what a crash in each gap leaves (the README's "Scaling
 * out" has the whole argument):
 *
 *	1. claim: PUT If-None-Match: * (or If-Match over an expired or free
 *	   claim), state "running", before the run.  A crash now leaves a claim
 *	   that this server takes back at once when it retries (it is its own),
 *	   or that another server takes over once its lease ran out by S3's
 *	   clock, if the message reaches it (it does: the message is deleted
 *	   only after the work is settled, worker/fleet_queue.c).
 *	2. run, and commit the run with a row of pipeline.fleet_claims (the
 *	   outbox): just before the commit, a claim older than half its lease is
 *	   renewed with If-Match, and if it was taken over meanwhile the commit
 *	   fails: a run that outlived its lease never commits beside another.
 *	3. after the commit (fleet_mark.c): PUT If-Match, state "done".  A
 *	   server that dies between 2 and 3 and stays away longer than the
 *	   lease can have its work run again elsewhere: the one window of
 *	   at-least-once, where the run's deterministic export key keeps the
 *	   duplicate to the same object.
 *
 * This file: the fleet's identity and client, the local ledger, and the
 * claiming of a batch of tasks; fleet_take.c sends the claims' requests,
 * fleet_commit.c holds the claims through the commit, fleet_mark.c marks
 * them after it.
 *
 * The local ledger stays the fast path: a version this database processed
 * (pipeline.processed) or saw settled by another server
 * (pipeline.fleet_claims) is not claimed again, no request sent.
 *
 * IDENTIFICATION
 *	  src/report/fleet.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "report/export.h"
#include "report/fleet.h"
#include "report/fleet_int.h"
#include "s3/credentials.h"
#include "util/privilege.h"
#include "util/settings.h"

FleetCounters fleet_counters;

bool
fleet_enabled(void)
{
	return pipeline_fleet != NULL && pipeline_fleet[0] != '\0';
}

/* "server_id/database"; the database's name is looked up once (in a transaction). */
char *
fleet_holder(void)
{
	static char *dbname = NULL;
	char		host[256];
	const char *id = pipeline_server_id;

	if (dbname == NULL)
	{
		char	   *n = get_database_name(MyDatabaseId);

		dbname = MemoryContextStrdup(TopMemoryContext, n ? n : "?");
	}
	if (id == NULL || id[0] == '\0')
	{
		if (gethostname(host, sizeof(host)) != 0)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		return psprintf("%s:%d/%s", host, PostPortNumber, dbname);
	}
	return psprintf("%s/%s", id, dbname);
}

/* The bucket of pipeline.fleet, and its key prefix ending in "/" (or ""). */
void
fleet_location(char **bucket, char **prefix)
{
	char	   *key;

	s3_parse_uri(pipeline_fleet, bucket, &key);
	if (key[0] != '\0' && key[strlen(key) - 1] != '/')
		key = psprintf("%s/", key);
	*prefix = key;
}

/* The pipeline_s3 server of the fleet: pipeline.fleet_server, the default, or the only one. */
static Oid
fleet_server_oid(void)
{
	const char *name = pipeline_fleet_server;
	Oid			found;
	int			n;

	if (name == NULL || name[0] == '\0')
		name = pipeline_default_server;
	found = pipeline_s3_server(name && name[0] ? name : NULL, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the fleet has no pipeline_s3 server to write its claims with"),
				 errdetail("There are %d pipeline_s3 servers in this database.", n),
				 errhint("Set pipeline.fleet_server.")));
	return found;
}

/*
 * fleet_client: a client for the fleet's prefix, its memory (and its
 * transfers) in "cxt": deleting cxt ends them whatever happened.
 */
AwsClient *
fleet_client(MemoryContext cxt)
{
	AwsConfig	cfg;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AwsClient  *client;

	aws_server_config(fleet_server_oid(), BOOTSTRAP_SUPERUSERID, &cfg);
	client = aws_client_create(&cfg, cxt);
	MemoryContextSwitchTo(old);
	return client;
}


/* A claim document of ours for a task's object, state "running". */
static void
running_doc(Claim *c, const char *key, const Task *t, const char *token)
{
	memset(c, 0, sizeof(*c));
	c->claim = pstrdup(key);
	c->report = pstrdup(t->report);
	c->object = s3_make_uri(t->obj->bucket, t->obj->key);
	c->version = pstrdup(event_object_version(t->obj));
	c->holder = fleet_holder();
	c->state = "running";
	c->lease = pipeline_fleet_lease;
	c->heartbeat = fleet_iso_now();
	c->token = pstrdup(token);
}

/* Is this version settled here already: processed, or settled by another server? */
static bool
known_locally(const Task *t, char **holder, char **state)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];

	*holder = *state = NULL;
	values[0] = CStringGetTextDatum(t->report);
	values[1] = CStringGetTextDatum(t->obj->bucket);
	values[2] = CStringGetTextDatum(t->obj->key);
	values[3] = CStringGetTextDatum(event_object_version(t->obj));
	values[4] = CStringGetTextDatum(fleet_holder());
	/*
	 * processed here first; then settled by another server, or done by us
	 * (a dead letter of ours comes back through retry_dead_letters: claimed
	 * again)
	 */
	spi_internal("SELECT NULL, NULL, 0 FROM pipeline.processed "
				 "WHERE report = $1 AND bucket = $2 AND key = $3 AND version = $4 "
				 "UNION ALL "
				 "SELECT holder, state, 1 FROM pipeline.fleet_claims "
				 "WHERE report = $1 AND bucket = $2 AND key = $3 AND version = $4 "
				 "  AND (state = 'done' OR (state = 'dead' AND holder <> $5)) "
				 "ORDER BY 3 LIMIT 1", 5, types, values, NULL, true, 1);
	if (SPI_processed == 0)
		return false;
	*holder = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	return true;
}

/* Remember, in the local ledger, how a claim stands. */
void
fleet_record_claim(const Task *t, const char *key, const char *holder, const char *state,
			 int64 run_id, const char *etag, const char *token, bool marked)
{
	Oid			types[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	INT8OID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[11];
	char		nulls[11] = "           ";

	values[0] = CStringGetTextDatum(t->report);
	values[1] = CStringGetTextDatum(t->obj->bucket);
	values[2] = CStringGetTextDatum(t->obj->key);
	values[3] = CStringGetTextDatum(event_object_version(t->obj));
	values[4] = CStringGetTextDatum(key);
	values[5] = CStringGetTextDatum(holder);
	values[6] = CStringGetTextDatum(state);
	values[7] = Int64GetDatum(run_id);
	nulls[7] = run_id > 0 ? ' ' : 'n';
	if (etag)
		values[8] = CStringGetTextDatum(etag);
	else
		nulls[8] = 'n';
	if (token)
		values[9] = CStringGetTextDatum(token);
	else
		nulls[9] = 'n';
	values[10] = BoolGetDatum(marked);
	spi_internal("INSERT INTO pipeline.fleet_claims AS f (report, bucket, key, version, claim, "
				 "  holder, state, run_id, etag, token, marked) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
				 "ON CONFLICT (report, bucket, key, version) DO UPDATE SET "
				 "  claim = excluded.claim, holder = excluded.holder, state = excluded.state, "
				 "  run_id = excluded.run_id, etag = excluded.etag, token = excluded.token, "
				 "  marked = excluded.marked, attempts = 0, next_attempt = now(), "
				 "  last_error = NULL, updated_at = now()",
				 11, types, values, nulls, false, 0);
}

/*
 * A task whose version another server settled: it ends here, with a
 * "skipped" result, made in "into" (SPI's calls leave the current memory
 * context SPI's own, gone at SPI_finish).
 */
static RunResult *
settle_elsewhere(const Task *t, const char *key, const char *holder, const char *state,
				 MemoryContext into)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	RunResult  *r;
	MemoryContext old;

	values[0] = Int64GetDatum(t->id);
	spi_internal("DELETE FROM pipeline.tasks WHERE id = $1", 1, types, values, NULL, false, 0);
	fleet_record_claim(t, key, holder, state, 0, NULL, NULL, true);
	fleet_counters.elsewhere++;
	old = MemoryContextSwitchTo(into);
	r = palloc0(sizeof(RunResult));
	r->report = pstrdup(t->report);
	r->status = RUN_SKIPPED;
	r->queue = t->queue;
	r->error = strcmp(state, "dead") == 0
		? psprintf("given up on by %s (a dead letter there)", holder)
		: psprintf("processed by %s", holder);
	MemoryContextSwitchTo(old);
	return r;
}

/*
 * A task that cannot run now (a live holder runs it, or S3 cannot be
 * reached): back to wait, without using an attempt.
 */
static void
put_back(const Task *t, long wait_ms, const char *error)
{
	Oid			types[3] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";

	values[0] = Int64GetDatum(t->id);
	values[1] = Int64GetDatum(Max(wait_ms, 100));
	if (error)
		values[2] = CStringGetTextDatum(error);
	else
		nulls[2] = 'n';
	spi_internal("UPDATE pipeline.tasks SET attempts = greatest(attempts - 1, 0), "
				 "  next_attempt = now() + $2 * interval '1 millisecond', "
				 "  last_error = coalesce($3, last_error) WHERE id = $1",
				 3, types, values, nulls, false, 0);
}


List *
fleet_claim_tasks(List *tasks, List **results)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *keep = NIL;
	List	   *wants = NIL;
	List	   *settled = NIL;	/* tasks that do not run */
	char	   *bucket;
	char	   *prefix;
	ListCell   *lc;

	if (!fleet_enabled() || tasks == NIL)
		return tasks;
	fleet_location(&bucket, &prefix);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, tasks)
	{
		Task	   *t = lfirst(lc);
		char	   *holder;
		char	   *state;
		char	   *key;
		MemoryContext old;
		Want	   *w;

		if (t->obj == NULL)
			continue;			/* a chained run: this server's own */
		key = fleet_claim_key(prefix, t->report, t->obj);
		if (known_locally(t, &holder, &state))
		{
			/*
			 * processed here: the run skips it, no request sent; settled by
			 * another server (or done by us): it ends now
			 */
			if (holder != NULL)
			{
				RunResult  *r = settle_elsewhere(t, key, holder, state, caller);

				old = MemoryContextSwitchTo(caller);
				*results = lappend(*results, r);
				settled = lappend(settled, t);
				MemoryContextSwitchTo(old);
			}
			continue;
		}
		old = MemoryContextSwitchTo(caller);
		w = palloc0(sizeof(Want));
		w->task = t;
		w->key = pstrdup(key);
		w->token = fleet_new_token();
		running_doc(&w->doc, w->key, t, w->token);
		wants = lappend(wants, w);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	/* the requests, outside SPI */
	if (wants != NIL)
		fleet_claim_batch(wants);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, wants)
	{
		Want	   *w = lfirst(lc);
		Task	   *t = w->task;
		MemoryContext old;

		switch (w->outcome)
		{
			case WO_CLAIMED:
				fleet_hold_claim(w);
				break;
			case WO_DONE:
			case WO_DEAD:
				{
					RunResult  *r = settle_elsewhere(t, w->key, w->holder,
													 w->outcome == WO_DONE ? "done" : "dead",
													 caller);

					old = MemoryContextSwitchTo(caller);
					*results = lappend(*results, r);
					settled = lappend(settled, t);
					MemoryContextSwitchTo(old);
				}
				break;
			case WO_BUSY:
				fleet_counters.busy++;
				put_back(t, w->wait_ms, NULL);
				old = MemoryContextSwitchTo(caller);
				settled = lappend(settled, t);
				MemoryContextSwitchTo(old);
				break;
			case WO_FAILED:
				put_back(t, (long) pipeline_retry_delay * 1000L,
						 psprintf("the fleet's claim could not be taken: %s", w->error));
				old = MemoryContextSwitchTo(caller);
				settled = lappend(settled, t);
				MemoryContextSwitchTo(old);
				break;
		}
	}
	SPI_finish();

	/* what runs: chained runs, versions known here, and claimed ones, in order */
	foreach(lc, tasks)
	{
		if (!list_member_ptr(settled, lfirst(lc)))
			keep = lappend(keep, lfirst(lc));
	}
	return keep;
}
