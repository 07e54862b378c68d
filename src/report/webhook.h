/*-------------------------------------------------------------------------
 *
 * webhook.h
 *	  Run summaries POSTed to a report's webhook after commit, with retries.
 *
 * IDENTIFICATION
 *	  src/report/webhook.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_WEBHOOK_H
#define PIPELINE_WEBHOOK_H

#include "s3/http.h"

/* Queue a delivery; it exists only if the caller's transaction commits. */
extern void webhook_enqueue(const char *report, int64 run_id, const char *url,
							const char *payload);

/*
 * The worker: start the POSTs that are due (returns when the next one is
 * due, 0: none waiting), and record those that got an answer (true if
 * any did).  Neither waits for a receiver.
 */
extern TimestampTz webhook_start(HttpClient *http, MemoryContext cxt);
extern bool webhook_finish(void);

/*
 * webhook_sign.c: the Standard Webhooks signature ("v1,<base64>") of a
 * delivery "id" sent at "timestamp" (Unix seconds) with body[0..len), under
 * "secret" ("whsec_<base64 key>").
 */
extern char *webhook_signature(const char *secret, const char *id, int64 timestamp,
							   const char *body, size_t len);

#endif							/* PIPELINE_WEBHOOK_H */
