/*-------------------------------------------------------------------------
 *
 * cred_source.h
 *	  Where temporary credentials come from (inside src/s3 only): the
 *	  sources credentials.c chooses, the fetches of cred_fetch.c and the
 *	  per-backend cache of cred_cache.c.
 *
 * A CredSource says how to obtain one identity's keys again: IMDS, a
 * container endpoint, web identity, or AssumeRole on top of a base
 * identity.  It is immutable once made and copied with the AwsClient that
 * uses it (aws_credential_source_copy), so a client never points into the
 * cache; the cache finds the keys by the source's fingerprint, which
 * covers everything that makes the identity (the role, the base keys, the
 * user it is for, the endpoints), so that two users or two roles never
 * share cached keys.
 *
 * IDENTIFICATION
 *	  src/s3/cred_source.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CRED_SOURCE_H
#define PIPELINE_CRED_SOURCE_H

#include "datatype/timestamp.h"

#include "s3/sigv4.h"

typedef enum CredSourceKind
{
	CRED_SOURCE_STATIC,			/* keys given (user mapping, environment,
								 * shared credentials file) */
	CRED_SOURCE_WEB_IDENTITY,	/* AssumeRoleWithWebIdentity (IRSA) */
	CRED_SOURCE_CONTAINER,		/* ECS/EKS container credentials endpoint */
	CRED_SOURCE_IMDS,			/* EC2 instance metadata, IMDSv2 */
	CRED_SOURCE_ASSUME_ROLE,	/* AssumeRole signed with a base identity */
	CRED_SOURCE_PROCESS			/* a profile's credential_process (cred_profile.c) */
} CredSourceKind;

/* Keys, as a source gives them. */
typedef struct CredKeys
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;	/* NULL if none */
	TimestampTz expiration;		/* 0: they do not expire */
} CredKeys;

typedef struct CredSource
{
	CredSourceKind kind;
	char		fingerprint[SIGV4_HEX_LEN + 1];

	/* STATIC */
	CredKeys	keys;

	/* IMDS: the endpoint (no trailing slash) */
	char	   *imds_endpoint;

	/* CONTAINER: the URL, and the Authorization value or the file holding it */
	char	   *container_url;
	char	   *container_token;
	char	   *container_token_file;

	/* WEB_IDENTITY and ASSUME_ROLE */
	char	   *role_arn;
	char	   *session_name;
	char	   *web_identity_token_file;	/* WEB_IDENTITY */
	char	   *external_id;	/* ASSUME_ROLE, or NULL */
	int			duration_seconds;	/* ASSUME_ROLE; 0: STS's default */
	char	   *sts_url;		/* http(s)://host[:port][/path] */
	char	   *region;			/* what STS requests are signed for */
	struct CredSource *base;	/* ASSUME_ROLE: whose keys sign the call */
	char	   *process_command;	/* PROCESS: the command line */
} CredSource;

/* What a source is, for messages: "the EC2 instance metadata service". */
extern const char *cred_source_describe(const CredSource *src);

/* cred_fetch.c: obtain fresh keys (palloc'd in the current context), or ereport. */
extern void cred_fetch(const CredSource *src, const CredKeys *base, CredKeys *out);

/*
 * cred_cache.c: the keys of a source, from the cache or fetched; fills
 * *out (strings palloc'd in "mcxt") and returns when they should next be
 * looked at again (0: never).
 */
extern TimestampTz cred_cache_get(const CredSource *src, CredKeys *out, MemoryContext mcxt);

#endif							/* PIPELINE_CRED_SOURCE_H */
