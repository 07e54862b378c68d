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
 * Requests are signed and sent like every other S3 request (aws_start),
 * several at once on one client if started before any is finished.
 *
 * IDENTIFICATION
 *	  src/s3/s3_cond.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#include "s3/s3_cond.h"
#include "s3/sigv4.h"

struct S3CondCall
{
	S3Client   *client;
	const char *method;
	char	   *bucket;
	char	   *key;
	char	   *body;			/* PUT: a copy, alive as long as the transfer */
	size_t		body_len;
	List	   *headers;
	HttpTransfer *xfer;
	int			attempts;
};

/* Scheme, Host and canonical path of a request to bucket/key (path or virtual style). */
static void
cond_locate(S3Client *c, const char *bucket, const char *key, const char **scheme,
			char **host, StringInfo path)
{
	const char *hostport;

	*scheme = "https";
	if (c->cfg.endpoint)
	{
		const char *p = strstr(c->cfg.endpoint, "://");
		char	   *ep;

		if (p)
		{
			*scheme = pnstrdup(c->cfg.endpoint, p - c->cfg.endpoint);
			ep = pstrdup(p + 3);
		}
		else
			ep = pstrdup(c->cfg.endpoint);
		if (ep[0] && ep[strlen(ep) - 1] == '/')
			ep[strlen(ep) - 1] = '\0';
		hostport = ep;
	}
	else
		hostport = psprintf("s3.%s.amazonaws.com", c->cfg.region);

	resetStringInfo(path);
	appendStringInfoChar(path, '/');
	if (c->cfg.path_style)
	{
		*host = pstrdup(hostport);
		sigv4_uri_encode(path, bucket, strlen(bucket), true);
		appendStringInfoChar(path, '/');
	}
	else
		*host = psprintf("%s.%s", bucket, hostport);
	sigv4_uri_encode(path, key, strlen(key), false);
}

static void
cond_send(S3CondCall *call)
{
	StringInfoData path;
	const char *scheme;
	char	   *host;

	initStringInfo(&path);
	cond_locate(call->client, call->bucket, call->key, &scheme, &host, &path);
	call->xfer = aws_start(call->client, "s3", call->method, scheme, host, path.data, NULL,
						   list_copy(call->headers), call->body, call->body_len, 0);
	call->attempts++;
}

S3CondCall *
s3_cond_put_start(S3Client *client, const char *bucket, const char *key,
				  const char *body, size_t len, const char *content_type,
				  const char *if_match)
{
	S3CondCall *call = palloc0(sizeof(S3CondCall));

	call->client = client;
	call->method = "PUT";
	call->bucket = pstrdup(bucket);
	call->key = pstrdup(key);
	call->body = palloc(len + 1);
	memcpy(call->body, body, len);
	call->body[len] = '\0';
	call->body_len = len;
	call->headers = list_make2(psprintf("Content-Type: %s", content_type),
							   if_match ? psprintf("If-Match: \"%s\"", if_match)
							   : pstrdup("If-None-Match: *"));
	cond_send(call);
	return call;
}

S3CondCall *
s3_cond_get_start(S3Client *client, const char *bucket, const char *key)
{
	S3CondCall *call = palloc0(sizeof(S3CondCall));

	call->client = client;
	call->method = "GET";
	call->bucket = pstrdup(bucket);
	call->key = pstrdup(key);
	cond_send(call);
	return call;
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

static char *
unquote(const char *etag)
{
	size_t		len = strlen(etag);

	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
		return pnstrdup(etag + 1, len - 2);
	return pstrdup(etag);
}

/* Statuses worth sending again: S3's retryable ones, and a conditional conflict. */
static bool
retryable(long status)
{
	return status == 500 || status == 502 || status == 503 || status == 504 ||
		status == 429 || status == 409;
}

S3CondAnswer *
s3_cond_finish(S3CondCall *call)
{
	S3CondAnswer *a = palloc0(sizeof(S3CondAnswer));

	for (;;)
	{
		HttpTransfer *x = call->xfer;
		bool		ok = http_wait_done(x);
		const HttpResponseInfo *info = http_info(x);
		long		status = ok ? info->status : 0;
		size_t		len = 0;
		const char *body = http_body(x, &len);

		a->status = status;
		a->error = ok ? NULL : pstrdup(http_error(x) ? http_error(x) : "no answer");
		a->code = status >= 400 ? error_code(body, len) : NULL;
		a->etag = info->etag[0] ? unquote(info->etag) : NULL;
		a->last_modified = s3_http_date(info->last_modified);
		a->date = s3_http_date(info->date);
		if (status == 200 && strcmp(call->method, "GET") == 0)
		{
			a->body = palloc(len + 1);
			memcpy(a->body, body, len);
			a->body[len] = '\0';
			a->body_len = len;
		}
		http_finish(x);
		call->xfer = NULL;
		a->attempts = call->attempts;
		if ((ok && !retryable(status)) || call->attempts > pipeline_s3_max_retries)
			break;
		/* back-off with full jitter, as s3.c does: 100 ms doubling, at most 5 s */
		{
			double		cap = Min(5000.0, 100.0 * (double) (1 << Min(call->attempts - 1, 10)));

			http_sleep((long) (cap / 2 + pg_prng_double(&pg_global_prng_state) * cap / 2));
		}
		cond_send(call);
	}
	pfree(call);
	return a;
}

S3CondAnswer *
s3_cond_put(S3Client *client, const char *bucket, const char *key,
			const char *body, size_t len, const char *content_type, const char *if_match)
{
	return s3_cond_finish(s3_cond_put_start(client, bucket, key, body, len, content_type,
											if_match));
}

S3CondAnswer *
s3_cond_get(S3Client *client, const char *bucket, const char *key)
{
	return s3_cond_finish(s3_cond_get_start(client, bucket, key));
}
