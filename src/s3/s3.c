/*-------------------------------------------------------------------------
 *
 * s3.c
 *	  S3 client: signed requests with retries, listing, streamed reads,
 *	  writes, and S3's XML errors turned into PostgreSQL errors.
 *
 * Every request is signed with Signature Version 4 (sigv4.c), sent through
 * the latch-aware HTTP layer (http.c), and retried with exponential
 * back-off and jitter when S3 asks for it (500, 503 SlowDown...) or the
 * connection fails.  A GET that breaks half-way is resumed from the byte
 * it stopped at, pinned to the object's ETag so that a concurrent
 * overwrite cannot splice two versions together.
 *
 * IDENTIFICATION
 *	  src/s3/s3.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "decode/iso8601.h"
#include "s3/s3.h"
#include "s3/sigv4.h"

int			pipeline_s3_max_retries = 5;
S3Requests	s3_requests;

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

struct S3Get
{
	S3Client   *client;
	MemoryContext cxt;			/* where it lives: it outlives the caller's
								 * per-row contexts */
	S3Call		call;
	HttpTransfer *xfer;
	S3Object	obj;
	int64		start;			/* first byte asked for */
	int64		end;			/* byte after the last asked for; -1: the
								 * object's end */
	int64		expect;			/* body bytes the answer announced, -1 if
								 * it did not say */
	bool		ranged;			/* a Range request pinned to obj.etag */
	uint64		delivered;		/* bytes handed to the caller */
	uint64		received;		/* bytes received, resumed attempts included */
	int			resumes;
};

/* One ListObjectsV2 request in flight (s3_list_start). */
struct S3ListCall
{
	S3Client   *client;
	MemoryContext cxt;
	S3Call		call;
	HttpTransfer *xfer;
	const char *bucket;
};

static void s3_raise(S3Client *c, const S3Call *call, HttpTransfer *x) pg_attribute_noreturn();

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
s3_locate(S3Client *c, const S3Call *call, const char **scheme_out, char **host, StringInfo path)
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
 *		Sending, signing, retrying
 * ----------------------------------------------------------------
 */

/*
 * PostgreSQL 15's OpenSSL-backed HMAC and SHA-256 register with the current
 * resource owner.  Outside a transaction (the worker between two units of
 * work) there is none: hash and sign under one of our own.
 */
static ResourceOwner
signing_owner(void)
{
	static ResourceOwner owner = NULL;

	if (owner == NULL)
		owner = ResourceOwnerCreate(NULL, "pipeline signing");
	return owner;
}

/*
 * aws_start: sign a request to an AWS service (Signature Version 4) and
 * start it.  "headers" are extra "Name: value" strings, all signed; the
 * body, if any, is hashed into x-amz-content-sha256.
 */
