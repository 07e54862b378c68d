/*-------------------------------------------------------------------------
 *
 * cred_answer.h
 *	  What AWS's credential endpoints answer, parsed: STS's XML
 *	  (AssumeRole, AssumeRoleWithWebIdentity and its ErrorResponse), the
 *	  JSON of the EC2 instance metadata service and of the ECS/EKS container
 *	  credentials endpoints, and IMDS's role listing.
 *
 * Pure C on libxml2 and jansson (no backend calls, malloc'd memory): the
 * unit tests and a fuzzer link it as it is.  Every function reads exactly
 * body[0..len) (no NUL needed) and never fails on any input other than by
 * its return value.  An answer holds secrets: cred_answer_free() zeroes
 * them before freeing.  Nothing here ever copies a secret into an error
 * code or message.
 *
 * IDENTIFICATION
 *	  src/s3/cred_answer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CRED_ANSWER_H
#define PIPELINE_CRED_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest answer parsed (real ones are a few kilobytes). */
#define CRED_ANSWER_MAX_LEN		(256 * 1024)

/* Longest error message kept from an answer. */
#define CRED_MESSAGE_MAX_LEN	300

typedef enum CredStatus
{
	CRED_OK = 0,
	CRED_ERROR_ANSWER,			/* a well-formed error: error_code set */
	CRED_MALFORMED,				/* not the XML or JSON expected */
	CRED_MISSING_FIELD,			/* no AccessKeyId or SecretAccessKey */
	CRED_BAD_FIELD,				/* a key or token with bytes no header
								 * may carry, or an empty one */
	CRED_BAD_EXPIRATION,		/* Expiration is not an ISO-8601 time */
	CRED_TOO_LARGE,
	CRED_OUT_OF_MEMORY
} CredStatus;

typedef struct CredAnswer
{
	char	   *access_key_id;	/* malloc'd; NULL unless CRED_OK */
	char	   *secret_access_key;
	char	   *session_token;	/* NULL if the answer had none */
	bool		has_expiration;
	int64_t		expiration;		/* microseconds since 1970-01-01 UTC */
	char	   *error_code;		/* CRED_ERROR_ANSWER: "AccessDenied", ... */
	char	   *error_message;	/* its message (cred_clean_message), or
								 * NULL */
} CredAnswer;

/*
 * An STS answer: <XResponse><XResult><Credentials>... for any action X
 * that returns credentials, or <ErrorResponse><Error><Code>.  *out is
 * zeroed first; free it with cred_answer_free() whatever the status.
 */
extern CredStatus cred_parse_sts(const char *body, size_t len, CredAnswer *out);

/*
 * The JSON of IMDS (security-credentials/ROLE) or of a container
 * credentials endpoint: AccessKeyId, SecretAccessKey, Token, Expiration
 * (or, as a credential_process writes it, SessionToken for Token).
 * A "Code" other than "Success", or an answer without keys that has a
 * code or message, is CRED_ERROR_ANSWER.
 */
extern CredStatus cred_parse_json(const char *body, size_t len, CredAnswer *out);

extern void cred_answer_free(CredAnswer *a);

/* Why an answer was refused, as a phrase for a message. */
extern const char *cred_status_message(CredStatus status);

/*
 * IMDS's answer to GET .../security-credentials/: the role names, one per
 * line.  Copies the first into out (NUL-terminated) and returns true if it
 * is a valid IAM role name ([A-Za-z0-9+=,.@_-], 1..64 bytes).
 */
extern bool cred_parse_role_name(const char *body, size_t len, char *out, size_t outlen);

/*
 * A value that may go into an HTTP header as it is (a token, a key): 1 to
 * maxlen bytes of printable ASCII, no white space except inner spaces.
 */
extern bool cred_header_value_ok(const char *s, size_t len, size_t maxlen);

/*
 * Shorten an error message from AWS in place to what may be shown: its
 * first line, at most CRED_MESSAGE_MAX_LEN bytes, control bytes replaced.
 * AWS's SignatureDoesNotMatch messages go on, after a blank line, with the
 * canonical request, whose signed headers include x-amz-security-token:
 * that part must never reach an error, a log line or a table.
 */
extern void cred_clean_message(char *msg);

/*
 * Parse an Expiration ("2026-11-25T19:27:31Z", fractions and offsets
 * allowed; no zone means UTC) into microseconds since 1970.
 */
extern bool cred_parse_time(const char *s, size_t len, int64_t *usecs);

#endif							/* PIPELINE_CRED_ANSWER_H */
