/*-------------------------------------------------------------------------
 *
 * fleet_claim.c
 *	  Claim objects: where one lives, what it says, and how a claim read
 *	  back from S3 stands for this server (free, done, given up, or held
 *	  by a live holder).
 *
 * A claim is a small JSON document at PREFIX/claims/REPORT/HASH, HASH being
 * the SHA-256 of "bucket/key@version" (keys are long and any text; the
 * document names the object in full).  Its lease runs from the moment S3
 * wrote it: S3's Last-Modified, compared with S3's clock in the same
 * answer (its Date), so that the servers' own clocks never enter the
 * decision whether a holder's lease ran out.
 *
 * With pipeline.fleet_secret set, claims carry an HMAC-SHA256 of their
 * fields (the claim's own key among them, so that a claim cannot be copied
 * to another key): a claim that does not verify was not written by the
 * fleet and is taken over like a free one.  Without it any writer of the
 * prefix is believed.
 *
 * IDENTIFICATION
 *	  src/report/fleet_claim.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "common/hmac.h"
#include "lib/stringinfo.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "report/fleet.h"
#include "report/fleet_int.h"
#include "s3/sigv4.h"
#include "util/settings.h"

/* A claim's lease is believed up to this many times our own. */
#define LEASE_BELIEVED_FACTOR	10

/* (not hex_encode: utils/builtins.h and jansson.h both declare json_object) */
static void
to_hex(const uint8 *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t		i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

char *
fleet_claim_key(const char *prefix, const char *report, const EventObject *o)
{
	char		hash[SIGV4_HEX_LEN + 1];
	char	   *what = psprintf("%s/%s@%s", o->bucket, o->key, event_object_version(o));

	if (!sigv4_sha256_hex(what, strlen(what), hash))
		elog(ERROR, "could not hash a claim's object");
	hash[40] = '\0';
	return psprintf("%sclaims/%s/%s.json", prefix, report, hash);
}

char *
fleet_new_token(void)
{
	uint8		bytes[12];
	char		hex[25];

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for a claim")));
	to_hex(bytes, sizeof(bytes), hex);
	return pstrdup(hex);
}

/* Now, by this server's clock, as UTC ISO 8601 with milliseconds. */
char *
fleet_iso_now(void)
{
	TimestampTz now = GetCurrentTimestamp();
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(now, NULL, &tm, &fsec, NULL, NULL) != 0)
		return pstrdup("");
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

/* HMAC-SHA256 of "text" with pipeline.fleet_secret, as hex; NULL if there is no secret. */
char *
fleet_sign(const char *text)
{
	pg_hmac_ctx *ctx;
	uint8		mac[32];
	char		hex[65];

	if (pipeline_fleet_secret == NULL || pipeline_fleet_secret[0] == '\0')
		return NULL;
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, (const uint8 *) pipeline_fleet_secret, strlen(pipeline_fleet_secret)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) text, strlen(text)) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		const char *err = ctx ? pg_hmac_error(ctx) : "out of memory";

		if (ctx)
			pg_hmac_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign a claim"),
				 errdetail_internal("%s", err)));
	}
	pg_hmac_free(ctx);
	to_hex(mac, sizeof(mac), hex);
	return pstrdup(hex);
}

/* Constant-time comparison of the signature a document carries with its due one. */
bool
fleet_signature_ok(const char *text, const char *sig)
{
	char	   *due = fleet_sign(text);
	int			diff = 0;
	size_t		i;

	if (due == NULL)
		return true;			/* no secret: nothing to check */
	if (sig == NULL || strlen(sig) != strlen(due))
		return false;
	for (i = 0; due[i]; i++)
		diff |= due[i] ^ sig[i];
	return diff == 0;
}

/* The fields a claim's signature covers, one a line, in a fixed order. */
static char *
signed_text(const Claim *c)
{
	return psprintf("pipeline-claim-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%d\n%s\n%s\n" INT64_FORMAT "\n%s",
					c->claim, c->report, c->object, c->version, c->holder, c->state,
					c->lease, c->heartbeat ? c->heartbeat : "", c->token, c->run,
					c->previous ? c->previous : "");
}

