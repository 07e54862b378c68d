/*-------------------------------------------------------------------------
 *
 * credentials.c
 *	  Where requests go and who signs them, from a foreign server and the
 *	  user mapping of the user the request is made for.
 *
 * Keys live only in user mappings (like postgres_fdw's passwords), so
 * PostgreSQL hides them from other roles in pg_user_mappings.  A mapping
 * without keys may use the server process's own identity only on a
 * server owned by a superuser, and only for a superuser or for a role
 * whose mapping a superuser gave use_server_identity 'true' (an option
 * only superusers may set, and a mapping holding it only superusers may
 * change: the role cannot swap the role_arn under it).  Default deny: an
 * ordinary role never makes the server fetch its instance, container or
 * web identity credentials unless a superuser said so for that role.
 * The identity is found the way the AWS SDKs' default credential
 * provider chain finds it:
 *
 *   1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN)
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (+ AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity (IRSA)
 *   3. the profile AWS_PROFILE (or "default") of the shared credentials
 *      file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) and the
 *      config file (AWS_CONFIG_FILE, else ~/.aws/config; cred_profile.c):
 *      its keys, its role_arn assumed with its source_profile's
 *      credentials, or its credential_process (a program run as the
 *      server's OS user: only the server's environment chooses it)
 *   4. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (against pipeline.container_credentials_endpoint, 169.254.170.2),
 *      else AWS_CONTAINER_CREDENTIALS_FULL_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   5. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED
 *
 * The first source that is configured is used, and its failure is an
 * error: falling through to the next (the node's instance role, say, when
 * the pod's web identity fails) could silently give a broader identity.
 *
 * A user mapping's role_arn is assumed (STS AssumeRole) with the mapping's
 * own keys; only a mapping allowed the server's identity (above) assumes
 * it with that.  So an ordinary role can never make the database
 * server use its own identity on its behalf (the confused deputy): STS
 * checks the role's trust policy against the principal of keys the role
 * brought itself.
 *
 * IDENTIFICATION
 *	  src/s3/credentials.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <unistd.h>

#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "s3/cred_profile.h"
#include "s3/cred_source.h"
#include "s3/credentials.h"
#include "s3/url.h"
#include "util/settings.h"

/* The user mapping's and server's options about credentials. */
typedef struct CredOptions
{
	char	   *access_key_id;
	char	   *secret_access_key;
	char	   *session_token;
	char	   *role_arn;
	char	   *external_id;
	char	   *role_session_name;
	int			duration_seconds;
	bool		use_server_identity;	/* granted by a superuser */
	char	   *sts_endpoint;	/* server */
} CredOptions;

static const char *
getenv_nonempty(const char *name)
{
	const char *v = getenv(name);

	return (v && v[0]) ? v : NULL;
}

static bool
getenv_true(const char *name)
{
	const char *v = getenv_nonempty(name);

	return v && pg_strcasecmp(v, "true") == 0;
}

/* ----------------------------------------------------------------
 *		Sources
 * ----------------------------------------------------------------
 */

/* "name=LEN:value\n" into the text a fingerprint is the hash of. */
static void
fp_field(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, "%s=%d:%s\n", name, value ? (int) strlen(value) : -1,
					 value ? value : "");
}

/*
 * The fingerprint of a source: everything that makes the identity, so
 * that the cache never hands one identity's keys to another.  "userid"
 * is part of it for roles assumed for a user.
 */
static void
set_fingerprint(CredSource *src, Oid userid)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "kind=%d\nuser=%u\nduration=%d\n", (int) src->kind,
					 userid, src->duration_seconds);
	fp_field(&buf, "key", src->keys.access_key_id);
	fp_field(&buf, "secret", src->keys.secret_access_key);
	fp_field(&buf, "token", src->keys.session_token);
	fp_field(&buf, "imds", src->imds_endpoint);
	fp_field(&buf, "container", src->container_url);
	fp_field(&buf, "container_token", src->container_token);
	fp_field(&buf, "container_token_file", src->container_token_file);
	fp_field(&buf, "role", src->role_arn);
	fp_field(&buf, "session", src->session_name);
	fp_field(&buf, "web_identity_token_file", src->web_identity_token_file);
	fp_field(&buf, "external_id", src->external_id);
	fp_field(&buf, "sts", src->sts_url);
	fp_field(&buf, "region", src->region);
	fp_field(&buf, "base", src->base ? src->base->fingerprint : NULL);
	fp_field(&buf, "process", src->process_command);
	if (!sigv4_sha256_hex(buf.data, buf.len, src->fingerprint))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the SHA-256 of a credential source")));
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
}

