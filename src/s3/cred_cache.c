/*-------------------------------------------------------------------------
 *
 * cred_cache.c
 *	  Temporary credentials cached per backend and renewed before they
 *	  expire, and the settings of the credential sources.
 *
 * Keys are cached by their source's fingerprint (cred_source.h): the
 * role, the base keys, the user they are for and the endpoints, so no
 * user or role ever gets keys cached for another.  A client (AwsConfig)
 * holds a copy of its keys and, with them, when to look at the cache
 * again; aws_start() calls aws_credentials_renew() before signing, which
 * is where renewal happens:
 *
 *   - at "refresh_at" (5 minutes before the expiration, or half-way
 *     through the lifetime of keys that live less than 10 minutes) new
 *     keys are fetched; if that fails, the current ones go on being used
 *     (a WARNING says so once per attempt; another attempt follows after
 *     a back-off) until
 *   - "usable_until" (10 seconds before the expiration, or a quarter of a
 *     short lifetime before it): past it, keys are fetched or the request
 *     fails with an error saying when the keys expired and why they could
 *     not be renewed.
 *
 * A renewal that fails because of a query cancel, statement_timeout or a
 * shutdown is never taken for a failed renewal: that error goes on.
 *
 * IDENTIFICATION
 *	  src/s3/cred_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "s3/cred_source.h"
#include "s3/credentials.h"

/* Renew this long before the expiration (the AWS SDKs' 5 minutes). */
#define REFRESH_BEFORE_USECS	(5 * 60 * USECS_PER_SEC)
/* Stop using keys this long before their expiration. */
#define USABLE_MARGIN_USECS		(10 * USECS_PER_SEC)
/* After a failed renewal, wait at most this long before the next. */
#define RETRY_MAX_USECS			(30 * USECS_PER_SEC)
/* Entries kept per backend (each a few hundred bytes). */
#define CACHE_MAX_ENTRIES		64

typedef struct CredCacheEntry
{
	char		key[SIGV4_HEX_LEN + 1]; /* the source's fingerprint */
	bool		have;			/* keys holds keys */
	CredKeys	keys;			/* strings in cache_cxt */
	TimestampTz obtained;
	TimestampTz refresh_at;
	TimestampTz usable_until;
	TimestampTz retry_after;	/* a renewal failed: not again before */
	TimestampTz last_used;
} CredCacheEntry;

static HTAB *cache = NULL;
static MemoryContext cache_cxt = NULL;

/* ----------------------------------------------------------------
 *		Sources
 * ----------------------------------------------------------------
 */

static char *
dup_in(MemoryContext mcxt, const char *s)
{
	return s ? MemoryContextStrdup(mcxt, s) : NULL;
}

/*
 * aws_credential_source_copy: a deep copy of a source in "mcxt" (a client
 * keeps its own, so that it never points into the cache or into a
 * context that goes away before it).
 */
CredSource *
aws_credential_source_copy(const CredSource *src, MemoryContext mcxt)
{
	CredSource *c;

	if (src == NULL)
		return NULL;
	c = MemoryContextAllocZero(mcxt, sizeof(CredSource));
	c->kind = src->kind;
	memcpy(c->fingerprint, src->fingerprint, sizeof(c->fingerprint));
	c->keys.access_key_id = dup_in(mcxt, src->keys.access_key_id);
	c->keys.secret_access_key = dup_in(mcxt, src->keys.secret_access_key);
	c->keys.session_token = dup_in(mcxt, src->keys.session_token);
	c->keys.expiration = src->keys.expiration;
	c->imds_endpoint = dup_in(mcxt, src->imds_endpoint);
	c->container_url = dup_in(mcxt, src->container_url);
	c->container_token = dup_in(mcxt, src->container_token);
	c->container_token_file = dup_in(mcxt, src->container_token_file);
	c->role_arn = dup_in(mcxt, src->role_arn);
	c->session_name = dup_in(mcxt, src->session_name);
	c->web_identity_token_file = dup_in(mcxt, src->web_identity_token_file);
	c->external_id = dup_in(mcxt, src->external_id);
	c->duration_seconds = src->duration_seconds;
	c->sts_url = dup_in(mcxt, src->sts_url);
	c->region = dup_in(mcxt, src->region);
	c->process_command = dup_in(mcxt, src->process_command);
	c->base = aws_credential_source_copy(src->base, mcxt);
	return c;
}

/* ----------------------------------------------------------------
 *		The cache
 * ----------------------------------------------------------------
 */

static void
free_secret(char *s)
{
	if (s != NULL)
	{
		explicit_bzero(s, strlen(s));
		pfree(s);
	}
}

