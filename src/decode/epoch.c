/*-------------------------------------------------------------------------
 *
 * epoch.c
 *	  Epoch numbers -> microseconds since 1970 (epoch.h).
 *
 * The number is read as decimal digits and an exponent, never through a
 * double: 1764072000.123456 seconds keeps its last microsecond.
 *
 * IDENTIFICATION
 *	  src/decode/epoch.c
 *
 *-------------------------------------------------------------------------
 */
#include "epoch.h"

/* 290,000 years of microseconds: about what timestamps hold, and an int64. */
#define EPOCH_LIMIT_USECS	((__int128) 290000 * 366 * 86400 * 1000000)

/* Significant digits kept; more cannot change a microsecond of that range. */
#define MAX_DIGITS	36

bool
epoch_to_usecs(const char *s, size_t len, int64_t per_second, int64_t *usecs)
{
	const char *p = s;
	const char *end = s + len;
	bool		neg = false;
	__int128	mant = 0;
	int			digits = 0;		/* significant digits in mant */
	int			scale = 0;		/* value = mant * 10^scale */
	bool		any = false;
	__int128	num;
	__int128	den;
	__int128	q;
	__int128	r;

	if (per_second <= 0)
		return false;
	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	for (; p < end && *p >= '0' && *p <= '9'; p++)
	{
		any = true;
		if (digits < MAX_DIGITS)
		{
			mant = mant * 10 + (*p - '0');
			if (mant != 0)
				digits++;
		}
		else
			scale++;			/* a digit dropped: the value is that much larger */
	}
	if (p < end && *p == '.')
	{
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
		{
			any = true;
			if (digits < MAX_DIGITS)
			{
				mant = mant * 10 + (*p - '0');
				if (mant != 0)
					digits++;
				scale--;
			}
		}
	}
	if (!any)
		return false;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		eneg = false;
		int			e = 0;
		bool		edigits = false;

		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++)
		{
			edigits = true;
			if (e < 10000)
				e = e * 10 + (*p - '0');
		}
		if (!edigits)
			return false;
		scale += eneg ? -e : e;
	}
	if (p != end)
		return false;

	/* usecs = mant * 10^scale * 10^6 / per_second */
	scale += 6;
	num = mant;
	den = per_second;
	if (mant != 0)
	{
		for (; scale > 0; scale--)
		{
			num *= 10;
			if (num / den > EPOCH_LIMIT_USECS)
				return false;
		}
		for (; scale < 0; scale++)
		{
			if (den > EPOCH_LIMIT_USECS * 10)
			{
				num = 0;		/* below half a microsecond */
				break;
			}
			den *= 10;
		}
	}
	q = num / den;
	r = num % den;
	if (r * 2 >= den)
		q++;
	if (q > EPOCH_LIMIT_USECS)
		return false;
	*usecs = (int64_t) (neg ? -q : q);
	return true;
}
