/*-------------------------------------------------------------------------
 *
 * iso8601.h
 *	  Fast path for the timestamps found in event data:
 *	  YYYY-MM-DD[Thh:mm[:ss[.ffffff]]][Z|+hh[:mm]|-hh[:mm]] (T or space).
 *
 * Anything else (or anything unusual) returns false and the caller falls
 * back to PostgreSQL's own input functions, which accept more and produce
 * the canonical error messages.  Pure C, no backend calls.
 *
 * IDENTIFICATION
 *	  src/decode/iso8601.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_ISO8601_H
#define PIPELINE_ISO8601_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Iso8601
{
	int32_t		days;			/* days since 1970-01-01 */
	int64_t		usecs;			/* microseconds into that day (local time) */
	bool		has_time;
	bool		has_offset;		/* Z or an explicit offset was given */
	int32_t		offset_secs;	/* east of UTC, e.g. +02:00 -> 7200 */
} Iso8601;

/* Parse s[0..len); false if it is not in the fast-path form or not valid. */
extern bool iso8601_parse(const char *s, size_t len, Iso8601 *out);

/* Microseconds since 1970-01-01 00:00:00 UTC (applies the offset). */
static inline int64_t
iso8601_epoch_usecs(const Iso8601 *t)
{
	return (int64_t) t->days * INT64_C(86400000000) + t->usecs -
		(int64_t) t->offset_secs * INT64_C(1000000);
}

#endif							/* PIPELINE_ISO8601_H */
