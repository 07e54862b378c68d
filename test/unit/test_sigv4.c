/*-------------------------------------------------------------------------
 *
 * test_sigv4.c
 *	  Unit tests of AWS Signature Version 4 signing against AWS's examples.
 *
 * Every expected canonical request, string to sign, signature and
 * Authorization header below is copied from what AWS publishes, not
 * computed by this code:
 *
 *	- Amazon S3 API Reference, "Signature Calculations for the Authorization
 *	  Header: Transferring Payload in a Single Chunk (AWS Signature Version
 *	  4)", section "Examples: Signature Calculations" (GET Object, PUT
 *	  Object, GET Bucket Lifecycle, Get Bucket (List Objects));
 *	- AWS General Reference, "Signature Version 4 signing process", the IAM
 *	  ListUsers example (AKIDEXAMPLE, 20150830T123600Z);
 *	- the AWS Signature Version 4 Test Suite (aws-sig-v4-test-suite), with
 *	  service "service" in us-east-1.
 *
 * The S3 document prints its Authorization headers without a space after
 * the commas ("...aws4_request,SignedHeaders=..."); the other two print
 * ", ".  Both are accepted by AWS; this code writes ", ", so the S3 headers
 * are compared with the spaces taken out.
 *
 * IDENTIFICATION
 *	  test/unit/test_sigv4.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "s3/sigv4.h"
#include "unit.h"

/* The S3 API Reference examples. */
#define S3_AKID		"AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_HOST		"examplebucket.s3.amazonaws.com"
#define S3_DATE		"20130524T000000Z"

/* The IAM example and the test suite. */
#define SUITE_AKID		"AKIDEXAMPLE"
#define SUITE_SECRET	"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_HOST		"example.amazonaws.com"
#define SUITE_DATE		"20150830T123600Z"

/* x-amz-security-token of the test suite's post-sts-header-before. */
#define SUITE_TOKEN \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGB" \
	"uFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1Nt" \
	"BmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcH" \
	"NVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPO" \
	"Ln9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A copy of s with every ", " made ",": the S3 document's header form. */
static char *
without_comma_spaces(const char *s)
{
	char	   *r = pstrdup(s);
	char	   *w = r;
	const char *p;

	for (p = s; *p; p++)
	{
		*w++ = *p;
		if (p[0] == ',' && p[1] == ' ')
			p++;
	}
	*w = '\0';
	return r;
}

/*
 * Sign req and compare every piece with what AWS publishes for it.  If
 * doc_form, the Authorization header is compared in the S3 document's
 * form (no space after the commas).
 */
static void
check_example(const char *name, const SigV4Request *req,
			  const char *creq, const char *sts, const char *signature,
			  const char *authz, bool doc_form)
{
	SigV4Signature sig;
	bool		ok = sigv4_sign(req, &sig);
	char	   *auth_only;

	UNIT_CHECK(ok, "%s: signs (%s)", name, ok ? "ok" : sig.error);
	if (!ok)
		return;
	UNIT_CHECK_STR(sig.canonical_request, creq, "%s: canonical request", name);
	UNIT_CHECK_STR(sig.string_to_sign, sts, "%s: string to sign", name);
	UNIT_CHECK_STR(sig.signature, signature, "%s: signature", name);
	UNIT_CHECK_STR(doc_form ? without_comma_spaces(sig.authorization) :
				   sig.authorization, authz, "%s: Authorization header", name);

	auth_only = sigv4_authorization(req);
	UNIT_CHECK_STR(auth_only, sig.authorization,
				   "%s: sigv4_authorization gives the same header", name);

	UNIT_CHECK(strstr(sig.canonical_request, req->secret_access_key) == NULL &&
			   strstr(sig.string_to_sign, req->secret_access_key) == NULL &&
			   strstr(sig.authorization, req->secret_access_key) == NULL,
			   "%s: the secret appears in no output", name);
}

/* A request with the S3 examples' credentials, host and date. */
static SigV4Request
s3_request(const char *method, const char *path, const char *query,
		   const SigV4Header *headers, int nheaders, const char *payload_hash)
{
	SigV4Request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.host = S3_HOST;
	req.path = path;
	req.query = query;
	req.headers = headers;
	req.nheaders = nheaders;
	req.payload_hash = payload_hash;
	req.amz_date = S3_DATE;
	req.region = "us-east-1";
	req.service = "s3";
	req.access_key_id = S3_AKID;
	req.secret_access_key = S3_SECRET;
	return req;
}