HttpTransfer *
aws_start(S3Client *c, const char *service, const char *method,
		  const char *scheme, const char *host, const char *path, const char *query,
		  List *extra_headers, const char *body, size_t body_len, size_t stream_buffer)
{
	StringInfoData url;
	char		payload_hash[SIGV4_HEX_LEN + 1];
	char		amz_date[SIGV4_DATE_LEN + 1];
	List	   *headers = NIL;
	ListCell   *lc;
	HttpRequest req;
	ResourceOwner save_owner = CurrentResourceOwner;

	initStringInfo(&url);
	appendStringInfo(&url, "%s://%s%s", scheme, host, path);
	if (CurrentResourceOwner == NULL)
		CurrentResourceOwner = signing_owner();
	if (query && query[0])
		appendStringInfo(&url, "?%s", query);

	if (body != NULL)
	{
		if (!sigv4_sha256_hex(body, body_len, payload_hash))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not compute the SHA-256 of a request body")));
	}
	else
		strlcpy(payload_hash, SIGV4_EMPTY_PAYLOAD_HASH, sizeof(payload_hash));
	sigv4_amz_date(time(NULL), amz_date);

	headers = lappend(headers, psprintf("Host: %s", host));
	headers = lappend(headers, psprintf("x-amz-date: %s", amz_date));
	if (strcmp(service, "s3") == 0)
		headers = lappend(headers, psprintf("x-amz-content-sha256: %s", payload_hash));
	if (c->cfg.session_token)
		headers = lappend(headers, psprintf("x-amz-security-token: %s", c->cfg.session_token));
	headers = list_concat(headers, extra_headers);

	if (c->cfg.access_key_id)
	{
		SigV4Request sr;
		SigV4Signature sig;
		SigV4Header *sh = palloc(sizeof(SigV4Header) * list_length(headers));
		int			n = 0;

		foreach(lc, headers)
		{
			char	   *h = pstrdup((char *) lfirst(lc));
			char	   *colon = strchr(h, ':');

			*colon = '\0';
			if (pg_strcasecmp(h, "host") == 0)
				continue;		/* the signer adds host itself */
			sh[n].name = h;
			sh[n].value = colon + 1;
			n++;
		}
		memset(&sr, 0, sizeof(sr));
		sr.method = method;
		sr.host = host;
		sr.path = path;
		sr.query = query;
		sr.headers = sh;
		sr.nheaders = n;
		sr.payload_hash = payload_hash;
		sr.amz_date = amz_date;
		sr.region = c->cfg.region;
		sr.service = service;
		sr.access_key_id = c->cfg.access_key_id;
		sr.secret_access_key = c->cfg.secret_access_key;
		if (!sigv4_sign(&sr, &sig))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not sign a request to %s", service),
					 errdetail_internal("%s", sig.error ? sig.error : "unknown error")));
		headers = lappend(headers, psprintf("Authorization: %s", sig.authorization));
	}
	CurrentResourceOwner = save_owner;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url.data;
	/*
	 * The signature covers the path as given: libcurl must not remove dot
	 * segments from it ("a/./b" and "a/../b" are S3 keys like any other).
	 */
	req.path_as_is = true;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	req.stream_buffer = stream_buffer;
	return http_start(c->http, &req);
}

/* Count one attempt of an S3 call, in the tier S3 bills it in (DELETE is free). */
static void
s3_count_request(S3Client *c, const S3Call *call)
{
	if (strcmp(call->method, "GET") == 0 && call->key == NULL && call->query &&
		strstr(call->query, "list-type=") != NULL)
	{
		c->requests.list++;
		s3_requests.list++;
	}
	else if (strcmp(call->method, "PUT") == 0 || strcmp(call->method, "POST") == 0)
	{
		c->requests.put++;
		s3_requests.put++;
	}
	else if (strcmp(call->method, "DELETE") != 0)
	{
		c->requests.get++;
		s3_requests.get++;
	}
}

