/*-------------------------------------------------------------------------
 *
 * budget.c
 *	  Scan budgets, as Athena's workgroups limit the data a query scans,
 *	  and what the parallel workers of a scan read and asked S3 for,
 *	  counted as their leader's.
 *
 * A report's run may read at most its max_bytes_scanned; any other
 * statement at most pipeline.max_bytes_scanned.  Each object (or part of
 * one) is charged its size when it is opened, before its body is read: the
 * one that would take the total past the limit stops the scan with an
 * error, so the run reads no more than its limit.  The participants of a
 * parallel scan charge one counter in the scan's DSM, so the limit holds
 * for all of them together.
 *
 * Parallel workers add the bytes and S3 requests of each object they read
 * to counters in the DSM as they go.  The leader adds the workers' bytes
 * at the end of the scan (s3ShutdownForeignScan) and their requests here;
 * a scan that fails never gets there, so the leader takes them when the
 * DSM segment goes (a callback): a failed run still counts what all its
 * participants read.
 *
 * IDENTIFICATION
 *	  src/fdw/budget.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"

#include "fdw/counters.h"
#include "fdw/scan.h"
#include "util/settings.h"

pipeline_object_read_hook_type pipeline_object_read_hook = NULL;

/* ----------------------------------------------------------------
 *		The budget of this process
 * ----------------------------------------------------------------
 */

static uint64 run_limit = 0;	/* the run's; 0: none */
static char run_report[64];
static uint64 used = 0;			/* charged in this run, or statement */
static LocalTransactionId stmt_lxid = InvalidLocalTransactionId;
static TimestampTz stmt_start = 0;

/*
 * scan_budget_begin_run: the run of report "report" may read at most
 * "limit" bytes (0: the statement's limit, if any).
 */
void
scan_budget_begin_run(uint64 limit, const char *report)
{
	run_limit = limit;
	strlcpy(run_report, report, sizeof(run_report));
	used = 0;
}

void
scan_budget_end_run(void)
{
	run_limit = 0;
	used = 0;
	stmt_lxid = InvalidLocalTransactionId;
}

/* The limit that applies now (0: none); *report is "" for a statement's. */
static uint64
current_limit(const char **report)
{
	if (run_limit > 0)
	{
		*report = run_report;
		return run_limit;
	}
	*report = "";
	if (pipeline_max_bytes_scanned_kb <= 0)
		return 0;
	/* a new statement starts from nothing */
	if (stmt_lxid != MyProc->lxid || stmt_start != GetCurrentStatementStartTimestamp())
	{
		stmt_lxid = MyProc->lxid;
		stmt_start = GetCurrentStatementStartTimestamp();
		used = 0;
	}
	return (uint64) pipeline_max_bytes_scanned_kb * 1024;
}

static void
budget_exceeded(const char *report, uint64 limit, uint64 before, int64 size, const S3Object *o,
				const WorkUnit *u)
{
	char	   *uri = psprintf("s3://%s/%s", o->bucket, o->key);
	char	   *what = u->part >= 0 ? psprintf("part %d of \"%s\"", u->part + 1, uri)
		: psprintf("\"%s\"", uri);

	if (report[0])
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("report \"%s\" would read more than its max_bytes_scanned (" UINT64_FORMAT " bytes)",
						report, limit),
				 errdetail("Its run has read " UINT64_FORMAT " bytes, and %s holds " INT64_FORMAT " more.",
						   before, what, size),
				 errhint("Raise the report's limit with pipeline.alter_report('%s', max_bytes_scanned => ...), or make its query read fewer objects (WHERE src = ANY (pipeline.trigger_uris())).",
						 report)));
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("the statement would read more than pipeline.max_bytes_scanned (" UINT64_FORMAT " bytes)",
					limit),
			 errdetail("It has read " UINT64_FORMAT " bytes, and %s holds " INT64_FORMAT " more.",
					   before, what, size),
			 errhint("Raise pipeline.max_bytes_scanned, or narrow the query so that fewer objects are read.")));
}

/*
 * scan_budget_charge: the object (or part) "u" was opened, and S3 said "o"
 * of it: charge its size, or stop if it would take the scan past its limit.
 */
