/*-------------------------------------------------------------------------
 *
 * epoch.h
 *	  Epoch numbers -> instants: 1764072000 (seconds), 1764072000123
 *	  (milliseconds), ... as the microseconds since 1970-01-01 UTC that
 *	  timestamps are made of.
 *
 * Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/decode/epoch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_EPOCH_H
#define PIPELINE_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Units of an epoch number, per second. */
#define EPOCH_SECONDS		INT64_C(1)
#define EPOCH_MILLIS		INT64_C(1000)
#define EPOCH_MICROS		INT64_C(1000000)
#define EPOCH_NANOS			INT64_C(1000000000)

/*
 * s[0..len), a decimal number ("-12", "1764072000.25", "1.764072e9"), in
 * units of 1/per_second of a second -> microseconds since the Unix epoch,
 * rounded to the nearest microsecond (halves away from zero).  False if s
 * is not such a number, or the instant is more than 290,000 years from
 * 1970 (callers check the range of their type).
 */
extern bool epoch_to_usecs(const char *s, size_t len, int64_t per_second, int64_t *usecs);

#endif							/* PIPELINE_EPOCH_H */