/* Sign and start one attempt of an S3 call. */
static HttpTransfer *
s3_send(S3Client *c, const S3Call *call)
{
	StringInfoData path;
	char	   *host;
	const char *scheme;
	List	   *headers = list_copy(call->headers);

	s3_count_request(c, call);
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
static bool
s3_status_retryable(long status)
{
	return status == 500 || status == 502 || status == 503 || status == 504 ||
		status == 429;
}

/*
 * Back-off before retry number "attempt" (0-based): exponential with full
 * jitter, so that many clients told "SlowDown" do not come back together.
 */
static void
s3_backoff(S3Client *c, int attempt)
{
	double		cap = Min(5000.0, 100.0 * (double) (1 << Min(attempt, 10)));
	long		ms = (long) (cap / 2 + pg_prng_double(&pg_global_prng_state) * cap / 2);

	http_sleep(ms);
}

/*
 * s3_request: send a call until it gets an answer that is not worth
 * retrying, and return that transfer (headers in; for non-streaming
 * calls, the whole body).  Transport errors that outlast the retries are
 * raised here; HTTP errors are left to the caller, which knows which are
 * fine (404 with missing_ok, say).
 */
static HttpTransfer *
s3_request(S3Client *c, const S3Call *call)
{
	int			attempt;

	for (attempt = 0;; attempt++)
	{
		HttpTransfer *x = s3_send(c, call);
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

		if (ok && !s3_status_retryable(status))
			return x;
		if (attempt >= pipeline_s3_max_retries)
		{
			if (!ok)
				s3_raise(c, call, x);
			return x;
		}
		http_finish(x);
		s3_backoff(c, attempt);
	}
}

/* ----------------------------------------------------------------
 *		XML answers
 * ----------------------------------------------------------------
 */

static xmlDocPtr
xml_parse(const char *buf, size_t len)
{
	if (len == 0 || len > INT_MAX)
		return NULL;
	return xmlReadMemory(buf, (int) len, NULL, NULL,
						 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr
xml_child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr	n;

	if (parent == NULL)
		return NULL;
	for (n = parent->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0)
			return n;
	return NULL;
}

/* Text of a child element, palloc'd; NULL if absent. */
static char *
xml_child_text(xmlNodePtr parent, const char *name)
{
	xmlNodePtr	n = xml_child(parent, name);
	xmlChar    *s;
	char	   *r;

	if (n == NULL)
		return NULL;
	s = xmlNodeGetContent(n);
	r = pstrdup(s ? (const char *) s : "");
	if (s)
		xmlFree(s);
	return r;
}

/* Strip the quotes S3 puts around ETags. */
static char *
unquote_etag(const char *etag)
{
	size_t		len = strlen(etag);

	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
		return pnstrdup(etag + 1, len - 2);
	return pstrdup(etag);
}

static TimestampTz
parse_iso_timestamp(const char *s)
{
	Iso8601		t;

	if (s == NULL || !iso8601_parse(s, strlen(s), &t))
		return 0;
	return (TimestampTz) iso8601_epoch_usecs(&t) -
		(TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

static TimestampTz
parse_http_date(const char *s)
{
	time_t		t;

	if (s == NULL || s[0] == '\0')
		return 0;
	t = curl_getdate(s, NULL);
	return t < 0 ? 0 : time_t_to_timestamptz((pg_time_t) t);
}

/*
 * s3_raise: report a failed call.  S3's answer is XML with a Code (the
 * stable part, in the primary message) and a Message (in the detail).
 * The transfer is finished first (the caller must not use it again): a
 * client may outlive the error, and a transfer left in it would be
 * waited on forever.
 */
static void
s3_raise(S3Client *c, const S3Call *call, HttpTransfer *x)
{
	const HttpResponseInfo *info = http_info(x);
	long		status = info->status;
	char	   *terr = http_error(x) ? pstrdup(http_error(x)) : NULL;
	char	   *code = NULL;
	char	   *message = NULL;
	size_t		len;
	const char *body;
	xmlDocPtr	doc = NULL;

	if (terr == NULL && status != 0)
	{
		body = http_body(x, &len);
		doc = xml_parse(body, len);
	}
	http_finish(x);

	if (terr != NULL || status == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not %s \"%s\"", call->what, call->uri),
				 errdetail_internal("%s", terr ? terr : "no answer"),
				 errhint("Check the server's endpoint and region, and that S3 is reachable.")));

	if (doc != NULL)
	{
		PG_TRY();
		{
			xmlNodePtr	root = xmlDocGetRootElement(doc);

			if (root && strcmp((const char *) root->name, "Error") == 0)
			{
				code = xml_child_text(root, "Code");
				message = xml_child_text(root, "Message");
			}
		}
		PG_FINALLY();
		{
			xmlFreeDoc(doc);
		}
		PG_END_TRY();
	}
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

/* ----------------------------------------------------------------
 *		Operations
 * ----------------------------------------------------------------
 */

S3Client *
s3_client_create(const S3Config *cfg, MemoryContext mcxt)
{
	return s3_client_create_shared(cfg, NULL, mcxt);
}

/*
 * s3_client_create_shared: a client that sends its requests through an
 * existing HttpClient (NULL: its own), so that requests of clients with
 * different credentials can be in flight together.
 */
S3Client *
s3_client_create_shared(const S3Config *cfg, HttpClient *http, MemoryContext mcxt)
{
	S3Client   *c = MemoryContextAllocZero(mcxt, sizeof(S3Client));
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	c->cfg.endpoint = cfg->endpoint ? pstrdup(cfg->endpoint) : NULL;
	c->cfg.region = pstrdup(cfg->region ? cfg->region : "us-east-1");
	c->cfg.path_style = cfg->path_style;
	c->cfg.access_key_id = cfg->access_key_id ? pstrdup(cfg->access_key_id) : NULL;
	c->cfg.secret_access_key = cfg->secret_access_key ? pstrdup(cfg->secret_access_key) : NULL;
	c->cfg.session_token = cfg->session_token ? pstrdup(cfg->session_token) : NULL;
	c->mcxt = mcxt;
	c->http = http ? http : http_client_create(mcxt);
	MemoryContextSwitchTo(old);
	return c;
}

/* Append "name=value" (value URI-encoded) to a query being built. */
static void
query_param(StringInfo q, const char *name, const char *value)
{
	if (q->len > 0)
		appendStringInfoChar(q, '&');
	appendStringInfo(q, "%s=", name);
	sigv4_uri_encode(q, value, strlen(value), true);
}

/*
 * s3_list_start: send one ListObjectsV2 request (a page of at most
 * "max_keys" keys, 0: S3's default of 1000) for the keys under "prefix"
 * after continuation "token" (NULL: from the start), grouped by
 * "delimiter" if not NULL.  The request proceeds while the caller waits
 * on other transfers of the client; s3_list_finish collects the page.
 * Everything lives in the current memory context.
 */
S3ListCall *
s3_list_start(S3Client *c, const char *bucket, const char *prefix, const char *delimiter,
			  const char *token, int max_keys)
{
	return s3_list_start_after(c, bucket, prefix, delimiter, token, NULL, max_keys);
}

/*
 * s3_list_start_after: s3_list_start, also with ListObjectsV2's
 * "start-after" (NULL: none): keys after that one only, so a listing can
 * resume from a key it recorded, without a continuation token.
 */
S3ListCall *
s3_list_start_after(S3Client *c, const char *bucket, const char *prefix, const char *delimiter,
					const char *token, const char *start_after, int max_keys)
{
	S3ListCall *lc = palloc0(sizeof(S3ListCall));
	StringInfoData q;

	lc->client = c;
	lc->cxt = CurrentMemoryContext;
	lc->bucket = pstrdup(bucket);
	lc->call.method = "GET";
	lc->call.bucket = lc->bucket;
	lc->call.what = "list objects in";
	lc->call.uri = s3_make_uri(bucket, prefix);

	/* parameters in canonical (sorted) order */
	initStringInfo(&q);
	if (token)
		query_param(&q, "continuation-token", token);
	if (delimiter)
		query_param(&q, "delimiter", delimiter);
	query_param(&q, "list-type", "2");
	if (max_keys > 0 && max_keys < 1000)
		query_param(&q, "max-keys", psprintf("%d", max_keys));
	if (prefix[0])
		query_param(&q, "prefix", prefix);
	if (start_after && start_after[0])
		query_param(&q, "start-after", start_after);
	lc->call.query = q.data;
	lc->xfer = s3_send(c, &lc->call);
	return lc;
}

/* Parse one ListObjectsV2 answer into "page". */
static void
list_parse(S3ListCall *lc, S3ListPage *page)
{
	const char *body;
	size_t		len;
	xmlDocPtr	doc;
	xmlNodePtr	root;
	xmlNodePtr	n;
	bool		truncated = false;

	body = http_body(lc->xfer, &len);
	doc = xml_parse(body, len);
	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not list objects in \"%s\": the answer is not XML",
						lc->call.uri)));
	PG_TRY();
	{
		root = xmlDocGetRootElement(doc);
		for (n = root ? root->children : NULL; n; n = n->next)
		{
			if (n->type != XML_ELEMENT_NODE)
				continue;
			if (strcmp((const char *) n->name, "Contents") == 0)
			{
				S3Object   *o;
				char	   *size;
				char	   *etag;

				o = palloc0(sizeof(S3Object));
				o->bucket = (char *) lc->bucket;
				o->key = xml_child_text(n, "Key");
				if (o->key == NULL)
					continue;
				size = xml_child_text(n, "Size");
				o->size = size ? strtoll(size, NULL, 10) : -1;
				etag = xml_child_text(n, "ETag");
				o->etag = etag ? unquote_etag(etag) : NULL;
				o->last_modified = parse_iso_timestamp(xml_child_text(n, "LastModified"));
				/* a "folder" placeholder object holds no records */
				if (o->size == 0 && o->key[0] && o->key[strlen(o->key) - 1] == '/')
					continue;
				page->objects = lappend(page->objects, o);
			}
			else if (strcmp((const char *) n->name, "CommonPrefixes") == 0)
			{
				char	   *prefix = xml_child_text(n, "Prefix");

				if (prefix != NULL)
					page->prefixes = lappend(page->prefixes, prefix);
			}
			else if (strcmp((const char *) n->name, "IsTruncated") == 0)
			{
				xmlChar    *t = xmlNodeGetContent(n);

				truncated = t && strcmp((const char *) t, "true") == 0;
				if (t)
					xmlFree(t);
			}
		}
		page->next_token = truncated ? xml_child_text(root, "NextContinuationToken") : NULL;
		if (page->next_token && page->next_token[0] == '\0')
			page->next_token = NULL;
	}
	PG_FINALLY();
	{
		xmlFreeDoc(doc);
	}
	PG_END_TRY();
}

