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

#include "s3/s3.h"

extern void s3_server_config(Oid serverid, Oid userid, S3Config *cfg);

/* The FDW validator's checks of sts_endpoint, role_arn and its companions. */
extern void s3_credential_options_check(List *options, Oid catalog);

/* pipeline.metadata_timeout, pipeline.sts_timeout, pipeline.container_credentials_endpoint */
extern void s3_credentials_define_gucs(void);

#endif							/* PIPELINE_CREDENTIALS_H */
