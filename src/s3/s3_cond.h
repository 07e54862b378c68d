/*-------------------------------------------------------------------------
 *
 * s3_cond.h
 *	  Conditional writes and small reads of S3 objects, for coordination:
 *	  PUT with If-None-Match: * (create only) or If-Match: <etag> (compare
 *	  and swap), and a GET that returns the body with the object's ETag,
 *	  Last-Modified and S3's own clock (the answer's Date).
 *
 * Unlike the rest of the client these never raise for an HTTP status: a
 * 412 or a 404 is an answer the caller decides on.  What S3 asks to be
 * retried (500, 502, 503, 504, 429, and 409 ConditionalRequestConflict)
 * and broken connections are retried with back-off first.
 *
 * IDENTIFICATION
 *	  src/s3/s3_cond.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_S3_COND_H
#define PIPELINE_S3_COND_H

#include "datatype/timestamp.h"

#include "s3/aws.h"

/* What S3 answered (after retries). */
typedef struct S3CondAnswer
{
	long		status;			/* HTTP status; 0: no answer (error says why) */
	char	   *code;			/* S3's error code of a 4xx/5xx, or NULL */
	char	   *etag;			/* the object's ETag, without quotes, or NULL */
	TimestampTz last_modified;	/* GET: when S3 last wrote it; 0 if unknown */
	TimestampTz date;			/* S3's clock when it answered; 0 if unknown */
	char	   *body;			/* GET: the object (NUL-terminated) */
	size_t		body_len;
	char	   *error;			/* transport error, or NULL */
	int			attempts;		/* requests sent */
} S3CondAnswer;

/* A conditional request in flight. */
typedef struct S3CondCall S3CondCall;

/*
 * Start a PUT of "body" to bucket/key: if_match NULL makes it create-only
 * (If-None-Match: *), else it writes only over the object with that ETag.
 * The body is copied.
 */
extern S3CondCall *s3_cond_put_start(AwsClient *client, const char *bucket, const char *key,
									 const char *body, size_t len, const char *content_type,
									 const char *if_match);

/* Start a GET of a small object (the whole body is collected). */
extern S3CondCall *s3_cond_get_start(AwsClient *client, const char *bucket, const char *key);

/* Wait for the answer, retrying what S3 asks to be retried; frees the call. */
extern S3CondAnswer *s3_cond_finish(S3CondCall *call);

/* Start and finish. */
extern S3CondAnswer *s3_cond_put(AwsClient *client, const char *bucket, const char *key,
								 const char *body, size_t len, const char *content_type,
								 const char *if_match);
extern S3CondAnswer *s3_cond_get(AwsClient *client, const char *bucket, const char *key);

/* An unconditional PUT of a small object (a heartbeat), answered like the others. */
extern S3CondAnswer *s3_plain_put(AwsClient *client, const char *bucket, const char *key,
								  const char *body, size_t len, const char *content_type);

/* An HTTP date ("Wed, 25 Nov 2026 10:00:00 GMT") as a timestamp; 0 if none. */
extern TimestampTz s3_http_date(const char *s);

#endif							/* PIPELINE_S3_COND_H */
