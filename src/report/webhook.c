/*-------------------------------------------------------------------------
 *
 * webhook.c
 *	  Run summaries POSTed to a report's webhook after commit, with retries.
 *
 * A transactional outbox: the run inserts the delivery into
 * pipeline.webhooks in its own transaction, so a summary exists if and
 * only if the run committed; the database's worker POSTs it afterwards and
 * retries with exponential back-off until the receiver answers 2xx or
 * pipeline.webhook_max_attempts is reached.  Delivery is at least once: a
 * receiver should use the run id to ignore duplicates.
 *
 * IDENTIFICATION
 *	  src/report/webhook.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/webhook.h"
#include "s3/url.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "util/shared.h"

#define WEBHOOK_TIMEOUT_MS	10000

void
webhook_enqueue(const char *report, int64 run_id, const char *url, const char *payload)
{
	Oid			types[4] = {TEXTOID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];

	values[0] = CStringGetTextDatum(report);
	values[1] = Int64GetDatum(run_id);
	values[2] = CStringGetTextDatum(url);
	values[3] = CStringGetTextDatum(payload);
	spi_internal("INSERT INTO pipeline.webhooks (report, run_id, url, payload) "
				 "VALUES ($1, $2, $3, $4)",
				 4, types, values, NULL, false, 0);
	pipeline_wake_worker_at_commit(false);
}

/* A POST in flight; everything of it lives in its own memory context. */
typedef struct Delivery
{
	MemoryContext cxt;
	int64		id;
	int			attempts;		/* with this one */
	char	   *url;
	char	   *payload;		/* the transfer's body: lives as long */
	HttpTransfer *x;
} Delivery;

static List *inflight = NIL;

/* At most this many POSTs at once: receivers that hang do not pile up. */
#define MAX_INFLIGHT 8

/* The ids of the deliveries in flight, as a one-element bigint[] argument. */
static Datum *
in_flight_ids(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * (list_length(inflight) + 1));
	Datum	   *arg = palloc(sizeof(Datum));
	ListCell   *lc;

	foreach(lc, inflight)
		ids[foreach_current_index(lc)] = Int64GetDatum(((Delivery *) lfirst(lc))->id);
	arg[0] = PointerGetDatum(construct_array(ids, list_length(inflight), INT8OID, 8,
											 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	return arg;
}

/*
 * Why a delivery to "url" is refused now, or NULL (and *target, the URL to
 * send to).  The URL was checked when
 * the report was defined; it is parsed again (what libcurl will connect to,
 * never user information), and a report whose owner is not a superuser may
 * only send to the hosts pipeline.webhook_hosts names now (a host taken off
 * the list gets nothing more).
 */
static char *
refuse_url(const char *url, Oid owner, char **target)
{
	Url			parsed;
	UrlStatus	status = url_parse(url, &parsed);
	bool		allowed;

	if (status != URL_OK)
		return psprintf("refused URL: %s", url_status_message(status));
	allowed = url_host_in_list(parsed.host, pipeline_webhook_hosts) ||
		(OidIsValid(owner) && superuser_arg(owner));
	*target = pstrdup(parsed.url);	/* what libcurl parsed is where it goes */
	url_free(&parsed);
	return allowed ? NULL : pstrdup("refused URL: its host is not in pipeline.webhook_hosts");
}

/*
 * The Standard Webhooks headers of a delivery (webhook_sign.c): its id, the
 * same on every attempt and unique across databases of a server, this
 * attempt's time and the signatures under the report's secret and, while
 * it is honoured, the previous one.
 */
static List *
sign_headers(Delivery *d, const char *secret, const char *previous)
{
	char	   *id = psprintf("pipeline-%u-%lld", MyDatabaseId, (long long) d->id);
	int64		now = (int64) time(NULL);
	char	   *sig = webhook_signature(secret, id, now, d->payload, strlen(d->payload));

	if (previous)
		sig = psprintf("%s %s", sig,
					   webhook_signature(previous, id, now, d->payload, strlen(d->payload)));
	return list_make3(psprintf("webhook-id: %s", id),
					  psprintf("webhook-timestamp: %lld", (long long) now),
					  psprintf("webhook-signature: %s", sig));
}

/*
 * webhook_start: start POSTing the summaries that are due, without waiting
 * for the answers (webhook_finish collects them): a receiver that never
 * answers delays nothing but its own deliveries.  A summary waits until
 * its run's exports are completed, so that the object it names exists.
 * Returns when the next delivery is due (0: none waiting); "cxt" outlives
 * the transfers.
 */
TimestampTz
webhook_start(HttpClient *http, MemoryContext cxt)
{
	TimestampTz next;
	uint64		i;
	uint64		n;
	SPITupleTable *due;
	bool		isnull;
	Oid			types[2] = {INT8ARRAYOID, INT4OID};
	Datum		values[2];

	values[0] = in_flight_ids()[0];
	values[1] = Int32GetDatum(MAX_INFLIGHT - list_length(inflight));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* no summary of a run whose commit a crash could still take back */
	XLogFlush(GetXLogInsertRecPtr());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT w.id, w.url, w.payload, w.attempts, r.owner::oid, s.secret, "
				 "  CASE WHEN s.previous_until > now() THEN s.previous_secret END "
				 "FROM pipeline.webhooks w "
				 "LEFT JOIN pipeline.reports r ON r.name = w.report "
				 "LEFT JOIN pipeline.webhook_secrets s ON s.report = w.report "
				 "WHERE w.delivered_at IS NULL AND NOT w.gave_up AND w.next_attempt <= now() "
				 "  AND w.id <> ALL ($1) "
				 "  AND NOT EXISTS (SELECT 1 FROM pipeline.exports e "
				 "                  WHERE e.run_id = w.run_id AND e.state = 'pending') "
				 "ORDER BY w.id LIMIT $2",
				 2, types, values, NULL, false, 0);
	due = SPI_tuptable;
	n = SPI_processed;
	if (n > 0)
		pgstat_report_activity(STATE_RUNNING, "delivering webhooks");
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = due->vals[i];
		TupleDesc	td = due->tupdesc;
		int64		id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		Datum		owner = SPI_getbinval(tup, td, 5, &isnull);
		char	   *target = NULL;
		char	   *refused = refuse_url(SPI_getvalue(tup, td, 2),
										 isnull ? InvalidOid : DatumGetObjectId(owner), &target);
		MemoryContext old;
		Delivery   *d;
		HttpRequest req;

		if (refused)
		{
			Oid			gtypes[2] = {INT8OID, TEXTOID};
			Datum		gvalues[2];

			/* no retry makes it right: given up, and said why */
			gvalues[0] = Int64GetDatum(id);
			gvalues[1] = CStringGetTextDatum(refused);
			spi_internal("UPDATE pipeline.webhooks SET gave_up = true, last_error = $2, "
						 "  attempts = attempts + 1 WHERE id = $1",
						 2, gtypes, gvalues, NULL, false, 0);
			ereport(LOG,
					(errmsg("pipeline refuses to deliver a run summary to a webhook: %s", refused)));
			continue;
		}
		old = MemoryContextSwitchTo(AllocSetContextCreate(cxt, "webhook delivery",
														  ALLOCSET_SMALL_SIZES));
		d = palloc0(sizeof(Delivery));
		d->cxt = CurrentMemoryContext;
		d->id = id;
		d->url = pstrdup(target);
		d->payload = SPI_getvalue(tup, td, 3);
		d->attempts = DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull)) + 1;
		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = d->url;
		req.headers = list_make2(pstrdup("Content-Type: application/json"),
								 pstrdup("User-Agent: pipeline/" PIPELINE_VERSION));
		if (!heap_attisnull(tup, 6, td))
			req.headers = list_concat(req.headers,
									  sign_headers(d, SPI_getvalue(tup, td, 6),
												   SPI_getvalue(tup, td, 7)));
		req.body = d->payload;
		req.body_len = strlen(d->payload);
		req.timeout_ms = WEBHOOK_TIMEOUT_MS;
		d->x = http_start(http, &req);
		MemoryContextSwitchTo(cxt);
		inflight = lappend(inflight, d);
		MemoryContextSwitchTo(old);
	}
	/* the next one due that is neither in flight nor waiting for its exports */
	next = spi_internal_timestamp("SELECT min(w.next_attempt) FROM pipeline.webhooks w "
								  "WHERE w.delivered_at IS NULL AND NOT w.gave_up "
								  "  AND w.id <> ALL ($1) "
								  "  AND NOT EXISTS (SELECT 1 FROM pipeline.exports e "
								  "                  WHERE e.run_id = w.run_id "
								  "                    AND e.state = 'pending')",
								  1, types, in_flight_ids());
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return next;
}