/*
 * s3_list_finish: wait for the page of s3_list_start (retrying as S3
 * asks), and return it.  Errors are raised.
 */
S3ListPage *
s3_list_finish(S3ListCall *lc)
{
	S3Client   *c = lc->client;
	MemoryContext old = MemoryContextSwitchTo(lc->cxt);
	S3ListPage *page = palloc0(sizeof(S3ListPage));
	int			attempt;

	for (attempt = 0;; attempt++)
	{
		HttpTransfer *x = lc->xfer;
		bool		ok = http_wait_done(x);
		long		status = http_info(x)->status;

		if (ok && !s3_status_retryable(status))
			break;
		if (attempt >= pipeline_s3_max_retries)
		{
			if (!ok)
			{
				lc->xfer = NULL;
				s3_raise(c, &lc->call, x);
			}
			break;
		}
		http_finish(x);
		lc->xfer = NULL;
		s3_backoff(c, attempt);
		lc->xfer = s3_send(c, &lc->call);
	}
	if (http_info(lc->xfer)->status != 200)
	{
		HttpTransfer *x = lc->xfer;

		lc->xfer = NULL;
		s3_raise(c, &lc->call, x);
	}
	PG_TRY();
	{
		list_parse(lc, page);
	}
	PG_FINALLY();
	{
		http_finish(lc->xfer);
		lc->xfer = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return page;
}

/* Abandon a listing request that is still in flight. */
void
s3_list_cancel(S3ListCall *lc)
{
	if (lc->xfer)
		http_finish(lc->xfer);
	lc->xfer = NULL;
}

/* s3_list_page: one page of a listing, waited for. */
S3ListPage *
s3_list_page(S3Client *c, const char *bucket, const char *prefix, const char *delimiter,
			 const char *token, int max_keys)
{
	return s3_list_finish(s3_list_start(c, bucket, prefix, delimiter, token, max_keys));
}

/* Fill an S3Object from the headers of a HEAD or GET answer. */
static void
object_from_headers(S3Object *o, const HttpResponseInfo *info)
{
	o->etag = info->etag[0] ? unquote_etag(info->etag) : NULL;
	o->last_modified = parse_http_date(info->last_modified);
	o->size = info->content_length;
}

S3Object *
s3_head_object(S3Client *c, const char *bucket, const char *key, bool missing_ok)
{
	S3Call		call;
	HttpTransfer *x;
	S3Object   *o;

	memset(&call, 0, sizeof(call));
	call.method = "HEAD";
	call.bucket = bucket;
	call.key = key;
	call.what = "find object";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	/* HEAD answers have no body to say why: a GET will tell */
	if ((http_info(x)->status == 404 && missing_ok) ||
		(http_info(x)->status >= 400 && missing_ok))
	{
		http_finish(x);
		return NULL;
	}
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	o = palloc0(sizeof(S3Object));
	o->bucket = pstrdup(bucket);
	o->key = pstrdup(key);
	object_from_headers(o, http_info(x));
	http_finish(x);
	return o;
}

/* The Range header of a GET of bytes [from, g->end). */
static char *
range_header(const S3Get *g, int64 from)
{
	if (g->end < 0)
		return psprintf("Range: bytes=" INT64_FORMAT "-", from);
	return psprintf("Range: bytes=" INT64_FORMAT "-" INT64_FORMAT, from, g->end - 1);
}

/*
 * s3_get_start_range: a streamed GET of bytes [start, end) of object "o"
 * (end -1: to its end), pinned to o->etag when it is known: all the
 * pieces of one object read by several requests are of one version.
 * With start 0 and end -1, a plain GET of the whole object, which takes
 * whatever version S3 has (o->etag is then only used to resume).
 * Everything of the GET lives in the current memory context: delete it
 * (after s3_get_close) when the object is done.
 */
S3Get *
s3_get_start_range(S3Client *c, const S3Object *o, int64 start, int64 end, size_t buffer_size)
{
	S3Get	   *g = palloc0(sizeof(S3Get));

	g->client = c;
	g->cxt = CurrentMemoryContext;
	g->call.method = "GET";
	g->call.bucket = pstrdup(o->bucket);
	g->call.key = pstrdup(o->key);
	g->call.what = "read object";
	g->call.uri = s3_make_uri(o->bucket, o->key);
	g->call.stream_buffer = Max(buffer_size, 64 * 1024);
	g->obj.bucket = (char *) g->call.bucket;
	g->obj.key = (char *) g->call.key;
	g->obj.size = o->size;
	g->obj.etag = o->etag ? pstrdup(o->etag) : NULL;
	g->obj.last_modified = o->last_modified;
	g->start = start;
	g->end = end;
	g->expect = -1;
	g->ranged = start > 0 || end >= 0;
	if (g->ranged)
	{
		g->call.headers = list_make1(range_header(g, start));
		if (g->obj.etag)
			g->call.headers = lappend(g->call.headers,
									  psprintf("If-Match: \"%s\"", g->obj.etag));
	}
	g->xfer = s3_send(c, &g->call);
	return g;
}

S3Get *
s3_get_start(S3Client *c, const char *bucket, const char *key, size_t buffer_size)
{
	S3Object	o;

	memset(&o, 0, sizeof(o));
	o.bucket = (char *) bucket;
	o.key = (char *) key;
	o.size = -1;
	return s3_get_start_range(c, &o, 0, -1, buffer_size);
}

/* 412 on a pinned request: the object is not the version we started with. */
static void
s3_get_changed(S3Get *g)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("object \"%s\" changed while it was being read", g->call.uri),
			 errhint("Run the query again.")));
}

