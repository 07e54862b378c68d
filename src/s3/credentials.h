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

#include "s3/s3.h"

extern void s3_server_config(Oid serverid, Oid userid, S3Config *cfg);

#endif							/* PIPELINE_CREDENTIALS_H */
