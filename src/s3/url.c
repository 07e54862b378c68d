/*-------------------------------------------------------------------------
 *
 * url.c
 *	  URLs the database server sends requests to, parsed once by libcurl,
 *	  and the host checks made on what libcurl parsed.
 *
 * The rule that matters: the host a permission check looks at is the host
 * the request goes to.  Both come from the same libcurl parse: callers
 * check Url.host and send to Url.url (or build the request from
 * Url.scheme and Url.authority), never to the text they were given.
 *
 * Before libcurl sees it the text must be printable ASCII without white
 * space and without the characters RFC 3986 does not allow anywhere in a
 * URL (" < > \ ^ ` { | }): a backslash, for one, is a path separator to
 * some URL parsers and part of the user name to libcurl.
 *
 * Pure C on libcurl; memory is malloc'd (see url.h).
 *
 * IDENTIFICATION
 *	  src/s3/url.c
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "url.h"

#define AWS_SUFFIX ".amazonaws.com"

/* A byte that may appear in the text of a URL we accept. */
static bool
url_char_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("\"<>\\^`{|}", c) == NULL;
}

/* libcurl's reasons, in ours. */
static UrlStatus
from_curl(CURLUcode rc)
{
	switch (rc)
	{
		case CURLUE_OK:
			return URL_OK;
		case CURLUE_OUT_OF_MEMORY:
			return URL_OUT_OF_MEMORY;
		case CURLUE_USER_NOT_ALLOWED:
		case CURLUE_BAD_LOGIN:
		case CURLUE_BAD_USER:
		case CURLUE_BAD_PASSWORD:
			return URL_USERINFO;
		case CURLUE_BAD_PORT_NUMBER:
			return URL_BAD_PORT;
		case CURLUE_UNSUPPORTED_SCHEME:
		case CURLUE_BAD_SCHEME:
		case CURLUE_NO_SCHEME:
			return URL_BAD_SCHEME;
		case CURLUE_NO_HOST:
			return URL_NO_HOST;
		default:
			return URL_MALFORMED;
	}
}

/* Does the URL have this part at all?  (libcurl: CURLUE_NO_<part> if not) */
static bool
has_part(CURLU *h, CURLUPart what)
{
	char	   *v = NULL;
	CURLUcode	rc = curl_url_get(h, what, &v, 0);

	curl_free(v);
	return rc == CURLUE_OK;
}

/* Does libcurl, reading url->url again, find the same host and port? */
static UrlStatus
same_on_rereading(const Url *url)
{
	CURLU	   *h = curl_url();
	char	   *v = NULL;
	UrlStatus	st = URL_OK;
	CURLUcode	rc;

	if (h == NULL)
		return URL_OUT_OF_MEMORY;
	rc = curl_url_set(h, CURLUPART_URL, url->url, CURLU_DISALLOW_USER);
	if (rc == CURLUE_OK)
		rc = curl_url_get(h, CURLUPART_HOST, &v, 0);
	if (rc != CURLUE_OK)
		st = from_curl(rc);
	else if (strcasecmp(v, url->host) != 0)
		st = URL_MALFORMED;
	curl_free(v);
	v = NULL;
	if (st == URL_OK)
	{
		rc = curl_url_get(h, CURLUPART_PORT, &v, CURLU_NO_DEFAULT_PORT);
		if (rc == CURLUE_OK ? (url->port == 0 || atoi(v) != url->port)
			: (rc != CURLUE_NO_PORT || url->port != 0))
			st = rc == CURLUE_OUT_OF_MEMORY ? URL_OUT_OF_MEMORY : URL_MALFORMED;
		curl_free(v);
	}
	curl_url_cleanup(h);
	return st;
}

/*
 * url_parse: see url.h.  The scheme and the authority must be spelled out
 * ("http://host"; any case): libcurl would also take "http:/host" and
 * "http:///host", or guess a scheme.
 */