static void
entry_clear(CredCacheEntry *e)
{
	if (e->keys.access_key_id)
		pfree(e->keys.access_key_id);
	free_secret(e->keys.secret_access_key);
	free_secret(e->keys.session_token);
	memset(&e->keys, 0, sizeof(e->keys));
	e->have = false;
}

static CredCacheEntry *
cache_entry(const char *key)
{
	CredCacheEntry *e;
	bool		found;

	if (cache == NULL)
	{
		HASHCTL		ctl;

		cache_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline credentials",
										  ALLOCSET_SMALL_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = SIGV4_HEX_LEN + 1;
		ctl.entrysize = sizeof(CredCacheEntry);
		ctl.hcxt = cache_cxt;
		cache = hash_create("pipeline credentials", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	e = hash_search(cache, key, HASH_FIND, NULL);
	if (e != NULL)
		return e;

	/* full: forget the entry used least recently */
	if (hash_get_num_entries(cache) >= CACHE_MAX_ENTRIES)
	{
		HASH_SEQ_STATUS seq;
		CredCacheEntry *it;
		CredCacheEntry *oldest = NULL;

		hash_seq_init(&seq, cache);
		while ((it = hash_seq_search(&seq)) != NULL)
			if (oldest == NULL || it->last_used < oldest->last_used)
				oldest = it;
		if (oldest)
		{
			entry_clear(oldest);
			hash_search(cache, oldest->key, HASH_REMOVE, NULL);
		}
	}
	e = hash_search(cache, key, HASH_ENTER, &found);
	if (!found)
	{
		char		k[SIGV4_HEX_LEN + 1];

		memcpy(k, e->key, sizeof(k));
		memset(e, 0, sizeof(*e));
		memcpy(e->key, k, sizeof(k));
	}
	return e;
}

/* Store fresh keys in an entry and work out when to renew them. */
static void
entry_store(CredCacheEntry *e, const CredKeys *k, TimestampTz now)
{
	entry_clear(e);
	e->keys.access_key_id = MemoryContextStrdup(cache_cxt, k->access_key_id);
	e->keys.secret_access_key = MemoryContextStrdup(cache_cxt, k->secret_access_key);
	e->keys.session_token = dup_in(cache_cxt, k->session_token);
	e->keys.expiration = k->expiration;
	e->have = true;
	e->obtained = now;
	e->retry_after = 0;
	if (k->expiration == 0)
	{
		/* keys without an expiration are never renewed */
		e->refresh_at = DT_NOEND;
		e->usable_until = DT_NOEND;
	}
	else
	{
		int64		life = k->expiration - now;

		e->refresh_at = k->expiration - Min(REFRESH_BEFORE_USECS, life / 2);
		e->usable_until = k->expiration - Min(USABLE_MARGIN_USECS, life / 4);
	}
}

/* Copy an entry's keys into *out, in mcxt. */
static void
entry_copy(const CredCacheEntry *e, CredKeys *out, MemoryContext mcxt)
{
	out->access_key_id = MemoryContextStrdup(mcxt, e->keys.access_key_id);
	out->secret_access_key = MemoryContextStrdup(mcxt, e->keys.secret_access_key);
	out->session_token = dup_in(mcxt, e->keys.session_token);
	out->expiration = e->keys.expiration;
}

/* Errors that are not a failed renewal: cancel, timeouts, shutdown, memory. */
static bool
must_rethrow(const ErrorData *edata)
{
	int			cat = ERRCODE_TO_CATEGORY(edata->sqlerrcode);

	return edata->elevel > ERROR ||
		cat == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
		cat == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
		cat == ERRCODE_TO_CATEGORY(ERRCODE_PROGRAM_LIMIT_EXCEEDED) ||
		edata->sqlerrcode == ERRCODE_INTERNAL_ERROR;
}

/* Fetch a source's keys (the base's first, for AssumeRole). */
static void
fetch_keys(const CredSource *src, CredKeys *out)
{
	CredKeys	base;

	memset(&base, 0, sizeof(base));
	if (src->kind == CRED_SOURCE_ASSUME_ROLE)
		(void) cred_cache_get(src->base, &base, CurrentMemoryContext);
	cred_fetch(src, &base, out);
}

/*
 * cred_cache_get: see cred_source.h.  The returned time is when the caller
 * should call again (the keys' refresh_at, or the end of a back-off).
 */
TimestampTz
cred_cache_get(const CredSource *src, CredKeys *out, MemoryContext mcxt)
{
	CredCacheEntry *e;
	TimestampTz now;
	CredKeys	fresh;
	MemoryContext caller = CurrentMemoryContext;

	if (src->kind == CRED_SOURCE_STATIC)
	{
		out->access_key_id = MemoryContextStrdup(mcxt, src->keys.access_key_id);
		out->secret_access_key = MemoryContextStrdup(mcxt, src->keys.secret_access_key);
		out->session_token = dup_in(mcxt, src->keys.session_token);
		out->expiration = 0;
		return 0;
	}

	e = cache_entry(src->fingerprint);
	now = GetCurrentTimestamp();
	e->last_used = now;

	if (e->have && now < e->refresh_at)
	{
		entry_copy(e, out, mcxt);
		return e->refresh_at;
	}
	if (e->have && now < e->retry_after && now < e->usable_until)
	{
		entry_copy(e, out, mcxt);
		return Min(e->retry_after, e->usable_until);
	}

	memset(&fresh, 0, sizeof(fresh));
	if (!e->have)
	{
		/* nothing to fall back on: errors go on as they are */
		fetch_keys(src, &fresh);
	}
	else
	{
		bool		usable = now < e->usable_until;
		ErrorData  *edata = NULL;

		PG_TRY();
		{
			fetch_keys(src, &fresh);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller);
			edata = CopyErrorData();
			if (must_rethrow(edata))
				PG_RE_THROW();
			FlushErrorState();
		}
		PG_END_TRY();

		/* (the entry may have gone if the fetch filled the cache: look again) */
		e = cache_entry(src->fingerprint);
		if (edata != NULL && usable && e->have)
		{
			int64		backoff = Min(RETRY_MAX_USECS,
									  Max((e->keys.expiration - e->obtained) / 8, 100 * 1000));

			e->retry_after = now + backoff;
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("could not renew the credentials from %s", cred_source_describe(src)),
					 errdetail("%s%s%s The current credentials are used until they expire at %s; another attempt follows in %d ms.",
							   edata->message, edata->detail ? " " : "",
							   edata->detail ? edata->detail : "",
							   timestamptz_to_str(e->keys.expiration),
							   (int) (backoff / 1000)),
					 edata->hint ? errhint("%s", edata->hint) : 0));
			entry_copy(e, out, mcxt);
			return Min(e->retry_after, e->usable_until);
		}
		if (edata != NULL)
		{
			TimestampTz exp = e->have ? e->keys.expiration : 0;

			ereport(ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("the credentials from %s expired and could not be renewed",
							cred_source_describe(src)),
					 exp ? errdetail("They expired at %s. %s%s%s", timestamptz_to_str(exp), edata->message,
									 edata->detail ? " " : "", edata->detail ? edata->detail : "") :
					 errdetail("%s", edata->message),
					 edata->hint ? errhint("%s", edata->hint) : 0));
		}
	}

	e = cache_entry(src->fingerprint);
	entry_store(e, &fresh, GetCurrentTimestamp());
	e->last_used = now;
	explicit_bzero(fresh.secret_access_key, strlen(fresh.secret_access_key));
	if (fresh.session_token)
		explicit_bzero(fresh.session_token, strlen(fresh.session_token));
	entry_copy(e, out, mcxt);
	return e->refresh_at == DT_NOEND ? 0 : e->refresh_at;
}