static CredSource *
static_source(const char *key, const char *secret, const char *token)
{
	CredSource *src = palloc0(sizeof(CredSource));

	src->kind = CRED_SOURCE_STATIC;
	src->keys.access_key_id = pstrdup(key);
	src->keys.secret_access_key = pstrdup(secret);
	src->keys.session_token = token ? pstrdup(token) : NULL;
	set_fingerprint(src, InvalidOid);
	return src;
}

/* Where STS is: the server's sts_endpoint, AWS_ENDPOINT_URL_STS, or AWS's regional endpoint. */
static char *
sts_url(const CredOptions *o, const char *region)
{
	const char *env = getenv_nonempty("AWS_ENDPOINT_URL_STS");

	if (o->sts_endpoint)
		return pstrdup(o->sts_endpoint);
	if (env && !getenv_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
		return pstrdup(env);
	return psprintf("https://sts.%s.amazonaws.com%s", region,
					strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
}

/* A URL from the environment, parsed by libcurl; its text without a final '/'. */
static char *
env_url(const char *value, const char *name, Url *u)
{
	UrlStatus	st = url_parse(value, u);
	char	   *r;

	if (st != URL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid URL in %s in the database server's environment", name),
				 errdetail("%s", url_status_message(st))));
	r = pstrdup(u->url);
	if (r[0] && r[strlen(r) - 1] == '/')
		r[strlen(r) - 1] = '\0';
	return r;
}

/*
 * The hosts an http:// AWS_CONTAINER_CREDENTIALS_FULL_URI may name, as the
 * AWS SDKs allow them: loopback, ECS's 169.254.170.2 and EKS Pod
 * Identity's 169.254.170.23 / fd00:ec2::23.  Any other host only over
 * https.
 */
static bool
container_host_ok(const char *host)
{
	if (strncmp(host, "127.", 4) == 0 && url_host_is_ip(host))
		return true;
	return strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0 ||
		strcmp(host, "169.254.170.2") == 0 || strcmp(host, "169.254.170.23") == 0 ||
		strcmp(host, "[fd00:ec2::23]") == 0;
}

static CredSource *
container_source(void)
{
	const char *rel = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	CredSource *src;
	Url			u;

	if (rel == NULL && full == NULL)
		return NULL;
	src = palloc0(sizeof(CredSource));
	src->kind = CRED_SOURCE_CONTAINER;
	if (rel)
	{
		const char *base = pipeline_container_credentials_endpoint;
		size_t		bl = strlen(base);

		if (rel[0] != '/')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid AWS_CONTAINER_CREDENTIALS_RELATIVE_URI in the database server's environment"),
					 errdetail("It must begin with a slash.")));
		if (bl > 0 && base[bl - 1] == '/')
			bl--;
		src->container_url = env_url(psprintf("%.*s%s", (int) bl, base, rel),
									 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", &u);
		url_free(&u);
	}
	else
	{
		bool		ok;

		src->container_url = env_url(full, "AWS_CONTAINER_CREDENTIALS_FULL_URI", &u);
		ok = strcmp(u.scheme, "https") == 0 || container_host_ok(u.host);
		url_free(&u);
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("AWS_CONTAINER_CREDENTIALS_FULL_URI names a host credentials are not fetched from over http"),
					 errdetail("Over http, the host must be a loopback address, 169.254.170.2 (ECS) or 169.254.170.23 or fd00:ec2::23 (EKS); any other host needs https."),
					 errhint("Fix the database server's environment.")));
	}
	src->container_token_file = getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") ?
		pstrdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) : NULL;
	if (src->container_token_file == NULL && getenv_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
		src->container_token = pstrdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	set_fingerprint(src, InvalidOid);
	return src;
}

