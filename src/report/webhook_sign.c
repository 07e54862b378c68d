/*-------------------------------------------------------------------------
 *
 * webhook_sign.c
 *	  Signed run summaries, as the Standard Webhooks specification has them
 *	  (standardwebhooks.com, the scheme of the large webhook senders):
 *
 *		webhook-id:        the delivery's id, the same on every retry
 *		webhook-timestamp: when this attempt was sent, in Unix seconds
 *		webhook-signature: "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body))
 *
 *	  The key is the base64 text after the secret's "whsec_" prefix.  While
 *	  a rotated-out secret is still honoured, the header carries both
 *	  signatures, separated by a space, so receivers switch without a gap.
 *
 *	  Secrets live in pipeline.webhook_secrets, which no one but the
 *	  extension's owner (and superusers) can read: the report's owner sees a
 *	  secret once, when pipeline.rotate_webhook_secret makes it.
 *
 * IDENTIFICATION
 *	  src/report/webhook_sign.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "report/report.h"
#include "report/webhook.h"
#include "util/privilege.h"

PG_FUNCTION_INFO_V1(pipeline_rotate_webhook_secret);
PG_FUNCTION_INFO_V1(pipeline_drop_webhook_secret);

#define SECRET_PREFIX	"whsec_"
#define SECRET_BYTES	32

/* Base64 of data[0..len), palloc'd and terminated. */
static char *
base64(const uint8 *data, int len)
{
	int			cap = pg_b64_enc_len(len) + 1;
	char	   *out = palloc(cap);
	int			n = pg_b64_encode((const char *) data, len, out, cap);

	if (n < 0)
		elog(ERROR, "could not encode in base64");
	out[n] = '\0';
	return out;
}

/* webhook_signature: see webhook.h */
char *
webhook_signature(const char *secret, const char *id, int64 timestamp,
				  const char *body, size_t len)
{
	const char *b64 = secret;
	int			keycap;
	char	   *key;
	int			keylen;
	char	   *prefix = psprintf("%s.%lld.", id, (long long) timestamp);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *ctx;

	if (strncmp(b64, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0)
		b64 += strlen(SECRET_PREFIX);
	keycap = pg_b64_dec_len(strlen(b64));
	key = palloc(keycap + 1);
	keylen = pg_b64_decode(b64, strlen(b64), key, keycap);
	if (keylen <= 0)
		elog(ERROR, "invalid webhook secret");

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_hmac_init(ctx, (uint8 *) key, keylen) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) prefix, strlen(prefix)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) body, len) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		const char *err = pg_hmac_error(ctx);

		pg_hmac_free(ctx);
		elog(ERROR, "could not sign a webhook: %s", err);
	}
	pg_hmac_free(ctx);
	explicit_bzero(key, keycap + 1);
	return psprintf("v1,%s", base64(mac, sizeof(mac)));
}

/*
 * pipeline.rotate_webhook_secret(report text,
 *								  keep_previous interval DEFAULT '24 hours')
 *		RETURNS text
 *
 * Make a new secret for the report's webhook and return it (the only time
 * anyone but a superuser sees it); the one it replaces still signs for
 * keep_previous.  Only the report's owner.
 */
Datum
pipeline_rotate_webhook_secret(PG_FUNCTION_ARGS)
{
	char	   *report = arg_text(fcinfo, 0, "report", true);
	Interval   *keep;
	uint8		raw[SECRET_BYTES];
	char	   *secret;
	Oid			types[3] = {TEXTOID, TEXTOID, INTERVALOID};
	Datum		values[3];

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"keep_previous\" must not be null")));
	keep = PG_GETARG_INTERVAL_P(1);
	if (keep->month < 0 || keep->day < 0 || keep->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keep_previous must not be negative"),
				 errhint("Use interval '0' to stop signing with the previous secret now.")));

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random webhook secret")));
	secret = psprintf(SECRET_PREFIX "%s", base64(raw, sizeof(raw)));
	explicit_bzero(raw, sizeof(raw));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", report);
	values[0] = CStringGetTextDatum(report);
	values[1] = CStringGetTextDatum(secret);
	values[2] = IntervalPGetDatum(keep);
	spi_internal("INSERT INTO pipeline.webhook_secrets AS s (report, secret) VALUES ($1, $2) "
				 "ON CONFLICT (report) DO UPDATE SET secret = $2, previous_secret = s.secret, "
				 "  previous_until = now() OPERATOR(pg_catalog.+) $3, rotated_at = now()",
				 3, types, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(secret));
}

/*
 * pipeline.drop_webhook_secret(report text): the report's summaries go
 * unsigned again.  Only the report's owner.
 */
Datum
pipeline_drop_webhook_secret(PG_FUNCTION_ARGS)
{
	char	   *report = arg_text(fcinfo, 0, "report", true);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", report);
	values[0] = CStringGetTextDatum(report);
	spi_internal("DELETE FROM pipeline.webhook_secrets WHERE report OPERATOR(pg_catalog.=) $1",
				 1, types, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}
