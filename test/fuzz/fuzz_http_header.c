/*-------------------------------------------------------------------------
 *
 * fuzz_http_header.c
 *	  libFuzzer harness of the HTTP header line parser
 *	  (src/s3/http_header.c): the input, cut into lines at '\n' as libcurl
 *	  cuts them, each line in a buffer of exactly its length (no NUL
 *	  after it, so AddressSanitizer sees any read past it), and the whole
 *	  input as one line too.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_http_header.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_header.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void
one_line(HttpResponseInfo *info, const uint8_t *p, size_t len)
{
	char	   *line = malloc(len ? len : 1);
	HttpHeaderLine k;

	memcpy(line, p, len);
	k = http_header_parse(info, line, len);
	CHECK(k == HTTP_LINE_STATUS || k == HTTP_LINE_END || k == HTTP_LINE_FIELD);
	CHECK(info->status == 0 || (info->status >= 100 && info->status <= 999));
	CHECK(info->content_length >= -1);
	CHECK(memchr(info->etag, '\0', sizeof(info->etag)) != NULL);
	CHECK(memchr(info->last_modified, '\0', sizeof(info->last_modified)) != NULL);
	CHECK(memchr(info->content_type, '\0', sizeof(info->content_type)) != NULL);
	CHECK(memchr(info->content_range, '\0', sizeof(info->content_range)) != NULL);
	CHECK(memchr(info->request_id, '\0', sizeof(info->request_id)) != NULL);
	(void) http_status_code(line, len);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HttpResponseInfo info;
	size_t		start = 0;

	memset(&info, 0, sizeof(info));
	info.content_length = -1;
	one_line(&info, data, size);
	for (size_t i = 0; i < size; i++)
	{
		if (data[i] == '\n')
		{
			one_line(&info, data + start, i + 1 - start);
			start = i + 1;
		}
	}
	if (start < size)
		one_line(&info, data + start, size - start);
	return 0;
}
