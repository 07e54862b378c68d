/*-------------------------------------------------------------------------
 *
 * sigv4.c
 *	  AWS Signature Version 4 request signing (S3, SQS, SNS).
 *
 * The signature of a request is computed in four steps:
 *
 *	1. the canonical request: the method, the canonical URI, the canonical
 *	   query string, the canonical headers, the list of signed headers and
 *	   the payload hash, one per line;
 *	2. the string to sign: the algorithm, the request date, the credential
 *	   scope (date/region/service/aws4_request) and the hex SHA-256 of the
 *	   canonical request;
 *	3. the signing key: "AWS4" + secret access key, HMAC-SHA256'd in turn
 *	   with the date, the region, the service and "aws4_request";
 *	4. the signature: the hex HMAC-SHA256 of the string to sign under the
 *	   signing key, which goes into the Authorization header.
 *
 * This file is compiled both into the extension and, with -DFRONTEND, into
 * the unit tests (test/unit/test_sigv4.c), so it uses only what both
 * worlds offer: palloc, StringInfo and the SHA-256/HMAC helpers of
 * src/common.  Failures are returned, never raised.
 *
 * IDENTIFICATION
 *	  src/s3/sigv4.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <time.h>

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "sigv4.h"

#define SIGV4_ALGORITHM		"AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR	"aws4_request"

/* One parameter of the query string, split at its first '='. */
typedef struct SigV4QueryParam
{
	char	   *name;
	char	   *value;
} SigV4QueryParam;

/* One header line of the canonical request, before merging duplicates. */
typedef struct SigV4CanonHeader
{
	char	   *name;			/* lowercased */
	char	   *value;			/* trimmed, inner blank runs collapsed */
	int			order;			/* position given, to keep duplicates'
								 * values in order */
} SigV4CanonHeader;

static const char sigv4_hexdigits_lower[] = "0123456789abcdef";
static const char sigv4_hexdigits_upper[] = "0123456789ABCDEF";

/*
 * Write len bytes of in as lowercase hex into out, followed by a NUL; out
 * must have room for 2 * len + 1 characters.
 */
static void
sigv4_hex(const uint8 *in, size_t len, char *out)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = sigv4_hexdigits_lower[in[i] >> 4];
		out[2 * i + 1] = sigv4_hexdigits_lower[in[i] & 0x0F];
	}
	out[2 * len] = '\0';
}

/*
 * SHA-256 of data[0..len) into out.  On failure, returns false and points
 * *error at a static message.
 */
static bool
sigv4_sha256(const void *data, size_t len, uint8 out[PG_SHA256_DIGEST_LENGTH],
			 const char **error)
{
	pg_cryptohash_ctx *ctx;
	bool		ok;

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL)
	{
		*error = "out of memory";
		return false;
	}
	ok = pg_cryptohash_init(ctx) == 0 &&
		pg_cryptohash_update(ctx, (const uint8 *) data, len) == 0 &&
		pg_cryptohash_final(ctx, out, PG_SHA256_DIGEST_LENGTH) == 0;
	if (!ok)
		*error = pg_cryptohash_error(ctx);
	pg_cryptohash_free(ctx);
	return ok;
}

/*
 * HMAC-SHA256 of data[0..len) under key[0..keylen) into out.  On failure,
 * returns false and points *error at a static message.
 */
static bool
sigv4_hmac(const uint8 *key, size_t keylen, const void *data, size_t len,
		   uint8 out[PG_SHA256_DIGEST_LENGTH], const char **error)
{
	pg_hmac_ctx *ctx;
	bool		ok;

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
	{
		*error = "out of memory";
		return false;
	}
	ok = pg_hmac_init(ctx, key, keylen) == 0 &&
		pg_hmac_update(ctx, (const uint8 *) data, len) == 0 &&
		pg_hmac_final(ctx, out, PG_SHA256_DIGEST_LENGTH) == 0;
	if (!ok)
		*error = pg_hmac_error(ctx);
	pg_hmac_free(ctx);
	return ok;
}