void
scan_budget_charge(FdwScanState *st, const WorkUnit *u, const S3Object *o)
{
	int64		size;
	uint64		limit;
	uint64		before;
	const char *report;

	if (u->part >= 0)
		size = (u->end >= 0 ? u->end : o->size) - u->start;
	else
		size = o->size >= 0 ? o->size : u->obj.size;
	if (size <= 0)
		return;
	if (st->account)
	{
		limit = st->account->budget_limit;
		report = st->account->budget_report;
		if (limit == 0)
			return;
		before = pg_atomic_fetch_add_u64(&st->account->budget_used, (uint64) size);
	}
	else
	{
		limit = current_limit(&report);
		if (limit == 0)
			return;
		before = used;
		used += size;
	}
	if (before + (uint64) size > limit)
		budget_exceeded(report, limit, before, size, o, u);
}

/* ----------------------------------------------------------------
 *		Parallel scans
 * ----------------------------------------------------------------
 */

/* The workers' counts, as the leader's own (once). */
static void
account_take(ScanAccount *acc)
{
	if (acc->accounted)
		return;
	acc->accounted = true;
	s3_requests.get += pg_atomic_read_u64(&acc->worker_get);
	s3_requests.list += pg_atomic_read_u64(&acc->worker_list);
	s3_requests.put += pg_atomic_read_u64(&acc->worker_put);
}

/*
 * The DSM segment goes without the scan's end (an error): the workers'
 * bytes too, which s3ShutdownForeignScan would have added.
 */
static void
account_detach(dsm_segment *seg, Datum arg)
{
	ScanAccount *acc = (ScanAccount *) DatumGetPointer(arg);

	if (acc->accounted)
		return;
	pipeline_scan_bytes += pg_atomic_read_u64(&acc->worker_bytes);
	account_take(acc);
}

/* scan_account_init: in the leader, as it sets up the DSM. */
void
scan_account_init(FdwScanState *st, ScanAccount *acc, dsm_segment *seg)
{
	const char *report;

	acc->budget_limit = current_limit(&report);
	strlcpy(acc->budget_report, report, sizeof(acc->budget_report));
	pg_atomic_init_u64(&acc->budget_used, used);
	pg_atomic_init_u64(&acc->worker_bytes, 0);
	pg_atomic_init_u64(&acc->worker_get, 0);
	pg_atomic_init_u64(&acc->worker_list, 0);
	pg_atomic_init_u64(&acc->worker_put, 0);
	acc->accounted = false;
	st->account = acc;
	if (seg)
		on_dsm_detach(seg, account_detach, PointerGetDatum(acc));
}

/* scan_account_attach: in a worker. */
void
scan_account_attach(FdwScanState *st, ScanAccount *acc)
{
	st->account = acc;
	st->requests_published = st->client->requests;
}

/*
 * scan_account_read: a worker read "bytes" more (an object done, or the
 * end of its scan): add them, and its requests since, to the DSM's.
 */
void
scan_account_read(FdwScanState *st, uint64 bytes)
{
	ScanAccount *acc = st->account;
	S3Requests	now;

	if (acc == NULL || !IsParallelWorker())
		return;
	now = st->client->requests;
	if (bytes > 0)
		pg_atomic_fetch_add_u64(&acc->worker_bytes, bytes);
	pg_atomic_fetch_add_u64(&acc->worker_get, now.get - st->requests_published.get);
	pg_atomic_fetch_add_u64(&acc->worker_list, now.list - st->requests_published.list);
	pg_atomic_fetch_add_u64(&acc->worker_put, now.put - st->requests_published.put);
	st->requests_published = now;
}

/* scan_account_shutdown: the end of the scan, in the leader (or a worker). */
void
scan_account_shutdown(FdwScanState *st)
{
	ScanAccount *acc = st->account;

	if (acc == NULL)
		return;
	if (IsParallelWorker())
		scan_account_read(st, 0);
	else
	{
		used = pg_atomic_read_u64(&acc->budget_used);
		account_take(acc);
	}
	st->account = NULL;
}
