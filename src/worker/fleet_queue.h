/*-------------------------------------------------------------------------
 *
 * fleet_queue.h
 *	  A fleet's servers as competing consumers of the same queues: messages
 *	  deleted only once their work is settled, handed back to the queue
 *	  (visible again after a second) when no report here takes their objects.
 *
 * IDENTIFICATION
 *	  src/worker/fleet_queue.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FLEET_QUEUE_H
#define PIPELINE_FLEET_QUEUE_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "s3/s3.h"
#include "s3/sqs.h"

/* What becomes of a message once its batch is committed. */
typedef enum FleetDisposition
{
	FD_DELETE = 0,				/* nothing (more) to do here: delete it now */
	FD_HOLD,					/* its work waits here: keep it, delete it once settled */
	FD_HOLD_RELEASE,			/* as FD_HOLD, then hand it back for the rest of its objects */
	FD_RELEASE					/* no report here takes it: hand it back at once */
} FleetDisposition;

/*
 * In the transaction that takes a batch: queue the objects of one message
 * for the reports here (like tasks_add_objects), and say what becomes of
 * the message.  Objects no report here takes are left to another server
 * (the message is handed back) until the message was received
 * pipeline.fleet_max_receives times; then they are kept as unmatched here.
 */
extern List *fleet_take_objects(List *sources, List *objects, Oid owner, const char *queue,
								const SqsMessage *m, int *unmatched, FleetDisposition *disp);

/*
 * After that transaction committed: hand back the messages to release, and
 * hold those whose work waits.  Returns the receipts to delete now.
 */
extern List *fleet_after_intake(const char *queue, AwsClient *client, const char *url,
								List *msgs, const FleetDisposition *disp);

/*
 * The worker, every round: delete (or hand back) the messages held whose
 * work is settled, and keep the others invisible.  Each in its own
 * transaction; does nothing when no message is held.
 */
extern void fleet_queues_step(void);

/* queues.c: the client and URL of a queue this worker polls; false if it does not any more */
extern bool queues_client(const char *name, AwsClient **client, char **url);

#endif							/* PIPELINE_FLEET_QUEUE_H */
