/*-------------------------------------------------------------------------
 *
 * counters.h
 *	  What the foreign data wrapper's scans count for other modules: the
 *	  bytes this backend's scans read from S3 (report/ records them for
 *	  each run in pipeline.runs.bytes); scan budgets; the objects a scan
 *	  opens.
 *
 * IDENTIFICATION
 *	  src/fdw/counters.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_COUNTERS_H
#define PIPELINE_FDW_COUNTERS_H

/*
 * Bytes read from S3 by the scans of this backend since it started, those
 * of the parallel workers it led included.  Only ever grows: a reader
 * takes the difference between two moments.
 */
extern PGDLLIMPORT uint64 pipeline_scan_bytes;

/*
 * The S3 requests of the scans are counted in s3/s3.h's s3_requests, those
 * of the parallel workers a scan led included (budget.c), the same way.
 */

/*
 * Scan budgets (budget.c): a report's run may read at most "limit" bytes
 * (its max_bytes_scanned; 0: no limit), whoever reads them, its parallel
 * workers included; other statements at most pipeline.max_bytes_scanned.
 * An object or part that would take the total past the limit is not read:
 * the scan stops with an error (SQLSTATE 53400) before its GET is read.
 */
extern void scan_budget_begin_run(uint64 limit, const char *report);
extern void scan_budget_end_run(void);

/*
 * Called for every object (not later parts of one) that a scan of this
 * process opens, with the ETag S3 answered with: report/ notes which
 * version of its trigger objects a run read.  NULL: nobody asks.
 */
typedef void (*pipeline_object_read_hook_type) (const char *bucket, const char *key,
												const char *etag);
extern PGDLLIMPORT pipeline_object_read_hook_type pipeline_object_read_hook;

#endif							/* PIPELINE_FDW_COUNTERS_H */