/*
 * s3_get_open: wait for the answer to the GET, retrying as needed.
 */
bool
s3_get_open(S3Get *g, bool missing_ok)
{
	S3Client   *c = g->client;
	int			attempt;
	long		status;
	MemoryContext old = MemoryContextSwitchTo(g->cxt);

	for (attempt = 0;; attempt++)
	{
		HttpTransfer *x = g->xfer;
		bool		ok = http_wait_headers(x);

		status = http_info(x)->status;
		if (ok && (status < 200 || status >= 300))
			ok = http_wait_done(x);
		if (ok && !s3_status_retryable(status))
			break;
		if (attempt >= pipeline_s3_max_retries)
		{
			if (!ok)
			{
				g->xfer = NULL;
				s3_raise(c, &g->call, x);
			}
			break;
		}
		http_finish(x);
		g->xfer = NULL;
		s3_backoff(c, attempt);
		g->xfer = s3_send(c, &g->call);
	}

	status = http_info(g->xfer)->status;
	if (status == 404 && missing_ok)
	{
		http_finish(g->xfer);
		g->xfer = NULL;
		MemoryContextSwitchTo(old);
		return false;
	}
	if (status == 412 && g->ranged)
		s3_get_changed(g);
	if (status != (g->ranged ? 206 : 200))
	{
		HttpTransfer *x = g->xfer;

		g->xfer = NULL;
		s3_raise(c, &g->call, x);
	}
	g->expect = http_info(g->xfer)->content_length;
	if (!g->ranged)
		object_from_headers(&g->obj, http_info(g->xfer));
	else if (g->obj.etag == NULL && http_info(g->xfer)->etag[0])
		g->obj.etag = unquote_etag(http_info(g->xfer)->etag);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Re-send a GET from byte "delivered" on, pinned to the ETag we started
 * with.  Called after the connection broke mid-body.
 */
static void
s3_get_resume(S3Get *g, const char *why)
{
	S3Client   *c = g->client;
	HttpTransfer *x;
	long		status;

	if (g->resumes >= pipeline_s3_max_retries)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not read object \"%s\"", g->call.uri),
				 errdetail_internal("The transfer broke off after %llu bytes, %d times: %s",
									(unsigned long long) g->delivered, g->resumes + 1, why)));
	g->received += http_bytes_received(g->xfer);
	http_finish(g->xfer);
	g->xfer = NULL;
	s3_backoff(c, g->resumes++);

	g->call.headers = list_make1(range_header(g, g->start + (int64) g->delivered));
	if (g->obj.etag)
		g->call.headers = lappend(g->call.headers,
								  psprintf("If-Match: \"%s\"", g->obj.etag));
	g->xfer = x = s3_send(c, &g->call);
	if (!http_wait_headers(x))
	{
		s3_get_resume(g, http_error(x) ? http_error(x) : "no answer");
		return;
	}
	status = http_info(x)->status;
	if (status == 412)
		s3_get_changed(g);
	if (s3_status_retryable(status))
	{
		http_wait_done(x);
		s3_get_resume(g, psprintf("HTTP %ld", status));
		return;
	}
	if (status != 206)
	{
		http_wait_done(x);
		g->xfer = NULL;
		s3_raise(c, &g->call, x);
	}
}

