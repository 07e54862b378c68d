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

extern char *pipeline_webhook_hosts;
extern int	pipeline_webhook_max_attempts;

/* Queue a delivery; it exists only if the caller's transaction commits. */
extern void webhook_enqueue(const char *report, int64 run_id, const char *url,
							const char *payload);

/*
 * Deliver what is due (the worker, between polls).  Returns the time of
 * the next retry that is waiting, or 0 if none.
 */
extern TimestampTz webhook_deliver(HttpClient *http);

#endif							/* PIPELINE_WEBHOOK_H */
