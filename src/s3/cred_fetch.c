/*-------------------------------------------------------------------------
 *
 * cred_fetch.c
 *	  Temporary credentials fetched from where AWS gives them to a server:
 *	  the EC2 instance metadata service (IMDSv2), the ECS/EKS container
 *	  credentials endpoint, and STS (AssumeRoleWithWebIdentity for IRSA,
 *	  AssumeRole signed with a base identity).
 *
 * Every request goes through the latch-driven client (http.c), so query
 * cancel, statement_timeout and SIGTERM interrupt it at once, and each
 * attempt is bounded by a deadline (pipeline.metadata_timeout for the
 * metadata and container endpoints, pipeline.sts_timeout for STS): a peer
 * that accepts the connection and never answers costs at most the
 * attempts times that.  Transport errors, 5xx and 429 are retried.
 *
 * Each fetch has an HTTP client of its own, in a memory context deleted
 * when it ends, errors included.  Secrets never reach a message: errors
 * name the source, AWS's error code and the first line of its message
 * (cred_clean_message), never a key, token or request body.
 *
 * IDENTIFICATION
 *	  src/s3/cred_fetch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "s3/cred_answer.h"
#include "s3/cred_profile.h"
#include "s3/cred_source.h"
#include "s3/http.h"
#include "s3/aws.h"
#include "s3/sigv4.h"
#include "s3/url.h"
#include "util/settings.h"

/* Attempts at one request: metadata endpoints (as the SDKs), STS. */
#define METADATA_ATTEMPTS	2
#define STS_ATTEMPTS		3
/* Fetches of a source that answers with keys that had already expired. */
#define EXPIRED_ATTEMPTS	2

/* IMDSv2 session token lifetime asked for (the SDKs' 6 hours). */
#define IMDS_TOKEN_TTL		"21600"

/* Largest token file read (a JWT is a few kilobytes). */
#define MAX_TOKEN_FILE		(64 * 1024)

#define STS_VERSION			"2011-06-15"

/* One request, and what came back. */
typedef struct CredCall
{
	const char *what;			/* "the EC2 instance metadata service at ..." */
	const char *method;
	const char *url;			/* unsigned requests */
	List	   *headers;
	const char *body;
	int			timeout_ms;
	int			attempts;
	/* signed requests: a client with the base keys, and the URL's parts */
	AwsClient   *signer;
	const char *scheme;
	const char *authority;
	const char *path;

	/* the answer */
	long		status;			/* 0: none (transport error) */
	char	   *answer;			/* NUL-terminated copy of the body */
	size_t		answer_len;
	char	   *transport_error;
} CredCall;

const char *
cred_source_describe(const CredSource *src)
{
	switch (src->kind)
	{
		case CRED_SOURCE_STATIC:
			return "static keys";
		case CRED_SOURCE_IMDS:
			return psprintf("the EC2 instance metadata service at %s", src->imds_endpoint);
		case CRED_SOURCE_CONTAINER:
			return psprintf("the container credentials endpoint %s", src->container_url);
		case CRED_SOURCE_WEB_IDENTITY:
			return psprintf("web identity (role \"%s\")", src->role_arn);
		case CRED_SOURCE_ASSUME_ROLE:
			return psprintf("role \"%s\"", src->role_arn);
		case CRED_SOURCE_PROCESS:
			return "the credential_process of the server's AWS profile";
	}
	return "an unknown source";
}

/*
 * Send a call until it gets an answer not worth retrying; the answer (or
 * the transport error of the last attempt) is left in the call.
 */
