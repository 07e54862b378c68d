/*-------------------------------------------------------------------------
 *
 * s3.c
 *	  S3 client: the requests, sent and retried, and S3's XML errors
 *	  turned into PostgreSQL errors.
 *
 * Every S3 request is an S3Call (s3_call.h), signed (aws.c) and sent
 * through the latch-aware HTTP layer (http.c), and retried with
 * exponential back-off and jitter when S3 asks for it (500, 503
 * SlowDown...) or the connection fails.  The operations are in
 * s3_list.c (listing), s3_get.c (HEAD, streamed GETs) and s3_put.c
 * (multipart uploads).
 *
 * IDENTIFICATION
 *	  src/s3/s3.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "s3/credentials.h"
#include "s3/s3_call.h"
#include "s3/s3_xml.h"
#include "s3/sigv4.h"
#include "util/backoff.h"
#include "util/settings.h"

/*
 * s3_call: a call of "method" on an object or a bucket, named in errors by
 * "what" and its URI.
 */
S3Call
s3_call(const char *method, const char *bucket, const char *key, const char *what)
{
	S3Call		call;

	memset(&call, 0, sizeof(call));
	call.method = method;
	call.bucket = bucket;
	call.key = key;
	call.what = what;
	call.uri = s3_make_uri(bucket, key ? key : "");
	return call;
}

/* ----------------------------------------------------------------
 *		URIs and endpoints
 * ----------------------------------------------------------------
 */

/*
 * s3_parse_uri: split "s3://bucket/key" into its parts.
 */
void
s3_parse_uri(const char *uri, char **bucket, char **key)
{
	const char *b;
	const char *slash;

	if (pg_strncasecmp(uri, "s3://", 5) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid S3 URI \"%s\"", uri),
				 errhint("An S3 URI looks like s3://bucket/key or s3://bucket/prefix/.")));
	b = uri + 5;
	slash = strchr(b, '/');
	if (slash == b || *b == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid S3 URI \"%s\"", uri),
				 errdetail("The bucket name is empty.")));
	if (slash == NULL)
	{
		*bucket = pstrdup(b);
		*key = pstrdup("");
	}
	else
	{
		*bucket = pnstrdup(b, slash - b);
		*key = pstrdup(slash + 1);
	}
	if (strpbrk(*bucket, " ?#\\") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid S3 URI \"%s\"", uri),
				 errdetail("The bucket name \"%s\" contains characters that bucket names cannot have.",
						   *bucket)));
}

char *
s3_make_uri(const char *bucket, const char *key)
{
	return psprintf("s3://%s/%s", bucket, key);
}

/*
 * The scheme, Host header and canonical path of an S3 request.
 */
static void
s3_locate(AwsClient *c, const S3Call *call, const char **scheme_out, char **host, StringInfo path)
{
	const char *scheme = "https";
	const char *hostport;
	char	   *ep = NULL;

	if (c->cfg.endpoint)
	{
		const char *p = strstr(c->cfg.endpoint, "://");

		ep = pstrdup(c->cfg.endpoint);
		if (p)
		{
			scheme = pnstrdup(c->cfg.endpoint, p - c->cfg.endpoint);
			hostport = ep + (p - c->cfg.endpoint) + 3;
		}
		else
			hostport = ep;
		/* the endpoint is validated to have no path; drop a trailing slash */
		if (hostport[0] && hostport[strlen(hostport) - 1] == '/')
			ep[strlen(ep) - 1] = '\0';
	}
	else
		hostport = psprintf("s3.%s.amazonaws.com", c->cfg.region);

	resetStringInfo(path);
	if (c->cfg.path_style)
	{
		*host = pstrdup(hostport);
		appendStringInfoChar(path, '/');
		sigv4_uri_encode(path, call->bucket, strlen(call->bucket), true);
		if (call->key)
		{
			appendStringInfoChar(path, '/');
			sigv4_uri_encode(path, call->key, strlen(call->key), false);
		}
	}
	else
	{
		*host = psprintf("%s.%s", call->bucket, hostport);
		appendStringInfoChar(path, '/');
		if (call->key)
			sigv4_uri_encode(path, call->key, strlen(call->key), false);
	}

	*scheme_out = scheme;
}

/* ----------------------------------------------------------------
 *		Sending, retrying
 * ----------------------------------------------------------------
 */

/* s3_send: sign and start one attempt of an S3 call. */
HttpTransfer *
s3_send(AwsClient *c, const S3Call *call)
{
	StringInfoData path;
	char	   *host;
	const char *scheme;
	List	   *headers = list_copy(call->headers);

	initStringInfo(&path);
	s3_locate(c, call, &scheme, &host, &path);
	if (call->content_type)
		headers = lappend(headers, psprintf("Content-Type: %s", call->content_type));
	else if (call->body != NULL)
		headers = lappend(headers, pstrdup("Content-Type: application/octet-stream"));
	return aws_start(c, "s3", call->method, scheme, host, path.data, call->query,
					 headers, call->body, call->body_len, call->stream_buffer);
}

/* Statuses S3 documents as worth retrying. */
bool
s3_status_retryable(long status)
{
	return status == 500 || status == 502 || status == 503 || status == 504 ||
		status == 429;
}

/*
 * s3_backoff: wait before retry number "attempt" (0-based): 100 ms
 * doubling, at most 5 s, with jitter, so that many clients told
 * "SlowDown" do not come back together.
 */
void
s3_backoff(int attempt)
{
	http_sleep(backoff_ms(attempt, 100, 5000, true));
}