static CredSource *
imds_source(void)
{
	const char *ep = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	CredSource *src;
	Url			u;

	if (getenv_true("AWS_EC2_METADATA_DISABLED"))
		return NULL;
	if (ep == NULL)
		ep = mode && pg_strcasecmp(mode, "IPv6") == 0 ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
	src = palloc0(sizeof(CredSource));
	src->kind = CRED_SOURCE_IMDS;
	src->imds_endpoint = env_url(ep, "AWS_EC2_METADATA_SERVICE_ENDPOINT", &u);
	url_free(&u);
	set_fingerprint(src, InvalidOid);
	return src;
}

static CredSource *profile_source(ForeignServer *server, const CredOptions *o, const char *region,
								  const char *cred_path, const char *config_path, const char *name,
								  int depth);

/*
 * The database server's own identity: the AWS SDKs' default chain (see
 * the file's header).  Only for superusers on superusers' servers.
 */
static CredSource *
server_identity(ForeignServer *server, const CredOptions *o, const char *region)
{
	const char *home = getenv_nonempty("HOME");
	const char *path = getenv_nonempty("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv_nonempty("AWS_PROFILE");
	const char *config = getenv_nonempty("AWS_CONFIG_FILE");
	CredSource *src;

	/* 1. environment variables */
	if (getenv_nonempty("AWS_ACCESS_KEY_ID") && getenv_nonempty("AWS_SECRET_ACCESS_KEY"))
		return static_source(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
							 getenv_nonempty("AWS_SESSION_TOKEN"));

	/* 2. web identity (IRSA) */
	if (getenv_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE") && getenv_nonempty("AWS_ROLE_ARN"))
	{
		src = palloc0(sizeof(CredSource));
		src->kind = CRED_SOURCE_WEB_IDENTITY;
		src->web_identity_token_file = pstrdup(getenv("AWS_WEB_IDENTITY_TOKEN_FILE"));
		src->role_arn = pstrdup(getenv("AWS_ROLE_ARN"));
		src->session_name = pstrdup(getenv_nonempty("AWS_ROLE_SESSION_NAME") ?
									getenv("AWS_ROLE_SESSION_NAME") : "pipeline");
		src->sts_url = sts_url(o, region);
		src->region = pstrdup(region);
		set_fingerprint(src, InvalidOid);
		return src;
	}

	/* 3. the profile of the shared credentials and config files */
	if (path == NULL && home != NULL)
		path = psprintf("%s/.aws/credentials", home);
	if (config == NULL && home != NULL)
		config = psprintf("%s/.aws/config", home);
	if ((src = profile_source(server, o, region, path, config, profile ? profile : "default", 0)) != NULL)
		return src;
	if (profile != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("no S3 credentials for server \"%s\"", server->servername),
				 errdetail("AWS_PROFILE is \"%s\", and neither the shared credentials file \"%s\" nor the config file \"%s\" has such a profile with credentials.",
						   profile, path ? path : "~/.aws/credentials", config ? config : "~/.aws/config"),
				 errhint("Set access_key_id and secret_access_key with ALTER USER MAPPING.")));

	/* 4. container credentials (ECS, EKS Pod Identity) */
	if ((src = container_source()) != NULL)
		return src;

	/* 5. EC2 instance metadata */
	if ((src = imds_source()) != NULL)
		return src;

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("no S3 credentials for server \"%s\"", server->servername),
			 errdetail("The user mapping has no access_key_id, AWS_ACCESS_KEY_ID and AWS_WEB_IDENTITY_TOKEN_FILE are not set in the server's environment, the shared credentials file \"%s\" has no profile \"%s\", no container credentials are set, and AWS_EC2_METADATA_DISABLED is true.",
					   path ? path : "~/.aws/credentials", profile ? profile : "default"),
			 errhint("Set access_key_id and secret_access_key with ALTER USER MAPPING.")));
	return NULL;				/* keep the compiler quiet */
}