UrlStatus
url_parse(const char *text, Url *url)
{
	CURLU	   *h;
	CURLUcode	rc;
	UrlStatus	st = URL_OK;
	char	   *v = NULL;
	const char *p;

	memset(url, 0, sizeof(*url));
	if (text == NULL || text[0] == '\0')
		return URL_EMPTY;
	for (p = text; *p; p++)
		if (!url_char_ok((unsigned char) *p))
			return URL_BAD_CHARACTER;
	if (strncasecmp(text, "http://", 7) == 0)
		p = text + 7;
	else if (strncasecmp(text, "https://", 8) == 0)
		p = text + 8;
	else
		return URL_BAD_SCHEME;
	/* libcurl would read "http:///x" as host "x" */
	if (*p == '/' || *p == '\0')
		return URL_NO_HOST;

	h = curl_url();
	if (h == NULL)
		return URL_OUT_OF_MEMORY;
	rc = curl_url_set(h, CURLUPART_URL, text, CURLU_DISALLOW_USER);
	if (rc != CURLUE_OK)
	{
		st = from_curl(rc);
		goto done;
	}

	/* belt and braces: CURLU_DISALLOW_USER should have refused all of them */
	if (has_part(h, CURLUPART_USER) || has_part(h, CURLUPART_PASSWORD) ||
		has_part(h, CURLUPART_OPTIONS))
	{
		st = URL_USERINFO;
		goto done;
	}
	if (has_part(h, CURLUPART_ZONEID))
	{
		st = URL_ZONE_ID;
		goto done;
	}

	rc = curl_url_get(h, CURLUPART_SCHEME, &v, 0);
	if (rc != CURLUE_OK || v == NULL ||
		(strcasecmp(v, "http") != 0 && strcasecmp(v, "https") != 0))
	{
		st = rc == CURLUE_OUT_OF_MEMORY ? URL_OUT_OF_MEMORY : URL_BAD_SCHEME;
		goto done;
	}
	for (int i = 0; v[i]; i++)
		url->scheme[i] = (char) tolower((unsigned char) v[i]);
	curl_free(v);
	v = NULL;

	rc = curl_url_get(h, CURLUPART_HOST, &v, 0);
	if (rc != CURLUE_OK || v == NULL || v[0] == '\0')
	{
		st = rc == CURLUE_OUT_OF_MEMORY ? URL_OUT_OF_MEMORY : URL_NO_HOST;
		goto done;
	}
	url->host = strdup(v);
	curl_free(v);
	v = NULL;
	if (url->host == NULL)
	{
		st = URL_OUT_OF_MEMORY;
		goto done;
	}
	for (char *c = url->host; *c; c++)
	{
		*c = (char) tolower((unsigned char) *c);
		/* libcurl checked the host; we print it in errors and headers */
		if (!url_char_ok((unsigned char) *c) || *c == '@' || *c == '/' || *c == '%')
		{
			st = URL_MALFORMED;
			goto done;
		}
	}

	rc = curl_url_get(h, CURLUPART_PORT, &v, CURLU_NO_DEFAULT_PORT);
	if (rc == CURLUE_OK && v != NULL)
	{
		char	   *end;
		long		port = strtol(v, &end, 10);

		if (*end != '\0' || port < 1 || port > 65535)
		{
			st = URL_BAD_PORT;
			goto done;
		}
		url->port = (int) port;
	}
	else if (rc != CURLUE_NO_PORT)
	{
		st = from_curl(rc);
		goto done;
	}
	curl_free(v);
	v = NULL;

	rc = curl_url_get(h, CURLUPART_PATH, &v, 0);
	if (rc != CURLUE_OK)
	{
		st = from_curl(rc);
		goto done;
	}
	url->path = strdup(v && v[0] ? v : "/");
	curl_free(v);
	v = NULL;

	rc = curl_url_get(h, CURLUPART_QUERY, &v, 0);
	if (rc == CURLUE_OK && v != NULL)
		url->query = strdup(v);
	else if (rc != CURLUE_NO_QUERY)
	{
		st = from_curl(rc);
		goto done;
	}
	curl_free(v);
	v = NULL;

	/* the fragment is never sent: leave it out of what we hand on */
	rc = curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(h, CURLUPART_URL, &v, 0);
	if (rc != CURLUE_OK)
	{
		st = from_curl(rc);
		goto done;
	}
	url->url = strdup(v);
	curl_free(v);
	v = NULL;

	url->authority = malloc(strlen(url->host) + 8);
	if (url->authority)
	{
		if (url->port)
			sprintf(url->authority, "%s:%d", url->host, url->port);
		else
			strcpy(url->authority, url->host);
	}
	if (url->path == NULL || url->url == NULL || url->authority == NULL ||
		(url->query == NULL && has_part(h, CURLUPART_QUERY)))
	{
		st = URL_OUT_OF_MEMORY;
		goto done;
	}

	/*
	 * What is checked must be what is used: the request reads url->url
	 * again, and libcurl decodes a percent-encoded host only after deciding
	 * whether it is an IPv4 number, so "http://%36/" is host "6" on the
	 * first reading and 0.0.0.6 on the second (found by the URL fuzzer).
	 * A host that a second reading changes is refused.
	 */
	st = same_on_rereading(url);

done:
	curl_free(v);
	curl_url_cleanup(h);
	if (st != URL_OK)
		url_free(url);
	return st;
}

