/*-------------------------------------------------------------------------
 *
 * fuzz_sigv4.c
 *	  libFuzzer harness of SigV4 signing (src/s3/sigv4.c) on odd object
 *	  keys, query parameters and header values: keys come from event
 *	  messages and listings, that is from outside.
 *
 * An input is 4 option bytes and then data split at NUL bytes into an
 * object key, query parameter names and values, and header values (any
 * other bytes: blanks, commas, quotes, CR, LF, UTF-8 or not).  Checked:
 *
 *	- sigv4_uri_encode() writes only unreserved characters, '/' when asked,
 *	  and %XX in upper case, and decoding that gives the bytes back;
 *	- a request with a CR or LF in a header value is refused; any other is
 *	  signed, and its canonical request is the one a reference written
 *	  here from AWS's description builds (method, path, the query sorted
 *	  by name then value with '=' added, header names in lower case sorted
 *	  with host and x-amz-date, a name given twice joined with commas in
 *	  the order given, values trimmed with inner blanks collapsed, the
 *	  signed headers, the payload hash);
 *	- the string to sign and the signature are the ones OpenSSL's SHA-256
 *	  and HMAC give (the key derivation of AWS4 + secret, date, region,
 *	  service, aws4_request), and the Authorization header carries them;
 *	- the query parameters and headers given in another order (names kept
 *	  distinct) and header names in other letter cases sign the same.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_sigv4.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "fuzz.h"
#include "sigv4.h"

#define MAX_PARTS 12

/* Header names a request may carry, in the letter cases callers use. */
static const char *const header_names[8] = {
	"x-amz-meta-a", "X-Amz-Meta-A", "content-type", "Range",
	"x-amz-content-sha256", "x-amz-meta-b", "X-AMZ-META-B", "x-amz-security-token"
};

static void
check_encoding(const char *s, size_t n, bool encode_slash)
{
	StringInfoData out;
	Str			back = {0};

	initStringInfo(&out);
	sigv4_uri_encode(&out, s, n, encode_slash);
	for (int i = 0; i < out.len; i++)
	{
		char		c = out.data[i];

		if (c == '%')
		{
			unsigned	v;

			CHECK(i + 2 < out.len);
			CHECK(strchr("0123456789ABCDEF", out.data[i + 1]) && out.data[i + 1]);
			CHECK(strchr("0123456789ABCDEF", out.data[i + 2]) && out.data[i + 2]);
			sscanf(out.data + i + 1, "%2x", &v);
			{
				char		b = (char) v;

				str_add(&back, &b, 1);
			}
			i += 2;
		}
		else
		{
			CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				  c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !encode_slash));
			str_add(&back, &c, 1);
		}
	}
	CHECK(back.len == n && (n == 0 || memcmp(back.s, s, n) == 0));
	str_free(&back);
	pfree(out.data);
}

/* ----------------------------------------------------------------
 * The reference canonical request
 * ----------------------------------------------------------------
 */

typedef struct Hdr
{
	char		name[32];
	const char *value;
	int			order;
} Hdr;

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
cmp_hdr(const void *a, const void *b)
{
	const Hdr  *x = a;
	const Hdr  *y = b;
	int			c = strcmp(x->name, y->name);

	return c ? c : x->order - y->order;
}

/* trimmed, inner runs of blanks as one space */
static void
ref_value(Str *out, const char *v)
{
	const char *e = v + strlen(v);

	while (*v == ' ' || *v == '\t')
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (const char *p = v; p < e; p++)
	{
		if (*p == ' ' || *p == '\t')
		{
			while (p + 1 < e && (p[1] == ' ' || p[1] == '\t'))
				p++;
			str_lit(out, " ");
		}
		else
			str_add(out, p, 1);
	}
}