/* Bytes the GET is to deliver in all, -1 if unknown. */
static int64
get_total(const S3Get *g)
{
	if (g->ranged)
	{
		int64		end = g->end;

		if (g->obj.size >= 0 && (end < 0 || end > g->obj.size))
			end = g->obj.size;
		return end < 0 ? -1 : end - g->start;
	}
	return g->obj.size >= 0 ? g->obj.size : g->expect;
}

size_t
s3_get_read(S3Get *g, char *dst, size_t len)
{
	for (;;)
	{
		ssize_t		n;
		int64		total = get_total(g);

		if (g->xfer == NULL)
			return 0;
		n = http_read(g->xfer, dst, len);
		if (n > 0)
		{
			g->delivered += n;
			return (size_t) n;
		}
		if (n == 0 && (total < 0 || g->delivered >= (uint64) total))
			return 0;
		{
			MemoryContext old = MemoryContextSwitchTo(g->cxt);

			s3_get_resume(g, n < 0 ? http_error(g->xfer) : "the body ended early");
			MemoryContextSwitchTo(old);
		}
	}
}

/*
 * s3_get_extend: a ranged GET that reached its end goes on to byte
 * "end" (exclusive; -1: the object's end), pinned to the same version.
 * Returns false if there is nothing more to read.
 */