static void
cred_send(HttpClient *http, CredCall *call)
{
	int			attempt;

	for (attempt = 0; attempt < call->attempts; attempt++)
	{
		HttpTransfer *x;
		TimestampTz deadline;
		bool		retry;

		call->status = 0;
		call->answer = NULL;
		call->answer_len = 0;
		call->transport_error = NULL;

		if (call->signer)
			x = aws_start(call->signer, "sts", call->method, call->scheme,
						  call->authority, call->path, NULL, list_copy(call->headers),
						  call->body, call->body ? strlen(call->body) : 0, 0);
		else
		{
			HttpRequest req;

			memset(&req, 0, sizeof(req));
			req.method = call->method;
			req.url = call->url;
			req.headers = call->headers;
			req.body = call->body;
			req.body_len = call->body ? strlen(call->body) : 0;
			/* (a backstop: the deadline below ends the wait first) */
			req.timeout_ms = call->timeout_ms + 1000;
			x = http_start(http, &req);
		}

		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), call->timeout_ms);
		if (!http_wait_done_until(x, deadline))
			call->transport_error = psprintf("no answer within %d ms", call->timeout_ms);
		else if (http_error(x) != NULL)
			call->transport_error = pstrdup(http_error(x));
		else
		{
			const char *body;
			size_t		len;

			call->status = http_info(x)->status;
			body = http_body(x, &len);
			call->answer = palloc(len + 1);
			memcpy(call->answer, body, len);
			call->answer[len] = '\0';
			call->answer_len = len;
		}
		http_finish(x);

		retry = call->transport_error != NULL || call->status >= 500 || call->status == 429;
		if (!retry)
			return;
		if (attempt + 1 < call->attempts)
			http_sleep(100L << attempt);
	}
}

/* Raise the error of a call that got no answer or an unexpected one. */
static void
cred_raise(CredCall *call, const char *hint) pg_attribute_noreturn();

static void
cred_raise(CredCall *call, const char *hint)
{
	if (call->transport_error)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not get credentials from %s", call->what),
				 errdetail_internal("%s (%d attempts).", call->transport_error, call->attempts),
				 hint ? errhint("%s", hint) : 0));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("could not get credentials from %s: HTTP %ld", call->what, call->status),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * Move the keys of an answer into *out, with their expiration.  Keys that
 * had already expired are the caller's to refuse (cred_fetch asks again
 * once: a source may hand out its old keys just as it renews them).
 */
static void
take_answer(CredAnswer *a, const char *what, CredKeys *out)
{
	TimestampTz exp = 0;

	if (a->has_expiration)
		exp = (TimestampTz) (a->expiration -
							 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	out->access_key_id = pstrdup(a->access_key_id);
	out->secret_access_key = pstrdup(a->secret_access_key);
	out->session_token = a->session_token ? pstrdup(a->session_token) : NULL;
	out->expiration = exp;
	cred_answer_free(a);
}

/* An answer that is not credentials: say what it was, never what it held. */
static void
answer_raise(CredAnswer *a, CredStatus st, const char *what, const char *hint) pg_attribute_noreturn();

static void
answer_raise(CredAnswer *a, CredStatus st, const char *what, const char *hint)
{
	char	   *code = a->error_code ? pstrdup(a->error_code) : NULL;
	char	   *msg = a->error_message ? pstrdup(a->error_message) : NULL;

	cred_answer_free(a);
	if (st == CRED_ERROR_ANSWER)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s: %s", what, code),
				 msg ? errdetail_internal("It said: %s", msg) : 0,
				 hint ? errhint("%s", hint) : 0));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("could not get credentials from %s", what),
			 errdetail("It sent %s.", cred_status_message(st))));
}

/* A header line "Name: value" whose value may go into a header. */
static char *
header_line(const char *name, const char *value, const char *what)
{
	if (!cred_header_value_ok(value, strlen(value), 16384))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s", what),
				 errdetail("The %s holds characters that cannot be sent in an HTTP header.", name)));
	return psprintf("%s: %s", name, value);
}

/*
 * The contents of a token file (web identity, container authorization),
 * without a final line end.  Read at every fetch: Kubernetes and EKS
 * replace these files before the tokens in them expire.
 */
static char *
read_token_file(const char *path, const char *what)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	char	   *buf;
	ssize_t		n;
	size_t		len = 0;

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not get credentials from %s", what),
				 errdetail("Could not open the token file \"%s\": %m.", path)));
	buf = palloc(MAX_TOKEN_FILE + 1);
	while ((n = read(fd, buf + len, MAX_TOKEN_FILE + 1 - len)) > 0)
	{
		len += n;
		if (len > MAX_TOKEN_FILE)
			break;
	}
	if (n < 0)
	{
		int			save = errno;

		close(fd);
		errno = save;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not get credentials from %s", what),
				 errdetail("Could not read the token file \"%s\": %m.", path)));
	}
	close(fd);
	if (len > MAX_TOKEN_FILE)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s", what),
				 errdetail("The token file \"%s\" is larger than %d bytes.", path, MAX_TOKEN_FILE)));
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
					   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s", what),
				 errdetail("The token file \"%s\" is empty.", path)));
	return buf;
}