static void
ref_canonical(Str *out, const SigV4Request *req, char **params, int nparams)
{
	Hdr			h[16];
	int			nh = 0;

	str_addf(out, "%s\n%s\n", req->method, req->path);
	qsort(params, nparams, sizeof(char *), cmp_str);
	for (int i = 0; i < nparams; i++)
	{
		if (i > 0)
			str_lit(out, "&");
		str_add(out, params[i], strlen(params[i]));
		if (strchr(params[i], '=') == NULL)
			str_lit(out, "=");
	}
	str_lit(out, "\n");
	snprintf(h[nh].name, sizeof(h[nh].name), "host");
	h[nh].value = req->host;
	h[nh].order = -1;
	nh++;
	for (int i = 0; i < req->nheaders; i++)
	{
		size_t		j;

		for (j = 0; req->headers[i].name[j] && j < sizeof(h[nh].name) - 1; j++)
			h[nh].name[j] = (char) tolower((unsigned char) req->headers[i].name[j]);
		h[nh].name[j] = '\0';
		h[nh].value = req->headers[i].value;
		h[nh].order = i;
		nh++;
	}
	snprintf(h[nh].name, sizeof(h[nh].name), "x-amz-date");
	h[nh].value = req->amz_date;
	h[nh].order = 1000;
	nh++;
	qsort(h, nh, sizeof(Hdr), cmp_hdr);
	for (int i = 0; i < nh; i++)
	{
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0)
			str_lit(out, ",");
		else
		{
			if (i > 0)
				str_lit(out, "\n");
			str_addf(out, "%s:", h[i].name);
		}
		ref_value(out, h[i].value);
	}
	str_lit(out, "\n\n");
	for (int i = 0; i < nh; i++)
	{
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0)
			continue;
		if (i > 0)
			str_lit(out, ";");
		str_add(out, h[i].name, strlen(h[i].name));
	}
	str_addf(out, "\n%s", req->payload_hash);
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
	unsigned int olen = 32;

	CHECK(HMAC(EVP_sha256(), key, (int) klen, (const unsigned char *) msg, mlen, out, &olen) != NULL);
}

/* ---------------------------------------------------------------- */

static char *
sign(const SigV4Request *req, SigV4Signature *sig)
{
	if (!sigv4_sign(req, sig))
		return NULL;
	return sig->signature;
}