/*
 * webhook_finish: record the POSTs that got an answer (or failed); returns
 * true if any did.
 */
bool
webhook_finish(void)
{
	List	   *done = NIL;
	ListCell   *lc;

	foreach(lc, inflight)
	{
		Delivery   *d = lfirst(lc);

		if (http_done(d->x))
		{
			done = lappend(done, d);
			inflight = foreach_delete_current(inflight, lc);
		}
	}
	if (done == NIL)
		return false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, done)
	{
		Delivery   *d = lfirst(lc);
		char	   *err = NULL;
		Oid			types[4] = {INT8OID, TEXTOID, INT4OID, INT4OID};
		Datum		values[4];
		char		nulls[4] = "    ";

		if (!http_wait_done(d->x))
			err = pstrdup(http_error(d->x));
		else if (http_info(d->x)->status < 200 || http_info(d->x)->status >= 300)
			err = psprintf("HTTP %ld", http_info(d->x)->status);
		http_finish(d->x);

		values[0] = Int64GetDatum(d->id);
		if (err)
			values[1] = CStringGetTextDatum(err);
		else
			nulls[1] = 'n';
		values[2] = Int32GetDatum(d->attempts);
		values[3] = Int32GetDatum(pipeline_webhook_max_attempts);
		/* back-off: 1, 2, 4 ... seconds, at most an hour */
		spi_internal("UPDATE pipeline.webhooks SET attempts = $3, last_error = $2, "
					 "  delivered_at = CASE WHEN $2 IS NULL THEN now() END, "
					 "  gave_up = $2 IS NOT NULL AND $3 >= $4, "
					 "  next_attempt = now() + least(3600, 2 ^ ($3 - 1)) * interval '1 second' "
					 "WHERE id = $1",
					 4, types, values, nulls, false, 0);
		if (err && d->attempts >= pipeline_webhook_max_attempts)
			ereport(LOG,
					(errmsg("pipeline gave up delivering a run summary to webhook \"%s\" after %d attempts",
							d->url, d->attempts),
					 errdetail_internal("%s", err)));
		MemoryContextDelete(d->cxt);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return true;
}
