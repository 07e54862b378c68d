/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  Progress of long work (scans, exports, report runs), the way
 *	  pg_stat_progress_copy shows a COPY: each backend fills a slot in
 *	  shared memory, pipeline.progress reads them all.
 *
 * A backend has one slot, and work nests (a report run scans, then
 * exports): progress_start returns a level, progress_end(level) gives the
 * slot back to the work around it.  A transaction that aborts clears the
 * slot.  Without shared_preload_libraries there are no slots, and nothing
 * is shown.
 *
 * IDENTIFICATION
 *	  src/util/progress.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_PROGRESS_H
#define PIPELINE_PROGRESS_H

#include "postgres.h"

typedef enum ProgressKind
{
	PROGRESS_SCAN,				/* a pipeline_s3 foreign table */
	PROGRESS_EXPORT,			/* query -> S3 */
	PROGRESS_RUN				/* a report's run */
} ProgressKind;

/* Start reporting; "what" names the work (relation, report, URI). */
extern int	progress_start(ProgressKind kind, const char *what);

/* Counters of the work at the top (-1: unknown, or unchanged for the others). */
extern void progress_set_total(int64 objects_total);
extern void progress_add(int64 objects, int64 bytes, int64 rows, int64 rejects);

/* The work started at "level" is over (and whatever it started). */
extern void progress_end(int level);

/* shared memory */
extern Size progress_shmem_size(void);
extern void progress_shmem_init(void);

#endif							/* PIPELINE_PROGRESS_H */
