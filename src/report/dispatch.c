/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  Created objects -> the reports whose source prefix they fall under;
 *	  a report that succeeded -> the reports chained after it.
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

/* The reports that have a source (ReportSource), for report_match. */
List *
report_sources(void)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("SELECT name, source, owner::oid FROM pipeline.reports "
				 "WHERE source IS NOT NULL ORDER BY name",
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
report_match(List *sources, const EventObject *o, Oid sender, const char **why)
{
	List	   *result = NIL;
	char	   *uri = s3_make_uri(o->bucket, o->key);
	bool		untrusted = false;
	ListCell   *lc;

	foreach(lc, sources)
	{
		ReportSource *rs = lfirst(lc);

		if (strncmp(uri, rs->source, strlen(rs->source)) != 0)
			continue;
		if (!has_privs_of_role(sender, rs->owner))
		{
			untrusted = true;
			continue;
		}
		result = lappend(result, pstrdup(rs->name));
	}
	if (result == NIL)
		*why = untrusted
			? "the reports whose source matches belong to roles whose rights the queue's owner does not have"
			: "no report's source matches";
	return result;
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

/* report_downstream: the reports chained after "upstream", paused ones too. */
List *
report_downstream(const char *upstream)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(upstream);
	spi_internal("SELECT name FROM pipeline.reports WHERE after = $1 ORDER BY name",
				 1, argtypes, args, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		result = lappend(result, pstrdup(name));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/*
 * report_upstream_fingerprint: for a report created with after and
 * only_if_changed, the fingerprint of its upstream's result as it is now,
 * and (*unchanged) whether it is the one its last run ran on; the upstream
 * in *upstream_out.  NULL for other reports.
 */
char *
report_upstream_fingerprint(const char *report, bool *unchanged, char **upstream_out)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	MemoryContext cxt = CurrentMemoryContext;
	char	   *upstream;
	char	   *consumed;
	char	   *fingerprint = NULL;

	*unchanged = false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(report);
	spi_internal("SELECT after, consumed_hash FROM pipeline.reports "
				 "WHERE name = $1 AND only_if_changed AND after IS NOT NULL",
				 1, argtypes, args, NULL, true, 1);
	if (SPI_processed == 1)
	{
		upstream = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		consumed = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		*upstream_out = MemoryContextStrdup(cxt, upstream);
		fingerprint = result_fingerprint(upstream);
		if (fingerprint)
		{
			*unchanged = consumed && strcmp(consumed, fingerprint) == 0;
			fingerprint = MemoryContextStrdup(cxt, fingerprint);
		}
	}
	SPI_finish();
	return fingerprint;
}

/* report_consumed: the upstream result a report's successful run ran on. */
void
report_consumed(const char *report, const char *fingerprint)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(report);
	args[1] = CStringGetTextDatum(fingerprint);
	spi_internal("UPDATE pipeline.reports SET consumed_hash = $2 WHERE name = $1",
				 2, argtypes, args, NULL, false, 0);
	SPI_finish();
}
