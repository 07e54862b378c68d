/*-------------------------------------------------------------------------
 *
 * s3.h
 *	  S3 client: listing, HEAD, streamed reads, multipart writes, with
 *	  retries, and S3's errors as PostgreSQL errors.  Requests go through
 *	  an AwsClient (aws.h), which SQS shares.
 *
 * IDENTIFICATION
 *	  src/s3/s3.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_S3_H
#define PIPELINE_S3_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "s3/aws.h"

/* An object, as listed or as found by HEAD/GET. */
typedef struct S3Object
{
	char	   *bucket;
	char	   *key;
	int64		size;			/* -1 if unknown */
	char	   *etag;			/* without quotes */
	TimestampTz last_modified;	/* 0 if unknown */
} S3Object;

/* A streamed GET of one object. */
typedef struct S3Get S3Get;

/* "s3://bucket/key" -> bucket, key ("" for a bare bucket); ereports if invalid. */
extern void s3_parse_uri(const char *uri, char **bucket, char **key);
extern char *s3_make_uri(const char *bucket, const char *key);

/*
 * Listing (ListObjectsV2), one page at a time: s3_list_start sends the
 * request for the page after continuation "token" (NULL: the first), which
 * proceeds while the caller waits on other transfers of the client;
 * s3_list_finish waits for it (retrying) and returns the page.  With a
 * delimiter, keys that have it after the prefix are grouped into common
 * prefixes.  max_keys 0 is S3's default (1000).
 */
typedef struct S3ListPage
{
	List	   *objects;		/* of S3Object, in key order */
	List	   *prefixes;		/* of char *: common prefixes (delimiter) */
	char	   *next_token;		/* NULL on the last page */
} S3ListPage;

typedef struct S3ListCall S3ListCall;

extern S3ListCall *s3_list_start(AwsClient *client, const char *bucket, const char *prefix,
								 const char *delimiter, const char *token, int max_keys);
extern S3ListPage *s3_list_finish(S3ListCall *call);
extern void s3_list_cancel(S3ListCall *call);
extern S3ListPage *s3_list_page(AwsClient *client, const char *bucket, const char *prefix,
								const char *delimiter, const char *token, int max_keys);

/*
 * HEAD; with missing_ok, NULL if the object does not exist or cannot be
 * looked at (a HEAD answer has no body saying why; a GET will).
 */
extern S3Object *s3_head_object(AwsClient *client, const char *bucket,
								const char *key, bool missing_ok);

/*
 * Streamed GET.  s3_get_start sends the request (it proceeds in the
 * background while other work is done: several may be in flight);
 * s3_get_open waits for the answer and returns false if the object does
 * not exist and missing_ok.  s3_get_read returns 0 at the end.  Transfers
 * interrupted mid-way are resumed with a Range request pinned to the ETag.
 */
extern S3Get *s3_get_start(AwsClient *client, const char *bucket, const char *key,
						   size_t buffer_size);

/*
 * A GET of bytes [start, end) of an object (end -1: to its end), pinned to
 * o->etag if known (a changed object is an error, never a mix of two
 * versions).  s3_get_read returns 0 at the end of the range; s3_get_extend
 * goes on from there to a new end.
 */
extern S3Get *s3_get_start_range(AwsClient *client, const S3Object *o, int64 start, int64 end,
								 size_t buffer_size);
extern bool s3_get_extend(S3Get *get, int64 end);
extern bool s3_get_open(S3Get *get, bool missing_ok);
extern size_t s3_get_read(S3Get *get, char *dst, size_t len);
extern const S3Object *s3_get_object(const S3Get *get);
extern uint64 s3_get_bytes(const S3Get *get);	/* received, resumes included */
extern uint64 s3_get_delivered(const S3Get *get);	/* handed to the caller */
extern void s3_get_close(S3Get *get);

/* Multipart upload. */
extern char *s3_multipart_create(AwsClient *client, const char *bucket, const char *key,
								 const char *content_type);
extern char *s3_multipart_upload_part(AwsClient *client, const char *bucket, const char *key,
									  const char *upload_id, int part_number,
									  const char *data, size_t len);
/* Returns the object's ETag; NULL if the upload does not exist and missing_ok. */
extern char *s3_multipart_complete(AwsClient *client, const char *bucket, const char *key,
								   const char *upload_id, List *etags, bool missing_ok);
extern void s3_multipart_abort(AwsClient *client, const char *bucket, const char *key,
							   const char *upload_id);

#endif							/* PIPELINE_S3_H */
