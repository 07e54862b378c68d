/*-------------------------------------------------------------------------
 *
 * fuzz_url.c
 *	  libFuzzer harness of the URL module (src/s3/url.c): any bytes as a
 *	  URL; whatever is accepted must have an http(s) scheme, a host, no user
 *	  information, and libcurl, given Url.url back with its default rules,
 *	  must find the same host and port: what is checked is what is used.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_url.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "url.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	Url			u;

	memcpy(text, data, size);
	text[size] = '\0';
	if (url_parse(text, &u) == URL_OK)
	{
		CURLU	   *h = curl_url();
		char	   *host = NULL;
		char	   *port = NULL;
		char	   *user = NULL;

		CHECK(strcmp(u.scheme, "http") == 0 || strcmp(u.scheme, "https") == 0);
		CHECK(u.host && u.host[0] && strchr(u.host, '@') == NULL);
		CHECK(u.authority && strchr(u.authority, '@') == NULL);
		CHECK(u.path && u.path[0] == '/');
		CHECK(u.port >= 0 && u.port <= 65535);
		for (const char *c = u.url; *c; c++)
			CHECK(*c > 0x20 && *c < 0x7f);
		/* libcurl's own reading of what we hand it */
		CHECK(curl_url_set(h, CURLUPART_URL, u.url, 0) == CURLUE_OK);
		CHECK(curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK);
		CHECK(strcasecmp(host, u.host) == 0);
		CHECK(curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_NO_USER);
		if (u.port)
			CHECK(curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK && atoi(port) == u.port);
		else
			CHECK(curl_url_get(h, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT) == CURLUE_NO_PORT);
		(void) url_host_is_aws(u.host);
		(void) url_host_in_list(u.host, "a.example.com, [::1] 127.0.0.1");
		curl_free(host);
		curl_free(port);
		curl_free(user);
		curl_url_cleanup(h);
		url_free(&u);
	}
	/* the list parser on the raw bytes, both ways */
	(void) url_host_in_list(text, "hooks.example.com,,  x");
	(void) url_host_in_list("hooks.example.com", text);
	(void) url_host_is_ip(text);
	(void) url_host_is_aws(text);
	free(text);
	return 0;
}
