/*-------------------------------------------------------------------------
 *
 * test_backoff.c
 *	  Unit tests of the back-off function (src/util/backoff.c): the
 *	  doubling, the cap, and where the jitter may put a delay.
 *
 * IDENTIFICATION
 *	  test/unit/test_backoff.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/pg_prng.h"

#include "unit.h"
#include "util/backoff.h"

int
main(void)
{
	int			a;
	bool		spread = false;
	bool		in_range = true;
	long		first = -1;

	pg_prng_seed(&pg_global_prng_state, 42);

	/* without jitter: base, doubled, capped (the worker's queue polling) */
	UNIT_CHECK(backoff_ms(0, 500, 30000, false) == 500, "attempt 0 waits the base");
	UNIT_CHECK(backoff_ms(1, 500, 30000, false) == 1000, "attempt 1 waits twice the base");
	UNIT_CHECK(backoff_ms(5, 500, 30000, false) == 16000, "attempt 5 waits 32 times the base");
	UNIT_CHECK(backoff_ms(6, 500, 30000, false) == 30000, "attempt 6 is capped");
	UNIT_CHECK(backoff_ms(1000, 500, 30000, false) == 30000, "a huge attempt number is capped, no overflow");
	UNIT_CHECK(backoff_ms(-3, 500, 30000, false) == 500, "a negative attempt waits the base");
	UNIT_CHECK(backoff_ms(INT32_MAX, 100, 5000, false) == 5000, "INT_MAX attempts are capped");

	/* with jitter: in the upper half of the exponential delay (S3 retries) */
	for (a = 0; a < 12; a++)
	{
		long		cap = a >= 6 ? 5000 : 100L << a;
		int			i;

		for (i = 0; i < 200; i++)
		{
			long		d = backoff_ms(a, 100, 5000, true);

			if (d < cap / 2 || d > cap)
				in_range = false;
			if (a == 3 && first < 0)
				first = d;
			else if (a == 3 && d != first)
				spread = true;
		}
	}
	UNIT_CHECK(in_range, "with jitter a delay is between half the exponential delay and all of it");
	UNIT_CHECK(spread, "with jitter the delays of one attempt differ");

	return unit_done();
}