/* Is c one of the blanks that header values are trimmed of? */
static inline bool
sigv4_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Does s contain a CR or an LF? */
static bool
sigv4_has_newline(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/*
 * Is s an x-amz-date, "YYYYMMDDTHHMMSSZ"?  Only the shape is checked: the
 * server judges the value.
 */
static bool
sigv4_valid_amz_date(const char *s)
{
	int			i;

	if (strlen(s) != SIGV4_DATE_LEN)
		return false;
	for (i = 0; i < SIGV4_DATE_LEN; i++)
	{
		if (i == 8)
		{
			if (s[i] != 'T')
				return false;
		}
		else if (i == SIGV4_DATE_LEN - 1)
		{
			if (s[i] != 'Z')
				return false;
		}
		else if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/*
 * Check that a request has everything a signature needs.  Returns NULL if
 * it does, or a static message saying what is wrong.
 */
static const char *
sigv4_check_request(const SigV4Request *req)
{
	int			i;

	if (req->method == NULL || req->method[0] == '\0')
		return "SigV4 request has no method";
	if (req->host == NULL || req->host[0] == '\0')
		return "SigV4 request has no host";
	if (req->payload_hash == NULL || req->payload_hash[0] == '\0')
		return "SigV4 request has no payload hash";
	if (req->amz_date == NULL || !sigv4_valid_amz_date(req->amz_date))
		return "SigV4 request date is not of the form YYYYMMDDTHHMMSSZ";
	if (req->region == NULL || req->region[0] == '\0')
		return "SigV4 request has no region";
	if (req->service == NULL || req->service[0] == '\0')
		return "SigV4 request has no service";
	if (req->access_key_id == NULL || req->access_key_id[0] == '\0')
		return "SigV4 request has no access key ID";
	if (req->secret_access_key == NULL)
		return "SigV4 request has no secret access key";
	if (sigv4_has_newline(req->method) || sigv4_has_newline(req->host) ||
		(req->path && sigv4_has_newline(req->path)) ||
		(req->query && sigv4_has_newline(req->query)))
		return "SigV4 request contains a line break";
	if (req->nheaders < 0 || (req->nheaders > 0 && req->headers == NULL))
		return "SigV4 request has an invalid header array";

	for (i = 0; i < req->nheaders; i++)
	{
		const SigV4Header *h = &req->headers[i];

		if (h->name == NULL || h->name[0] == '\0' || h->value == NULL)
			return "SigV4 request has a header without name or value";
		if (strpbrk(h->name, ": \t\r\n") != NULL ||
			sigv4_has_newline(h->value))
			return "SigV4 request has a malformed header";
		if (pg_strcasecmp(h->name, "host") == 0)
			return "SigV4 request passes \"host\" as a header: set the host field instead";
		if (pg_strcasecmp(h->name, "authorization") == 0)
			return "SigV4 request cannot sign an \"authorization\" header";
	}
	return NULL;
}

/*
 * Order query parameters by name, then by value, comparing bytes.
 */
static int
sigv4_query_param_cmp(const void *a, const void *b)
{
	const SigV4QueryParam *pa = (const SigV4QueryParam *) a;
	const SigV4QueryParam *pb = (const SigV4QueryParam *) b;
	int			c;

	c = strcmp(pa->name, pb->name);
	if (c != 0)
		return c;
	return strcmp(pa->value, pb->value);
}

/*
 * Append the canonical query string of query to out: the parameters
 * sorted by name and then value, a parameter without '=' getting an empty
 * value ("lifecycle" becomes "lifecycle=").  Names and values are taken
 * as already encoded; empty parameters ("a=1&&b=2") are dropped.
 */
static void
sigv4_append_canonical_query(StringInfo out, const char *query)
{
	SigV4QueryParam *params;
	int			nparams = 0;
	int			maxparams = 1;
	const char *p;
	int			i;

	if (query == NULL || query[0] == '\0')
		return;

	for (p = query; *p; p++)
		if (*p == '&')
			maxparams++;
	params = palloc(sizeof(SigV4QueryParam) * maxparams);

	p = query;
	for (;;)
	{
		const char *end = strchr(p, '&');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len > 0)
		{
			const char *eq = memchr(p, '=', len);

			if (eq)
			{
				params[nparams].name = pnstrdup(p, eq - p);
				params[nparams].value = pnstrdup(eq + 1, len - (eq - p) - 1);
			}
			else
			{
				params[nparams].name = pnstrdup(p, len);
				params[nparams].value = pstrdup("");
			}
			nparams++;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}

	qsort(params, nparams, sizeof(SigV4QueryParam), sigv4_query_param_cmp);

	for (i = 0; i < nparams; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, '&');
		appendStringInfo(out, "%s=%s", params[i].name, params[i].value);
		pfree(params[i].name);
		pfree(params[i].value);
	}
	pfree(params);
}

/* Order canonical headers by name, then by the position they were given. */
static int
sigv4_canon_header_cmp(const void *a, const void *b)
{
	const SigV4CanonHeader *ha = (const SigV4CanonHeader *) a;
	const SigV4CanonHeader *hb = (const SigV4CanonHeader *) b;
	int			c;

	c = strcmp(ha->name, hb->name);
	if (c != 0)
		return c;
	return (ha->order > hb->order) - (ha->order < hb->order);
}

/* A palloc'd copy of s with ASCII letters lowercased. */
static char *
sigv4_lower(const char *s)
{
	char	   *r = pstrdup(s);
	char	   *p;

	for (p = r; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	return r;
}

/*
 * A palloc'd copy of a header value as the canonical request wants it:
 * leading and trailing blanks removed, and every inner run of blanks
 * replaced by a single space (quoted strings included).
 */
static char *
sigv4_canonical_value(const char *value)
{
	char	   *r = palloc(strlen(value) + 1);
	char	   *w = r;
	bool		pending_space = false;
	const char *p;

	for (p = value; *p; p++)
	{
		if (sigv4_is_blank(*p))
		{
			pending_space = (w != r);
			continue;
		}
		if (pending_space)
			*w++ = ' ';
		pending_space = false;
		*w++ = *p;
	}
	*w = '\0';
	return r;
}

/*
 * Append the canonical request of req to creq and its signed headers list
 * to signed_headers.  Returns NULL, or a static message if a caller-given
 * x-amz-date disagrees with req->amz_date.  req must have passed
 * sigv4_check_request.
 */
static const char *
sigv4_build_canonical_request(const SigV4Request *req, StringInfo creq,
							  StringInfo signed_headers)
{
	SigV4CanonHeader *hdrs;
	int			nhdrs = 0;
	bool		have_date = false;
	int			i;

	/* Method and canonical URI. */
	appendStringInfo(creq, "%s\n%s\n", req->method,
					 (req->path && req->path[0]) ? req->path : "/");

	/* Canonical query string. */
	sigv4_append_canonical_query(creq, req->query);
	appendStringInfoChar(creq, '\n');

	/* Canonical headers: host, the given ones, x-amz-date if missing. */
	hdrs = palloc(sizeof(SigV4CanonHeader) * (req->nheaders + 2));
	hdrs[nhdrs].name = pstrdup("host");
	hdrs[nhdrs].value = sigv4_canonical_value(req->host);
	hdrs[nhdrs].order = -1;
	nhdrs++;
	for (i = 0; i < req->nheaders; i++)
	{
		hdrs[nhdrs].name = sigv4_lower(req->headers[i].name);
		hdrs[nhdrs].value = sigv4_canonical_value(req->headers[i].value);
		hdrs[nhdrs].order = i;
		if (strcmp(hdrs[nhdrs].name, "x-amz-date") == 0)
		{
			if (strcmp(hdrs[nhdrs].value, req->amz_date) != 0)
			{
				int			j;

				for (j = 0; j <= nhdrs; j++)
				{
					pfree(hdrs[j].name);
					pfree(hdrs[j].value);
				}
				pfree(hdrs);
				return "SigV4 request has an x-amz-date header that differs from its date";
			}
			have_date = true;
		}
		nhdrs++;
	}
	if (!have_date)
	{
		hdrs[nhdrs].name = pstrdup("x-amz-date");
		hdrs[nhdrs].value = pstrdup(req->amz_date);
		hdrs[nhdrs].order = req->nheaders;
		nhdrs++;
	}

	qsort(hdrs, nhdrs, sizeof(SigV4CanonHeader), sigv4_canon_header_cmp);

	/*
	 * One line per name; the values of a name given several times are
	 * joined with commas in the order given.
	 */
	for (i = 0; i < nhdrs; i++)
	{
		if (i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0)
		{
			appendStringInfo(creq, ",%s", hdrs[i].value);
			continue;
		}
		if (i > 0)
		{
			appendStringInfoChar(creq, '\n');
			appendStringInfoChar(signed_headers, ';');
		}
		appendStringInfo(creq, "%s:%s", hdrs[i].name, hdrs[i].value);
		appendStringInfoString(signed_headers, hdrs[i].name);
	}
	appendStringInfoString(creq, "\n\n");

	/* Signed headers and payload hash. */
	appendStringInfo(creq, "%s\n%s", signed_headers->data, req->payload_hash);

	for (i = 0; i < nhdrs; i++)
	{
		pfree(hdrs[i].name);
		pfree(hdrs[i].value);
	}
	pfree(hdrs);
	return NULL;
}

/*
 * Compute the signature of string_to_sign: derive the signing key from the
 * secret, date, region and service of req, and HMAC the string under it.
 * Writes the lowercase hex signature into out.  All key material is wiped
 * before returning.
 */
static bool
sigv4_compute_signature(const SigV4Request *req, const char *string_to_sign,
						char out[SIGV4_HEX_LEN + 1], const char **error)
{
	size_t		secretlen = strlen(req->secret_access_key);
	size_t		ksecretlen = secretlen + 4;
	uint8	   *ksecret;
	uint8		key[PG_SHA256_DIGEST_LENGTH];
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	bool		ok;

	ksecret = palloc(ksecretlen);
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, req->secret_access_key, secretlen);

	/* kDate, kRegion, kService, kSigning, then the signature itself. */
	ok = sigv4_hmac(ksecret, ksecretlen, req->amz_date, 8, key, error) &&
		sigv4_hmac(key, sizeof(key), req->region, strlen(req->region),
				   mac, error) &&
		sigv4_hmac(mac, sizeof(mac), req->service, strlen(req->service),
				   key, error) &&
		sigv4_hmac(key, sizeof(key), SIGV4_TERMINATOR,
				   strlen(SIGV4_TERMINATOR), mac, error) &&
		sigv4_hmac(mac, sizeof(mac), string_to_sign, strlen(string_to_sign),
				   key, error);
	if (ok)
		sigv4_hex(key, sizeof(key), out);

	explicit_bzero(ksecret, ksecretlen);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(mac, sizeof(mac));
	pfree(ksecret);
	return ok;
}

/*
 * Sign req, filling *sig with the canonical request, the string to sign,
 * the signed headers, the signature and the Authorization header value.
 * Returns false, with sig->error pointing at a static message and every
 * other field NULL or empty, if the request is malformed or a hash
 * function failed.
 */
bool
sigv4_sign(const SigV4Request *req, SigV4Signature *sig)
{
	StringInfoData creq;
	StringInfoData signed_headers;
	StringInfoData sts;
	char		scope_date[9];
	char	   *scope;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		creq_hash[SIGV4_HEX_LEN + 1];
	const char *error;

	memset(sig, 0, sizeof(SigV4Signature));

	error = sigv4_check_request(req);
	if (error)
	{
		sig->error = error;
		return false;
	}

	initStringInfo(&creq);
	initStringInfo(&signed_headers);
	error = sigv4_build_canonical_request(req, &creq, &signed_headers);
	if (error)
	{
		pfree(creq.data);
		pfree(signed_headers.data);
		sig->error = error;
		return false;
	}

	if (!sigv4_sha256(creq.data, creq.len, digest, &error))
	{
		pfree(creq.data);
		pfree(signed_headers.data);
		sig->error = error;
		return false;
	}
	sigv4_hex(digest, sizeof(digest), creq_hash);

	memcpy(scope_date, req->amz_date, 8);
	scope_date[8] = '\0';
	scope = psprintf("%s/%s/%s/%s", scope_date, req->region, req->service,
					 SIGV4_TERMINATOR);

	initStringInfo(&sts);
	appendStringInfo(&sts, "%s\n%s\n%s\n%s", SIGV4_ALGORITHM, req->amz_date,
					 scope, creq_hash);

	if (!sigv4_compute_signature(req, sts.data, sig->signature, &error))
	{
		pfree(creq.data);
		pfree(signed_headers.data);
		pfree(sts.data);
		pfree(scope);
		sig->signature[0] = '\0';
		sig->error = error;
		return false;
	}

	sig->canonical_request = creq.data;
	sig->string_to_sign = sts.data;
	sig->signed_headers = signed_headers.data;
	sig->authorization =
		psprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
				 SIGV4_ALGORITHM, req->access_key_id, scope,
				 signed_headers.data, sig->signature);
	pfree(scope);
	return true;
}

/*
 * Sign req and return only the Authorization header value (palloc'd), or
 * NULL if sigv4_sign fails.
 */
char *
sigv4_authorization(const SigV4Request *req)
{
	SigV4Signature sig;

	if (!sigv4_sign(req, &sig))
		return NULL;
	pfree(sig.canonical_request);
	pfree(sig.string_to_sign);
	pfree(sig.signed_headers);
	return sig.authorization;
}

/*
 * Append s[0..len) to out, URI-encoded the SigV4 way: unreserved characters
 * (RFC 3986: letters, digits, '-', '.', '_', '~') as they are, '/' as it is
 * unless encode_slash, and every other byte, UTF-8 continuation bytes
 * included, as '%' and two uppercase hex digits.  A space is "%20", never
 * '+'.
 */
void
sigv4_uri_encode(StringInfo out, const char *s, size_t len, bool encode_slash)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' ||
			(c == '/' && !encode_slash))
			appendStringInfoChar(out, (char) c);
		else
		{
			appendStringInfoChar(out, '%');
			appendStringInfoChar(out, sigv4_hexdigits_upper[c >> 4]);
			appendStringInfoChar(out, sigv4_hexdigits_upper[c & 0x0F]);
		}
	}
}

/*
 * Write the lowercase hex SHA-256 of data[0..len) into out.  Returns false
 * (out then holds an empty string) if the hash function failed.
 */
bool
sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN + 1])
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	const char *error;

	if (!sigv4_sha256(data, len, digest, &error))
	{
		out[0] = '\0';
		return false;
	}
	sigv4_hex(digest, sizeof(digest), out);
	return true;
}

/*
 * Format t as an x-amz-date, "YYYYMMDDTHHMMSSZ" in UTC.  A time that cannot
 * be so written (a year past 9999) gives an empty string, which signing
 * then refuses.
 */
void
sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
		strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_DATE_LEN)
		out[0] = '\0';
}
