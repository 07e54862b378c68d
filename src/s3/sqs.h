/*-------------------------------------------------------------------------
 *
 * sqs.h
 *	  SQS client (JSON protocol): long-polling receives that run
 *	  concurrently, and deletes.
 *
 * IDENTIFICATION
 *	  src/s3/sqs.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SQS_H
#define PIPELINE_SQS_H

#include "s3/aws.h"

typedef struct SqsMessage
{
	char	   *message_id;
	char	   *receipt_handle;
	char	   *body;
	int			receive_count;	/* ApproximateReceiveCount */
	TimestampTz sent;			/* SentTimestamp */
} SqsMessage;

typedef struct SqsReceive SqsReceive;

/* Start a ReceiveMessage long poll; it proceeds while the client is driven. */
extern SqsReceive *sqs_receive_start(AwsClient *client, const char *queue_url,
									 int max_messages, int wait_seconds,
									 int visibility_timeout);
extern bool sqs_receive_done(const SqsReceive *r);
extern void sqs_receive_cancel(SqsReceive *r);

/*
 * The messages of a finished receive.  On failure returns NIL and sets
 * *error (palloc'd) instead of raising: the worker decides how loudly to
 * complain about an unreachable queue.
 */
extern List *sqs_receive_finish(SqsReceive *r, char **error);

/*
 * Delete up to 10 messages (by receipt handle) without waiting: start, see
 * if done, then finish (how many were deleted; -1 and *error if the request
 * failed), or cancel.
 */
typedef struct SqsDelete SqsDelete;
extern SqsDelete *sqs_delete_start(AwsClient *client, const char *queue_url, List *receipts);
extern bool sqs_delete_done(const SqsDelete *d);
extern bool sqs_delete_wait(SqsDelete *d, int timeout_ms);
extern int	sqs_delete_finish(SqsDelete *d, char **error);
extern void sqs_delete_cancel(SqsDelete *d);

#endif							/* PIPELINE_SQS_H */
