/*-------------------------------------------------------------------------
 *
 * test_url.c
 *	  Unit tests of the URL module (src/s3/url.c): what is accepted, what
 *	  is refused and why, the host checks, and that the host checked is
 *	  the host libcurl would connect to.
 *
 * IDENTIFICATION
 *	  test/unit/test_url.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "unit.h"
#include "url.h"

/* The text of a URL for a test's name: control and non-ASCII bytes as \xNN. */
static const char *
printable(const char *text)
{
	static char buf[512];
	size_t		n = 0;

	for (; *text && n < sizeof(buf) - 5; text++)
	{
		unsigned char c = (unsigned char) *text;

		if (c < 0x20 || c >= 0x7f)
			n += snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
		else
			buf[n++] = (char) c;
	}
	buf[n] = '\0';
	return buf;
}

/* Parse; check the status, and on success the parts. */
static void
check(const char *raw, UrlStatus want, const char *scheme, const char *host,
	  int port, const char *authority, const char *path, const char *query)
{
	Url			u;
	UrlStatus	st = url_parse(raw, &u);
	const char *text = printable(raw);

	UNIT_CHECK(st == want, "\"%s\": status %d (%s)", text, (int) st, url_status_message(st));
	if (st != URL_OK || want != URL_OK)
		return;
	UNIT_CHECK_STR(u.scheme, scheme, "\"%s\": scheme", text);
	UNIT_CHECK_STR(u.host, host, "\"%s\": host", text);
	UNIT_CHECK(u.port == port, "\"%s\": port %d", text, u.port);
	UNIT_CHECK_STR(u.authority, authority, "\"%s\": authority", text);
	UNIT_CHECK_STR(u.path, path, "\"%s\": path", text);
	if (query == NULL)
		UNIT_CHECK(u.query == NULL, "\"%s\": no query", text);
	else
		UNIT_CHECK_STR(u.query, query, "\"%s\": query", text);
	url_free(&u);
}

static void
refused(const char *text, UrlStatus want)
{
	check(text, want, NULL, NULL, 0, NULL, NULL, NULL);
}

/*
 * The host libcurl connects to for Url.url, as a transfer would see it:
 * parse Url.url again with libcurl's defaults (no CURLU_DISALLOW_USER) and
 * compare host and port.  What we check must be what is used.
 */
static bool
roundtrip_same(const char *text)
{
	Url			u;
	CURLU	   *h;
	char	   *host = NULL;
	char	   *port = NULL;
	bool		same;

	if (url_parse(text, &u) != URL_OK)
		return true;
	h = curl_url();
	same = curl_url_set(h, CURLUPART_URL, u.url, 0) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		strcasecmp(host, u.host) == 0;
	if (same && u.port)
		same = curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK && atoi(port) == u.port;
	else if (same)
		same = curl_url_get(h, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT) == CURLUE_NO_PORT;
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	url_free(&u);
	return same;
}

static void
test_accepted(void)
{
	check("https://sqs.us-east-1.amazonaws.com/123456789012/iot-events", URL_OK, "https",
		  "sqs.us-east-1.amazonaws.com", 0, "sqs.us-east-1.amazonaws.com",
		  "/123456789012/iot-events", NULL);
	check("http://sqs.us-east-1.localhost:4566/000000000000/q", URL_OK, "http",
		  "sqs.us-east-1.localhost", 4566, "sqs.us-east-1.localhost:4566", "/000000000000/q", NULL);
	/* upper-case scheme and host: lower-cased */
	check("HTTPS://SQS.US-EAST-1.AmazonAWS.COM/1/Q", URL_OK, "https",
		  "sqs.us-east-1.amazonaws.com", 0, "sqs.us-east-1.amazonaws.com", "/1/Q", NULL);
	check("hTtP://Hooks.Example.com:8443/hook?x=1&y=%20", URL_OK, "http",
		  "hooks.example.com", 8443, "hooks.example.com:8443", "/hook", "x=1&y=%20");
	/* no path: "/" */
	check("http://hooks.example.com", URL_OK, "http", "hooks.example.com", 0,
		  "hooks.example.com", "/", NULL);
	check("http://h:/x", URL_OK, "http", "h", 0, "h", "/x", NULL);
	/* '@' in the path, query or fragment is not user information */
	check("http://hooks.example.com/a@127.0.0.1", URL_OK, "http", "hooks.example.com", 0,
		  "hooks.example.com", "/a@127.0.0.1", NULL);
	check("http://hooks.example.com?u=x@127.0.0.1", URL_OK, "http", "hooks.example.com", 0,
		  "hooks.example.com", "/", "u=x@127.0.0.1");
	check("http://hooks.example.com/p#@127.0.0.1", URL_OK, "http", "hooks.example.com", 0,
		  "hooks.example.com", "/p", NULL);
	/* IPv6 and IPv4 literals; numeric IPv4 forms as libcurl normalizes them */
	check("http://[::1]:8080/p", URL_OK, "http", "[::1]", 8080, "[::1]:8080", "/p", NULL);
	check("http://[::FFFF:127.0.0.1]/", URL_OK, "http", "[::ffff:127.0.0.1]", 0,
		  "[::ffff:127.0.0.1]", "/", NULL);
	check("http://2130706433/", URL_OK, "http", "127.0.0.1", 0, "127.0.0.1", "/", NULL);
	check("http://0x7f.1/", URL_OK, "http", "127.0.0.1", 0, "127.0.0.1", "/", NULL);
	/* percent-encoding: decoded in the host (so checked decoded), kept in the path */
	check("http://%31%32%37.0.0.1/", URL_OK, "http", "127.0.0.1", 0, "127.0.0.1", "/", NULL);
	check("http://h/%2e%2e/a%20b", URL_OK, "http", "h", 0, "h", "/%2e%2e/a%20b", NULL);
	check("http://h:65535/", URL_OK, "http", "h", 65535, "h:65535", "/", NULL);
}