static void
free_sig(SigV4Signature *sig)
{
	if (sig->canonical_request)
	{
		pfree(sig->canonical_request);
		pfree(sig->string_to_sign);
		pfree(sig->signed_headers);
		pfree(sig->authorization);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzIn		in = {data, size};
	uint8_t		o0 = take_u8(&in);
	uint8_t		o1 = take_u8(&in);
	uint8_t		o2 = take_u8(&in);
	uint8_t		o3 = take_u8(&in);
	char	   *parts[MAX_PARTS];
	size_t		lens[MAX_PARTS];
	int			nparts = 0;
	size_t		start = 0;
	StringInfoData path;
	StringInfoData query;
	char	   *params[8];
	char	   *shuffled[8];
	int			nparams = (o0 & 7) % 5;
	SigV4Header headers[6];
	SigV4Header reordered[6];
	int			nheaders = (o0 >> 3) % 6;
	bool		newline = false;
	SigV4Request req = {0};
	SigV4Signature sig;
	SigV4Signature sig2;
	char	   *canon_copy = NULL;
	Str			ref = {0};
	bool		ok;

	/* the data at NUL bytes; missing parts are empty */
	for (size_t i = 0; i <= in.len && nparts < MAX_PARTS; i++)
	{
		if (i < in.len && in.p[i] != 0)
			continue;
		lens[nparts] = i - start;
		parts[nparts] = malloc(lens[nparts] + 1);
		memcpy(parts[nparts], in.p + start, lens[nparts]);
		parts[nparts][lens[nparts]] = '\0';
		nparts++;
		start = i + 1;
	}
	while (nparts < MAX_PARTS)
	{
		lens[nparts] = 0;
		parts[nparts++] = calloc(1, 1);
	}

	for (int i = 0; i < MAX_PARTS; i++)
	{
		check_encoding(parts[i], lens[i], false);
		check_encoding(parts[i], lens[i], true);
	}

	/* path: a bucket and the key */
	initStringInfo(&path);
	appendStringInfoString(&path, "/bucket/");
	sigv4_uri_encode(&path, parts[0], lens[0], false);

	/* query: name=value from parts 1.., some without '=' */
	initStringInfo(&query);
	for (int i = 0; i < nparams; i++)
	{
		StringInfoData p;
		int			k = 1 + 2 * i;

		initStringInfo(&p);
		/* distinct names, so that any order is the same query */
		appendStringInfo(&p, "%c", 'a' + (o1 + i * 7) % 26);
		appendStringInfo(&p, "%d", i);
		sigv4_uri_encode(&p, parts[k], lens[k], true);
		if (!((o2 >> i) & 1))
		{
			appendStringInfoChar(&p, '=');
			sigv4_uri_encode(&p, parts[k + 1], lens[k + 1], true);
		}
		params[i] = p.data;
		if (i > 0)
			appendStringInfoChar(&query, '&');
		appendStringInfoString(&query, p.data);
	}

	/* headers: names from the pool (so names repeat), values from the data */
	for (int i = 0; i < nheaders; i++)
	{
		headers[i].name = header_names[(o3 + i * 3) % 8];
		headers[i].value = parts[MAX_PARTS - 1 - i];
		if (strpbrk(headers[i].value, "\r\n"))
			newline = true;
	}

	req.method = (o1 & 128) ? "PUT" : "GET";
	req.host = (o1 & 64) ? "bucket.s3.us-east-1.amazonaws.com" : "127.0.0.1:9000";
	req.path = path.data;
	req.query = query.data;
	req.headers = headers;
	req.nheaders = nheaders;
	req.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
	req.amz_date = "20261125T100000Z";
	req.region = "us-east-1";
	req.service = "s3";
	req.access_key_id = "AKIDEXAMPLE";
	req.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

	ok = sigv4_sign(&req, &sig);
	if (newline)
		CHECK(!ok && sig.error != NULL);
	else
	{
		unsigned char d[32];
		char		dhex[65];
		char		expect_sts[256];
		unsigned char k1[32], k2[32], k3[32], k4[32], mac[32];
		char		mhex[65];

		CHECK(ok);
		memcpy(shuffled, params, sizeof(char *) * nparams);
		ref_canonical(&ref, &req, shuffled, nparams);
		if (strcmp(ref.s, sig.canonical_request) != 0)
		{
			Str			a = {0},
						b = {0};

			str_add_text(&a, sig.canonical_request, strlen(sig.canonical_request));
			str_add_text(&b, ref.s, ref.len);
			fprintf(stderr, "canonical request:\n%s\nreference:\n%s\n", a.s, b.s);
		}
		CHECK(strcmp(ref.s, sig.canonical_request) == 0);

		SHA256((const unsigned char *) ref.s, ref.len, d);
		hex(d, 32, dhex);
		snprintf(expect_sts, sizeof(expect_sts),
				 "AWS4-HMAC-SHA256\n20261125T100000Z\n20261125/us-east-1/s3/aws4_request\n%s", dhex);
		CHECK(strcmp(expect_sts, sig.string_to_sign) == 0);
		hmac("AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 44, "20261125", 8, k1);
		hmac(k1, 32, "us-east-1", 9, k2);
		hmac(k2, 32, "s3", 2, k3);
		hmac(k3, 32, "aws4_request", 12, k4);
		hmac(k4, 32, expect_sts, strlen(expect_sts), mac);
		hex(mac, 32, mhex);
		CHECK(strcmp(mhex, sig.signature) == 0);
		CHECK(strstr(sig.authorization, mhex) != NULL);
		CHECK(strstr(sig.authorization, sig.signed_headers) != NULL);
		canon_copy = strdup(sig.signature);

		/* reversed query and rotated headers (distinct names only) sign the same */
		{
			StringInfoData q2;
			bool		distinct = true;

			initStringInfo(&q2);
			for (int i = nparams - 1; i >= 0; i--)
			{
				appendStringInfoString(&q2, params[i]);
				if (i > 0)
					appendStringInfoChar(&q2, '&');
			}
			for (int i = 0; i < nheaders; i++)
				for (int j = 0; j < i; j++)
					if (pg_strcasecmp(headers[i].name, headers[j].name) == 0)
						distinct = false;
			for (int i = 0; i < nheaders; i++)
			{
				reordered[i] = headers[distinct ? (i + 1) % nheaders : i];
				/* another letter case of the same name */
				if (strcmp(reordered[i].name, "x-amz-meta-a") == 0)
					reordered[i].name = "X-AMZ-META-A";
			}
			req.query = q2.data;
			req.headers = reordered;
			CHECK(sign(&req, &sig2) != NULL);
			CHECK(strcmp(sig2.signature, canon_copy) == 0);
			free_sig(&sig2);
			pfree(q2.data);
		}
		free(canon_copy);
	}
	free_sig(&sig);
	str_free(&ref);
	for (int i = 0; i < nparams; i++)
		pfree(params[i]);
	pfree(path.data);
	pfree(query.data);
	for (int i = 0; i < MAX_PARTS; i++)
		free(parts[i]);
	return 0;
}
