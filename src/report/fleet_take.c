/*-------------------------------------------------------------------------
 *
 * fleet_take.c
 *	  Taking claims in S3 for a batch of tasks: PUT If-None-Match: * for all
 *	  at once, then, for each claim that exists, read it and judge it (done,
 *	  given up on, held by a live server, or free to take over with If-Match
 *	  on its ETag).  S3 requests only: no SPI (fleet.c records the outcome).
 *
 * IDENTIFICATION
 *	  src/report/fleet_take.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "report/fleet.h"
#include "report/fleet_int.h"

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
		char	   *judged;
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
		/* (the parse's reason, if any, is the one to say: the judge's comes second) */
		v = fleet_claim_judge(g, w->key, &c, parsed, &wait_ms, &judged);
		if (why == NULL)
			why = judged;
		if (!parsed || why)
			ereport(WARNING,
					(errmsg("claim \"%s\" is not a valid claim of the fleet: taking it over",
							w->key),
					 errdetail("It is not believed: %s.", why ? why : "it cannot be read")));
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
void
fleet_claim_batch(List *wants)
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