static void
test_refused(void)
{
	/* the reproducers of the security review */
	refused("http://sqs.us-east-1.amazonaws.com:x@127.0.0.1:18080/000/q", URL_USERINFO);
	refused("http://hooks.example.com:x@127.0.0.1:18080/ssrf-webhook", URL_USERINFO);
	/* user information in every shape */
	refused("http://user@h/", URL_USERINFO);
	refused("http://user:pw@h/", URL_USERINFO);
	refused("http://:pw@h/", URL_USERINFO);
	refused("http://:@h/", URL_USERINFO);
	refused("http://@h/", URL_USERINFO);
	refused("http://;opt@h/", URL_USERINFO);
	refused("http://sqs.us-east-1.amazonaws.com%3Ax@127.0.0.1/", URL_USERINFO);
	refused("HTTP://SQS.US-EAST-1.AMAZONAWS.COM:X@127.0.0.1/", URL_USERINFO);
	{
		Url			u;
		UrlStatus	st = url_parse("http://a@b@c/x", &u);

		UNIT_CHECK(st != URL_OK, "two '@': refused (%s)", url_status_message(st));
	}
	/* a backslash is a separator to some parsers, part of the user to libcurl */
	refused("http://hooks.example.com\\@127.0.0.1/", URL_BAD_CHARACTER);
	refused("http://h/a\\b", URL_BAD_CHARACTER);
	/* schemes */
	refused("ftp://h/x", URL_BAD_SCHEME);
	refused("file:///etc/passwd", URL_BAD_SCHEME);
	refused("gopher://h/", URL_BAD_SCHEME);
	refused("h/x", URL_BAD_SCHEME);
	refused("//h/x", URL_BAD_SCHEME);
	refused("http:/h/x", URL_BAD_SCHEME);
	refused("http:h", URL_BAD_SCHEME);
	refused("httpx://h/", URL_BAD_SCHEME);
	/* white space, control and non-ASCII characters anywhere */
	refused("", URL_EMPTY);
	refused(" http://h/", URL_BAD_CHARACTER);
	refused("http://h/ ", URL_BAD_CHARACTER);
	refused("http://h /x", URL_BAD_CHARACTER);
	refused("http://h\t/", URL_BAD_CHARACTER);
	refused("http://h\r\nHost: evil/", URL_BAD_CHARACTER);
	refused("http://h\x7f/", URL_BAD_CHARACTER);
	refused("http://\xc3\xa9.com/", URL_BAD_CHARACTER);
	refused("http://h/{x}", URL_BAD_CHARACTER);
	refused("http://h/a|b", URL_BAD_CHARACTER);
	/* hosts and ports */
	refused("http:///x", URL_NO_HOST);
	refused("https:///127.0.0.1/", URL_NO_HOST);
	refused("http://", URL_NO_HOST);
	refused("http://h:99999/", URL_BAD_PORT);
	refused("http://h:0/", URL_BAD_PORT);
	refused("http://h:-1/", URL_BAD_PORT);
	refused("http://h:8x/", URL_BAD_PORT);
	refused("http://[fe80::1%25eth0]/", URL_ZONE_ID);
	refused("http://[::1/", URL_MALFORMED);
	refused("http://host%00.amazonaws.com/", URL_MALFORMED);
	refused("http://h%2fx.amazonaws.com/", URL_MALFORMED);
	/*
	 * A percent-encoded number: host "6" when first read, 0.0.0.6 when
	 * libcurl reads the URL again to send the request (found by the URL
	 * fuzzer); what would be checked is not what would be used.
	 */
	refused("HTTP://%36", URL_MALFORMED);
	refused("http://%32%38%35%32%30%33%39%31%36%36/latest/", URL_MALFORMED);
	{
		Url			u;

		UNIT_CHECK(url_parse(NULL, &u) == URL_EMPTY, "NULL is empty");
	}
}