bool
s3_get_extend(S3Get *g, int64 end)
{
	MemoryContext old;
	int64		from = g->start + (int64) g->delivered;

	if (!g->ranged || (g->obj.size >= 0 && from >= g->obj.size) ||
		(end >= 0 && end <= from))
		return false;
	old = MemoryContextSwitchTo(g->cxt);
	if (g->xfer)
	{
		g->received += http_bytes_received(g->xfer);
		http_finish(g->xfer);
		g->xfer = NULL;
	}
	g->end = end;
	g->call.headers = list_make1(range_header(g, from));
	if (g->obj.etag)
		g->call.headers = lappend(g->call.headers,
								  psprintf("If-Match: \"%s\"", g->obj.etag));
	g->xfer = s3_send(g->client, &g->call);
	if (!s3_get_open(g, false))
		elog(ERROR, "ranged GET found no object");
	MemoryContextSwitchTo(old);
	return true;
}

const S3Object *
s3_get_object(const S3Get *g)
{
	return &g->obj;
}

uint64
s3_get_delivered(const S3Get *g)
{
	return g->delivered;
}

uint64
s3_get_bytes(const S3Get *g)
{
	return g->received + (g->xfer ? http_bytes_received(g->xfer) : 0);
}

void
s3_get_close(S3Get *g)
{
	if (g->xfer)
		http_finish(g->xfer);
	g->xfer = NULL;
}

char *
s3_put_object(S3Client *c, const char *bucket, const char *key,
			  const char *data, size_t len, const char *content_type)
{
	S3Call		call;
	HttpTransfer *x;
	char	   *etag;

	memset(&call, 0, sizeof(call));
	call.method = "PUT";
	call.bucket = bucket;
	call.key = key;
	call.body = data ? data : "";
	call.body_len = len;
	call.content_type = content_type;
	call.what = "write object";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	etag = http_info(x)->etag[0] ? unquote_etag(http_info(x)->etag) : pstrdup("");
	http_finish(x);
	return etag;
}

void
s3_delete_object(S3Client *c, const char *bucket, const char *key)
{
	S3Call		call;
	HttpTransfer *x;

	memset(&call, 0, sizeof(call));
	call.method = "DELETE";
	call.bucket = bucket;
	call.key = key;
	call.what = "delete object";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	if (http_info(x)->status != 204 && http_info(x)->status != 200)
		s3_raise(c, &call, x);
	http_finish(x);
}

