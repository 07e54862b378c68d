/*-------------------------------------------------------------------------
 *
 * backoff.c
 *	  Exponential back-off with optional jitter (see backoff.h).
 *
 * IDENTIFICATION
 *	  src/util/backoff.c
 *
 *-------------------------------------------------------------------------
 */
/* (also built as frontend code, for its unit test) */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "common/pg_prng.h"

#include "util/backoff.h"

/* Doublings past this change nothing: any cap is reached long before. */
#define BACKOFF_MAX_DOUBLINGS 30

long
backoff_ms(int attempt, long base_ms, long cap_ms, bool jitter)
{
	int			doublings = Min(Max(attempt, 0), BACKOFF_MAX_DOUBLINGS);
	double		delay = Min((double) cap_ms, (double) base_ms * (double) (UINT64CONST(1) << doublings));

	if (jitter)
		delay = delay / 2 + pg_prng_double(&pg_global_prng_state) * delay / 2;
	return (long) delay;
}