/* ----------------------------------------------------------------
 *		EC2 instance metadata (IMDSv2)
 * ----------------------------------------------------------------
 */

static void
fetch_imds(HttpClient *http, const CredSource *src, CredKeys *out)
{
	const char *what = cred_source_describe(src);
	const char *hint = "Check that the instance has an instance profile and that its metadata service answers, or set AWS_EC2_METADATA_DISABLED=true in the server's environment.";
	CredCall	call;
	CredAnswer	a;
	CredStatus	st;
	char	   *token;
	char		role[80];
	StringInfoData path;

	/* 1. a session token (IMDSv2; no IMDSv1 fallback) */
	memset(&call, 0, sizeof(call));
	call.what = what;
	call.method = "PUT";
	call.url = psprintf("%s/latest/api/token", src->imds_endpoint);
	call.headers = list_make1(pstrdup("X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL));
	call.body = "";
	call.timeout_ms = pipeline_metadata_timeout_ms;
	call.attempts = METADATA_ATTEMPTS;
	cred_send(http, &call);
	if (call.status != 200)
		cred_raise(&call, call.status == 403 ?
				   "The instance metadata service is turned off for this instance (HttpEndpoint disabled), or the request went through a proxy." :
				   call.status == 404 || call.status == 405 ?
				   "The metadata service does not speak IMDSv2 (a session token); IMDSv1 is not used." :
				   hint);
	if (!cred_header_value_ok(call.answer, call.answer_len, 4096))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s", what),
				 errdetail("Its session token holds characters that cannot be sent in an HTTP header.")));
	token = psprintf("X-aws-ec2-metadata-token: %s", call.answer);

	/* 2. the instance profile's role */
	memset(&call, 0, sizeof(call));
	call.what = what;
	call.method = "GET";
	call.url = psprintf("%s/latest/meta-data/iam/security-credentials/", src->imds_endpoint);
	call.headers = list_make1(token);
	call.timeout_ms = pipeline_metadata_timeout_ms;
	call.attempts = METADATA_ATTEMPTS;
	cred_send(http, &call);
	if (call.status == 404)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s: the instance has no IAM role", what),
				 errhint("Attach an instance profile to the instance, or give the user mapping keys.")));
	if (call.status != 200)
		cred_raise(&call, hint);
	if (!cred_parse_role_name(call.answer, call.answer_len, role, sizeof(role)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not get credentials from %s", what),
				 errdetail("It did not name a valid IAM role.")));

	/* 3. the role's credentials */
	initStringInfo(&path);
	appendStringInfo(&path, "%s/latest/meta-data/iam/security-credentials/", src->imds_endpoint);
	sigv4_uri_encode(&path, role, strlen(role), true);
	memset(&call, 0, sizeof(call));
	call.what = what;
	call.method = "GET";
	call.url = path.data;
	call.headers = list_make1(token);
	call.timeout_ms = pipeline_metadata_timeout_ms;
	call.attempts = METADATA_ATTEMPTS;
	cred_send(http, &call);
	if (call.status != 200)
		cred_raise(&call, hint);
	st = cred_parse_json(call.answer, call.answer_len, &a);
	if (st != CRED_OK)
		answer_raise(&a, st, what, hint);
	take_answer(&a, what, out);
}

/* ----------------------------------------------------------------
 *		ECS/EKS container credentials
 * ----------------------------------------------------------------
 */

static void
fetch_container(HttpClient *http, const CredSource *src, CredKeys *out)
{
	const char *what = cred_source_describe(src);
	const char *hint = "Check the task role (ECS) or the pod identity association (EKS), and AWS_CONTAINER_CREDENTIALS_* in the server's environment.";
	CredCall	call;
	CredAnswer	a;
	CredStatus	st;
	const char *auth = src->container_token;

	memset(&call, 0, sizeof(call));
	call.what = what;
	call.method = "GET";
	call.url = src->container_url;
	if (src->container_token_file)
		auth = read_token_file(src->container_token_file, what);
	if (auth)
		call.headers = list_make1(header_line("Authorization", auth, what));
	call.timeout_ms = pipeline_metadata_timeout_ms;
	call.attempts = METADATA_ATTEMPTS;
	cred_send(http, &call);
	if (call.status != 200)
	{
		/* an error answer may say why (ECS: {"code": ..., "message": ...}) */
		if (call.status >= 400 && call.answer_len > 0 &&
			cred_parse_json(call.answer, call.answer_len, &a) == CRED_ERROR_ANSWER)
			answer_raise(&a, CRED_ERROR_ANSWER, what,
						 call.status == 401 || call.status == 403 ?
						 "Check AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE in the server's environment." : hint);
		cred_raise(&call, call.status == 401 || call.status == 403 ?
				   "Check AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE in the server's environment." : hint);
	}
	st = cred_parse_json(call.answer, call.answer_len, &a);
	if (st != CRED_OK)
		answer_raise(&a, st, what, hint);
	take_answer(&a, what, out);
}

