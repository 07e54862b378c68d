/*-------------------------------------------------------------------------
 *
 * aws.c
 *	  The AWS client: signed requests to any AWS service (S3, SQS).
 *
 * Every request is signed with Signature Version 4 (sigv4.c) and sent
 * through the latch-aware HTTP layer (http.c).  What the services make of
 * the answers, and their retries, are s3.c's and sqs.c's.
 *
 * IDENTIFICATION
 *	  src/s3/aws.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "s3/aws.h"
#include "s3/credentials.h"
#include "s3/sigv4.h"

/*
 * aws_client_create: a client with an HttpClient of its own, in "mcxt".
 */
AwsClient *
aws_client_create(const AwsConfig *cfg, MemoryContext mcxt)
{
	AwsClient  *c = aws_client_create_shared(cfg, http_client_create(mcxt), mcxt);

	c->own_http = true;
	return c;
}

/*
 * aws_client_create_shared: a client that sends its requests through an
 * existing HttpClient, so that requests of clients with different
 * credentials can be in flight together.
 */
AwsClient *
aws_client_create_shared(const AwsConfig *cfg, HttpClient *http, MemoryContext mcxt)
{
	AwsClient  *c = MemoryContextAllocZero(mcxt, sizeof(AwsClient));
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	c->cfg.endpoint = cfg->endpoint ? pstrdup(cfg->endpoint) : NULL;
	c->cfg.region = pstrdup(cfg->region ? cfg->region : "us-east-1");
	c->cfg.path_style = cfg->path_style;
	c->cfg.access_key_id = cfg->access_key_id ? pstrdup(cfg->access_key_id) : NULL;
	c->cfg.secret_access_key = cfg->secret_access_key ? pstrdup(cfg->secret_access_key) : NULL;
	c->cfg.session_token = cfg->session_token ? pstrdup(cfg->session_token) : NULL;
	c->cfg.source = aws_credential_source_copy(cfg->source, mcxt);
	c->cfg.renew_at = cfg->renew_at;
	c->mcxt = mcxt;
	c->http = http;
	MemoryContextSwitchTo(old);
	return c;
}

/* aws_client_destroy: free libcurl's side of a client's own HttpClient. */
void
aws_client_destroy(AwsClient *c)
{
	if (c->own_http)
		http_client_destroy(c->http);
	c->http = NULL;
}

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
 * start it (see aws.h).
 */
HttpTransfer *
aws_start(AwsClient *c, const char *service, const char *method,
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

	/* temporary keys about to expire are renewed first */
	if (c->cfg.source)
		aws_credentials_renew(&c->cfg, c->mcxt);
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