/*
 * The credentials of AWS profile "name" (see the file's header, step 3),
 * or NULL if neither file has the profile or it has no credentials.
 * "depth" counts the source_profile hops.
 */
static CredSource *
profile_source(ForeignServer *server, const CredOptions *o, const char *region,
			   const char *cred_path, const char *config_path, const char *name, int depth)
{
	AwsProfile	p;
	CredSource *src;

	if (!cred_profile_read(cred_path, config_path, name, &p))
		return NULL;
	if (p.role_arn)
	{
		if (p.source_profile == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("AWS profile \"%s\" has a role_arn but no source_profile", name),
					 errdetail("Server \"%s\" uses the database server's own AWS identity.", server->servername),
					 errhint("Name the profile whose credentials assume the role with source_profile (credential_source is not read).")));
		if (depth >= 4)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("AWS profile \"%s\" is more than 4 source_profile hops away from credentials", name)));
		src = palloc0(sizeof(CredSource));
		src->kind = CRED_SOURCE_ASSUME_ROLE;
		src->role_arn = p.role_arn;
		src->session_name = p.role_session_name ? p.role_session_name : pstrdup("pipeline");
		src->external_id = p.external_id;
		src->duration_seconds = p.duration_seconds ? pg_strtoint32(p.duration_seconds) : 0;
		src->region = pstrdup(p.region ? p.region : region);
		src->sts_url = sts_url(o, src->region);
		/* the source profile's own credentials (its keys win over its role, as AWS's CLI has it) */
		{
			AwsProfile	sp;

			if (strcmp(p.source_profile, name) == 0 &&
				cred_profile_read(cred_path, config_path, name, &sp) &&
				sp.access_key_id && sp.secret_access_key)
				src->base = static_source(sp.access_key_id, sp.secret_access_key, sp.session_token);
			else
				src->base = profile_source(server, o, region, cred_path, config_path,
										   p.source_profile, depth + 1);
		}
		if (src->base == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("AWS profile \"%s\" names source_profile \"%s\", which has no credentials",
							name, p.source_profile)));
		set_fingerprint(src, InvalidOid);
		return src;
	}
	if (p.access_key_id && p.secret_access_key)
		return static_source(p.access_key_id, p.secret_access_key, p.session_token);
	if (p.credential_process)
	{
		src = palloc0(sizeof(CredSource));
		src->kind = CRED_SOURCE_PROCESS;
		src->process_command = p.credential_process;
		set_fingerprint(src, InvalidOid);
		return src;
	}
	return NULL;
}

/* The default session name of an assumed role: "pipeline-" and the user's name. */
static char *
default_session_name(Oid userid)
{
	const char *name = GetUserNameFromId(userid, false);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pipeline-");
	for (; *name && buf.len < 64; name++)
	{
		unsigned char c = (unsigned char) *name;

		appendStringInfoChar(&buf, (isalnum(c) && c < 0x80) || strchr("+=,.@_-", c) ? c : '_');
	}
	return buf.data;
}

/* ----------------------------------------------------------------
 *		Server and user mapping
 * ----------------------------------------------------------------
 */

/*
 * aws_server_config: fill *cfg for requests that "userid" makes through
 * "serverid".  Strings are palloc'd in the current context.  Temporary
 * keys are fetched now (or taken from the backend's cache) and renewed by
 * the client before they expire.
 */
