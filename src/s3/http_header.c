/*-------------------------------------------------------------------------
 *
 * http_header.c
 *	  Parsing of HTTP response header lines within their length.
 *
 * libcurl passes the header callback a pointer and a length; 7.88 happens
 * to NUL-terminate the line, but its documentation does not promise it,
 * so nothing here reads past line[len - 1]: no strtol, no strlen, no
 * string functions that look for a terminator.
 *
 * Pure C; see http_header.h.
 *
 * IDENTIFICATION
 *	  src/s3/http_header.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <string.h>

#include "http_header.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

long
http_status_code(const char *line, size_t len)
{
	size_t		i = 5;

	/* "HTTP/" version SP 3DIGIT [SP reason] CRLF */
	if (len < 5 || memcmp(line, "HTTP/", 5) != 0)
		return 0;
	while (i < len && line[i] != ' ')
	{
		if (!is_digit(line[i]) && line[i] != '.')
			return 0;
		i++;
	}
	if (i == 5 || i >= len)
		return 0;
	i++;						/* the space */
	if (len - i < 3 || line[i] < '1' || line[i] > '9' || !is_digit(line[i + 1]) ||
		!is_digit(line[i + 2]))
		return 0;
	/* what follows the code: nothing, the reason phrase or the line end */
	if (len - i > 3 && line[i + 3] != ' ' && line[i + 3] != '\r' && line[i + 3] != '\n')
		return 0;
	return (line[i] - '0') * 100 + (line[i + 1] - '0') * 10 + (line[i + 2] - '0');
}

/* Does line[0..len) start with "name:" (any case)?  Then *vstart is after the ':'. */
static bool
header_is(const char *line, size_t len, const char *name, size_t *vstart)
{
	size_t		n = strlen(name);

	if (len <= n || line[n] != ':')
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(line[i]) != name[i])
			return false;
	*vstart = n + 1;
	return true;
}

/* Copy a header value (src[0..len)) into a fixed field, trimmed. */
static void
header_value(char *dst, size_t dstlen, const char *src, size_t len)
{
	while (len > 0 && (*src == ' ' || *src == '\t'))
		src++, len--;
	while (len > 0 && (src[len - 1] == '\r' || src[len - 1] == '\n' ||
					   src[len - 1] == ' ' || src[len - 1] == '\t'))
		len--;
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* A Content-Length value: digits only (after trimming), else -1. */
static int64_t
content_length(const char *src, size_t len)
{
	char		tmp[32];
	int64_t		v = 0;
	size_t		i;

	header_value(tmp, sizeof(tmp), src, len);
	if (tmp[0] == '\0')
		return -1;
	for (i = 0; tmp[i]; i++)
	{
		int			d = tmp[i] - '0';

		if (!is_digit(tmp[i]) || v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	return v;
}

HttpHeaderLine
http_header_parse(HttpResponseInfo *info, const char *line, size_t len)
{
	size_t		v;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
	{
		memset(info, 0, sizeof(*info));
		info->content_length = -1;
		info->status = http_status_code(line, len);
		return HTTP_LINE_STATUS;
	}
	if ((len == 1 && (line[0] == '\n' || line[0] == '\r')) ||
		(len == 2 && line[0] == '\r' && line[1] == '\n'))
		return HTTP_LINE_END;
	if (header_is(line, len, "content-length", &v))
		info->content_length = content_length(line + v, len - v);
	else if (header_is(line, len, "etag", &v))
		header_value(info->etag, sizeof(info->etag), line + v, len - v);
	else if (header_is(line, len, "last-modified", &v))
		header_value(info->last_modified, sizeof(info->last_modified), line + v, len - v);
	else if (header_is(line, len, "content-type", &v))
		header_value(info->content_type, sizeof(info->content_type), line + v, len - v);
	else if (header_is(line, len, "content-range", &v))
		header_value(info->content_range, sizeof(info->content_range), line + v, len - v);
	else if (header_is(line, len, "x-amz-request-id", &v))
		header_value(info->request_id, sizeof(info->request_id), line + v, len - v);
	else if (header_is(line, len, "date", &v))
		header_value(info->date, sizeof(info->date), line + v, len - v);
	return HTTP_LINE_FIELD;
}
