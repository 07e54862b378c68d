/*-------------------------------------------------------------------------
 *
 * fleet_commit.c
 *	  The claims a transaction holds: recorded in pipeline.fleet_claims as
 *	  their runs settle them, renewed just before the commit when older than
 *	  half their lease (the commit fails if one was taken over meanwhile),
 *	  forgotten at its end (fleet_mark.c marks them after the commit).
 *
 * IDENTIFICATION
 *	  src/report/fleet_commit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "report/fleet.h"
#include "report/fleet_int.h"
#include "util/settings.h"

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

/* A claim taken for a task of this transaction: renewed before, marked after its commit. */
void
fleet_hold_claim(const Want *w)
{
	HeldClaim  *hc;
	MemoryContext old;

	fleet_counters.claims++;
	old = MemoryContextSwitchTo(TopTransactionContext);
	hc = palloc0(sizeof(HeldClaim));
	hc->task_id = w->task->id;
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
	fleet_record_claim(t, hc->key, fleet_holder(), state, r->run_id, hc->etag, hc->token,
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
