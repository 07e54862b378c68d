/*-------------------------------------------------------------------------
 *
 * s3_cond.c
 *	  Conditional writes and small reads of S3 objects, for coordination
 *	  (the fleet's claims): answers are returned, not raised.
 *
 * S3 documents If-None-Match: * and If-Match: <etag> on PutObject: a
 * condition that does not hold is 412 PreconditionFailed (If-Match on an
 * object that does not exist: 404 NoSuchKey), and a conflicting operation
 * during the request 409 ConditionalRequestConflict, to be retried.  A
 * retried write may find its own earlier attempt done (the answer was
 * lost): the caller tells by reading the object back, which is why claims
 * carry a token of their writer.
 *
 * Requests are made like every other S3 request (an S3Call sent with
 * s3_send, the same back-off), several at once on one client if started
 * before any is finished; only the loop differs from s3_await's: what
 * outlasts the retries is an answer for the caller, not an error.
 *
 * IDENTIFICATION
 *	  src/s3/s3_cond.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "utils/timestamp.h"

#include "s3/s3_call.h"
#include "s3/s3_cond.h"
#include "util/settings.h"

struct S3CondCall
{
	AwsClient  *client;
	S3Call		call;			/* its strings and body copied, alive as long as the transfer */
	HttpTransfer *xfer;
	int			attempts;
};

static S3CondCall *
cond_start(AwsClient *client, const char *method, const char *bucket, const char *key,
		   const char *what)
{
	S3CondCall *c = palloc0(sizeof(S3CondCall));

	c->client = client;
	c->call = s3_call(method, pstrdup(bucket), pstrdup(key), what);
	return c;
}

static void
cond_send(S3CondCall *c)
{
	c->xfer = s3_send(c->client, &c->call);
	c->attempts++;
}

static S3CondCall *
put_start(AwsClient *client, const char *bucket, const char *key, const char *body,
		  size_t len, const char *content_type, char *condition)
{
	S3CondCall *c = cond_start(client, "PUT", bucket, key, "write");
	char	   *copy = palloc(len + 1);

	memcpy(copy, body, len);
	copy[len] = '\0';
	c->call.body = copy;
	c->call.body_len = len;
	c->call.content_type = pstrdup(content_type);
	if (condition)
		c->call.headers = list_make1(condition);
	cond_send(c);
	return c;
}

S3CondCall *
s3_cond_put_start(AwsClient *client, const char *bucket, const char *key,
				  const char *body, size_t len, const char *content_type,
				  const char *if_match)
{
	return put_start(client, bucket, key, body, len, content_type,
					 if_match ? psprintf("If-Match: \"%s\"", if_match)
					 : pstrdup("If-None-Match: *"));
}

S3CondAnswer *
s3_plain_put(AwsClient *client, const char *bucket, const char *key,
			 const char *body, size_t len, const char *content_type)
{
	return s3_cond_finish(put_start(client, bucket, key, body, len, content_type, NULL));
}

S3CondCall *
s3_cond_get_start(AwsClient *client, const char *bucket, const char *key)
{
	S3CondCall *c = cond_start(client, "GET", bucket, key, "read");

	cond_send(c);
	return c;
}

TimestampTz
s3_http_date(const char *s)
{
	time_t		t;

	if (s == NULL || s[0] == '\0')
		return 0;
	t = curl_getdate(s, NULL);
	return t < 0 ? 0 : time_t_to_timestamptz((pg_time_t) t);
}

/* The <Code> of an S3 error body, or NULL. */
static char *
error_code(const char *body, size_t len)
{
	const char *b = body ? memmem(body, len, "<Code>", 6) : NULL;
	const char *e;

	if (b == NULL)
		return NULL;
	b += 6;
	e = memmem(b, len - (b - body), "</Code>", 7);
	if (e == NULL || e - b > 128)
		return NULL;
	return pnstrdup(b, e - b);
}

S3CondAnswer *
s3_cond_finish(S3CondCall *c)
{
	S3CondAnswer *a = palloc0(sizeof(S3CondAnswer));

	for (;;)
	{
		HttpTransfer *x = c->xfer;
		bool		ok = http_wait_done(x);
		const HttpResponseInfo *info = http_info(x);
		long		status = ok ? info->status : 0;
		size_t		len = 0;
		const char *body = http_body(x, &len);

		a->status = status;
		a->error = ok ? NULL : pstrdup(http_error(x) ? http_error(x) : "no answer");
		a->code = status >= 400 ? error_code(body, len) : NULL;
		a->etag = info->etag[0] ? aws_unquote_etag(info->etag) : NULL;
		a->last_modified = s3_http_date(info->last_modified);
		a->date = s3_http_date(info->date);
		if (status == 200 && strcmp(c->call.method, "GET") == 0)
		{
			a->body = palloc(len + 1);
			memcpy(a->body, body, len);
			a->body[len] = '\0';
			a->body_len = len;
		}
		http_finish(x);
		c->xfer = NULL;
		a->attempts = c->attempts;
		/* S3's retryable answers, and a conditional write's conflict */
		if ((ok && !s3_status_retryable(status) && status != 409) ||
			c->attempts > pipeline_s3_max_retries)
			break;
		s3_backoff(c->attempts - 1);
		cond_send(c);
	}
	pfree(c);
	return a;
}

S3CondAnswer *
s3_cond_put(AwsClient *client, const char *bucket, const char *key,
			const char *body, size_t len, const char *content_type, const char *if_match)
{
	return s3_cond_finish(s3_cond_put_start(client, bucket, key, body, len, content_type,
											if_match));
}

S3CondAnswer *
s3_cond_get(AwsClient *client, const char *bucket, const char *key)
{
	return s3_cond_finish(s3_cond_get_start(client, bucket, key));
}
