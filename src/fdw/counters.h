/*-------------------------------------------------------------------------
 *
 * counters.h
 *	  What the foreign data wrapper's scans count for other modules: the
 *	  bytes this backend's scans read from S3 (report/ records them for
 *	  each run in pipeline.runs.bytes).
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

#endif							/* PIPELINE_FDW_COUNTERS_H */
