/*-------------------------------------------------------------------------
 *
 * url.h
 *	  URLs the database server sends requests to (queues, webhooks), parsed
 *	  once with libcurl's URL API, and the host checks that decide whether a
 *	  role may make the server send requests there; and percent-decoding
 *	  (S3 event keys, partition directories).
 *
 * Every check must look at the host libcurl will connect to, so the text
 * is parsed by libcurl itself (curl_url), never by hand: by hand,
 * "http://sqs.us-east-1.amazonaws.com:x@127.0.0.1/" looks like an AWS host
 * and libcurl connects to 127.0.0.1.  Only http and https are accepted,
 * user information ("user:password@") never, and control characters,
 * white space and non-ASCII bytes nowhere in the text.
 *
 * Pure C on libcurl (no backend calls, malloc'd memory): the unit tests and
 * the fuzzer link it as it is.  Backend callers copy what they need and
 * call url_free() before they can raise an error.
 *
 * IDENTIFICATION
 *	  src/s3/url.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_URL_H
#define PIPELINE_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum UrlStatus
{
	URL_OK = 0,
	URL_EMPTY,
	URL_BAD_CHARACTER,			/* control, white space or non-ASCII byte */
	URL_MALFORMED,				/* libcurl cannot parse it */
	URL_BAD_SCHEME,				/* not http:// or https:// */
	URL_USERINFO,				/* a user name or password */
	URL_NO_HOST,
	URL_BAD_PORT,
	URL_ZONE_ID,				/* an IPv6 zone ("%eth0") */
	URL_OUT_OF_MEMORY
} UrlStatus;

typedef struct Url
{
	char		scheme[8];		/* "http" or "https" */
	char	   *host;			/* lower-case; IPv6 literals in brackets;
								 * IPv4 in dotted form (libcurl normalizes
								 * "2130706433" to "127.0.0.1") */
	int			port;			/* explicit port, or 0 if none was given */
	char	   *authority;		/* host[:port]: what a Host header holds */
	char	   *path;			/* "/" at least, as libcurl normalized it */
	char	   *query;			/* without the '?', or NULL */
	char	   *url;			/* the whole URL as libcurl writes it, without
								 * any fragment: what to hand to libcurl */
} Url;

/*
 * Parse "text" into *url.  On URL_OK the caller owns *url and frees it with
 * url_free(); on anything else *url holds nothing to free.
 */
extern UrlStatus url_parse(const char *text, Url *url);
extern void url_free(Url *url);

/* Why a URL was refused, as a sentence (for errdetail). */
extern const char *url_status_message(UrlStatus status);

/* An IPv4 or IPv6 literal (brackets allowed), not a name. */
extern bool url_host_is_ip(const char *host);

/* A name under amazonaws.com ("sqs.us-east-1.amazonaws.com"). */
extern bool url_host_is_aws(const char *host);

/*
 * "host" is one of the hosts of a list separated by commas and/or white
 * space ("hooks.example.com, alerts.example.org"); case-insensitive, exact
 * (no wildcards, no ports).  An empty or NULL list holds no host.
 */
extern bool url_host_in_list(const char *host, const char *list);

/* What url_percent_decode found. */
typedef enum UrlDecodeStatus
{
	URL_DECODE_OK = 0,
	URL_DECODE_MALFORMED,		/* strict: a '%' without two hex digits */
	URL_DECODE_NUL				/* strict: a %00 */
} UrlDecodeStatus;

/*
 * Percent-decode s[0..len) into "out", which has room for len + 1 bytes
 * (the result is never longer), NUL-terminated; *out_len is its length.
 * %XX becomes the byte it encodes; with "form" (the
 * application/x-www-form-urlencoded of S3 event keys), '+' becomes a
 * space.  With "strict", a '%' not followed by two hex digits, or a %00,
 * stops the decoding there and says so; without, such a '%' stays as it
 * is and %00 is a NUL byte (Hive partition directories).
 */
extern UrlDecodeStatus url_percent_decode(const char *s, size_t len, bool form, bool strict,
										  char *out, size_t *out_len);

#endif							/* PIPELINE_URL_H */