static void
test_hosts(void)
{
	UNIT_CHECK(url_host_is_aws("sqs.us-east-1.amazonaws.com"), "AWS: sqs.us-east-1.amazonaws.com");
	UNIT_CHECK(url_host_is_aws("SQS.EU-WEST-1.AMAZONAWS.COM"), "AWS: upper case");
	UNIT_CHECK(!url_host_is_aws("amazonaws.com"), "not AWS: the bare domain");
	UNIT_CHECK(!url_host_is_aws(".amazonaws.com"), "not AWS: an empty label");
	UNIT_CHECK(!url_host_is_aws("x..amazonaws.com"), "not AWS: an empty label before the suffix");
	UNIT_CHECK(!url_host_is_aws("evilamazonaws.com"), "not AWS: evilamazonaws.com");
	UNIT_CHECK(!url_host_is_aws("sqs.amazonaws.com.evil.com"), "not AWS: amazonaws.com.evil.com");
	UNIT_CHECK(!url_host_is_aws("sqs.us-east-1.amazonaws.com."), "not AWS: a trailing dot");
	UNIT_CHECK(!url_host_is_aws("127.0.0.1"), "not AWS: an IPv4 literal");
	UNIT_CHECK(!url_host_is_aws("[::1]"), "not AWS: an IPv6 literal");
	UNIT_CHECK(!url_host_is_aws(NULL), "not AWS: NULL");

	UNIT_CHECK(url_host_is_ip("127.0.0.1"), "IP: 127.0.0.1");
	UNIT_CHECK(url_host_is_ip("[::1]"), "IP: [::1]");
	UNIT_CHECK(url_host_is_ip("::1"), "IP: ::1");
	UNIT_CHECK(!url_host_is_ip("localhost"), "not IP: localhost");
	UNIT_CHECK(!url_host_is_ip("1.2.3.4.example.com"), "not IP: a name that starts like one");

	UNIT_CHECK(url_host_in_list("hooks.example.com", "hooks.example.com"), "list: one host");
	UNIT_CHECK(url_host_in_list("hooks.example.com", "a.example.com, HOOKS.example.com"), "list: case-insensitive, second");
	UNIT_CHECK(url_host_in_list("b", " a ,b,, c "), "list: spaces and empty entries");
	UNIT_CHECK(!url_host_in_list("hooks.example.com", "example.com"), "list: no suffix match");
	UNIT_CHECK(!url_host_in_list("example.com", "hooks.example.com"), "list: no prefix match");
	UNIT_CHECK(!url_host_in_list("hooks.example.com", "hooks.example.co"), "list: no partial match");
	UNIT_CHECK(!url_host_in_list("hooks.example.com", ""), "list: empty");
	UNIT_CHECK(!url_host_in_list("hooks.example.com", NULL), "list: NULL");
	UNIT_CHECK(!url_host_in_list("", ","), "list: empty host");

	/* what the checks see after parsing: the reproducers' hosts */
	{
		Url			u;

		UNIT_CHECK(url_parse("http://sqs.us-east-1.amazonaws.com.127.0.0.1.nip.io/q", &u) == URL_OK &&
				   !url_host_is_aws(u.host), "a name that merely contains amazonaws.com is not AWS");
		url_free(&u);
		UNIT_CHECK(url_parse("http://hooks.example.com.evil.net/", &u) == URL_OK &&
				   !url_host_in_list(u.host, "hooks.example.com"), "nor a name that starts with an allowed one");
		url_free(&u);
	}
}

