/*-------------------------------------------------------------------------
 *
 * credentials.c
 *	  Where requests go and who signs them, from a foreign server and the
 *	  user mapping of the user the request is made for.
 *
 * Keys live only in user mappings (like postgres_fdw's passwords), so
 * PostgreSQL hides them from other roles in pg_user_mappings.  Only when
 * both the user and the server's owner are superusers may a mapping
 * without keys fall back to the server process's ambient credentials (the
 * standard AWS environment variables, then the shared credentials file):
 * a non-superuser must never borrow the database server's identity.
 *
 * IDENTIFICATION
 *	  src/s3/credentials.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"

#include "s3/credentials.h"

static const char *
getenv_nonempty(const char *name)
{
	const char *v = getenv(name);

	return (v && v[0]) ? v : NULL;
}

/*
 * Read one profile of an AWS shared credentials file (INI format).
 * Returns true if it gave an access key.
 */
static bool
read_shared_credentials(const char *path, const char *profile, AwsConfig *cfg)
{
	FILE	   *f = AllocateFile(path, "r");
	char		line[1024];
	bool		in_profile = false;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *s = line;
		char	   *eq;
		char	   *name;
		char	   *value;

		while (*s == ' ' || *s == '\t')
			s++;
		s[strcspn(s, "\r\n")] = '\0';
		if (*s == '#' || *s == ';' || *s == '\0')
			continue;
		if (*s == '[')
		{
			char	   *end = strchr(s, ']');

			if (end)
				*end = '\0';
			in_profile = strcmp(s + 1, profile) == 0;
			continue;
		}
		if (!in_profile || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		name = s;
		value = eq + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		while (eq > name && (eq[-1] == ' ' || eq[-1] == '\t'))
			*--eq = '\0';
		if (strcmp(name, "aws_access_key_id") == 0)
			cfg->access_key_id = pstrdup(value);
		else if (strcmp(name, "aws_secret_access_key") == 0)
			cfg->secret_access_key = pstrdup(value);
		else if (strcmp(name, "aws_session_token") == 0)
			cfg->session_token = pstrdup(value);
	}
	FreeFile(f);
	return cfg->access_key_id != NULL && cfg->secret_access_key != NULL;
}

/*
 * Ambient credentials of the server process: environment, then the shared
 * credentials file.
 */
static void
ambient_credentials(ForeignServer *server, AwsConfig *cfg)
{
	const char *home = getenv_nonempty("HOME");
	const char *path = getenv_nonempty("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv_nonempty("AWS_PROFILE");

	if (getenv_nonempty("AWS_ACCESS_KEY_ID") && getenv_nonempty("AWS_SECRET_ACCESS_KEY"))
	{
		cfg->access_key_id = pstrdup(getenv("AWS_ACCESS_KEY_ID"));
		cfg->secret_access_key = pstrdup(getenv("AWS_SECRET_ACCESS_KEY"));
		if (getenv_nonempty("AWS_SESSION_TOKEN"))
			cfg->session_token = pstrdup(getenv("AWS_SESSION_TOKEN"));
		return;
	}
	if (path == NULL && home != NULL)
		path = psprintf("%s/.aws/credentials", home);
	if (path && read_shared_credentials(path, profile ? profile : "default", cfg))
		return;

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("no S3 credentials for server \"%s\"", server->servername),
			 errdetail("The user mapping has no access_key_id, AWS_ACCESS_KEY_ID is not set in the server's environment, and the shared credentials file \"%s\" has no profile \"%s\".",
					   path ? path : "~/.aws/credentials", profile ? profile : "default"),
			 errhint("Set access_key_id and secret_access_key with ALTER USER MAPPING.")));
}

/*
 * aws_server_config: fill *cfg for requests that "userid" makes through
 * "serverid".  Strings are palloc'd in the current context.
 */
void
aws_server_config(Oid serverid, Oid userid, AwsConfig *cfg)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *um;
	char	   *url_style = NULL;
	ListCell   *lc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->region = "us-east-1";
	foreach(lc, server->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "region") == 0)
			cfg->region = defGetString(d);
		else if (strcmp(d->defname, "endpoint") == 0)
			cfg->endpoint = defGetString(d);
		else if (strcmp(d->defname, "url_style") == 0)
			url_style = defGetString(d);
	}
	/* a custom endpoint rarely has per-bucket DNS names */
	cfg->path_style = url_style ? strcmp(url_style, "path") == 0 : cfg->endpoint != NULL;

	um = GetUserMapping(userid, serverid);
	foreach(lc, um->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "access_key_id") == 0)
			cfg->access_key_id = defGetString(d);
		else if (strcmp(d->defname, "secret_access_key") == 0)
			cfg->secret_access_key = defGetString(d);
		else if (strcmp(d->defname, "session_token") == 0)
			cfg->session_token = defGetString(d);
	}
	if (cfg->access_key_id != NULL && cfg->secret_access_key != NULL)
		return;

	if (cfg->access_key_id != NULL || cfg->secret_access_key != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for \"%s\" on server \"%s\" has only half of a key pair",
						GetUserNameFromId(userid, false), server->servername),
				 errhint("Set both access_key_id and secret_access_key.")));

	if (!superuser_arg(userid) || !superuser_arg(server->owner))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for \"%s\" on server \"%s\" has no S3 credentials",
						GetUserNameFromId(userid, false), server->servername),
				 errdetail("Only a superuser using a server owned by a superuser may use the database server's own credentials."),
				 errhint("Set access_key_id and secret_access_key with ALTER USER MAPPING.")));

	cfg->session_token = NULL;
	ambient_credentials(server, cfg);
}