void
aws_server_config(Oid serverid, Oid userid, AwsConfig *cfg)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *um;
	char	   *url_style = NULL;
	CredOptions o;
	CredSource *src;
	CredKeys	keys;
	ListCell   *lc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&o, 0, sizeof(o));
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
		else if (strcmp(d->defname, "sts_endpoint") == 0)
			o.sts_endpoint = defGetString(d);
	}
	/* a custom endpoint rarely has per-bucket DNS names */
	cfg->path_style = url_style ? strcmp(url_style, "path") == 0 : cfg->endpoint != NULL;

	um = GetUserMapping(userid, serverid);
	foreach(lc, um->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "access_key_id") == 0)
			o.access_key_id = defGetString(d);
		else if (strcmp(d->defname, "secret_access_key") == 0)
			o.secret_access_key = defGetString(d);
		else if (strcmp(d->defname, "session_token") == 0)
			o.session_token = defGetString(d);
		else if (strcmp(d->defname, "role_arn") == 0)
			o.role_arn = defGetString(d);
		else if (strcmp(d->defname, "external_id") == 0)
			o.external_id = defGetString(d);
		else if (strcmp(d->defname, "role_session_name") == 0)
			o.role_session_name = defGetString(d);
		else if (strcmp(d->defname, "duration_seconds") == 0)
			o.duration_seconds = atoi(defGetString(d));
		else if (strcmp(d->defname, "use_server_identity") == 0)
			o.use_server_identity = defGetBoolean(d);
	}

	if ((o.access_key_id != NULL) != (o.secret_access_key != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for \"%s\" on server \"%s\" has only half of a key pair",
						GetUserNameFromId(userid, false), server->servername),
				 errhint("Set both access_key_id and secret_access_key.")));

	/* keys and no role: the mapping's keys, as they are */
	if (o.access_key_id != NULL && o.role_arn == NULL)
	{
		cfg->access_key_id = o.access_key_id;
		cfg->secret_access_key = o.secret_access_key;
		cfg->session_token = o.session_token;
		return;
	}

	/*
	 * Whose keys: the mapping's own, or the server's identity, which only a
	 * superuser, or a role whose mapping a superuser gave
	 * use_server_identity, may use, on a superuser's server.
	 */
	if (o.access_key_id != NULL)
		src = static_source(o.access_key_id, o.secret_access_key, o.session_token);
	else if (!superuser_arg(server->owner) ||
			 !(superuser_arg(userid) || o.use_server_identity))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for \"%s\" on server \"%s\" has no S3 credentials",
						GetUserNameFromId(userid, false), server->servername),
				 errdetail(!superuser_arg(server->owner) ?
						   "The server is not owned by a superuser, so no user mapping on it may use the database server's own credentials." :
						   o.role_arn ?
						   "Only a superuser, or a role whose user mapping a superuser gave use_server_identity 'true', may use the database server's own credentials; a role_arn is assumed with the user mapping's own keys." :
						   "Only a superuser, or a role whose user mapping a superuser gave use_server_identity 'true', may use the database server's own credentials."),
				 errhint("Set access_key_id and secret_access_key with ALTER USER MAPPING, or ask a superuser for use_server_identity.")));
	else
		src = server_identity(server, &o, cfg->region);

	/* a role to assume with them */
	if (o.role_arn != NULL)
	{
		CredSource *role = palloc0(sizeof(CredSource));

		role->kind = CRED_SOURCE_ASSUME_ROLE;
		role->role_arn = pstrdup(o.role_arn);
		role->external_id = o.external_id ? pstrdup(o.external_id) : NULL;
		role->session_name = o.role_session_name ? pstrdup(o.role_session_name) :
			default_session_name(userid);
		role->duration_seconds = o.duration_seconds;
		role->sts_url = sts_url(&o, cfg->region);
		role->region = pstrdup(cfg->region);
		role->base = src;
		set_fingerprint(role, userid);
		src = role;
	}

	memset(&keys, 0, sizeof(keys));
	cfg->renew_at = cred_cache_get(src, &keys, CurrentMemoryContext);
	cfg->access_key_id = keys.access_key_id;
	cfg->secret_access_key = keys.secret_access_key;
	cfg->session_token = keys.session_token;
	cfg->source = src->kind == CRED_SOURCE_STATIC ? NULL : src;
}

/* ----------------------------------------------------------------
 *		Options
 * ----------------------------------------------------------------
 */

/* Every byte of s is alphanumeric or in "extra"; and min..max bytes. */
static bool
chars_ok(const char *s, const char *extra, size_t min, size_t max)
{
	size_t		len = strlen(s);

	if (len < min || len > max)
		return false;
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return false;
	}
	return true;
}

