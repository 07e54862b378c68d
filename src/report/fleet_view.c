/*-------------------------------------------------------------------------
 *
 * fleet_view.c
 *	  What pipeline.fleet and pipeline.fleet_claim() show: the servers of the
 *	  fleet from their heartbeat objects (fleet_mark.c writes them), and one
 *	  claim as S3 holds it now, each for the reports the caller may see.
 *
 * IDENTIFICATION
 *	  src/report/fleet_view.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "report/fleet.h"
#include "report/fleet_int.h"
#include "report/report.h"
#include "util/privilege.h"
#include "util/settings.h"

PG_FUNCTION_INFO_V1(pipeline_fleet_info);

/* The reports the caller may see (row-level security on pipeline.reports applies). */
static List *
visible_reports(void)
{
	List	   *names = NIL;
	MemoryContext caller = CurrentMemoryContext;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT name FROM pipeline.reports", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.reports");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		names = lappend(names, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return names;
}

static bool
report_visible(List *visible, const char *report)
{
	ListCell   *lc;

	if (superuser())
		return true;
	foreach(lc, visible)
		if (strcmp(lfirst(lc), report) == 0)
			return true;
	return false;
}

#define FLEET_COLS 13

static int64
count_for(List *counts, const char *report)
{
	ListCell   *lc;

	foreach(lc, counts)
		if (strcmp(((ServerCount *) lfirst(lc))->report, report) == 0)
			return ((ServerCount *) lfirst(lc))->n;
	return 0;
}

