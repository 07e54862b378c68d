/*-------------------------------------------------------------------------
 *
 * backoff.h
 *	  How long to wait before trying again: exponential back-off, with
 *	  jitter where many clients may fail together.
 *
 * Used by the S3/SQS client's retries (s3/) and the worker's polling of a
 * failing queue (worker/queues.c).  The retries of report runs, exports
 * and webhooks are scheduled in SQL, in the UPDATE that records the
 * failure (report/tasks.c, outbox.c, webhook.c), with the same doubling.
 *
 * IDENTIFICATION
 *	  src/util/backoff.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_BACKOFF_H
#define PIPELINE_BACKOFF_H

/*
 * Milliseconds before retry number "attempt" (0 for the first retry):
 * base_ms doubled with each attempt, at most cap_ms.  With "jitter", a
 * random point in the upper half of that ("equal jitter": at least half
 * the delay, so that retries still slow down, and spread, so that many
 * clients told to slow down at once do not come back together).
 */
extern long backoff_ms(int attempt, long base_ms, long cap_ms, bool jitter);

#endif							/* PIPELINE_BACKOFF_H */