/* An answer whose error code is ExpiredToken (the keys' time is up). */
static bool
s3_expired_token(HttpTransfer *x)
{
	static const char code[] = "<Code>ExpiredToken</Code>";
	size_t		len;
	const char *body = http_body(x, &len);

	return body != NULL && memmem(body, len, code, sizeof(code) - 1) != NULL;
}

/*
 * s3_await: wait for the answer of the attempt in flight in *xfer, and
 * retry while it is worth it (see s3_call.h).  Temporary keys S3 calls
 * expired are renewed and the call sent again, once.
 */
void
s3_await(AwsClient *c, const S3Call *call, HttpTransfer **xfer)
{
	int			attempt;
	bool		renewed = false;

	for (attempt = 0;; attempt++)
	{
		HttpTransfer *x = *xfer;
		bool		ok;
		long		status;

		if (call->stream_buffer > 0)
		{
			ok = http_wait_headers(x);
			status = http_info(x)->status;
			/* an error answer is small: collect it whole */
			if (ok && (status < 200 || status >= 300))
				ok = http_wait_done(x);
		}
		else
			ok = http_wait_done(x);
		status = http_info(x)->status;

		if (ok && !renewed && (status == 400 || status == 403) &&
			c->cfg.source != NULL && s3_expired_token(x) &&
			aws_credentials_refused(&c->cfg))
		{
			renewed = true;
			http_finish(x);
			*xfer = NULL;
			*xfer = s3_send(c, call);
			continue;
		}
		if (ok && !s3_status_retryable(status))
			return;
		if (attempt >= pipeline_s3_max_retries)
		{
			if (!ok)
			{
				*xfer = NULL;
				s3_raise(c, call, x);
			}
			return;
		}
		http_finish(x);
		*xfer = NULL;
		s3_backoff(attempt);
		*xfer = s3_send(c, call);
	}
}

/*
 * s3_request: send a call until it gets an answer that is not worth
 * retrying, and return that transfer (see s3_await).
 */
HttpTransfer *
s3_request(AwsClient *c, const S3Call *call)
{
	HttpTransfer *x = s3_send(c, call);

	s3_await(c, call, &x);
	return x;
}

/* s3_query_param: append "name=value" (value URI-encoded) to a query. */
void
s3_query_param(StringInfo q, const char *name, const char *value)
{
	if (q->len > 0)
		appendStringInfoChar(q, '&');
	appendStringInfo(q, "%s=", name);
	sigv4_uri_encode(q, value, strlen(value), true);
}

/* ----------------------------------------------------------------
 *		XML answers and errors
 * ----------------------------------------------------------------
 */

/*
 * s3_xml_text: a malloc'd string of s3_xml.c as a palloc'd one (NULL stays
 * NULL); the malloc'd one is freed whatever happens.  S3's XML answers are
 * read by s3_xml.c, backend-free on libxml2, so that the fuzzer
 * (test/fuzz/fuzz_s3_xml.c) runs the code the server runs.
 */
char *
s3_xml_text(char *s)
{
	char	   *volatile r = NULL;

	if (s == NULL)
		return NULL;
	PG_TRY();
	{
		r = pstrdup(s);
	}
	PG_FINALLY();
	{
		free(s);
	}
	PG_END_TRY();
	return r;
}

/*
 * s3_raise: report a failed call.  S3's answer is XML with a Code (the
 * stable part, in the primary message) and a Message (in the detail).
 * The transfer is finished first (the caller must not use it again): a
 * client may outlive the error, and a transfer left in it would be
 * waited on forever.
 */
void
s3_raise(AwsClient *c, const S3Call *call, HttpTransfer *x)
{
	const HttpResponseInfo *info = http_info(x);
	long		status = info->status;
	char	   *terr = http_error(x) ? pstrdup(http_error(x)) : NULL;
	char	   *code = NULL;
	char	   *message = NULL;
	char	   *xml_code = NULL;
	char	   *xml_message = NULL;
	size_t		len;
	const char *body;

	if (terr == NULL && status != 0)
	{
		body = http_body(x, &len);
		xml_code = s3xml_child_text(body, len, "Error", "Code");
		xml_message = s3xml_child_text(body, len, "Error", "Message");
	}
	http_finish(x);
	PG_TRY();
	{
		code = xml_code ? pstrdup(xml_code) : NULL;
		message = xml_message ? pstrdup(xml_message) : NULL;
	}
	PG_FINALLY();
	{
		free(xml_code);
		free(xml_message);
	}
	PG_END_TRY();

	if (terr != NULL || status == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not %s \"%s\"", call->what, call->uri),
				 errdetail_internal("%s", terr ? terr : "no answer"),
				 errhint("Check the server's endpoint and region, and that S3 is reachable.")));

	if (code == NULL)
		code = psprintf("HTTP %ld", status);

	ereport(ERROR,
			(errcode(status == 404 ? ERRCODE_FDW_TABLE_NOT_FOUND : ERRCODE_FDW_ERROR),
			 errmsg("could not %s \"%s\": %s", call->what, call->uri, code),
			 message ? errdetail_internal("S3 said: %s", message) : 0,
			 (strcmp(code, "AccessDenied") == 0 ||
			  strcmp(code, "InvalidAccessKeyId") == 0 ||
			  strcmp(code, "SignatureDoesNotMatch") == 0) ?
			 errhint("Check the access_key_id and secret_access_key of the user mapping.") :
			 strcmp(code, "NoSuchBucket") == 0 ?
			 errhint("Check the bucket name in the URI.") : 0));
}
