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

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_server.h"
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
	Oid			fdw = get_foreign_data_wrapper_oid("pipeline_s3", false);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			found = InvalidOid;
	int			n = 0;

	if (name == NULL || name[0] == '\0')
		name = pipeline_default_server;
	if (name && name[0])
	{
		ForeignServer *fs = GetForeignServerByName(name, false);

		if (fs->fdwid != fdw)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("server \"%s\" is not a pipeline_s3 server", name)));
		return fs->serverid;
	}
	rel = table_open(ForeignServerRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		Form_pg_foreign_server srv = (Form_pg_foreign_server) GETSTRUCT(tup);

		if (srv->srvfdw == fdw)
		{
			found = srv->oid;
			n++;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
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

/* ----------------------------------------------------------------
 *		Claims of this transaction
 * ----------------------------------------------------------------
 */

/* One claim taken for a task. */
typedef struct HeldClaim
{
	int64		task_id;
	char	   *key;			/* the claim object's key */
	char	   *etag;
	char	   *token;
	TimestampTz written;		/* by our clock: the safe window is measured on it */
	Claim		doc;
	const char *settled;		/* "done", "dead" once its run settled it */
} HeldClaim;

static List *xact_claims = NIL;		/* in TopTransactionContext */
static bool callback_registered = false;

static void fleet_xact_callback(XactEvent event, void *arg);

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

/* What one task's claim came to. */
typedef enum WantOutcome
{
	WO_CLAIMED,
	WO_DONE,
	WO_DEAD,
	WO_BUSY,
	WO_FAILED
} WantOutcome;

typedef struct Want
{
	Task	   *task;
	char	   *key;
	char	   *token;
	Claim		doc;
	S3CondCall *call;
	WantOutcome outcome;
	char	   *etag;			/* claimed: the claim's ETag */
	char	   *holder;			/* done, dead, busy: whose */
	int64		run;			/* done: the holder's run */
	long		wait_ms;		/* busy: how long its lease still runs */
	char	   *error;			/* failed */
	TimestampTz written;
} Want;

static char *
describe_answer(const S3CondAnswer *a, const char *what)
{
	if (a->status == 0)
		return psprintf("could not %s: %s", what, a->error ? a->error : "no answer");
	return psprintf("could not %s: %s", what, a->code ? a->code : psprintf("HTTP %ld", a->status));
}

/*
 * A claim answered 412 (it exists): read it and decide, taking it over if
 * it is free.  A few rounds, as others may be changing it meanwhile.
 */
static void
resolve(AwsClient *client, const char *bucket, Want *w)
{
	char	   *me = fleet_holder();
	int			round;

	for (round = 0; round < 5; round++)
	{
		S3CondAnswer *g = s3_cond_get(client, bucket, w->key);
		S3CondAnswer *p;
		Claim		c;
		char	   *why;
		bool		parsed;
		long		wait_ms;
		ClaimVerdict v;
		char	   *body;

		fleet_counters.requests += g->attempts;
		if (g->status == 404)
		{
			/* gone meanwhile (released by deletion, or a lifecycle rule): create */
			body = fleet_claim_body(&w->doc);
			p = s3_cond_put(client, bucket, w->key, body, strlen(body), "application/json", NULL);
			fleet_counters.requests += p->attempts;
			if (p->status == 200)
			{
				w->outcome = WO_CLAIMED;
				w->etag = p->etag;
				w->written = GetCurrentTimestamp();
				return;
			}
			if (p->status == 412)
				continue;
			w->outcome = WO_FAILED;
			w->error = describe_answer(p, "create a claim");
			return;
		}
		if (g->status != 200)
		{
			w->outcome = WO_FAILED;
			w->error = describe_answer(g, "read a claim");
			return;
		}
		parsed = fleet_claim_parse(g->body, g->body_len, &c, &why);
		if (parsed && strcmp(c.holder, me) == 0 && strcmp(c.token, w->token) == 0 &&
			strcmp(c.state, "running") == 0)
		{
			/* our own write, whose answer was lost and whose retry met it */
			w->outcome = WO_CLAIMED;
			w->etag = g->etag;
			w->written = GetCurrentTimestamp();
			return;
		}
		v = fleet_claim_judge(g, w->key, &c, parsed, &wait_ms, &why);
		if (!parsed || why)
			ereport(WARNING,
					(errmsg("claim \"%s\" is not a valid claim of the fleet: taking it over",
							w->key),
					 errdetail("It %s.", why ? why : "cannot be read")));
		switch (v)
		{
			case CV_DONE:
				w->outcome = WO_DONE;
				w->holder = pstrdup(c.holder);
				w->run = c.run;
				return;
			case CV_DEAD:
				w->outcome = WO_DEAD;
				w->holder = pstrdup(c.holder);
				return;
			case CV_BUSY:
				w->outcome = WO_BUSY;
				w->holder = pstrdup(c.holder);
				w->wait_ms = wait_ms;
				return;
			case CV_TAKE:
				break;
		}
		if (parsed && strcmp(c.holder, me) != 0)
			w->doc.previous = pstrdup(c.holder);
		w->doc.heartbeat = fleet_iso_now();
		body = fleet_claim_body(&w->doc);
		if (g->etag == NULL)
		{
			w->outcome = WO_FAILED;
			w->error = pstrdup("S3 gave the claim no ETag");
			return;
		}
		p = s3_cond_put(client, bucket, w->key, body, strlen(body), "application/json", g->etag);
		fleet_counters.requests += p->attempts;
		if (p->status == 200)
		{
			w->outcome = WO_CLAIMED;
			w->etag = p->etag;
			w->written = GetCurrentTimestamp();
			if (w->doc.previous)
			{
				fleet_counters.takeovers++;
				ereport(LOG,
						(errmsg("pipeline fleet: took over the claim of \"%s\" on %s from %s",
								w->doc.report, w->doc.object, w->doc.previous),
						 errdetail("Its lease of %d seconds ran out by S3's clock.", c.lease)));
			}
			return;
		}
		if (p->status != 412 && p->status != 404)
		{
			w->outcome = WO_FAILED;
			w->error = describe_answer(p, "take over a claim");
			return;
		}
		/* changed under us: read it again */
	}
	w->outcome = WO_BUSY;
	w->holder = pstrdup("(contended)");
	w->wait_ms = 1000;
}

/* Claim the objects of "wants" (S3 only, no SPI): creates at once, then the rest one by one. */
static void
claim_batch(List *wants)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline fleet claims",
											  ALLOCSET_DEFAULT_SIZES);
	char	   *bucket;
	char	   *prefix;
	ListCell   *lc;

	fleet_location(&bucket, &prefix);
	PG_TRY();
	{
		AwsClient  *client = fleet_client(cxt);

		foreach(lc, wants)
		{
			Want	   *w = lfirst(lc);
			char	   *body = fleet_claim_body(&w->doc);

			MemoryContextSwitchTo(cxt);
			w->call = s3_cond_put_start(client, bucket, w->key, body, strlen(body),
										"application/json", NULL);
			MemoryContextSwitchTo(caller);
		}
		foreach(lc, wants)
		{
			Want	   *w = lfirst(lc);
			S3CondAnswer *a;

			MemoryContextSwitchTo(cxt);
			a = s3_cond_finish(w->call);
			w->call = NULL;
			fleet_counters.requests += a->attempts;
			if (a->status == 200)
			{
				w->outcome = WO_CLAIMED;
				w->etag = a->etag;
				w->written = GetCurrentTimestamp();
			}
			else if (a->status == 412)
				resolve(client, bucket, w);
			else
			{
				w->outcome = WO_FAILED;
				w->error = describe_answer(a, "create a claim");
			}
			/* what outlives the client */
			MemoryContextSwitchTo(caller);
			w->etag = w->etag ? pstrdup(w->etag) : NULL;
			w->holder = w->holder ? pstrdup(w->holder) : NULL;
			w->error = w->error ? pstrdup(w->error) : NULL;
			w->doc.previous = w->doc.previous ? pstrdup(w->doc.previous) : NULL;
			w->doc.heartbeat = pstrdup(w->doc.heartbeat);
		}
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
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
static void
record_claim(const Task *t, const char *key, const char *holder, const char *state,
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
	record_claim(t, key, holder, state, 0, NULL, NULL, true);
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
		claim_batch(wants);

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
				{
					HeldClaim  *hc;

					fleet_counters.claims++;
					old = MemoryContextSwitchTo(TopTransactionContext);
					hc = palloc0(sizeof(HeldClaim));
					hc->task_id = t->id;
					hc->key = pstrdup(w->key);
					hc->etag = pstrdup(w->etag ? w->etag : "");
					hc->token = pstrdup(w->token);
					hc->written = w->written;
					hc->doc = w->doc;
					hc->doc.claim = pstrdup(w->doc.claim);
					hc->doc.report = pstrdup(w->doc.report);
					hc->doc.object = pstrdup(w->doc.object);
					hc->doc.version = pstrdup(w->doc.version);
					hc->doc.holder = pstrdup(w->doc.holder);
					hc->doc.heartbeat = pstrdup(w->doc.heartbeat);
					hc->doc.token = hc->token;
					hc->doc.previous = w->doc.previous ? pstrdup(w->doc.previous) : NULL;
					xact_claims = lappend(xact_claims, hc);
					if (!callback_registered)
					{
						RegisterXactCallback(fleet_xact_callback, NULL);
						callback_registered = true;
					}
					MemoryContextSwitchTo(old);
					break;
				}
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

static HeldClaim *
held_claim_of(int64 task_id)
{
	ListCell   *lc;

	foreach(lc, xact_claims)
	{
		HeldClaim  *hc = lfirst(lc);

		if (hc->task_id == task_id)
			return hc;
	}
	return NULL;
}

void
fleet_task_settled(const Task *t, const RunResult *r)
{
	HeldClaim  *hc;
	const char *state;

	if (t->obj == NULL || xact_claims == NIL || (hc = held_claim_of(t->id)) == NULL)
		return;
	if (r->status == RUN_SUCCEEDED || r->status == RUN_SKIPPED)
		state = "done";
	else if (r->status == RUN_FAILED && t->attempt >= t->max_attempts)
		state = "dead";
	else
		state = "held";			/* retried later: the claim stays ours until its lease ends */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	record_claim(t, hc->key, fleet_holder(), state, r->run_id, hc->etag, hc->token,
				 strcmp(state, "held") == 0);
	SPI_finish();
	hc->settled = strcmp(state, "held") == 0 ? NULL : state;
}

/*
 * Before the commit: a settled claim older than half its lease is renewed
 * (If-Match), so that nobody can have taken it over by the time the run
 * commits; if it was taken over, the transaction fails instead of
 * committing a second run.
 */
static void
fleet_pre_commit(void)
{
	List	   *stale = NIL;
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	char	   *bucket;
	char	   *prefix;

	foreach(lc, xact_claims)
	{
		HeldClaim  *hc = lfirst(lc);

		if (hc->settled &&
			TimestampDifferenceExceeds(hc->written, now, pipeline_fleet_lease * 1000 / 2))
			stale = lappend(stale, hc);
	}
	if (stale == NIL)
		return;
	fleet_location(&bucket, &prefix);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline fleet renewal",
								ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		AwsClient  *client = fleet_client(cxt);

		MemoryContextSwitchTo(cxt);
		foreach(lc, stale)
		{
			HeldClaim  *hc = lfirst(lc);
			char	   *body;
			S3CondAnswer *a;

			hc->doc.heartbeat = fleet_iso_now();
			body = fleet_claim_body(&hc->doc);
			a = s3_cond_put(client, bucket, hc->key, body, strlen(body), "application/json",
							hc->etag);
			fleet_counters.requests += a->attempts;
			if (a->status != 200)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("the fleet's claim on %s for report \"%s\" was lost before the run committed",
								hc->doc.object, hc->doc.report),
						 errdetail("Renewing claim \"%s\" failed (%s): another server may run it.",
								   hc->key, a->code ? a->code : a->error ? a->error : "?"),
						 errhint("Keep pipeline.fleet_lease above the longest run.")));
			hc->etag = MemoryContextStrdup(TopTransactionContext, a->etag ? a->etag : "");
		}
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
}

static void
fleet_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (xact_claims != NIL)
				fleet_pre_commit();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* (its memory went with TopTransactionContext) */
			xact_claims = NIL;
			break;
		default:
			break;
	}
}