static void
invalid_value(DefElem *def, const char *hint) pg_attribute_noreturn();

static void
invalid_value(DefElem *def, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, defGetString(def)),
			 errhint("%s", hint)));
}

/*
 * aws_credential_options_check: the options about credentials of a server
 * (sts_endpoint) or user mapping (role_arn, external_id,
 * role_session_name, duration_seconds), as the FDW's validator sees them.
 */
void
aws_credential_options_check(List *options, Oid catalog)
{
	ListCell   *lc;
	bool		have_role = false;
	bool		have_keys = false;
	bool		server_identity = false;
	DefElem    *needs_role = NULL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v;

		if (catalog == ForeignServerRelationId && strcmp(def->defname, "sts_endpoint") == 0)
		{
			Url			u;
			UrlStatus	st;

			v = defGetString(def);
			st = url_parse(v, &u);
			if (st != URL_OK)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"sts_endpoint\": \"%s\"", v),
						 errdetail("%s", url_status_message(st)),
						 errhint("An STS endpoint looks like https://sts.us-east-1.amazonaws.com or http://host:port.")));
			st = u.query != NULL ? URL_MALFORMED : URL_OK;
			url_free(&u);
			if (st != URL_OK)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"sts_endpoint\": \"%s\"", v),
						 errdetail("An STS endpoint has no query.")));
			/* where the server sends requests is a superuser's decision */
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to set option \"sts_endpoint\""),
						 errdetail("Only superusers may choose where the database server sends requests.")));
		}
		if (catalog != UserMappingRelationId)
			continue;
		if (strcmp(def->defname, "access_key_id") == 0)
			have_keys = true;
		else if (strcmp(def->defname, "use_server_identity") == 0)
			server_identity = defGetBoolean(def);
		else if (strcmp(def->defname, "role_arn") == 0)
		{
			v = defGetString(def);
			if (strncmp(v, "arn:", 4) != 0 || strstr(v, ":iam::") == NULL ||
				strstr(v, ":role/") == NULL ||
				!chars_ok(v, ":/+=,.@_-", 20, 2048))
				invalid_value(def, "A role ARN looks like arn:aws:iam::123456789012:role/name.");
			have_role = true;
		}
		else if (strcmp(def->defname, "external_id") == 0)
		{
			if (!chars_ok(defGetString(def), "+=,.@:/_-", 2, 1224))
				invalid_value(def, "An external ID is 2 to 1224 letters, digits and +=,.@:/_- characters.");
			needs_role = def;
		}
		else if (strcmp(def->defname, "role_session_name") == 0)
		{
			if (!chars_ok(defGetString(def), "+=,.@_-", 2, 64))
				invalid_value(def, "A session name is 2 to 64 letters, digits and +=,.@_- characters.");
			needs_role = def;
		}
		else if (strcmp(def->defname, "duration_seconds") == 0)
		{
			int			n;

			v = defGetString(def);
			if (!parse_int(v, &n, 0, NULL) || n < 900 || n > 43200)
				invalid_value(def, "The duration is 900 to 43200 seconds (and at most the role's maximum session duration).");
			needs_role = def;
		}
	}
	if (needs_role && !have_role)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"%s\" needs option \"role_arn\"", needs_role->defname)));
	if (server_identity && have_keys)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"use_server_identity\" and \"access_key_id\" exclude each other"),
				 errhint("A user mapping signs with its own keys or with the database server's identity.")));

	/*
	 * The database server's identity is a superuser's to hand out, and a
	 * mapping that has it is a superuser's to change: otherwise its role
	 * could point the role_arn it was given somewhere else.  The validator
	 * sees a mapping's whole option list, so this covers every ALTER.
	 */
	if (server_identity && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set or change a user mapping with option \"use_server_identity\""),
				 errdetail("Only superusers may let a role use the database server's own credentials, or change what such a mapping does."),
				 errhint("Drop the user mapping and create one with keys of its own, or ask a superuser.")));
}
