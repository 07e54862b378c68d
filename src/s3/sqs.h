/*-------------------------------------------------------------------------
 *
 * sqs.h
 *	  SQS client (JSON protocol): long-polling receives that run
 *	  concurrently, deletes, visibility changes.
 *
 * IDENTIFICATION
 *	  src/s3/sqs.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SQS_H
#define PIPELINE_SQS_H

#include "s3/s3.h"

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
extern SqsReceive *sqs_receive_start(S3Client *client, const char *queue_url,
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

/* Delete messages (by receipt handle); returns how many failed. */
extern int	sqs_delete_messages(S3Client *client, const char *queue_url, List *receipts);

extern void sqs_change_visibility(S3Client *client, const char *queue_url,
								  const char *receipt_handle, int seconds);

#endif							/* PIPELINE_SQS_H */
