/*-------------------------------------------------------------------------
 *
 * sqs_int.h
 *	  What the files of the SQS client share: starting a signed action with
 *	  a jansson body, and the error of a failed exchange.
 *
 * IDENTIFICATION
 *	  src/s3/sqs_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SQS_INT_H
#define PIPELINE_SQS_INT_H

#include <jansson.h>

#include "s3/aws.h"

/* Sign and start one SQS action; "body" is consumed. */
extern HttpTransfer *sqs_start(AwsClient *c, const char *queue_url, const char *action,
							   json_t *body);

/* The error of a failed SQS exchange, as one line (palloc'd). */
extern char *sqs_error(HttpTransfer *x);

#endif							/* PIPELINE_SQS_INT_H */