/* One server's object as rows: one without a report (its counters), one per report it shows. */
static void
server_rows(ReturnSetInfo *rsinfo, const S3CondAnswer *g, List *visible)
{
	ServerDoc	d;
	bool		alive;
	List	   *reports = NIL;
	ListCell   *lc;
	ListCell   *hc;

	if (!fleet_server_doc_parse(g->body, g->body_len, &d))
		return;
	alive = g->last_modified != 0 &&
		(g->date != 0 ? g->date : GetCurrentTimestamp()) <
		TimestampTzPlusMilliseconds(g->last_modified, (int64) Max(d.lease, 1) * 1000);
	foreach(lc, d.ran)
		reports = list_append_unique(reports, makeString(((ServerCount *) lfirst(lc))->report));
	foreach(lc, d.gave_up)
		reports = list_append_unique(reports, makeString(((ServerCount *) lfirst(lc))->report));
	foreach(lc, d.held)
		reports = list_append_unique(reports, makeString(((ServerCount *) lfirst(lc))->report));

	/* the server itself, then its reports (those the caller may see) */
	reports = lcons(NULL, reports);
	foreach(lc, reports)
	{
		Datum		values[FLEET_COLS];
		bool		nulls[FLEET_COLS];
		const char *report = lfirst(lc) ? strVal(lfirst(lc)) : NULL;

		if (report && !report_visible(visible, report))
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(d.server);
		values[1] = CStringGetTextDatum(d.database);
		values[2] = BoolGetDatum(strcmp(d.holder, fleet_holder()) == 0);
		values[3] = TimestampTzGetDatum(g->last_modified);
		nulls[3] = g->last_modified == 0;
		values[4] = BoolGetDatum(alive);
		values[5] = Int32GetDatum(d.lease);
		values[6] = BoolGetDatum(d.valid);
		if (report == NULL)
		{
			nulls[7] = nulls[8] = nulls[9] = nulls[10] = true;
			values[11] = Int64GetDatum(d.claims);
			values[12] = Int64GetDatum(d.takeovers);
		}
		else
		{
			Datum	   *objs = palloc(sizeof(Datum) * (list_length(d.held) + 1));
			int			n = 0;

			values[7] = CStringGetTextDatum(report);
			foreach(hc, d.held)
			{
				ServerCount *h = lfirst(hc);

				if (strcmp(h->report, report) == 0)
					objs[n++] = CStringGetTextDatum(h->object);
			}
			values[8] = PointerGetDatum(construct_array(objs, n, TEXTOID, -1, false, TYPALIGN_INT));
			values[9] = Int64GetDatum(count_for(d.ran, report));
			values[10] = Int64GetDatum(count_for(d.gave_up, report));
			nulls[11] = nulls[12] = true;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * pipeline.fleet_info(): the servers of the fleet, from their heartbeat
 * objects (listed and read with the fleet's credentials), and for each
 * the claims it holds and what it ran, per report the caller may see.
 */
Datum
pipeline_fleet_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	List	   *visible;
	char	   *bucket;
	char	   *prefix;

	InitMaterializedSRF(fcinfo, 0);
	if (!fleet_enabled())
		PG_RETURN_VOID();
	visible = visible_reports();
	fleet_location(&bucket, &prefix);
	cxt = AllocSetContextCreate(caller, "pipeline fleet info", ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		AwsClient  *client = fleet_client(cxt);
		char	   *token = NULL;
		ListCell   *lc;

		MemoryContextSwitchTo(cxt);
		do
		{
			S3ListPage *page = s3_list_page(client, bucket, psprintf("%sservers/", prefix), NULL,
											token, 0);

			foreach(lc, page->objects)
			{
				S3Object   *o = lfirst(lc);
				S3CondAnswer *g;

				if (strlen(o->key) < 5 || strcmp(o->key + strlen(o->key) - 5, ".json") != 0)
					continue;
				g = s3_cond_get(client, bucket, o->key);
				if (g->status == 200)
					server_rows(rsinfo, g, visible);
			}
			token = page->next_token;
		} while (token != NULL);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pipeline_fleet_claim);

/*
 * pipeline.fleet_claim(report, uri, version): the claim of one object
 * version for one of your reports, as S3 holds it now.
 */
Datum
pipeline_fleet_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *report = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *version = text_to_cstring(PG_GETARG_TEXT_PP(2));
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	EventObject o;
	char	   *bucket;
	char	   *prefix;
	char	   *key;

	InitMaterializedSRF(fcinfo, 0);
	if (!fleet_enabled())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this database is not part of a fleet"),
				 errhint("Set pipeline.fleet.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", report);
	SPI_finish();

	memset(&o, 0, sizeof(o));
	s3_parse_uri(uri, &o.bucket, &o.key);
	o.version_id = version;
	fleet_location(&bucket, &prefix);
	key = fleet_claim_key(prefix, report, &o);
	cxt = AllocSetContextCreate(caller, "pipeline fleet claim", ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		AwsClient  *client = fleet_client(cxt);
		S3CondAnswer *g;
		Datum		values[11];
		bool		nulls[11];

		MemoryContextSwitchTo(cxt);
		g = s3_cond_get(client, bucket, key);
		MemoryContextSwitchTo(caller);
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(s3_make_uri(bucket, key));
		if (g->status == 200)
		{
			Claim		c;
			char	   *why;
			bool		parsed = fleet_claim_parse(g->body, g->body_len, &c, &why);
			long		wait_ms;
			ClaimVerdict verdict = fleet_claim_judge(g, key, &c, parsed, &wait_ms, &why);

			values[1] = CStringGetTextDatum(c.holder ? c.holder : "");
			nulls[1] = c.holder == NULL;
			values[2] = CStringGetTextDatum(c.state ? c.state : "");
			nulls[2] = c.state == NULL;
			values[3] = Int32GetDatum(c.lease);
			nulls[3] = c.lease < 0;
			values[4] = TimestampTzGetDatum(g->last_modified);
			nulls[4] = g->last_modified == 0;
			values[5] = BoolGetDatum(verdict == CV_TAKE && parsed && strcmp(c.state, "running") == 0 &&
									 strcmp(c.holder, fleet_holder()) != 0);
			values[6] = Int64GetDatum(c.run);
			values[7] = CStringGetTextDatum(g->etag ? g->etag : "");
			values[8] = BoolGetDatum(parsed && why == NULL);
			values[9] = CStringGetTextDatum(why ? why : "");
			nulls[9] = why == NULL;
			values[10] = CStringGetTextDatum(c.previous ? c.previous : "");
			nulls[10] = c.previous == NULL;
		}
		else if (g->status == 404)
		{
			int			i;

			for (i = 1; i < 11; i++)
				nulls[i] = true;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not read claim \"%s\"", s3_make_uri(bucket, key)),
					 errdetail("%s", g->code ? g->code : g->error ? g->error : "?")));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}
