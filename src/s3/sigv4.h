/*-------------------------------------------------------------------------
 *
 * sigv4.h
 *	  AWS Signature Version 4 request signing (S3, SQS, SNS).
 *
 * These are pure functions: they build the canonical request and the
 * string to sign, derive the signing key and return the Authorization
 * header value.  They allocate with palloc (so they work both in the
 * backend and in frontend unit tests built with -DFRONTEND) and never
 * ereport on their own account; a failure of PostgreSQL's SHA-256/HMAC
 * helpers or malformed input is reported through the return value, with
 * a message, so that the caller can raise a proper error.
 *
 * In the backend, PostgreSQL's OpenSSL-based HMAC and SHA-256 contexts are
 * tracked by CurrentResourceOwner, so the caller must have one (any
 * transaction does; a background worker outside a transaction must set one
 * up first).
 *
 * IDENTIFICATION
 *	  src/s3/sigv4.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SIGV4_H
#define PIPELINE_SIGV4_H

#include <time.h>

#include "lib/stringinfo.h"

/* Length of a lowercase hex SHA-256 digest, without the terminating NUL. */
#define SIGV4_HEX_LEN	64
/* Length of an x-amz-date value "YYYYMMDDTHHMMSSZ", without the NUL. */
#define SIGV4_DATE_LEN	16

/* The payload hash to sign when the body is not hashed (S3 only). */
#define SIGV4_UNSIGNED_PAYLOAD	"UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string: the payload hash of a request without body. */
#define SIGV4_EMPTY_PAYLOAD_HASH \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One header to sign.  The name is matched case-insensitively. */
typedef struct SigV4Header
{
	const char *name;
	const char *value;
} SigV4Header;

/*
 * Everything that goes into a signature.  All strings are NUL-terminated
 * and must not contain CR or LF.
 */
typedef struct SigV4Request
{
	const char *method;			/* "GET", "PUT", "POST", ... */
	const char *host;			/* Host header value, with ":port" when
								 * the port is not the scheme's default */
	const char *path;			/* canonical URI: already URI-encoded path,
								 * e.g. "/bucket/a%20b"; NULL or "" is "/" */
	const char *query;			/* query string as sent, without the '?':
								 * names and values already URI-encoded
								 * (sigv4_uri_encode with encode_slash),
								 * in any order; NULL or "" if none */
	const SigV4Header *headers; /* other headers to sign: content-type,
								 * range, x-amz-target, x-amz-content-sha256,
								 * x-amz-security-token, ...  Not "host"
								 * (taken from host) nor "authorization".
								 * x-amz-date is added from amz_date unless
								 * given here.  A name given several times
								 * is signed as one comma-joined value, in
								 * the order given. */
	int			nheaders;
	const char *payload_hash;	/* lowercase hex SHA-256 of the body, or
								 * SIGV4_UNSIGNED_PAYLOAD */
	const char *amz_date;		/* "20130524T000000Z" (sigv4_amz_date) */
	const char *region;			/* "us-east-1" */
	const char *service;		/* "s3", "sqs", "sns" */
	const char *access_key_id;
	const char *secret_access_key;
} SigV4Request;

/*
 * The pieces of a signature, for callers that need more than the
 * Authorization header: the tests, and a debugging message when a server
 * answers SignatureDoesNotMatch (its response carries the canonical request
 * and string to sign it computed, to compare with these).  Nothing here
 * contains the secret access key or the derived signing key.
 */
typedef struct SigV4Signature
{
	char	   *canonical_request;	/* palloc'd */
	char	   *string_to_sign;		/* palloc'd */
	char	   *signed_headers;		/* palloc'd, "host;range;x-amz-date" */
	char	   *authorization;		/* palloc'd Authorization header value */
	char		signature[SIGV4_HEX_LEN + 1];	/* lowercase hex */
	const char *error;			/* when sigv4_sign returns false: a static
								 * message saying why */
} SigV4Signature;

/*
 * Sign a request.  Returns true and fills *sig, or false with sig->error
 * set (malformed request, or a failure of the hash functions).
 */
extern bool sigv4_sign(const SigV4Request *req, SigV4Signature *sig);

/*
 * Returns the Authorization header value in palloc'd memory, or NULL on
 * failure; use sigv4_sign to learn why.
 */
extern char *sigv4_authorization(const SigV4Request *req);

/*
 * Append s[0..len) to out URI-encoded as SigV4 wants it: the RFC 3986
 * unreserved characters (A-Z a-z 0-9 - . _ ~) kept, every other byte as
 * %XX with uppercase hex; '/' is kept unless encode_slash.  Use
 * encode_slash = false for an object key in a path and true for query
 * parameter names and values.
 */
extern void sigv4_uri_encode(StringInfo out, const char *s, size_t len,
							 bool encode_slash);

/*
 * Lowercase hex SHA-256 of data[0..len) into out (NUL-terminated).
 * Returns false if the hash function failed.
 */
extern bool sigv4_sha256_hex(const void *data, size_t len,
							 char out[SIGV4_HEX_LEN + 1]);

/* Format t as an x-amz-date, "YYYYMMDDTHHMMSSZ" in UTC, into out. */
extern void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1]);

#endif							/* PIPELINE_SIGV4_H */
