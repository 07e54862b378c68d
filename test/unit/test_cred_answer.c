/*-------------------------------------------------------------------------
 *
 * test_cred_answer.c
 *	  Unit tests of the credential answer parsers (src/s3/cred_answer.c):
 *	  STS's XML as AWS documents it (AssumeRole, AssumeRoleWithWebIdentity,
 *	  ErrorResponse), the JSON of IMDS and container endpoints, and what
 *	  must be refused: keys or tokens no header can carry, bad expirations,
 *	  external entities, duplicates, embedded NULs, oversized answers; and
 *	  that an error message never keeps what follows its first line (AWS's
 *	  canonical request, which holds x-amz-security-token).
 *
 * IDENTIFICATION
 *	  test/unit/test_cred_answer.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"
#include "cred_answer.h"

#define S(lit) lit, sizeof(lit) - 1

/* AWS's documented AssumeRole response (whitespace as in the docs). */
static const char assume_role[] =
"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
"  <AssumeRoleResult>\n"
"  <SourceIdentity>Alice</SourceIdentity>\n"
"    <AssumedRoleUser>\n"
"      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>\n"
"      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>\n"
"    </AssumedRoleUser>\n"
"    <Credentials>\n"
"      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
"      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
"      <SessionToken>\n"
"       AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW\n"
"      </SessionToken>\n"
"      <Expiration>2019-11-09T13:34:41Z</Expiration>\n"
"    </Credentials>\n"
"    <PackedPolicySize>6</PackedPolicySize>\n"
"  </AssumeRoleResult>\n"
"  <ResponseMetadata>\n"
"    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
"  </ResponseMetadata>\n"
"</AssumeRoleResponse>\n";

static const char web_identity[] =
"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
"<AssumeRoleWithWebIdentityResult>"
"<SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>"
"<Audience>client.5498841531868486423.1548@apps.example.com</Audience>"
"<Credentials><SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>"
"<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
"<Expiration>2014-10-24T23:00:23.123Z</Expiration><AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId></Credentials>"
"<Provider>www.amazon.com</Provider></AssumeRoleWithWebIdentityResult>"
"<ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>"
"</AssumeRoleWithWebIdentityResponse>";

/* An error whose message goes on with a canonical request holding the session token. */
static const char sts_error[] =
"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
"<Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.\n"
"\nThe Canonical String for this request should have been\n'POST\n/\n\nhost:sts\nx-amz-security-token:SECRET-TOKEN-4711\n'</Message>"
"</Error><RequestId>4c5b2b4e</RequestId></ErrorResponse>";

static const char imds_json[] =
"{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2012-04-26T16:39:16Z\",\n  \"Type\" : \"AWS-HMAC\",\n"
"  \"AccessKeyId\" : \"ASIAIOSFODNN7EXAMPLE\",\n  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\",\n"
"  \"Token\" : \"token\",\n  \"Expiration\" : \"2017-05-17T15:09:54Z\"\n}";

/* 2019-11-09T13:34:41Z */
#define T_2019 INT64_C(1573306481000000)

