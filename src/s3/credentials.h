/*-------------------------------------------------------------------------
 *
 * credentials.h
 *	  Where requests go and who signs them, from a foreign server and the
 *	  user mapping of the user the request is made for: keys given, or the
 *	  database server's own identity (environment, web identity, shared
 *	  credentials file, container credentials, EC2 instance metadata), and
 *	  roles assumed with either.
 *
 * IDENTIFICATION
 *	  src/s3/credentials.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CREDENTIALS_H
#define PIPELINE_CREDENTIALS_H

#include "s3/aws.h"

/*
 * Fill *cfg for the requests (S3 or SQS) that "userid" makes through the
 * pipeline_s3 server "serverid"; strings are palloc'd.
 */
extern void aws_server_config(Oid serverid, Oid userid, AwsConfig *cfg);

/* The FDW validator's checks of sts_endpoint, role_arn and its companions. */
extern void aws_credential_options_check(List *options, Oid catalog);

/* A client's copy of its credential source; new keys before a request (aws.c). */
extern struct CredSource *aws_credential_source_copy(const struct CredSource *src,
													 MemoryContext mcxt);
extern void aws_credentials_renew(AwsConfig *cfg, MemoryContext mcxt);
/* A service answered ExpiredToken: forget the keys; false if nothing can renew them. */
extern bool aws_credentials_refused(AwsConfig *cfg);

#endif							/* PIPELINE_CREDENTIALS_H */
