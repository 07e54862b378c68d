/*-------------------------------------------------------------------------
 *
 * test_http_header.c
 *	  Unit tests of the HTTP header line parser (src/s3/http_header.c):
 *	  status lines, the fields we keep, and that nothing past the line's
 *	  length is read (every line is copied into a buffer of exactly its
 *	  length, followed by bytes that would change the answer if read).
 *
 * IDENTIFICATION
 *	  test/unit/test_http_header.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"
#include "http_header.h"

/*
 * Parse the first "len" bytes of "text" from a buffer whose following
 * bytes are "after" (not a NUL): a parser that reads past len sees them.
 */
static HttpHeaderLine
parse_cut(HttpResponseInfo *info, const char *text, size_t len, const char *after)
{
	char		buf[512];

	memcpy(buf, text, len);
	memcpy(buf + len, after, strlen(after) + 1);
	return http_header_parse(info, buf, len);
}

static HttpHeaderLine
parse(HttpResponseInfo *info, const char *text)
{
	return parse_cut(info, text, strlen(text), "999 9999");
}

static void
test_status(void)
{
	static const struct
	{
		const char *line;
		long		status;
	}			cases[] = {
		{"HTTP/1.1 200 OK\r\n", 200},
		{"HTTP/1.1 404 Not Found\r\n", 404},
		{"HTTP/1.0 503 Slow Down\r\n", 503},
		{"HTTP/2 200\r\n", 200},
		{"HTTP/2 204 \r\n", 204},
		{"HTTP/1.1 100 Continue\r\n", 100},
		{"HTTP/1.1 200", 200},
		{"HTTP/1.1 200\n", 200},
		{"HTTP/3 418 I'm a teapot\r\n", 418},
		/* malformed: 0, never a number read from elsewhere */
		{"HTTP/", 0},
		{"HTTP/1.1", 0},
		{"HTTP/1.1 ", 0},
		{"HTTP/1.1 2", 0},
		{"HTTP/1.1 20", 0},
		{"HTTP/1.1 2000 OK\r\n", 0},
		{"HTTP/1.1 -200 OK\r\n", 0},
		{"HTTP/1.1 +20 OK\r\n", 0},
		{"HTTP/1.1  200 OK\r\n", 0},
		{"HTTP/1.1 2x0 OK\r\n", 0},
		{"HTTP/1.1 002 OK\r\n", 0},
		{"HTTP/1.1 200OK\r\n", 0},
		{"HTTP/x 200 OK\r\n", 0},
		{"HTTP/ 200 OK\r\n", 0},
		{"HTTP/1.1\r\n200", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		HttpResponseInfo info;
		HttpHeaderLine k;
		char		name[64];
		size_t		n = 0;

		for (const char *c = cases[i].line; *c && n < sizeof(name) - 3; c++)
		{
			if (*c == '\r' || *c == '\n')
			{
				name[n++] = '\\';
				name[n++] = *c == '\r' ? 'r' : 'n';
			}
			else
				name[n++] = *c;
		}
		name[n] = '\0';
		memset(&info, 0x55, sizeof(info));
		k = parse(&info, cases[i].line);
		UNIT_CHECK(k == HTTP_LINE_STATUS && info.status == cases[i].status &&
				   info.content_length == -1 && info.etag[0] == '\0',
				   "status line \"%s\" -> %ld (got %ld)", name, cases[i].status, info.status);
	}
}

static void
test_cut(void)
{
	HttpResponseInfo info;

	/* the bytes after the line's length are digits: they must not count */
	memset(&info, 0, sizeof(info));
	parse_cut(&info, "HTTP/1.1 200 OK", 10, "00 OK\r\n");
	UNIT_CHECK(info.status == 0, "\"HTTP/1.1 2\" followed by \"00\" in memory: 0 (got %ld)", info.status);
	parse_cut(&info, "HTTP/1.1 200 OK", 9, "200 OK\r\n");
	UNIT_CHECK(info.status == 0, "\"HTTP/1.1 \" followed by \"200\" in memory: 0 (got %ld)", info.status);
	parse_cut(&info, "HTTP/1.1", 8, " 200 OK\r\n");
	UNIT_CHECK(info.status == 0, "\"HTTP/1.1\" followed by \" 200\" in memory: 0 (got %ld)", info.status);

	parse(&info, "HTTP/1.1 200 OK\r\n");
	parse_cut(&info, "Content-Length: 12", 17, "34567\r\n");
	UNIT_CHECK(info.content_length == 1, "Content-Length cut after \"1\": 1 (got %lld)",
			   (long long) info.content_length);
	parse_cut(&info, "ETag: \"abc\"", 9, "def\"\r\n");
	UNIT_CHECK_STR(info.etag, "\"ab", "ETag cut: what is there");
	parse_cut(&info, "ETag:", 5, " \"x\"\r\n");
	UNIT_CHECK_STR(info.etag, "", "an empty ETag");
	parse(&info, "HTTP/1.1 200 OK\r\n");
	parse_cut(&info, "Content-Length", 14, ": 5\r\n");
	UNIT_CHECK(info.content_length == -1, "a name without ':' within the line is no field");
	UNIT_CHECK(parse_cut(&info, "\r\n", 0, "\r\n") == HTTP_LINE_FIELD, "a line of length 0 is nothing");
}

static void
test_fields(void)
{
	HttpResponseInfo info;

	UNIT_CHECK(parse(&info, "HTTP/1.1 200 OK\r\n") == HTTP_LINE_STATUS, "status line");
	UNIT_CHECK(parse(&info, "Content-Length: 4893\r\n") == HTTP_LINE_FIELD &&
			   info.content_length == 4893, "Content-Length");
	parse(&info, "content-length:\t 7 \r\n");
	UNIT_CHECK(info.content_length == 7, "content-length: any case, blanks trimmed");
	parse(&info, "Content-Length: -5\r\n");
	UNIT_CHECK(info.content_length == -1, "a negative Content-Length is unknown");
	parse(&info, "Content-Length: 12abc\r\n");
	UNIT_CHECK(info.content_length == -1, "a Content-Length with letters is unknown");
	parse(&info, "Content-Length: 99999999999999999999999\r\n");
	UNIT_CHECK(info.content_length == -1, "an overflowing Content-Length is unknown");
	parse(&info, "Content-Length: 9223372036854775800\r\n");
	UNIT_CHECK(info.content_length == INT64_C(9223372036854775800), "a large Content-Length");
	parse(&info, "ETag: \"e6f2\"\r\n");
	UNIT_CHECK_STR(info.etag, "\"e6f2\"", "ETag");
	parse(&info, "Last-Modified: Wed, 25 Nov 2026 10:00:00 GMT\r\n");
	UNIT_CHECK_STR(info.last_modified, "Wed, 25 Nov 2026 10:00:00 GMT", "Last-Modified");
	parse(&info, "Content-Type: application/xml\r\n");
	UNIT_CHECK_STR(info.content_type, "application/xml", "Content-Type");
	parse(&info, "Content-Range: bytes 100-199/200\r\n");
	UNIT_CHECK_STR(info.content_range, "bytes 100-199/200", "Content-Range");
	parse(&info, "x-amz-request-id: 4442587FB7D0A2F9\r\n");
	UNIT_CHECK_STR(info.request_id, "4442587FB7D0A2F9", "x-amz-request-id");
	parse(&info, "Date: Wed, 25 Nov 2026 10:00:07 GMT\r\n");
	UNIT_CHECK_STR(info.date, "Wed, 25 Nov 2026 10:00:07 GMT", "Date (S3's clock, for leases)");
	parse(&info, "x-amz-date: 20261125T100000Z\r\n");
	UNIT_CHECK_STR(info.date, "Wed, 25 Nov 2026 10:00:07 GMT", "x-amz-date is another header");
	{
		char		longv[400];

		memset(longv, 'a', sizeof(longv));
		memcpy(longv, "ETag: ", 6);
		longv[sizeof(longv) - 1] = '\0';
		parse(&info, longv);
		UNIT_CHECK(strlen(info.etag) == sizeof(info.etag) - 1, "a long ETag is cut to its field");
	}
	parse(&info, "ETagX: nope\r\n");
	UNIT_CHECK(info.etag[0] == 'a', "ETagX is another header");
	UNIT_CHECK(parse(&info, "\r\n") == HTTP_LINE_END, "CRLF ends the headers");
	UNIT_CHECK(parse(&info, "\n") == HTTP_LINE_END, "LF ends the headers");
	UNIT_CHECK(parse(&info, "\r") == HTTP_LINE_END, "CR ends the headers");
	UNIT_CHECK(parse(&info, "\rx") == HTTP_LINE_FIELD, "CR and more is no end");
	/* a second response (after 100 Continue) starts over */
	parse(&info, "HTTP/1.1 100 Continue\r\n");
	UNIT_CHECK(info.status == 100 && info.etag[0] == '\0' && info.content_length == -1,
			   "a new status line resets what was parsed");
}

int
main(void)
{
	test_status();
	test_cut();
	test_fields();
	return unit_done();
}
