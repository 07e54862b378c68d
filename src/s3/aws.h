/*-------------------------------------------------------------------------
 *
 * aws.h
 *	  The AWS client: where requests go and who signs them (AwsConfig),
 *	  and requests to any AWS service (S3, SQS) signed with Signature
 *	  Version 4 and sent through an HttpClient (AwsClient).
 *
 * One client serves S3 (s3.h) and SQS (sqs.h) alike; credentials.h makes
 * its configuration from a pipeline_s3 server and a user mapping.
 *
 * IDENTIFICATION
 *	  src/s3/aws.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_AWS_H
#define PIPELINE_AWS_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "s3/http.h"

/* Where requests go and who signs them. */
typedef struct AwsConfig
{
	char	   *endpoint;		/* "http://127.0.0.1:4566", or NULL for AWS */
	char	   *region;			/* "us-east-1" */
	bool		path_style;		/* S3: /bucket/key rather than bucket.host/key */
	char	   *access_key_id;	/* NULL: requests are not signed */
	char	   *secret_access_key;
	char	   *session_token;	/* NULL if none */
	/* temporary keys (credentials.c): renewed before they expire */
	struct CredSource *source;	/* NULL: the keys above never change */
	TimestampTz renew_at;		/* when to look at the source again; 0:
								 * never */
} AwsConfig;

typedef struct AwsClient
{
	AwsConfig	cfg;
	HttpClient *http;
	bool		own_http;		/* http is the client's own (aws_client_destroy) */
	MemoryContext mcxt;			/* where renewed keys go */
} AwsClient;

/* A client with an HttpClient of its own, in "mcxt". */
extern AwsClient *aws_client_create(const AwsConfig *cfg, MemoryContext mcxt);

/*
 * A client that sends its requests through an existing HttpClient, so
 * that requests of clients with different credentials can be in flight
 * together (the worker's queues).
 */
extern AwsClient *aws_client_create_shared(const AwsConfig *cfg, HttpClient *http,
										   MemoryContext mcxt);

/*
 * Release the libcurl resources of a client made by aws_client_create (its
 * transfers included); the memory goes with its context.
 */
extern void aws_client_destroy(AwsClient *client);

/*
 * Sign a request to an AWS service ("s3", "sqs") and start it.  "headers"
 * are extra "Name: value" strings, all signed; the body, if any, is hashed
 * into x-amz-content-sha256 (S3).
 */
extern HttpTransfer *aws_start(AwsClient *client, const char *service, const char *method,
							   const char *scheme, const char *host, const char *path,
							   const char *query, List *headers,
							   const char *body, size_t body_len, size_t stream_buffer);

/*
 * An ISO-8601 time as AWS writes them (a listing's LastModified, an
 * event's eventTime) as a timestamptz; 0 if absent or not one, or, with
 * "need_offset", without a Z or UTC offset.
 */
extern TimestampTz aws_timestamp(const char *s, bool need_offset);

/* An ETag without the quotes S3 puts around it, palloc'd. */
extern char *aws_unquote_etag(const char *etag);

#endif							/* PIPELINE_AWS_H */