/* Fuzz-ish: mutate good URLs; whatever is accepted connects where it was checked. */
static void
test_mutations(void)
{
	static const char *seeds[] = {
		"https://sqs.us-east-1.amazonaws.com/123456789012/q",
		"http://hooks.example.com:8080/hook?x=1#f",
		"http://[::1]:1/p",
		"http://a:b@127.0.0.1:18080/000/q",
	};
	static const char alphabet[] = "@:/?#[]%.\\ aA0\t";
	uint32_t	seed = 12345;
	int			tries = 0;
	int			accepted = 0;
	int			bad = 0;
	int			userinfo_accepted = 0;

	for (int s = 0; s < (int) (sizeof(seeds) / sizeof(seeds[0])); s++)
	{
		for (int i = 0; i < 5000; i++)
		{
			char		buf[128];
			size_t		len = strlen(seeds[s]);
			int			nmut = 1 + (int) (seed % 3);

			memcpy(buf, seeds[s], len + 1);
			for (int m = 0; m < nmut; m++)
			{
				size_t		at;
				char		c;

				seed = seed * 1103515245 + 12345;
				at = (seed >> 8) % (len + 1);
				c = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
				if ((seed >> 4) & 1 && len + 1 < sizeof(buf))
				{
					memmove(buf + at + 1, buf + at, len - at + 1);
					buf[at] = c;
					len++;
				}
				else if (at < len)
					buf[at] = c;
			}
			tries++;
			{
				Url			u;

				if (url_parse(buf, &u) == URL_OK)
				{
					accepted++;
					if (strchr(u.authority, '@') != NULL)
						userinfo_accepted++;
					url_free(&u);
					if (!roundtrip_same(buf))
					{
						if (bad++ < 5)
							printf("# differs: %s\n", buf);
					}
				}
			}
		}
	}
	UNIT_CHECK(bad == 0, "%d mutated URLs, %d accepted: each connects to the host checked (%d differ)",
			   tries, accepted, bad);
	UNIT_CHECK(userinfo_accepted == 0, "no accepted URL has user information in its authority");
}

/* One url_percent_decode case: its status, and the bytes it decodes to. */
static void
check_decode(const char *in, bool form, bool strict, UrlDecodeStatus want_status,
			 const char *want, size_t want_len)
{
	char		out[256];
	size_t		n = 12345;
	UrlDecodeStatus st = url_percent_decode(in, strlen(in), form, strict, out, &n);

	UNIT_CHECK(st == want_status && (want_status != URL_DECODE_OK ||
									 (n == want_len && memcmp(out, want, n) == 0 && out[n] == '\0')),
			   "decode \"%s\" (%s%s)", printable(in), form ? "form" : "percent",
			   strict ? ", strict" : "");
}

static void
test_decode(void)
{
	/* S3 event keys: form-encoded, strict */
	check_decode("a+b%2Bc", true, true, URL_DECODE_OK, "a b+c", 5);
	check_decode("dir/%C3%A9t%c3%a9.json", true, true, URL_DECODE_OK, "dir/\xc3\xa9t\xc3\xa9.json", 14);
	check_decode("", true, true, URL_DECODE_OK, "", 0);
	check_decode("100%", true, true, URL_DECODE_MALFORMED, NULL, 0);
	check_decode("a%4", true, true, URL_DECODE_MALFORMED, NULL, 0);
	check_decode("a%zz", true, true, URL_DECODE_MALFORMED, NULL, 0);
	check_decode("a%00b", true, true, URL_DECODE_NUL, NULL, 0);
	check_decode("%00%zz", true, true, URL_DECODE_NUL, NULL, 0);
	check_decode("%zz%00", true, true, URL_DECODE_MALFORMED, NULL, 0);
	/* partition directories: percent-encoded, lenient */
	check_decode("2026-11-25%2010%3A00", false, false, URL_DECODE_OK, "2026-11-25 10:00", 16);
	check_decode("a+b", false, false, URL_DECODE_OK, "a+b", 3);
	check_decode("100%", false, false, URL_DECODE_OK, "100%", 4);
	check_decode("%4", false, false, URL_DECODE_OK, "%4", 2);
	check_decode("%g1%41", false, false, URL_DECODE_OK, "%g1A", 4);
	check_decode("x%00y", false, false, URL_DECODE_OK, "x\0y", 3);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_accepted();
	test_refused();
	test_hosts();
	test_mutations();
	test_decode();
	curl_global_cleanup();
	return unit_done();
}