/*
 * aws_credentials_refused: a service answered ExpiredToken to keys the
 * cache still thought good (a clock that is off, keys revoked early):
 * forget them, so that the client's next request fetches new ones.  False
 * if the keys do not come from a source (nothing could renew them).
 */
bool
aws_credentials_refused(AwsConfig *cfg)
{
	CredCacheEntry *e;

	if (cfg->source == NULL)
		return false;
	if (cache != NULL &&
		(e = hash_search(cache, cfg->source->fingerprint, HASH_FIND, NULL)) != NULL)
		entry_clear(e);
	cfg->renew_at = 1;			/* long past: renewed before the next request */
	return true;
}

/*
 * aws_credentials_renew: called before every request of a client whose keys
 * come from a source; gets the current keys once their time has come.
 */
void
aws_credentials_renew(AwsConfig *cfg, MemoryContext mcxt)
{
	CredKeys	keys;

	if (cfg->source == NULL || cfg->renew_at == 0 ||
		GetCurrentTimestamp() < cfg->renew_at)
		return;
	memset(&keys, 0, sizeof(keys));
	cfg->renew_at = cred_cache_get(cfg->source, &keys, mcxt);
	if (cfg->access_key_id)
		pfree(cfg->access_key_id);
	if (cfg->secret_access_key)
	{
		explicit_bzero(cfg->secret_access_key, strlen(cfg->secret_access_key));
		pfree(cfg->secret_access_key);
	}
	if (cfg->session_token)
	{
		explicit_bzero(cfg->session_token, strlen(cfg->session_token));
		pfree(cfg->session_token);
	}
	cfg->access_key_id = keys.access_key_id;
	cfg->secret_access_key = keys.secret_access_key;
	cfg->session_token = keys.session_token;
}