/* ----------------------------------------------------------------
 *		STS
 * ----------------------------------------------------------------
 */

/* Append "&name=value" (form-encoded) to a request body. */
static void
form_param(StringInfo body, const char *name, const char *value)
{
	appendStringInfo(body, "%s%s=", body->len > 0 ? "&" : "", name);
	sigv4_uri_encode(body, value, strlen(value), true);
}

/* The hint for an STS error code. */
static const char *
sts_hint(const char *code, bool web_identity)
{
	if (code == NULL)
		return NULL;
	if (strcmp(code, "AccessDenied") == 0)
		return web_identity ?
			"Check the role's trust policy: it must trust the identity provider that issued the token, for this service account." :
			"Check the role's trust policy: it must trust the principal of the user mapping's keys (and require the external_id given, if any).";
	if (strcmp(code, "InvalidClientTokenId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0 ||
		strcmp(code, "IncompleteSignature") == 0 || strcmp(code, "MissingAuthenticationToken") == 0)
		return "Check the access_key_id and secret_access_key (and session_token) the role is assumed with.";
	if (strcmp(code, "ExpiredToken") == 0)
		return web_identity ?
			"The web identity token has expired: check that the file AWS_WEB_IDENTITY_TOKEN_FILE names is renewed." :
			"The session_token the role is assumed with has expired.";
	if (strcmp(code, "InvalidIdentityToken") == 0 || strcmp(code, "IDPRejectedClaim") == 0 ||
		strcmp(code, "IDPCommunicationError") == 0)
		return "Check the web identity token file and the OIDC provider registered in IAM.";
	if (strcmp(code, "ValidationError") == 0)
		return "Check role_arn, role_session_name, external_id and duration_seconds.";
	if (strcmp(code, "RegionDisabledException") == 0)
		return "Activate STS in the server's region, or set the server's sts_endpoint.";
	return NULL;
}

static void
fetch_sts(HttpClient *http, const CredSource *src, const CredKeys *base, CredKeys *out)
{
	bool		web = src->kind == CRED_SOURCE_WEB_IDENTITY;
	const char *what = cred_source_describe(src);
	StringInfoData body;
	CredCall	call;
	CredAnswer	a;
	CredStatus	st;
	Url			u;
	UrlStatus	us;

	initStringInfo(&body);
	form_param(&body, "Action", web ? "AssumeRoleWithWebIdentity" : "AssumeRole");
	if (!web && src->duration_seconds > 0)
		form_param(&body, "DurationSeconds", psprintf("%d", src->duration_seconds));
	if (!web && src->external_id)
		form_param(&body, "ExternalId", src->external_id);
	form_param(&body, "RoleArn", src->role_arn);
	form_param(&body, "RoleSessionName", src->session_name);
	form_param(&body, "Version", STS_VERSION);
	if (web)
		form_param(&body, "WebIdentityToken",
				   read_token_file(src->web_identity_token_file, what));

	us = url_parse(src->sts_url, &u);
	if (us != URL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("invalid STS endpoint \"%s\"", src->sts_url),
				 errdetail("%s", url_status_message(us))));
	memset(&call, 0, sizeof(call));
	call.scheme = pstrdup(u.scheme);
	call.authority = pstrdup(u.authority);
	call.path = pstrdup(u.path);
	call.url = pstrdup(u.url);
	url_free(&u);

	call.what = what;
	call.method = "POST";
	call.headers = list_make1(pstrdup("Content-Type: application/x-www-form-urlencoded; charset=utf-8"));
	call.body = body.data;
	call.timeout_ms = pipeline_sts_timeout_ms;
	call.attempts = STS_ATTEMPTS;
	if (!web)
	{
		AwsConfig	cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.region = src->region;
		cfg.access_key_id = base->access_key_id;
		cfg.secret_access_key = base->secret_access_key;
		cfg.session_token = base->session_token;
		call.signer = aws_client_create_shared(&cfg, http, CurrentMemoryContext);
	}
	cred_send(http, &call);

	/* zero the body: it holds the web identity token */
	memset(body.data, 0, body.len);

	if (call.transport_error)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not assume role \"%s\"%s: no answer from STS at %s",
						src->role_arn, web ? " with a web identity token" : "", src->sts_url),
				 errdetail_internal("%s (%d attempts).", call.transport_error, call.attempts),
				 errhint("Check that STS is reachable from the database server (the server's sts_endpoint, AWS_ENDPOINT_URL_STS).")));
	st = cred_parse_sts(call.answer, call.answer_len, &a);
	if (call.status == 200 && st == CRED_OK)
	{
		take_answer(&a, what, out);
		return;
	}
	if (st == CRED_ERROR_ANSWER)
	{
		char	   *code = pstrdup(a.error_code);
		char	   *msg = a.error_message ? pstrdup(a.error_message) : NULL;
		const char *hint = sts_hint(code, web);

		cred_answer_free(&a);
		ereport(ERROR,
				(errcode(strcmp(code, "AccessDenied") == 0 ?
						 ERRCODE_INSUFFICIENT_PRIVILEGE : ERRCODE_FDW_ERROR),
				 errmsg("could not assume role \"%s\"%s: %s", src->role_arn,
						web ? " with a web identity token" : "", code),
				 msg ? errdetail_internal("STS said: %s", msg) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	cred_answer_free(&a);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("could not assume role \"%s\"%s: HTTP %ld", src->role_arn,
					web ? " with a web identity token" : "", call.status),
			 errdetail("STS sent %s.", cred_status_message(st))));
}

