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

#include "access/xact.h"
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
#include "util/privilege.h"
#include "worker/worker.h"

char	   *pipeline_webhook_hosts = NULL;
int			pipeline_webhook_max_attempts = 8;

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

/* A POST in flight. */
typedef struct Delivery
{
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
	TimestampTz next = 0;
	uint64		i;
	bool		isnull;
	Oid			types[2] = {INT8ARRAYOID, INT4OID};
	Datum		values[2];

	values[0] = in_flight_ids()[0];
	values[1] = Int32GetDatum(MAX_INFLIGHT - list_length(inflight));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT w.id, w.url, w.payload, w.attempts FROM pipeline.webhooks w "
				 "WHERE w.delivered_at IS NULL AND NOT w.gave_up AND w.next_attempt <= now() "
				 "  AND w.id <> ALL ($1) "
				 "  AND NOT EXISTS (SELECT 1 FROM pipeline.exports e "
				 "                  WHERE e.run_id = w.run_id AND e.state = 'pending') "
				 "ORDER BY w.id LIMIT $2",
				 2, types, values, NULL, true, 0);
	if (SPI_processed > 0)
		pgstat_report_activity(STATE_RUNNING, "delivering webhooks");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Delivery   *d = palloc0(sizeof(Delivery));
		HttpRequest req;

		d->id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		d->url = SPI_getvalue(tup, td, 2);
		d->payload = SPI_getvalue(tup, td, 3);
		d->attempts = DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull)) + 1;
		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = d->url;
		req.headers = list_make2(pstrdup("Content-Type: application/json"),
								 pstrdup("User-Agent: pipeline/1.1"));
		req.body = d->payload;
		req.body_len = strlen(d->payload);
		req.timeout_ms = WEBHOOK_TIMEOUT_MS;
		d->x = http_start(http, &req);
		inflight = lappend(inflight, d);
		MemoryContextSwitchTo(old);
	}
	/* the next one due that is neither in flight nor waiting for its exports */
	spi_internal("SELECT min(w.next_attempt) FROM pipeline.webhooks w "
				 "WHERE w.delivered_at IS NULL AND NOT w.gave_up AND w.id <> ALL ($1) "
				 "  AND NOT EXISTS (SELECT 1 FROM pipeline.exports e "
				 "                  WHERE e.run_id = w.run_id AND e.state = 'pending')",
				 1, types, in_flight_ids(), NULL, true, 1);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			next = DatumGetTimestampTz(d);
	}
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
		pfree(d->url);
		pfree(d->payload);
		pfree(d);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return true;
}