static void
json_field(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, "%s\"%s\":", buf->len > 1 ? "," : "", name);
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

char *
fleet_claim_body(const Claim *c)
{
	StringInfoData buf;
	char	   *sig = fleet_sign(signed_text(c));

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	appendStringInfoString(&buf, "\"v\":1");
	json_field(&buf, "claim", c->claim);
	json_field(&buf, "report", c->report);
	json_field(&buf, "object", c->object);
	json_field(&buf, "version", c->version);
	json_field(&buf, "holder", c->holder);
	json_field(&buf, "state", c->state);
	appendStringInfo(&buf, ",\"lease\":%d", c->lease);
	json_field(&buf, "heartbeat", c->heartbeat);
	json_field(&buf, "token", c->token);
	appendStringInfo(&buf, ",\"run\":" INT64_FORMAT, c->run);
	json_field(&buf, "previous", c->previous);
	if (sig)
		json_field(&buf, "sig", sig);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static char *
jstr(json_t *doc, const char *name)
{
	const char *v = json_string_value(json_object_get(doc, name));

	return v ? pstrdup(v) : NULL;
}

/*
 * fleet_claim_parse: read a claim document.  False (and *why) if it is not
 * one, or its signature does not verify.
 */
bool
fleet_claim_parse(const char *body, size_t len, Claim *c, char **why)
{
	json_t	   *doc = json_loadb(body, len, 0, NULL);
	json_t	   *lease;
	json_t	   *run;
	char	   *sig;
	bool		ok = true;

	memset(c, 0, sizeof(*c));
	*why = NULL;
	if (doc == NULL || !json_is_object(doc))
	{
		if (doc)
			json_decref(doc);
		*why = pstrdup("it is not a JSON object");
		return false;
	}
	c->claim = jstr(doc, "claim");
	c->report = jstr(doc, "report");
	c->object = jstr(doc, "object");
	c->version = jstr(doc, "version");
	c->holder = jstr(doc, "holder");
	c->state = jstr(doc, "state");
	c->heartbeat = jstr(doc, "heartbeat");
	c->token = jstr(doc, "token");
	c->previous = jstr(doc, "previous");
	sig = jstr(doc, "sig");
	lease = json_object_get(doc, "lease");
	run = json_object_get(doc, "run");
	c->lease = json_is_integer(lease) ? (int) Min(Max(json_integer_value(lease), 0), PG_INT32_MAX) : -1;
	c->run = json_is_integer(run) ? json_integer_value(run) : 0;
	json_decref(doc);

	if (!c->claim || !c->report || !c->object || !c->version || !c->holder || !c->state ||
		!c->token || c->lease < 0)
	{
		*why = pstrdup("fields are missing");
		ok = false;
	}
	else if (strcmp(c->state, "running") != 0 && strcmp(c->state, "done") != 0 &&
			 strcmp(c->state, "dead") != 0 && strcmp(c->state, "released") != 0)
	{
		*why = psprintf("its state \"%s\" is unknown", c->state);
		ok = false;
	}
	else if (!fleet_signature_ok(signed_text(c), sig))
	{
		*why = pstrdup(sig ? "its signature does not verify with pipeline.fleet_secret"
					   : "it is not signed, and pipeline.fleet_secret is set");
		ok = false;
	}
	return ok;
}

/*
 * fleet_claim_judge: how a claim read back ("got": S3's answer, "c" what
 * it says, "parsed" whether it is a valid claim) stands for us.  A claim
 * that is not valid, or is a copy of another key's, or a released one, is
 * free; our own is ours unless it is done; a running claim of another
 * holder is free once its lease ran out by S3's clock, else *wait_ms says
 * how long it still runs.
 */
ClaimVerdict
fleet_claim_judge(const S3CondAnswer *got, const char *key, const Claim *c, bool parsed,
				  long *wait_ms, char **why)
{
	char	   *me = fleet_holder();
	TimestampTz now;
	TimestampTz expires;
	int			lease;

	*wait_ms = 0;
	*why = NULL;
	if (!parsed)
		return CV_TAKE;
	if (strcmp(c->claim, key) != 0)
	{
		*why = psprintf("it names another claim (\"%s\")", c->claim);
		return CV_TAKE;
	}
	if (strcmp(c->state, "done") == 0)
		return CV_DONE;
	if (strcmp(c->holder, me) == 0)
		return CV_TAKE;			/* ours: a run of ours that did not commit */
	if (strcmp(c->state, "dead") == 0)
		return CV_DEAD;
	if (strcmp(c->state, "released") == 0)
		return CV_TAKE;

	/* running: by S3's clock (its Date), from S3's write (Last-Modified) */
	lease = Min(c->lease, LEASE_BELIEVED_FACTOR * pipeline_fleet_lease);
	now = got->date != 0 ? got->date : GetCurrentTimestamp();
	if (got->last_modified == 0)
	{
		*wait_ms = lease * 1000L;
		return CV_BUSY;
	}
	expires = TimestampTzPlusMilliseconds(got->last_modified, lease * 1000L);
	if (now >= expires)
		return CV_TAKE;
	*wait_ms = (long) ((expires - now) / 1000) + 1;
	return CV_BUSY;
}

/* ----------------------------------------------------------------
 *		Servers' heartbeat objects
 * ----------------------------------------------------------------
 */

/* Sign a JSON document: its text up to the closing brace, then "sig". */
char *
fleet_signed_document(StringInfo core)
{
	char	   *sig;

	appendStringInfoChar(core, '}');
	sig = fleet_sign(core->data);
	if (sig == NULL)
		return core->data;
	core->data[--core->len] = '\0';
	appendStringInfo(core, ",\"sig\":\"%s\"}", sig);
	return core->data;
}

/* Does a document signed so verify (always, without pipeline.fleet_secret)? */
static bool
document_verifies(const char *body)
{
	const char *at = strstr(body, ",\"sig\":\"");
	char	   *core;
	char	   *sig;
	size_t		len;

	if (pipeline_fleet_secret == NULL || pipeline_fleet_secret[0] == '\0')
		return true;
	if (at == NULL)
		return false;
	core = psprintf("%.*s}", (int) (at - body), body);
	sig = pstrdup(at + 8);
	len = strlen(sig);
	if (len < 2 || strcmp(sig + len - 2, "\"}") != 0)
		return false;
	sig[len - 2] = '\0';
	return fleet_signature_ok(core, sig);
}

static List *
counts_of(json_t *obj)
{
	List	   *result = NIL;
	const char *name;
	json_t	   *v;

	json_object_foreach(obj, name, v)
	{
		ServerCount *c = palloc(sizeof(ServerCount));

		c->report = pstrdup(name);
		c->n = json_is_integer(v) ? json_integer_value(v) : 0;
		result = lappend(result, c);
	}
	return result;
}

bool
fleet_server_doc_parse(const char *body, size_t len, ServerDoc *d)
{
	json_t	   *doc = json_loadb(body, len, 0, NULL);
	json_t	   *held;
	json_t	   *counters;
	size_t		i;

	memset(d, 0, sizeof(*d));
	if (doc == NULL)
		return false;
	if (!json_is_object(doc))
	{
		json_decref(doc);
		return false;
	}
	d->holder = jstr(doc, "holder");
	d->server = jstr(doc, "server");
	d->database = jstr(doc, "database");
	d->lease = (int) json_integer_value(json_object_get(doc, "lease"));
	d->valid = document_verifies(body) && d->holder && d->server && d->database;
	held = json_object_get(doc, "held");
	for (i = 0; json_is_array(held) && i < json_array_size(held); i++)
	{
		json_t	   *h = json_array_get(held, i);
		ServerCount *c = palloc0(sizeof(ServerCount));

		c->report = jstr(h, "report");
		c->object = jstr(h, "object");
		if (c->report && c->object)
			d->held = lappend(d->held, c);
	}
	d->ran = counts_of(json_object_get(doc, "ran"));
	d->gave_up = counts_of(json_object_get(doc, "gave_up"));
	counters = json_object_get(doc, "counters");
	d->claims = json_integer_value(json_object_get(counters, "claims"));
	d->takeovers = json_integer_value(json_object_get(counters, "takeovers"));
	json_decref(doc);
	return d->holder != NULL;
}
