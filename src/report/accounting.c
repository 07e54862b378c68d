/*-------------------------------------------------------------------------
 *
 * accounting.c
 *	  What a report's run read and cost: its S3 requests (by the tier S3
 *	  bills them in), its scan budget (max_bytes_scanned), the ETags its
 *	  scans read of the objects it ran for, and the tick a scheduled run
 *	  stands for; prices, for the pipeline.costs view.
 *
 * The requests are the difference of this backend's S3 request counters
 * (s3/s3.h, its parallel workers' included) between the start and the end
 * of the run: retries count, failed runs count.
 *
 * The ETags matter for exactly-once: an object announced (or listed) as
 * one version may hold a newer one by the time the run reads it.  The
 * ledger then records the ETag that was read, so the newer version's own
 * event, or the next listing, finds it processed; the announced version
 * is gone from S3, and nobody reads it.  Only scans of this process note
 * them (a report that reads its trigger objects with pipeline.trigger_uris()
 * is never a parallel scan); otherwise the announced ETag is recorded.
 *
 * IDENTIFICATION
 *	  src/report/accounting.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "fdw/counters.h"
#include "report/intake.h"
#include "util/privilege.h"
#include "util/settings.h"

/* ----------------------------------------------------------------
 *		Prices (settings)
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(pipeline_prices);

/* pipeline.prices(): the price settings, as numeric */
Datum
pipeline_prices(PG_FUNCTION_ARGS)
{
	TupleDesc	td;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = DirectFunctionCall1(float8_numeric, Float8GetDatum(pipeline_price_get));
	values[1] = DirectFunctionCall1(float8_numeric, Float8GetDatum(pipeline_price_list));
	values[2] = DirectFunctionCall1(float8_numeric, Float8GetDatum(pipeline_price_athena));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(td), values, nulls)));
}

/* ----------------------------------------------------------------
 *		One run
 * ----------------------------------------------------------------
 */

/* An object of the run, and the ETag its scans read (NULL: not read). */
typedef struct ReadObject
{
	char	   *bucket;
	char	   *key;
	char	   *etag;
} ReadObject;

/* the run whose scans are noting what they read */
static RunAccounting *reading = NULL;

static void
note_read(const char *bucket, const char *key, const char *etag)
{
	ListCell   *lc;

	if (reading == NULL || etag == NULL)
		return;
	foreach(lc, reading->read)
	{
		ReadObject *r = lfirst(lc);

		if (strcmp(r->key, key) == 0 && strcmp(r->bucket, bucket) == 0)
		{
			/* the list lives as long as the run; the ETag with it */
			r->etag = MemoryContextStrdup(GetMemoryChunkContext(r), etag);
			return;
		}
	}
}

void
accounting_begin(RunAccounting *acct, const char *report)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	memset(acct, 0, sizeof(*acct));
	acct->report = pstrdup(report);
	acct->before = s3_requests;
	acct->scheduled_for = report_scheduled_for;
	values[0] = CStringGetTextDatum(report);
	spi_internal("SELECT max_bytes_scanned FROM pipeline.reports WHERE name = $1",
				 1, types, values, NULL, true, 1);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		acct->max_bytes = isnull ? 0 : (uint64) DatumGetInt64(d);
	}
}

void
accounting_expect(RunAccounting *acct, List *todo, TimestampTz started)
{
	ListCell   *lc;

	acct->run_time = acct->scheduled_for != 0 ? acct->scheduled_for : started;
	foreach(lc, todo)
	{
		EventObject *o = lfirst(lc);
		ReadObject *r = palloc0(sizeof(ReadObject));

		r->bucket = o->bucket;
		r->key = o->key;
		acct->read = lappend(acct->read, r);
	}
	acct->active = true;
	reading = acct;
	pipeline_object_read_hook = note_read;
	scan_budget_begin_run(acct->max_bytes, acct->report);
}

void
accounting_end(RunAccounting *acct)
{
	if (reading == acct)
	{
		reading = NULL;
		pipeline_object_read_hook = NULL;
	}
	if (acct->active)
		scan_budget_end_run();
	acct->active = false;
}

char *
accounting_etag(RunAccounting *acct, const EventObject *o)
{
	ListCell   *lc;

	foreach(lc, acct->read)
	{
		ReadObject *r = lfirst(lc);

		if (r->etag && strcmp(r->key, o->key) == 0 && strcmp(r->bucket, o->bucket) == 0)
			return r->etag;
	}
	return o->etag;
}

void
accounting_record(RunAccounting *acct, int64 run_id)
{
	Oid			types[5] = {INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[5];
	char		nulls[5] = "     ";

	values[0] = Int64GetDatum(run_id);
	values[1] = Int64GetDatum((int64) (s3_requests.get - acct->before.get));
	values[2] = Int64GetDatum((int64) (s3_requests.list - acct->before.list));
	values[3] = Int64GetDatum((int64) (s3_requests.put - acct->before.put));
	values[4] = TimestampTzGetDatum(acct->scheduled_for);
	if (acct->scheduled_for == 0)
		nulls[4] = 'n';
	spi_internal("UPDATE pipeline.runs SET get_requests = $2, list_requests = $3, "
				 "  put_requests = $4, scheduled_for = $5 WHERE id = $1",
				 5, types, values, nulls, false, 0);
}

PG_FUNCTION_INFO_V1(pipeline_run_time);

/*
 * pipeline.run_time(): inside a run, the tick a scheduled run stands for,
 * else when the run started; NULL outside a run.
 */
Datum
pipeline_run_time(PG_FUNCTION_ARGS)
{
	if (reading == NULL || reading->run_time == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(reading->run_time);
}
