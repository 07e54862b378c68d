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
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/webhook.h"
#include "s3/url.h"
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
	if (SPI_execute_with_args("INSERT INTO pipeline.webhooks (report, run_id, url, payload) "
							  "VALUES ($1, $2, $3, $4)",
							  4, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write pipeline.webhooks");
	pipeline_wake_worker_at_commit(false);
}

/*
 * POST one payload; NULL if the receiver took it, else why not.  The URL
 * is parsed again (it was checked when the report was defined) and the
 * request goes to what libcurl parsed; user information is refused here
 * too, for deliveries queued before it was refused at definition.
 */
static char *
post(HttpClient *http, const char *url, const char *payload)
{
	HttpRequest req;
	HttpTransfer *volatile x;
	char	   *volatile err = NULL;
	Url			parsed;
	UrlStatus	ustatus = url_parse(url, &parsed);
	char	   *target;

	if (ustatus != URL_OK)
		return psprintf("refused URL: %s", url_status_message(ustatus));
	target = pstrdup(parsed.url);
	url_free(&parsed);

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = target;
	req.headers = list_make2(pstrdup("Content-Type: application/json"),
							 pstrdup("User-Agent: pipeline/1.0"));
	req.body = payload;
	req.body_len = strlen(payload);
	req.timeout_ms = WEBHOOK_TIMEOUT_MS;
	x = http_start(http, &req);
	/* the worker's client outlives errors: never leave the transfer in it */
	PG_TRY();
	{
		if (!http_wait_done(x))
			err = pstrdup(http_error(x));
		else if (http_info(x)->status < 200 || http_info(x)->status >= 300)
			err = psprintf("HTTP %ld", http_info(x)->status);
	}
	PG_FINALLY();
	{
		http_finish(x);
	}
	PG_END_TRY();
	return err;
}

TimestampTz
webhook_deliver(HttpClient *http)
{
	TimestampTz next = 0;
	uint64		i;
	uint64		n;
	SPITupleTable *due;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (SPI_execute("SELECT id, url, payload, attempts FROM pipeline.webhooks "
					"WHERE delivered_at IS NULL AND NOT gave_up AND next_attempt <= now() "
					"ORDER BY id LIMIT 20 FOR UPDATE SKIP LOCKED", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.webhooks");
	due = SPI_tuptable;
	n = SPI_processed;
	if (n > 0)
		pgstat_report_activity(STATE_RUNNING, "delivering webhooks");
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = due->vals[i];
		int64		id = DatumGetInt64(SPI_getbinval(tup, due->tupdesc, 1, &isnull));
		char	   *url = SPI_getvalue(tup, due->tupdesc, 2);
		char	   *payload = SPI_getvalue(tup, due->tupdesc, 3);
		int			attempts = DatumGetInt32(SPI_getbinval(tup, due->tupdesc, 4, &isnull)) + 1;
		char	   *err = post(http, url, payload);
		Oid			types[4] = {INT8OID, TEXTOID, INT4OID, INT4OID};
		Datum		values[4];
		char		nulls[4] = "    ";

		values[0] = Int64GetDatum(id);
		if (err)
			values[1] = CStringGetTextDatum(err);
		else
			nulls[1] = 'n';
		values[2] = Int32GetDatum(attempts);
		values[3] = Int32GetDatum(pipeline_webhook_max_attempts);
		/* back-off: 1, 2, 4 ... seconds, at most an hour */
		if (SPI_execute_with_args("UPDATE pipeline.webhooks SET attempts = $3, last_error = $2, "
								  "  delivered_at = CASE WHEN $2 IS NULL THEN now() END, "
								  "  gave_up = $2 IS NOT NULL AND $3 >= $4, "
								  "  next_attempt = now() + least(3600, 2 ^ ($3 - 1)) * interval '1 second' "
								  "WHERE id = $1",
								  4, types, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not write pipeline.webhooks");
		if (err && attempts >= pipeline_webhook_max_attempts)
			ereport(LOG,
					(errmsg("pipeline gave up delivering a run summary to webhook \"%s\" after %d attempts",
							url, attempts),
					 errdetail_internal("%s", err)));
	}

	if (SPI_execute("SELECT min(next_attempt) FROM pipeline.webhooks "
					"WHERE delivered_at IS NULL AND NOT gave_up", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
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
