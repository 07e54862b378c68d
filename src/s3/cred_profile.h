/*-------------------------------------------------------------------------
 *
 * cred_profile.h
 *	  Profiles of the AWS shared credentials and config files, and
 *	  credential_process (inside src/s3 only; see cred_profile.c).
 *
 * IDENTIFICATION
 *	  src/s3/cred_profile.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CRED_PROFILE_H
#define PIPELINE_CRED_PROFILE_H

#include "s3/cred_source.h"

/* The settings of one profile read (palloc'd; NULL if not set). */
typedef struct AwsProfile
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	char	   *credential_process;
	char	   *role_arn;
	char	   *source_profile;
	char	   *external_id;
	char	   *role_session_name;
	char	   *duration_seconds;
	char	   *region;
} AwsProfile;

/*
 * Profile "name" from the credentials file ("[name]") and the config file
 * ("[profile name]", or "[default]"); either path may be NULL.  False if
 * neither file has it.
 */
extern bool cred_profile_read(const char *credentials_path, const char *config_path,
							  const char *name, AwsProfile *p);

/* Run a credential_process and take its keys (palloc'd), or ereport. */
extern void cred_process_fetch(const char *command, CredKeys *out);

#endif							/* PIPELINE_CRED_PROFILE_H */