/* A request with the test suite's credentials, host, date and service. */
static SigV4Request
suite_request(const char *method, const char *path, const char *query,
			  const SigV4Header *headers, int nheaders,
			  const char *payload_hash)
{
	SigV4Request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.host = SUITE_HOST;
	req.path = path;
	req.query = query;
	req.headers = headers;
	req.nheaders = nheaders;
	req.payload_hash = payload_hash;
	req.amz_date = SUITE_DATE;
	req.region = "us-east-1";
	req.service = "service";
	req.access_key_id = SUITE_AKID;
	req.secret_access_key = SUITE_SECRET;
	return req;
}

/*
 * The four examples of the S3 API Reference.
 */
static void
test_s3_examples(void)
{
	SigV4Request req;
	StringInfoData path;
	char		put_hash[SIGV4_HEX_LEN + 1];

	/* GET Object: first 10 bytes of test.txt; x-amz-date left to sigv4. */
	{
		SigV4Header h[] = {
			{"Range", "bytes=0-9"},
			{"x-amz-content-sha256", EMPTY_SHA256},
		};

		req = s3_request("GET", "/test.txt", NULL, h, lengthof(h), EMPTY_SHA256);
		check_example("S3 GET Object", &req,
					  "GET\n"
					  "/test.txt\n"
					  "\n"
					  "host:examplebucket.s3.amazonaws.com\n"
					  "range:bytes=0-9\n"
					  "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
					  "x-amz-date:20130524T000000Z\n"
					  "\n"
					  "host;range;x-amz-content-sha256;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20130524T000000Z\n"
					  "20130524/us-east-1/s3/aws4_request\n"
					  "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
					  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
					  "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
					  true);
	}

	/*
	 * PUT Object test$file.text with body "Welcome to Amazon S3.": the key is
	 * encoded here ('$' becomes %24), the headers are given out of order
	 * and in mixed case, x-amz-date explicitly.
	 */
	{
		SigV4Header h[] = {
			{"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"},
			{"x-amz-date", S3_DATE},
			{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
			{"X-Amz-Content-SHA256", NULL},
		};
		const char *body = "Welcome to Amazon S3.";

		UNIT_CHECK(sigv4_sha256_hex(body, strlen(body), put_hash),
				   "S3 PUT Object: payload hashes");
		UNIT_CHECK_STR(put_hash,
					   "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
					   "S3 PUT Object: payload hash is the published one");
		h[3].value = put_hash;

		initStringInfo(&path);
		appendStringInfoChar(&path, '/');
		sigv4_uri_encode(&path, "test$file.text", strlen("test$file.text"), false);
		UNIT_CHECK_STR(path.data, "/test%24file.text", "S3 PUT Object: key encoded");

		req = s3_request("PUT", path.data, NULL, h, lengthof(h), put_hash);
		check_example("S3 PUT Object", &req,
					  "PUT\n"
					  "/test%24file.text\n"
					  "\n"
					  "date:Fri, 24 May 2013 00:00:00 GMT\n"
					  "host:examplebucket.s3.amazonaws.com\n"
					  "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
					  "x-amz-date:20130524T000000Z\n"
					  "x-amz-storage-class:REDUCED_REDUNDANCY\n"
					  "\n"
					  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
					  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
					  "AWS4-HMAC-SHA256\n"
					  "20130524T000000Z\n"
					  "20130524/us-east-1/s3/aws4_request\n"
					  "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
					  "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
					  "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
					  true);
	}

	/* GET Bucket Lifecycle: "?lifecycle", a parameter without '='. */
	{
		SigV4Header h[] = {
			{"x-amz-content-sha256", EMPTY_SHA256},
		};

		req = s3_request("GET", "/", "lifecycle", h, lengthof(h), EMPTY_SHA256);
		check_example("S3 GET Bucket Lifecycle", &req,
					  "GET\n"
					  "/\n"
					  "lifecycle=\n"
					  "host:examplebucket.s3.amazonaws.com\n"
					  "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
					  "x-amz-date:20130524T000000Z\n"
					  "\n"
					  "host;x-amz-content-sha256;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20130524T000000Z\n"
					  "20130524/us-east-1/s3/aws4_request\n"
					  "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
					  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
					  "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
					  true);
	}

	/* Get Bucket (List Objects): parameters given in the other order. */
	{
		SigV4Header h[] = {
			{"x-amz-content-sha256", EMPTY_SHA256},
		};

		req = s3_request("GET", "/", "prefix=J&max-keys=2", h, lengthof(h),
						 EMPTY_SHA256);
		check_example("S3 Get Bucket (List Objects)", &req,
					  "GET\n"
					  "/\n"
					  "max-keys=2&prefix=J\n"
					  "host:examplebucket.s3.amazonaws.com\n"
					  "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
					  "x-amz-date:20130524T000000Z\n"
					  "\n"
					  "host;x-amz-content-sha256;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20130524T000000Z\n"
					  "20130524/us-east-1/s3/aws4_request\n"
					  "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
					  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
					  "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
					  true);
	}
}

/*
 * The General Reference example: IAM ListUsers.
 */
static void
test_iam_example(void)
{
	SigV4Header h[] = {
		{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
	};
	SigV4Request req;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.host = "iam.amazonaws.com";
	req.path = "/";
	req.query = "Action=ListUsers&Version=2010-05-08";
	req.headers = h;
	req.nheaders = lengthof(h);
	req.payload_hash = EMPTY_SHA256;
	req.amz_date = SUITE_DATE;
	req.region = "us-east-1";
	req.service = "iam";
	req.access_key_id = SUITE_AKID;
	req.secret_access_key = SUITE_SECRET;

	check_example("IAM ListUsers", &req,
				  "GET\n"
				  "/\n"
				  "Action=ListUsers&Version=2010-05-08\n"
				  "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
				  "host:iam.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "content-type;host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/iam/aws4_request\n"
				  "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
				  "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
				  false);
}

/*
 * Cases of the aws-sig-v4-test-suite.  The requests of the suite all carry
 * "X-Amz-Date:20150830T123600Z"; it is passed explicitly in some cases and
 * left to sigv4 in others.
 */
static void
test_suite(void)
{
	SigV4Request req;
	StringInfoData buf;

	/* get-vanilla */
	req = suite_request("GET", "/", NULL, NULL, 0, EMPTY_SHA256);
	check_example("suite get-vanilla", &req,
				  "GET\n"
				  "/\n"
				  "\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
				  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
				  false);

	/* get-vanilla-query-order-key-case */
	req = suite_request("GET", "/", "Param2=value2&Param1=value1", NULL, 0,
						EMPTY_SHA256);
	check_example("suite get-vanilla-query-order-key-case", &req,
				  "GET\n"
				  "/\n"
				  "Param1=value1&Param2=value2\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
				  "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
				  false);

	/* get-vanilla-query-order-key: same name, values sorted, 'V' < 'v' */
	req = suite_request("GET", "/", "Param1=value2&Param1=Value1", NULL, 0,
						EMPTY_SHA256);
	check_example("suite get-vanilla-query-order-key", &req,
				  "GET\n"
				  "/\n"
				  "Param1=Value1&Param1=value2\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
				  "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
				  false);

	/* get-vanilla-query-order-value */
	req = suite_request("GET", "/", "Param1=value2&Param1=value1", NULL, 0,
						EMPTY_SHA256);
	check_example("suite get-vanilla-query-order-value", &req,
				  "GET\n"
				  "/\n"
				  "Param1=value1&Param1=value2\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
				  "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
				  false);

	/* get-vanilla-utf8-query: "?\u1234=bar", the name encoded here */
	initStringInfo(&buf);
	sigv4_uri_encode(&buf, "\xe1\x88\xb4", 3, true);
	appendStringInfoString(&buf, "=bar");
	req = suite_request("GET", "/", buf.data, NULL, 0, EMPTY_SHA256);
	check_example("suite get-vanilla-utf8-query", &req,
				  "GET\n"
				  "/\n"
				  "%E1%88%B4=bar\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
				  "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
				  false);

	/* get-unreserved: the path encoded here, and left as it is */
	resetStringInfo(&buf);
	sigv4_uri_encode(&buf,
					 "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
					 strlen("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
					 false);
	req = suite_request("GET", buf.data, NULL, NULL, 0, EMPTY_SHA256);
	check_example("suite get-unreserved", &req,
				  "GET\n"
				  "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"
				  "\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
				  "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
				  false);

	/* get-header-value-trim: "My-Header1: value1", "My-Header2: "a   b   c"" */
	{
		SigV4Header h[] = {
			{"My-Header1", " value1"},
			{"My-Header2", " \"a   b   c\""},
			{"X-Amz-Date", SUITE_DATE},
		};

		req = suite_request("GET", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		check_example("suite get-header-value-trim", &req,
					  "GET\n"
					  "/\n"
					  "\n"
					  "host:example.amazonaws.com\n"
					  "my-header1:value1\n"
					  "my-header2:\"a b c\"\n"
					  "x-amz-date:20150830T123600Z\n"
					  "\n"
					  "host;my-header1;my-header2;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
					  "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
					  false);
	}

	/* get-header-key-duplicate: one name three times, values kept in order */
	{
		SigV4Header h[] = {
			{"My-Header1", "value2"},
			{"My-Header1", "value2"},
			{"My-Header1", "value1"},
			{"X-Amz-Date", SUITE_DATE},
		};

		req = suite_request("GET", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		check_example("suite get-header-key-duplicate", &req,
					  "GET\n"
					  "/\n"
					  "\n"
					  "host:example.amazonaws.com\n"
					  "my-header1:value2,value2,value1\n"
					  "x-amz-date:20150830T123600Z\n"
					  "\n"
					  "host;my-header1;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
					  "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
					  false);
	}

	/* get-header-value-order */
	{
		SigV4Header h[] = {
			{"My-Header1", "value4"},
			{"My-Header1", "value1"},
			{"My-Header1", "value3"},
			{"My-Header1", "value2"},
		};

		req = suite_request("GET", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		check_example("suite get-header-value-order", &req,
					  "GET\n"
					  "/\n"
					  "\n"
					  "host:example.amazonaws.com\n"
					  "my-header1:value4,value1,value3,value2\n"
					  "x-amz-date:20150830T123600Z\n"
					  "\n"
					  "host;my-header1;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
					  "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
					  false);
	}

	/* post-vanilla */
	req = suite_request("POST", "/", NULL, NULL, 0, EMPTY_SHA256);
	check_example("suite post-vanilla", &req,
				  "POST\n"
				  "/\n"
				  "\n"
				  "host:example.amazonaws.com\n"
				  "x-amz-date:20150830T123600Z\n"
				  "\n"
				  "host;x-amz-date\n"
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				  "AWS4-HMAC-SHA256\n"
				  "20150830T123600Z\n"
				  "20150830/us-east-1/service/aws4_request\n"
				  "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
				  "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
				  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
				  false);

	/* post-header-value-case: the case of values is kept */
	{
		SigV4Header h[] = {
			{"My-Header1", "VALUE1"},
		};

		req = suite_request("POST", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		check_example("suite post-header-value-case", &req,
					  "POST\n"
					  "/\n"
					  "\n"
					  "host:example.amazonaws.com\n"
					  "my-header1:VALUE1\n"
					  "x-amz-date:20150830T123600Z\n"
					  "\n"
					  "host;my-header1;x-amz-date\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
					  "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
					  false);
	}

	/* post-x-www-form-urlencoded and -parameters: body "Param1=value1" */
	{
		const char *body = "Param1=value1";
		char		body_hash[SIGV4_HEX_LEN + 1];
		SigV4Header h1[] = {
			{"Content-Type", "application/x-www-form-urlencoded"},
		};
		SigV4Header h2[] = {
			{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"},
		};

		UNIT_CHECK(sigv4_sha256_hex(body, strlen(body), body_hash),
				   "suite post-x-www-form-urlencoded: body hashes");
		UNIT_CHECK_STR(body_hash,
					   "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
					   "suite post-x-www-form-urlencoded: body hash is the published one");

		req = suite_request("POST", "/", NULL, h1, lengthof(h1), body_hash);
		check_example("suite post-x-www-form-urlencoded", &req,
					  "POST\n"
					  "/\n"
					  "\n"
					  "content-type:application/x-www-form-urlencoded\n"
					  "host:example.amazonaws.com\n"
					  "x-amz-date:20150830T123600Z\n"
					  "\n"
					  "content-type;host;x-amz-date\n"
					  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
					  "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
					  false);

		req = suite_request("POST", "/", NULL, h2, lengthof(h2), body_hash);
		check_example("suite post-x-www-form-urlencoded-parameters", &req,
					  "POST\n"
					  "/\n"
					  "\n"
					  "content-type:application/x-www-form-urlencoded; charset=utf8\n"
					  "host:example.amazonaws.com\n"
					  "x-amz-date:20150830T123600Z\n"
					  "\n"
					  "content-type;host;x-amz-date\n"
					  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
					  "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
					  false);
	}

	/* post-sts-header-before: a session token among the signed headers */
	{
		SigV4Header h[] = {
			{"X-Amz-Date", SUITE_DATE},
			{"X-Amz-Security-Token", SUITE_TOKEN},
		};

		req = suite_request("POST", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		check_example("suite post-sts-header-before", &req,
					  "POST\n"
					  "/\n"
					  "\n"
					  "host:example.amazonaws.com\n"
					  "x-amz-date:20150830T123600Z\n"
					  "x-amz-security-token:" SUITE_TOKEN "\n"
					  "\n"
					  "host;x-amz-date;x-amz-security-token\n"
					  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					  "AWS4-HMAC-SHA256\n"
					  "20150830T123600Z\n"
					  "20150830/us-east-1/service/aws4_request\n"
					  "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
					  "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
					  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
					  false);
	}
}

/*
 * Canonicalization rules beyond the published examples; the expected
 * strings follow from the rules, written out by hand.
 */
static void
test_canonical_rules(void)
{
	SigV4Header h[] = {
		{"X-Amz-Target", "\t AmazonSQS.ReceiveMessage \t"},
		{"Content-Type", "application/x-amz-json-1.0"},
		{"x-amz-meta-note", "  a \t b  c  "},
	};
	SigV4Request req;
	SigV4Signature sig;

	req = suite_request("POST", NULL,
						"b=2&a-b=1&a=3&a&c=&a=1", h, lengthof(h), EMPTY_SHA256);
	UNIT_CHECK(sigv4_sign(&req, &sig), "rules: signs");
	UNIT_CHECK_STR(sig.canonical_request,
				   "POST\n"
				   "/\n"
				   "a=&a=1&a=3&a-b=1&b=2&c=\n"
				   "content-type:application/x-amz-json-1.0\n"
				   "host:example.amazonaws.com\n"
				   "x-amz-date:20150830T123600Z\n"
				   "x-amz-meta-note:a b c\n"
				   "x-amz-target:AmazonSQS.ReceiveMessage\n"
				   "\n"
				   "content-type;host;x-amz-date;x-amz-meta-note;x-amz-target\n"
				   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				   "rules: NULL path is \"/\", query sorted by name then value "
				   "(\"a\" before \"a-b\"), bare name gets '=', blanks trimmed "
				   "and collapsed, names lowercased and sorted");
	UNIT_CHECK_STR(sig.signed_headers,
				   "content-type;host;x-amz-date;x-amz-meta-note;x-amz-target",
				   "rules: signed headers");

	/* A non-default port stays in the host header. */
	req = suite_request("GET", "/bucket/key", NULL, NULL, 0,
						SIGV4_UNSIGNED_PAYLOAD);
	req.host = "localhost:9000";
	UNIT_CHECK(sigv4_sign(&req, &sig), "rules: signs with a port");
	UNIT_CHECK_STR(sig.canonical_request,
				   "GET\n"
				   "/bucket/key\n"
				   "\n"
				   "host:localhost:9000\n"
				   "x-amz-date:20150830T123600Z\n"
				   "\n"
				   "host;x-amz-date\n"
				   "UNSIGNED-PAYLOAD",
				   "rules: host with port, UNSIGNED-PAYLOAD");
}

/*
 * Requests that cannot be signed fail with a message, not a crash.
 */
static void
test_errors(void)
{
	SigV4Request req;
	SigV4Signature sig;

	req = suite_request("GET", "/", NULL, NULL, 0, EMPTY_SHA256);
	req.amz_date = "2015-08-30T12:36:00Z";
	UNIT_CHECK(!sigv4_sign(&req, &sig) && sig.error != NULL &&
			   sig.authorization == NULL,
			   "errors: malformed date refused (%s)", sig.error);
	UNIT_CHECK(sigv4_authorization(&req) == NULL,
			   "errors: sigv4_authorization returns NULL");

	req = suite_request("GET", "/", NULL, NULL, 0, NULL);
	UNIT_CHECK(!sigv4_sign(&req, &sig) && sig.error != NULL,
			   "errors: missing payload hash refused (%s)", sig.error);

	{
		SigV4Header h[] = {{"Host", "example.amazonaws.com"}};

		req = suite_request("GET", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		UNIT_CHECK(!sigv4_sign(&req, &sig) && sig.error != NULL,
				   "errors: host passed as a header refused (%s)", sig.error);
	}
	{
		SigV4Header h[] = {{"X-Amz-Date", "20150830T123601Z"}};

		req = suite_request("GET", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		UNIT_CHECK(!sigv4_sign(&req, &sig) && sig.error != NULL,
				   "errors: x-amz-date header differing from amz_date refused (%s)",
				   sig.error);
	}
	{
		SigV4Header h[] = {{"X-Evil", "a\r\nAuthorization: x"}};

		req = suite_request("GET", "/", NULL, h, lengthof(h), EMPTY_SHA256);
		UNIT_CHECK(!sigv4_sign(&req, &sig) && sig.error != NULL,
				   "errors: line break in a header value refused (%s)", sig.error);
	}
}

/*
 * URI encoding, SHA-256 and dates.
 */
static void
test_helpers(void)
{
	StringInfoData buf;
	const char *key = "dir/a b+c=&\xc3\xa9%.txt";
	char		hex[SIGV4_HEX_LEN + 1];
	char		date[SIGV4_DATE_LEN + 1];

	initStringInfo(&buf);
	sigv4_uri_encode(&buf, key, strlen(key), false);
	UNIT_CHECK_STR(buf.data, "dir/a%20b%2Bc%3D%26%C3%A9%25.txt",
				   "uri_encode: object key, slash kept");

	resetStringInfo(&buf);
	sigv4_uri_encode(&buf, key, strlen(key), true);
	UNIT_CHECK_STR(buf.data, "dir%2Fa%20b%2Bc%3D%26%C3%A9%25.txt",
				   "uri_encode: query value, slash encoded");

	resetStringInfo(&buf);
	sigv4_uri_encode(&buf, "AZaz09-._~", 10, true);
	UNIT_CHECK_STR(buf.data, "AZaz09-._~", "uri_encode: unreserved kept");

	resetStringInfo(&buf);
	sigv4_uri_encode(&buf, "!*'()\x7f\xff:@", 9, true);
	UNIT_CHECK_STR(buf.data, "%21%2A%27%28%29%7F%FF%3A%40",
				   "uri_encode: sub-delims and high bytes encoded, hex uppercase");

	resetStringInfo(&buf);
	sigv4_uri_encode(&buf, "a\0b", 3, true);
	UNIT_CHECK_STR(buf.data, "a%00b", "uri_encode: length, not NUL, ends input");

	UNIT_CHECK(sigv4_sha256_hex("", 0, hex), "sha256: empty input hashes");
	UNIT_CHECK_STR(hex, EMPTY_SHA256, "sha256: of \"\"");
	UNIT_CHECK_STR(hex, SIGV4_EMPTY_PAYLOAD_HASH,
				   "sha256: SIGV4_EMPTY_PAYLOAD_HASH is right");

	sigv4_amz_date((time_t) 1369353600, date);
	UNIT_CHECK_STR(date, S3_DATE, "amz_date: 2013-05-24 00:00:00 UTC");
	sigv4_amz_date((time_t) 1440938160, date);
	UNIT_CHECK_STR(date, SUITE_DATE, "amz_date: 2015-08-30 12:36:00 UTC");
	sigv4_amz_date((time_t) 0, date);
	UNIT_CHECK_STR(date, "19700101T000000Z", "amz_date: the epoch");
}

int
main(void)
{
	test_s3_examples();
	test_iam_example();
	test_suite();
	test_canonical_rules();
	test_errors();
	test_helpers();
	return unit_done();
}
