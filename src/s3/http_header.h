/*-------------------------------------------------------------------------
 *
 * http_header.h
 *	  Parsing of HTTP response header lines, as libcurl hands them to the
 *	  header callback: one line at a time, "len" bytes, with no promise of
 *	  a terminating NUL.
 *
 * Pure C (no backend calls, no allocation): http.c calls it from inside
 * libcurl, the unit tests and the fuzzer (test/fuzz) call it directly.
 *
 * IDENTIFICATION
 *	  src/s3/http_header.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_HTTP_HEADER_H
#define PIPELINE_HTTP_HEADER_H

#include <stddef.h>
#include <stdint.h>

/* The response headers that matter to us. */
typedef struct HttpResponseInfo
{
	long		status;			/* 0 until the status line arrived (and
								 * after a malformed one) */
	int64_t		content_length; /* -1 if unknown */
	char		etag[128];
	char		last_modified[64];
	char		content_type[128];
	char		content_range[128];
	char		request_id[64];
	char		date[64];		/* the server's clock (Date), for leases */
} HttpResponseInfo;

/* What a header line was. */
typedef enum HttpHeaderLine
{
	HTTP_LINE_STATUS,			/* "HTTP/1.1 200 OK": a new response began
								 * (after a 100 Continue, say); *info was
								 * reset */
	HTTP_LINE_END,				/* the empty line that ends the headers */
	HTTP_LINE_FIELD				/* a header field, or anything else */
} HttpHeaderLine;

/*
 * Parse one header line (line[0..len), not NUL-terminated) into *info.
 * Reads nothing outside line[0..len).
 */
extern HttpHeaderLine http_header_parse(HttpResponseInfo *info, const char *line,
										size_t len);

/*
 * The status code of a status line ("HTTP/1.1 404 Not Found", "HTTP/2 200"):
 * three digits after the version; 0 if the line is not one.
 */
extern long http_status_code(const char *line, size_t len);

#endif							/* PIPELINE_HTTP_HEADER_H */
