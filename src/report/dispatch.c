/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  Created objects -> the reports whose source prefix they fall under,
 *	  one run per report for all the objects that concern it.
 *
 * IDENTIFICATION
 *	  src/report/dispatch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "report/report.h"
#include "s3/s3.h"

typedef struct ReportSource
{
	char	   *name;
	char	   *source;
} ReportSource;

/* The enabled reports that have a source, by name. */
static List *
report_sources(void)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec;
	uint64		i;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_execute("SELECT name, source FROM pipeline.reports "
					"WHERE enabled AND source IS NOT NULL ORDER BY name", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.reports");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		ReportSource *rs = palloc(sizeof(ReportSource));

		rs->name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		rs->source = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		result = lappend(result, rs);
		MemoryContextSwitchTo(old);
	}
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	return result;
}

List *
report_dispatch(List *objects)
{
	List	   *results = NIL;
	List	   *sources = report_sources();
	ListCell   *lc;

	foreach(lc, sources)
	{
		ReportSource *rs = lfirst(lc);
		List	   *mine = NIL;
		ListCell   *oc;
		RunResult  *r;

		foreach(oc, objects)
		{
			TriggerObject *t = lfirst(oc);
			char	   *uri = s3_make_uri(t->obj->bucket, t->obj->key);

			if (strncmp(uri, rs->source, strlen(rs->source)) == 0)
				mine = lappend(mine, t);
		}
		if (mine == NIL)
			continue;
		r = report_run(rs->name, "event", mine);
		results = lappend(results, r);
		if (strcmp(r->status, "succeeded") == 0)
			results = list_concat(results, report_run_after(rs->name, r->msgs));
	}
	return results;
}

/*
 * report_run_after: run the reports chained after "upstream" (created with
 * after => upstream), then theirs, and so on.  Cycles are refused when
 * reports are created, so this ends.
 */
List *
report_run_after(const char *upstream, Bitmapset *msgs)
{
	List	   *results = NIL;
	List	   *names = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	uint64		i;
	ListCell   *lc;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	args[0] = CStringGetTextDatum(upstream);
	if (SPI_execute_with_args("SELECT name FROM pipeline.reports "
							  "WHERE after = $1 AND enabled ORDER BY name",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.reports");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();

	foreach(lc, names)
	{
		RunResult  *r = report_run(lfirst(lc), "after", NIL);

		r->msgs = bms_union(r->msgs, msgs);
		results = lappend(results, r);
		if (strcmp(r->status, "succeeded") == 0)
			results = list_concat(results, report_run_after(r->report, msgs));
	}
	return results;
}