void
url_free(Url *url)
{
	free(url->host);
	free(url->authority);
	free(url->path);
	free(url->query);
	free(url->url);
	memset(url, 0, sizeof(*url));
}

const char *
url_status_message(UrlStatus status)
{
	switch (status)
	{
		case URL_OK:
			return "The URL is valid.";
		case URL_EMPTY:
			return "The URL is empty.";
		case URL_BAD_CHARACTER:
			return "The URL contains white space, a control character, a non-ASCII character or one of \" < > \\ ^ ` { | }.";
		case URL_MALFORMED:
			return "The URL cannot be parsed.";
		case URL_BAD_SCHEME:
			return "Only http:// and https:// URLs are accepted.";
		case URL_USERINFO:
			return "URLs with a user name or password are not accepted.";
		case URL_NO_HOST:
			return "The URL has no host.";
		case URL_BAD_PORT:
			return "The port is not a number from 1 to 65535.";
		case URL_ZONE_ID:
			return "IPv6 zone identifiers are not accepted.";
		case URL_OUT_OF_MEMORY:
			return "Out of memory while parsing the URL.";
	}
	return "The URL cannot be parsed.";
}

bool
url_host_is_ip(const char *host)
{
	unsigned char addr[16];
	size_t		len;

	if (host == NULL)
		return false;
	len = strlen(host);
	/* libcurl puts IPv6 literals, and nothing else, in brackets */
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		return true;
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

bool
url_host_is_aws(const char *host)
{
	size_t		len;
	size_t		slen = strlen(AWS_SUFFIX);

	if (host == NULL || url_host_is_ip(host))
		return false;
	len = strlen(host);
	/* at least one label before the suffix */
	if (len <= slen || host[len - slen - 1] == '.')
		return false;
	return strcasecmp(host + len - slen, AWS_SUFFIX) == 0;
}

bool
url_host_in_list(const char *host, const char *list)
{
	size_t		hlen;
	const char *p = list;

	if (host == NULL || host[0] == '\0' || list == NULL)
		return false;
	hlen = strlen(host);
	while (*p)
	{
		size_t		n;

		while (*p == ',' || isspace((unsigned char) *p))
			p++;
		n = strcspn(p, ", \t\r\n\f\v");
		if (n == hlen && n > 0 && strncasecmp(p, host, n) == 0)
			return true;
		p += n;
	}
	return false;
}

/* The value of a hexadecimal digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

UrlDecodeStatus
url_percent_decode(const char *s, size_t len, bool form, bool strict, char *out,
				   size_t *out_len)
{
	size_t		n = 0;
	size_t		i;
	UrlDecodeStatus status = URL_DECODE_OK;

	for (i = 0; i < len; i++)
	{
		int			hi;
		int			lo;

		if (s[i] == '+' && form)
			out[n++] = ' ';
		else if (s[i] == '%' && i + 2 < len &&
				 (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0)
		{
			if (strict && hi == 0 && lo == 0)
			{
				status = URL_DECODE_NUL;
				break;
			}
			out[n++] = (char) (hi * 16 + lo);
			i += 2;
		}
		else if (s[i] == '%' && strict)
		{
			status = URL_DECODE_MALFORMED;
			break;
		}
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	*out_len = n;
	return status;
}