/*
 * cred_fetch: fresh keys from a source (not STATIC); "base" holds the
 * current keys of src->base for ASSUME_ROLE.  The keys are palloc'd in
 * the current memory context.
 */
void
cred_fetch(const CredSource *src, const CredKeys *base, CredKeys *out)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(caller, "pipeline credentials fetch",
											  ALLOCSET_SMALL_SIZES);
	CredKeys	keys;

	memset(&keys, 0, sizeof(keys));
	PG_TRY();
	{
		HttpClient *http;
		int			attempt;

		MemoryContextSwitchTo(cxt);
		http = http_client_create(cxt);
		for (attempt = 1;; attempt++)
		{
			memset(&keys, 0, sizeof(keys));
			switch (src->kind)
			{
				case CRED_SOURCE_IMDS:
					fetch_imds(http, src, &keys);
					break;
				case CRED_SOURCE_CONTAINER:
					fetch_container(http, src, &keys);
					break;
				case CRED_SOURCE_WEB_IDENTITY:
				case CRED_SOURCE_ASSUME_ROLE:
					fetch_sts(http, src, base, &keys);
					break;
				case CRED_SOURCE_PROCESS:
					cred_process_fetch(src->process_command, &keys);
					break;
				case CRED_SOURCE_STATIC:
					elog(ERROR, "static credentials are not fetched");
			}
			if (keys.expiration == 0 || keys.expiration > GetCurrentTimestamp())
				break;
			/* keys that had already expired: ask once more, then refuse */
			if (attempt >= EXPIRED_ATTEMPTS)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("%s gave credentials that had already expired",
								cred_source_describe(src)),
						 errdetail("They expired at %s (%d attempts).",
								   timestamptz_to_str(keys.expiration), attempt),
						 errhint("Check the clock of the database server, and that the source renews its credentials.")));
			explicit_bzero(keys.secret_access_key, strlen(keys.secret_access_key));
			if (keys.session_token)
				explicit_bzero(keys.session_token, strlen(keys.session_token));
			http_sleep(100L);
		}
		MemoryContextSwitchTo(caller);
		out->access_key_id = pstrdup(keys.access_key_id);
		out->secret_access_key = pstrdup(keys.secret_access_key);
		out->session_token = keys.session_token ? pstrdup(keys.session_token) : NULL;
		out->expiration = keys.expiration;
		explicit_bzero(keys.secret_access_key, strlen(keys.secret_access_key));
		if (keys.session_token)
			explicit_bzero(keys.session_token, strlen(keys.session_token));
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		/* frees the HTTP client (a reset callback) */
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
}