static void
test_sts(void)
{
	CredAnswer	a;
	CredStatus	st;

	st = cred_parse_sts(S(assume_role), &a);
	UNIT_CHECK(st == CRED_OK, "AssumeRole: parsed (%s)", cred_status_message(st));
	UNIT_CHECK_STR(a.access_key_id, "ASIAIOSFODNN7EXAMPLE", "AssumeRole: access key");
	UNIT_CHECK_STR(a.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "AssumeRole: secret");
	UNIT_CHECK_STR(a.session_token, "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW",
				   "AssumeRole: token, surrounding white space trimmed");
	UNIT_CHECK(a.has_expiration && a.expiration == T_2019, "AssumeRole: expiration");
	cred_answer_free(&a);
	UNIT_CHECK(a.access_key_id == NULL && a.secret_access_key == NULL, "freed and zeroed");

	st = cred_parse_sts(S(web_identity), &a);
	UNIT_CHECK(st == CRED_OK, "AssumeRoleWithWebIdentity: parsed (%s)", cred_status_message(st));
	UNIT_CHECK_STR(a.access_key_id, "ASgeIAIOSFODNN7EXAMPLE", "web identity: access key");
	UNIT_CHECK(a.expiration == INT64_C(1414191623123000), "web identity: expiration with milliseconds");
	cred_answer_free(&a);

	st = cred_parse_sts(S(sts_error), &a);
	UNIT_CHECK(st == CRED_ERROR_ANSWER, "ErrorResponse");
	UNIT_CHECK_STR(a.error_code, "SignatureDoesNotMatch", "error code");
	UNIT_CHECK_STR(a.error_message, "The request signature we calculated does not match the signature you provided.",
				   "message cut at its first line");
	UNIT_CHECK(a.access_key_id == NULL, "no keys in an error");
	cred_answer_free(&a);

	st = cred_parse_sts(S("<Error><Code>AccessDenied</Code></Error>"), &a);
	UNIT_CHECK(st == CRED_ERROR_ANSWER && a.error_message == NULL, "a bare <Error> without a message");
	cred_answer_free(&a);
	st = cred_parse_sts(S("<ErrorResponse><Error><Code>Bad Code&lt;x&gt;</Code></Error></ErrorResponse>"), &a);
	UNIT_CHECK(st == CRED_MALFORMED, "an error code that is not a word");
	cred_answer_free(&a);

	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>"), &a) == CRED_MISSING_FIELD,
			   "no Credentials");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
								"</Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_MISSING_FIELD,
			   "no SecretAccessKey");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
								"<SecretAccessKey></SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_MISSING_FIELD,
			   "an empty SecretAccessKey");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
								"<SecretAccessKey>s</SecretAccessKey><SessionToken>t&#13;&#10;x-injected: 1</SessionToken>"
								"</Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_BAD_FIELD,
			   "a token with CR LF (header injection) is refused");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A/B</AccessKeyId>"
								"<SecretAccessKey>s</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_BAD_FIELD,
			   "an access key with a slash (it goes into Credential=KEY/DATE/...)");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
								"<SecretAccessKey>s\xc3\xa9</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_BAD_FIELD,
			   "a secret that is not ASCII");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
								"<SecretAccessKey>s</SecretAccessKey><Expiration>tomorrow</Expiration>"
								"</Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_BAD_EXPIRATION,
			   "an Expiration that is not a time");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
								"<SecretAccessKey>s</SecretAccessKey><Expiration>2019-11-09</Expiration>"
								"</Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a) == CRED_BAD_EXPIRATION,
			   "an Expiration without a time of day");
	cred_answer_free(&a);

	/* an external entity must never be read (XXE) */
	st = cred_parse_sts(S("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
						  "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A&x;</AccessKeyId>"
						  "<SecretAccessKey>s</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>"), &a);
	UNIT_CHECK(st != CRED_OK || strstr(a.access_key_id, "root") == NULL, "no external entity is expanded");
	cred_answer_free(&a);

	UNIT_CHECK(cred_parse_sts(S("not xml"), &a) == CRED_MALFORMED, "not XML");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts("", 0, &a) == CRED_MALFORMED, "empty");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(NULL, 0, &a) == CRED_MALFORMED, "NULL");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(S("<ListBucketResult><Contents/></ListBucketResult>"), &a) == CRED_MALFORMED,
			   "another service's answer");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_sts(assume_role, CRED_ANSWER_MAX_LEN + 1, &a) == CRED_TOO_LARGE, "too large (not read)");
	cred_answer_free(&a);
	/* only len bytes are read: a prefix of a valid answer is not one */
	UNIT_CHECK(cred_parse_sts(assume_role, 200, &a) == CRED_MALFORMED, "a truncated answer");
	cred_answer_free(&a);
}

