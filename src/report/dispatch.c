/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  Created objects -> the reports whose source prefix they fall under,
 *	  one run per report for all the objects that concern it.
 *
 * An event runs only the reports of roles whose rights its sender has:
 * the owner of the queue it came from, or the caller of handle_event.  A
 * role that can hand in events (by owning a queue, or by calling
 * handle_event) can make a report run, and can make versions count as
 * processed; so it may do that only to reports it could run itself.
 *
 * IDENTIFICATION
 *	  src/report/dispatch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "report/report.h"
#include "s3/s3.h"
#include "util/privilege.h"

typedef struct ReportSource
{
	char	   *name;
	char	   *source;
	Oid			owner;
} ReportSource;

/* The enabled reports that have a source, by name. */
static List *
report_sources(void)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT name, source, owner::oid FROM pipeline.reports "
				 "WHERE enabled AND source IS NOT NULL ORDER BY name",
				 0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		ReportSource *rs = palloc(sizeof(ReportSource));
		bool		isnull;

		rs->name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		rs->source = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		rs->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 3, &isnull));
		result = lappend(result, rs);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

List *
report_dispatch(List *objects, Oid sender)
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

		if (!has_privs_of_role(sender, rs->owner))
			continue;
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
 * A fingerprint of a report's result table, for only_if_changed: equal
 * fingerprints, equal rows (in any order).  Read as the upstream report's
 * owner (the table is theirs to read, and whatever it is, it runs with no
 * more rights than theirs), with the safe search_path: the name is
 * qualified.  Read-write SPI calls: they see what the upstream run just
 * wrote in this transaction.
 */
static char *
result_fingerprint(const char *report)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char	   *target;
	Oid			owner;
	bool		isnull;
	PrivSave	save;
	char	   *result = NULL;

	args[0] = CStringGetTextDatum(report);
	spi_internal("SELECT target, owner::oid FROM pipeline.reports WHERE name = $1",
				 1, argtypes, args, NULL, false, 1);
	if (SPI_processed != 1)
		return NULL;
	target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
										   &isnull));
	priv_enter_role(&save, owner, NULL);
	if (SPI_execute(psprintf("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
							 "FROM %s t", target), false, 1) == SPI_OK_SELECT)
		result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	priv_leave(&save);
	return result;
}

typedef struct Downstream
{
	char	   *name;
	bool		only_if_changed;
	char	   *consumed;		/* fingerprint it last ran on */
} Downstream;

/*
 * report_run_after: run the reports chained after "upstream" (created with
 * after => upstream), then theirs, and so on.  A report created with
 * only_if_changed is skipped (and the skip recorded) when the upstream's
 * result is the same as when it last ran.  Cycles are refused when
 * reports are created, so this ends.
 */
List *
report_run_after(const char *upstream, Bitmapset *msgs)
{
	List	   *results = NIL;
	List	   *downs = NIL;
	char	   *fingerprint = NULL;
	bool		need_fingerprint = false;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	uint64		i;
	ListCell   *lc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(upstream);
	spi_internal("SELECT name, only_if_changed, consumed_hash FROM pipeline.reports "
				 "WHERE after = $1 AND enabled ORDER BY name",
				 1, argtypes, args, NULL, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Downstream *d = palloc0(sizeof(Downstream));
		HeapTuple	tup = SPI_tuptable->vals[i];

		d->name = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		d->only_if_changed = strcmp(SPI_getvalue(tup, SPI_tuptable->tupdesc, 2), "t") == 0;
		d->consumed = SPI_getvalue(tup, SPI_tuptable->tupdesc, 3);
		need_fingerprint |= d->only_if_changed;
		downs = lappend(downs, d);
		MemoryContextSwitchTo(old);
	}
	if (need_fingerprint)
	{
		char	   *f = result_fingerprint(upstream);

		fingerprint = f ? MemoryContextStrdup(cxt, f) : NULL;
	}
	SPI_finish();

	foreach(lc, downs)
	{
		Downstream *d = lfirst(lc);
		RunResult  *r;

		if (d->only_if_changed && fingerprint && d->consumed &&
			strcmp(fingerprint, d->consumed) == 0)
		{
			r = report_skip(d->name, "after",
							psprintf("the result of \"%s\" did not change", upstream));
			r->msgs = bms_copy(msgs);
			results = lappend(results, r);
			continue;
		}
		r = report_run(d->name, "after", NIL);
		r->msgs = bms_union(r->msgs, msgs);
		results = lappend(results, r);
		if (strcmp(r->status, "succeeded") != 0)
			continue;
		if (d->only_if_changed && fingerprint)
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			args[0] = CStringGetTextDatum(d->name);
			args[1] = CStringGetTextDatum(fingerprint);
			spi_internal("UPDATE pipeline.reports SET consumed_hash = $2 WHERE name = $1",
						 2, argtypes, args, NULL, false, 0);
			SPI_finish();
		}
		results = list_concat(results, report_run_after(r->report, msgs));
	}
	return results;
}
