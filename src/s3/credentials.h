/*-------------------------------------------------------------------------
 *
 * credentials.h
 *	  Where requests go and who signs them, from a foreign server and the
 *	  user mapping of the user the request is made for.
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

#endif							/* PIPELINE_CREDENTIALS_H */