static void
test_json(void)
{
	CredAnswer	a;
	CredStatus	st;

	st = cred_parse_json(S(imds_json), &a);
	UNIT_CHECK(st == CRED_OK, "IMDS JSON (%s)", cred_status_message(st));
	UNIT_CHECK_STR(a.access_key_id, "ASIAIOSFODNN7EXAMPLE", "IMDS: key");
	UNIT_CHECK_STR(a.session_token, "token", "IMDS: token");
	UNIT_CHECK(a.expiration == INT64_C(1495033794000000), "IMDS: expiration");
	cred_answer_free(&a);

	st = cred_parse_json(S("{\"RoleArn\":\"arn:aws:iam::1:role/t\",\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\","
						   "\"Token\":\"T\",\"Expiration\":\"2026-11-25T10:00:00+02:00\"}"), &a);
	UNIT_CHECK(st == CRED_OK && a.expiration == INT64_C(1795593600000000), "container JSON, with an offset");
	cred_answer_free(&a);
	st = cred_parse_json(S("{\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\"}"), &a);
	UNIT_CHECK(st == CRED_OK && !a.has_expiration && a.session_token == NULL, "keys that never expire");
	cred_answer_free(&a);

	st = cred_parse_json(S("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"denied\\nmore\",\"LastUpdated\":\"x\"}"), &a);
	UNIT_CHECK(st == CRED_ERROR_ANSWER, "IMDS Code other than Success");
	UNIT_CHECK_STR(a.error_code, "AssumeRoleUnauthorizedAccess", "IMDS error code");
	UNIT_CHECK_STR(a.error_message, "denied", "first line of the message");
	cred_answer_free(&a);
	st = cred_parse_json(S("{\"code\":\"AccessDenied\",\"message\":\"Authorization header invalid\"}"), &a);
	UNIT_CHECK(st == CRED_ERROR_ANSWER && strcmp(a.error_code, "AccessDenied") == 0, "container error (lower case)");
	cred_answer_free(&a);
	st = cred_parse_json(S("{\"message\":\"no\"}"), &a);
	UNIT_CHECK(st == CRED_ERROR_ANSWER && strcmp(a.error_code, "Error") == 0, "a message alone is an error");
	cred_answer_free(&a);

	UNIT_CHECK(cred_parse_json(S("{\"AccessKeyId\":\"K\"}"), &a) == CRED_MISSING_FIELD, "no secret");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(S("{\"AccessKeyId\":\"K\",\"SecretAccessKey\":42}"), &a) == CRED_MISSING_FIELD,
			   "a secret that is not a string");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(S("{\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\\u0000x\"}"), &a) == CRED_MISSING_FIELD,
			   "a NUL inside a secret");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(S("{\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\",\"Token\":\"a\\r\\nb\"}"), &a) == CRED_BAD_FIELD,
			   "a token with CR LF");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(S("{\"AccessKeyId\":\"K\",\"AccessKeyId\":\"L\",\"SecretAccessKey\":\"S\"}"), &a) == CRED_MALFORMED,
			   "duplicate keys are refused");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(S("[1,2]"), &a) == CRED_MALFORMED, "not an object");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(S("{\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\",\"Expiration\":\"soon\"}"), &a) == CRED_BAD_EXPIRATION,
			   "a bad Expiration");
	cred_answer_free(&a);
	UNIT_CHECK(cred_parse_json(imds_json, 20, &a) == CRED_MALFORMED, "truncated JSON");
	cred_answer_free(&a);
}

static void
test_pieces(void)
{
	char		role[80];
	char		msg[600];

	UNIT_CHECK(cred_parse_role_name(S("pipeline-instance\n"), role, sizeof(role)) && strcmp(role, "pipeline-instance") == 0,
			   "role name");
	UNIT_CHECK(cred_parse_role_name(S("\nfirst\nsecond\n"), role, sizeof(role)) && strcmp(role, "first") == 0,
			   "the first of several roles");
	UNIT_CHECK(!cred_parse_role_name(S("a/../b"), role, sizeof(role)), "a role name with a slash");
	UNIT_CHECK(!cred_parse_role_name(S("a b"), role, sizeof(role)), "a role name with a space");
	UNIT_CHECK(!cred_parse_role_name(S(""), role, sizeof(role)), "no role");
	UNIT_CHECK(!cred_parse_role_name(S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), role, sizeof(role)),
			   "a role name of 65 bytes");
	UNIT_CHECK(!cred_parse_role_name("ab\0c", 4, role, sizeof(role)), "a NUL in a role name");

	UNIT_CHECK(cred_header_value_ok(S("Bearer abc=="), 100), "a header value");
	UNIT_CHECK(!cred_header_value_ok(S("abc\r\nX-Evil: 1"), 100), "CR LF");
	UNIT_CHECK(!cred_header_value_ok(S(" abc"), 100), "leading space");
	UNIT_CHECK(!cred_header_value_ok(S("abc"), 2), "too long");

	memset(msg, 'a', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	cred_clean_message(msg);
	UNIT_CHECK(strlen(msg) == CRED_MESSAGE_MAX_LEN, "long messages are cut");
	strcpy(msg, "  bad\tthing \x01 \n\nsecret");
	cred_clean_message(msg);
	UNIT_CHECK_STR(msg, "bad thing", "control bytes and what follows the first line");
}

int
main(void)
{
	test_sts();
	test_json();
	test_pieces();
	return unit_done();
}
