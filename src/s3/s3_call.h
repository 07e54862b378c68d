/*-------------------------------------------------------------------------
 *
 * s3_call.h
 *	  How the S3 client's files make their requests: one S3Call per
 *	  logical request, sent, retried and reported by s3.c.  Private to
 *	  s3/ (s3.c, s3_list.c, s3_get.c, s3_put.c).
 *
 * IDENTIFICATION
 *	  src/s3/s3_call.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_S3_CALL_H
#define PIPELINE_S3_CALL_H

#include "lib/stringinfo.h"

#include "s3/s3.h"

/* One logical request, re-sent as is on each retry. */
typedef struct S3Call
{
	const char *method;
	const char *bucket;
	const char *key;			/* NULL for bucket-level requests */
	const char *query;			/* canonical query (sorted, encoded) or NULL */
	List	   *headers;		/* extra "Name: value" strings, signed too */
	const char *body;
	size_t		body_len;
	const char *content_type;
	size_t		stream_buffer;	/* > 0: stream the answer */
	const char *what;			/* for errors: "read object", "list objects in" */
	const char *uri;			/* for errors: s3://bucket/key */
} S3Call;

/*
 * A call of "method" on object "key" of "bucket" (key NULL: on the bucket),
 * named in errors as "could not <what> \"s3://bucket/key\"".  The rest
 * (query, headers, body, streaming) is for the caller to fill in.
 */
extern S3Call s3_call(const char *method, const char *bucket, const char *key,
					  const char *what);

/* Sign and start one attempt of a call. */
extern HttpTransfer *s3_send(AwsClient *client, const S3Call *call);

/*
 * Wait for the answer to the attempt in flight in *xfer, and send the call
 * again (after a back-off) as long as the answer is worth retrying, up to
 * pipeline.s3_max_retries times; *xfer is always the attempt in flight (NULL
 * while none is).  Returns with the last answer's headers in, and its whole
 * body unless the call streams a 2xx answer.  A transport error that
 * outlasts the retries is raised; HTTP errors are left to the caller,
 * which knows which are fine (404 with missing_ok, say).
 */
extern void s3_await(AwsClient *client, const S3Call *call, HttpTransfer **xfer);

/* s3_send, then s3_await: the transfer of the answer. */
extern HttpTransfer *s3_request(AwsClient *client, const S3Call *call);

/* Wait before retry number "attempt" (from 0) of an S3 request. */
extern void s3_backoff(int attempt);

/* An answer S3 documents as worth retrying (500, 503 SlowDown...). */
extern bool s3_status_retryable(long status);

/*
 * Report a failed call: S3's XML error (its Code in the message, its
 * Message in the detail), or the transport error.  Finishes the transfer
 * first (the caller must not use it again).
 */
extern void s3_raise(AwsClient *client, const S3Call *call, HttpTransfer *x) pg_attribute_noreturn();

/* Append "name=value" (value URI-encoded) to a query being built. */
extern void s3_query_param(StringInfo q, const char *name, const char *value);

/*
 * A malloc'd string of s3_xml.c's (XML answers are read there) as a
 * palloc'd one; the malloc'd one is freed whatever happens.  NULL stays NULL.
 */
extern char *s3_xml_text(char *s);

#endif							/* PIPELINE_S3_CALL_H */
