/*-------------------------------------------------------------------------
 *
 * fuzz_iso8601.c
 *	  libFuzzer harness of the ISO-8601 fast path (src/decode/iso8601.c),
 *	  which reads the timestamps in event data and in S3's answers.
 *
 * The input is the text, read from a buffer of its exact size (so ASan
 * sees a read past it), and compared with a reference written here from
 * iso8601.h's grammar, YYYY-MM-DD[(T| )hh:mm[:ss[.f{1,30}]]][Z|(+|-)hh[[:]mm]]
 * with a year from 1, days of the month by the Gregorian calendar (leap
 * years), hours to 23, seconds to 59, offsets to 15:59, on glibc's timegm()
 * and rint(strtod()) for fractions: both accept the same texts, and when
 * they accept, they give the same day, microseconds into it (a fraction
 * rounding up to the next day carries over), time and offset.
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_iso8601.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <time.h>

#include "fuzz.h"
#include "iso8601.h"

typedef struct Ref
{
	bool		ok;
	Iso8601		t;
} Ref;

static bool
num(const char *s, size_t len, size_t at, int n, int *v)
{
	*v = 0;
	if (at + (size_t) n > len)
		return false;
	for (int i = 0; i < n; i++)
	{
		if (s[at + i] < '0' || s[at + i] > '9')
			return false;
		*v = *v * 10 + (s[at + i] - '0');
	}
	return true;
}

/* days since 1970-01-01 by glibc, for years 1..9999 */
static int64_t
ref_days(int y, int m, int d)
{
	struct tm	tm = {0};
	time_t		t;

	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	/* timegm normalises: a day that does not exist moves on */
	if (tm.tm_mday != d || tm.tm_mon != m - 1)
		return INT64_MIN;
	return (int64_t) (t / 86400) - (t % 86400 < 0);
}

static Ref
reference(const char *s, size_t len)
{
	Ref			r = {0};
	int			y, m, d, hh, mi, ss = 0;
	int64_t		days;
	int64_t		fsec = 0;
	size_t		p;

	if (len < 10 || !num(s, len, 0, 4, &y) || s[4] != '-' || !num(s, len, 5, 2, &m) ||
		s[7] != '-' || !num(s, len, 8, 2, &d))
		return r;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > 31)
		return r;
	days = ref_days(y, m, d);
	if (days == INT64_MIN)
		return r;
	r.t.days = (int32_t) days;
	if (len == 10)
	{
		r.ok = true;
		return r;
	}
	if ((s[10] != 'T' && s[10] != ' ') || !num(s, len, 11, 2, &hh) || len < 14 ||
		s[13] != ':' || !num(s, len, 14, 2, &mi) || hh > 23 || mi > 59)
		return r;
	p = 16;
	if (p < len && s[p] == ':')
	{
		if (!num(s, len, p + 1, 2, &ss) || ss > 59)
			return r;
		p += 3;
		if (p < len && s[p] == '.')
		{
			size_t		q = p + 1;
			char		buf[64];

			while (q < len && s[q] >= '0' && s[q] <= '9')
				q++;
			if (q == p + 1 || q - p - 1 > 30)
				return r;
			memcpy(buf, s + p, q - p);
			buf[q - p] = '\0';
			fsec = (int64_t) rint(strtod(buf, NULL) * 1e6);
			p = q;
		}
	}
	r.t.has_time = true;
	r.t.usecs = ((int64_t) hh * 3600 + mi * 60 + ss) * 1000000 + fsec;
	if (r.t.usecs >= INT64_C(86400000000))
	{
		r.t.usecs -= INT64_C(86400000000);
		r.t.days++;
	}
	if (p == len)
	{
		r.ok = true;
		return r;
	}
	if (s[p] == 'Z' && p + 1 == len)
	{
		r.t.has_offset = true;
		r.ok = true;
		return r;
	}
	if (s[p] == '+' || s[p] == '-')
	{
		int			oh,
					om = 0;
		size_t		rest = len - p - 1;

		if (!num(s, len, p + 1, 2, &oh))
			return r;
		if (rest == 4)
		{
			if (!num(s, len, p + 3, 2, &om))
				return r;
		}
		else if (rest == 5)
		{
			if (s[p + 3] != ':' || !num(s, len, p + 4, 2, &om))
				return r;
		}
		else if (rest != 2)
			return r;
		if (oh > 15 || om > 59)
			return r;
		r.t.has_offset = true;
		r.t.offset_secs = (s[p] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
		r.ok = true;
	}
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = exact_copy(data, size);
	Iso8601		t;
	bool		ok = iso8601_parse(s, size, &t);
	Ref			r = reference(s, size);

	if (ok != r.ok)
	{
		Str			txt = {0};

		str_add_text(&txt, s, size);
		fprintf(stderr, "\"%s\": iso8601_parse %d, the reference %d\n", txt.s, ok, r.ok);
	}
	CHECK(ok == r.ok);
	if (ok)
	{
		CHECK(t.days == r.t.days);
		CHECK(t.has_time == r.t.has_time);
		CHECK(t.usecs == r.t.usecs);
		CHECK(t.usecs >= 0 && t.usecs < INT64_C(86400000000));
		CHECK(t.has_offset == r.t.has_offset);
		CHECK(t.offset_secs == r.t.offset_secs);
		/* the epoch value cannot overflow for 4-digit years */
		(void) iso8601_epoch_usecs(&t);
	}
	free(s);
	return 0;
}