/* Parse an XML answer and return the text of one child of its root. */
static char *
xml_answer_field(S3Client *c, const S3Call *call, HttpTransfer *x,
				 const char *root_name, const char *field)
{
	const char *body;
	size_t		len;
	xmlDocPtr	doc;
	char	   *result = NULL;

	body = http_body(x, &len);
	doc = xml_parse(body, len);
	if (doc)
	{
		xmlNodePtr	root = xmlDocGetRootElement(doc);

		PG_TRY();
		{
			if (root && strcmp((const char *) root->name, root_name) == 0)
				result = xml_child_text(root, field);
		}
		PG_FINALLY();
		{
			xmlFreeDoc(doc);
		}
		PG_END_TRY();
	}
	/* S3 may answer 200 with an <Error> body (CompleteMultipartUpload) */
	if (result == NULL)
		s3_raise(c, call, x);
	return result;
}

char *
s3_multipart_create(S3Client *c, const char *bucket, const char *key,
					const char *content_type)
{
	S3Call		call;
	HttpTransfer *x;
	char	   *id;

	memset(&call, 0, sizeof(call));
	call.method = "POST";
	call.bucket = bucket;
	call.key = key;
	call.query = "uploads=";
	call.body = "";
	call.body_len = 0;
	call.content_type = content_type;
	call.what = "start a multipart upload to";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	id = xml_answer_field(c, &call, x, "InitiateMultipartUploadResult", "UploadId");
	http_finish(x);
	return id;
}

char *
s3_multipart_upload_part(S3Client *c, const char *bucket, const char *key,
						 const char *upload_id, int part_number,
						 const char *data, size_t len)
{
	S3Call		call;
	HttpTransfer *x;
	StringInfoData q;
	char	   *etag;

	initStringInfo(&q);
	query_param(&q, "partNumber", psprintf("%d", part_number));
	query_param(&q, "uploadId", upload_id);
	memset(&call, 0, sizeof(call));
	call.method = "PUT";
	call.bucket = bucket;
	call.key = key;
	call.query = q.data;
	call.body = data;
	call.body_len = len;
	call.content_type = "application/octet-stream";
	call.what = "upload a part of";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	if (http_info(x)->status != 200 || http_info(x)->etag[0] == '\0')
		s3_raise(c, &call, x);
	etag = unquote_etag(http_info(x)->etag);
	http_finish(x);
	return etag;
}

char *
s3_multipart_complete(S3Client *c, const char *bucket, const char *key,
					  const char *upload_id, List *etags, bool missing_ok)
{
	S3Call		call;
	HttpTransfer *x;
	StringInfoData q;
	StringInfoData body;
	ListCell   *lc;
	char	   *etag;

	initStringInfo(&q);
	query_param(&q, "uploadId", upload_id);
	initStringInfo(&body);
	appendStringInfoString(&body, "<CompleteMultipartUpload>");
	foreach(lc, etags)
		appendStringInfo(&body, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
						 foreach_current_index(lc) + 1, (char *) lfirst(lc));
	appendStringInfoString(&body, "</CompleteMultipartUpload>");

	memset(&call, 0, sizeof(call));
	call.method = "POST";
	call.bucket = bucket;
	call.key = key;
	call.query = q.data;
	call.body = body.data;
	call.body_len = body.len;
	call.content_type = "application/xml";
	call.what = "complete the multipart upload of";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	if (http_info(x)->status == 404 && missing_ok)
	{
		http_finish(x);
		return NULL;
	}
	if (http_info(x)->status != 200)
		s3_raise(c, &call, x);
	etag = xml_answer_field(c, &call, x, "CompleteMultipartUploadResult", "ETag");
	http_finish(x);
	return unquote_etag(etag);
}

void
s3_multipart_abort(S3Client *c, const char *bucket, const char *key,
				   const char *upload_id)
{
	S3Call		call;
	HttpTransfer *x;
	StringInfoData q;

	initStringInfo(&q);
	query_param(&q, "uploadId", upload_id);
	memset(&call, 0, sizeof(call));
	call.method = "DELETE";
	call.bucket = bucket;
	call.key = key;
	call.query = q.data;
	call.what = "abort the multipart upload of";
	call.uri = s3_make_uri(bucket, key);
	x = s3_request(c, &call);
	if (http_info(x)->status != 204 && http_info(x)->status != 200 &&
		http_info(x)->status != 404)
		s3_raise(c, &call, x);
	http_finish(x);
}
