/*-------------------------------------------------------------------------
 *
 * outbox.h
 *	  Effects on S3 that follow commits: staged exports completed by the
 *	  worker once the transaction that staged them committed, and staged
 *	  uploads of rolled-back transactions aborted.
 *
 * IDENTIFICATION
 *	  src/report/outbox.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_OUTBOX_H
#define PIPELINE_OUTBOX_H

#include "datatype/timestamp.h"

#include "report/export.h"

/* An upload was started in this (sub)transaction: abort it if it rolls back. */
extern void outbox_staged(Oid serverid, Oid owner, const char *bucket, const char *key,
						  const char *upload_id);

/*
 * Queue a staged export for completion after commit (pipeline.exports), in
 * the current transaction.
 */
extern void outbox_add_export(const ExportResult *r, Oid serverid, Oid owner, int64 run_id,
							  const char *report);

/* Abort, now, the uploads of subtransactions that rolled back. */
extern void outbox_abort_abandoned(void);

/*
 * The worker: complete the exports whose transaction committed, and abort
 * the uploads of transactions that rolled back.  Each runs its own
 * transactions; returns when more exports are due (0: none waiting).
 */
extern TimestampTz outbox_complete_exports(void);
extern void outbox_abort_rolled_back(void);

/* shared memory for the uploads of rolled-back transactions */
extern Size outbox_shmem_size(void);
extern void outbox_shmem_init(void);

#endif							/* PIPELINE_OUTBOX_H */
