/*-------------------------------------------------------------------------
 *
 * rejects.c
 *	  The records that on_error 'skip' scans left out: remembered per
 *	  statement (at most pipeline.max_rejects), shown by
 *	  pipeline.rejects(), and handed to report runs, which keep their own.
 *
 * IDENTIFICATION
 *	  src/fdw/rejects.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fdw/fdw.h"
#include "util/settings.h"

typedef struct Reject
{
	Oid			relid;
	char	   *uri;
	int64		record;
	int64		line;
	char	   *error;
	char	   *raw;
} Reject;

/* The rejects of the last statement that had any, in this session. */
static MemoryContext rejects_cxt = NULL;
static List *rejects = NIL;
static int64 rejects_total = 0; /* remembered or not */
static TimestampTz rejects_stmt = 0;

#define REJECT_RAW_MAX 4096

void
fdw_reject_remember(Oid relid, const char *uri, int64 record, int64 line,
				   const char *error, const char *raw, size_t rawlen)
{
	MemoryContext old;
	Reject	   *r;

	if (rejects_cxt == NULL)
		rejects_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline_s3 rejects",
											ALLOCSET_SMALL_SIZES);
	if (rejects_stmt != GetCurrentStatementStartTimestamp())
		fdw_rejects_reset();
	rejects_total++;
	if (list_length(rejects) >= pipeline_max_rejects)
		return;					/* counted by the scan, not remembered */
	old = MemoryContextSwitchTo(rejects_cxt);
	r = palloc(sizeof(Reject));
	r->relid = relid;
	r->uri = pstrdup(uri);
	r->record = record;
	r->line = line;
	r->error = pstrdup(error);
	rawlen = Min(rawlen, REJECT_RAW_MAX);
	if (raw)
		rawlen = pg_mbcliplen(raw, (int) rawlen, (int) rawlen);
	r->raw = raw ? pnstrdup(raw, rawlen) : NULL;
	rejects = lappend(rejects, r);
	MemoryContextSwitchTo(old);
}

/*
 * fdw_rejects_reset: forget the rejects remembered so far; a report run
 * starts with none, so that it can keep its own (fdw_rejects_foreach).
 */
void
fdw_rejects_reset(void)
{
	if (rejects_cxt)
		MemoryContextReset(rejects_cxt);
	rejects = NIL;
	rejects_total = 0;
	rejects_stmt = GetCurrentStatementStartTimestamp();
}

/* The rejects since the last reset: each remembered one, and how many in all. */
int64
fdw_rejects_foreach(FdwRejectFn fn, void *arg)
{
	ListCell   *lc;

	foreach(lc, rejects)
	{
		Reject	   *r = lfirst(lc);

		fn(arg, r->uri, r->record, r->line, r->error, r->raw);
	}
	return rejects_total;
}

PG_FUNCTION_INFO_V1(pipeline_rejects);

/*
 * pipeline.rejects(): the records that on_error 'skip' scans of the last
 * statement that skipped any left out, with the reason.
 */
Datum
pipeline_rejects(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, rejects)
	{
		Reject	   *r = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = ObjectIdGetDatum(r->relid);
		values[1] = CStringGetTextDatum(r->uri);
		values[2] = Int64GetDatum(r->record);
		values[3] = Int64GetDatum(r->line);
		values[4] = CStringGetTextDatum(r->error);
		if (r->raw)
			values[5] = CStringGetTextDatum(r->raw);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
