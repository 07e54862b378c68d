/*-------------------------------------------------------------------------
 *
 * test_json_number.c
 *	  Unit tests of the JSON reader's number parser on its own
 *	  (src/decode/json_number.h): the grammar, where a number ends, the
 *	  int64 range, and doubles correctly rounded on both of its paths (the
 *	  exact fast path and std::from_chars), checked against strtod.
 *
 * IDENTIFICATION
 *	  test/unit/test_json_number.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_number.h"
#include "unit.h"

/* The parser reads up to 8 bytes past the end of a number: room for them. */
#define PAD 16

/* Parse "text" (a number and what follows it) as the walker would. */
static const char *
parse(const char *text, bool want_i, bool want_d, JsonNumber *n, size_t *used)
{
	static char buf[512 + PAD];
	size_t		len = strlen(text);
	const char *end;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, text, len);
	memset(n, 0xAB, sizeof(*n));
	end = json_number_parse(buf, want_i, want_d, n);
	*used = end ? (size_t) (end - buf) : 0;
	return end;
}

/* A number followed by a comma: accepted, its int64 as expected. */
static void
check_int(const char *num, bool ok, int64_t want)
{
	char		text[128];
	JsonNumber	n;
	size_t		used;
	const char *end;

	snprintf(text, sizeof(text), "%s,", num);
	end = parse(text, true, false, &n, &used);
	UNIT_CHECK(end != NULL && used == strlen(num) && n.ok_i == ok && (!ok || n.i64 == want) &&
			   !n.ok_d,
			   "int64 of %s: %s", num, ok ? "in range" : "none");
}

/* A number followed by a comma: accepted, its double the one strtod gives. */
static void
check_double(const char *num, bool ok)
{
	char		text[128];
	JsonNumber	n;
	size_t		used;
	const char *end;
	double		want = strtod(num, NULL);

	snprintf(text, sizeof(text), "%s,", num);
	end = parse(text, false, true, &n, &used);
	UNIT_CHECK(end != NULL && used == strlen(num) && n.ok_d == ok && !n.ok_i &&
			   (!ok || (memcmp(&n.f64, &want, sizeof(double)) == 0)),
			   "double of %s: %s", num, ok ? "as strtod rounds it" : "out of range");
	if (end && ok && memcmp(&n.f64, &want, sizeof(double)) != 0)
		printf("#   got %.17g, strtod %.17g\n", n.f64, want);
}

/* Not a number: NULL. */
static void
check_invalid(const char *text)
{
	JsonNumber	n;
	size_t		used;

	UNIT_CHECK(parse(text, true, true, &n, &used) == NULL, "not a number: \"%s\"", text);
}

static void
test_grammar(void)
{
	const char *ends = " \t\n\r\",:[]{}";
	int			bad_end = 0;

	/* what JSON's grammar refuses */
	check_invalid("01,");
	check_invalid("-01,");
	check_invalid("00,");
	check_invalid("-,");
	check_invalid("+1,");
	check_invalid(".5,");
	check_invalid("1.,");
	check_invalid("1.e5,");
	check_invalid("1e,");
	check_invalid("1e+,");
	check_invalid("1E-,");
	check_invalid("--1,");
	check_invalid("1.2.3,");
	check_invalid("0x10,");
	check_invalid("1x,");
	check_invalid("12abc,");
	check_invalid("NaN,");
	check_invalid("Infinity,");
	check_invalid("-Infinity,");
	check_invalid("1_000,");
	check_invalid("\xef\xbc\x91,");	/* a full-width digit */
	/* a number ends only where a JSON token may follow */
	check_invalid("1");			/* then NUL: the record always has more */
	check_invalid("1;");
	check_invalid("1/");
	check_invalid("1-");
	check_invalid("1+");
	for (const char *e = ends; *e; e++)
	{
		char		text[8] = {'4', '2', *e, 0};
		JsonNumber	n;
		size_t		used;

		if (parse(text, true, false, &n, &used) == NULL || used != 2 || !n.ok_i || n.i64 != 42)
			bad_end++;
	}
	UNIT_CHECK(bad_end == 0, "a number ends before white space, '\"', ',', ':' and brackets");
	/* what it allows */
	check_int("0", true, 0);
	check_int("-0", true, 0);
	check_int("7", true, 7);
	check_int("-7", true, -7);
	check_double("0.5", true);
	check_double("-0.0e-0", true);
	check_double("1E5", true);
	check_double("1e+5", true);
	check_double("1e-5", true);
	check_double("123456789.123456789e-3", true);
}

static void
test_int64(void)
{
	check_int("9223372036854775807", true, INT64_MAX);
	check_int("-9223372036854775808", true, INT64_MIN);
	check_int("9223372036854775808", false, 0);
	check_int("-9223372036854775809", false, 0);
	check_int("18446744073709551615", false, 0);
	check_int("18446744073709551616", false, 0);
	check_int("99999999999999999999999999", false, 0);
	check_int("1234567890123456789", true, INT64_C(1234567890123456789));
	check_int("12345678", true, 12345678);	/* eight digits: one SWAR word */
	check_int("123456789", true, 123456789);
	check_int("1.0", false, 0);
	check_int("1e3", false, 0);
	check_int("1E0", false, 0);
	check_int("-1.5", false, 0);
}

static void
test_doubles(void)
{
	/* the exact fast path */
	check_double("1.5", true);
	check_double("-2.5E+3", true);
	check_double("0.1", true);
	check_double("1e22", true);
	check_double("9007199254740992", true);	/* 2^53 */
	check_double("4503599627370496.5", true);
	/* past it: std::from_chars */
	check_double("9007199254740993", true);	/* 2^53 + 1: rounds to even */
	check_double("1e23", true);
	check_double("123456789012345678", true);
	check_double("48.8566140000000012", true);
	check_double("-0.9670670930297359979979168901", true);	/* simdjson 3.0.1 read -1.1e-09 */
	check_double("12345678901234567890123", true);
	check_double("0.30000000000000004441", true);
	check_double("2.2250738585072014e-308", true);	/* smallest normal */
	check_double("4.9406564584124654e-324", true);	/* smallest subnormal */
	check_double("1.7976931348623157e308", true);	/* largest */
	check_double("0.00000000000000000000000000000000000001", true);
	/* underflow is zero (of the number's sign), overflow no double */
	check_double("1e-400", true);
	check_double("-1e-400", true);
	check_double("0.0000001e-400", true);
	check_double("100e-330", true);
	check_double("1e400", false);
	check_double("-1e400", false);
	check_double("1.8e308", false);
	check_double("0.001e311", true);	/* 1e308: a small mantissa, a large exponent */
	check_double("0.01e311", false);	/* 1e309 */
	check_double("1000e306", false);
	check_double("1e100000000000000000000", false);
	check_double("1e-100000000000000000000", true);
	{
		JsonNumber	n;
		size_t		used;

		parse("-1e-400,", false, true, &n, &used);
		UNIT_CHECK(n.ok_d && n.f64 == 0 && signbit(n.f64), "-1e-400 is -0.0");
		parse("-0,", false, true, &n, &used);
		UNIT_CHECK(n.ok_d && n.f64 == 0 && signbit(n.f64), "-0 is -0.0");
		parse("42,", true, true, &n, &used);
		UNIT_CHECK(n.ok_i && n.i64 == 42 && n.ok_d && n.f64 == 42, "both conversions when both are asked for");
		parse("42,", false, false, &n, &used);
		UNIT_CHECK(used == 2 && !n.ok_i && !n.ok_d, "neither conversion when neither is asked for");
	}
}

/* xorshift64: deterministic test data */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Random numbers of every shape (1-25 significant digits, fractions,
 * exponents that land on either path, underflow and overflow): each double
 * as strtod rounds it, and each integer exactly.
 */
static void
test_random(void)
{
	int			tries = 200000;
	int			bad_d = 0;
	int			bad_i = 0;

	for (int t = 0; t < tries; t++)
	{
		char		num[96];
		char		text[100];
		size_t		len = 0;
		int			nint = 1 + (int) (rng() % 22);
		int			nfrac = (rng() % 3 == 0) ? 0 : (int) (rng() % 20);
		int			exp = (rng() % 3 == 0) ? 0 : (int) (rng() % 700) - 350;
		JsonNumber	n;
		size_t		used;
		double		want;

		if (rng() % 2)
			num[len++] = '-';
		if (rng() % 8 == 0)
			num[len++] = '0';	/* 0.xxx */
		else
		{
			num[len++] = (char) ('1' + rng() % 9);
			for (int i = 1; i < nint; i++)
				num[len++] = (char) ('0' + rng() % 10);
		}
		if (nfrac > 0)
		{
			num[len++] = '.';
			for (int i = 0; i < nfrac; i++)
				num[len++] = (char) ('0' + rng() % 10);
		}
		if (exp != 0)
			len += snprintf(num + len, sizeof(num) - len, "%c%d", rng() % 2 ? 'e' : 'E', exp);
		num[len] = '\0';
		snprintf(text, sizeof(text), "%s}", num);

		want = strtod(num, NULL);
		if (parse(text, true, true, &n, &used) == NULL || used != len)
		{
			if (bad_d++ < 5)
				printf("# refused: %s\n", num);
			continue;
		}
		if (isinf(want) ? n.ok_d : (!n.ok_d || memcmp(&n.f64, &want, sizeof(double)) != 0))
		{
			if (bad_d++ < 5)
				printf("# %s: got %.17g (ok %d), strtod %.17g\n", num, n.f64, n.ok_d, want);
		}
		if (nfrac == 0 && exp == 0 && len <= 19)
		{
			long long	wi;
			bool		in_range;

			errno = 0;
			wi = strtoll(num, NULL, 10);
			in_range = (errno != ERANGE);	/* 19 digits can pass INT64_MAX */
			if (n.ok_i != in_range || (in_range && n.i64 != wi))
			{
				if (bad_i++ < 5)
					printf("# %s: int64 got %lld (ok %d)\n", num, (long long) n.i64, n.ok_i);
			}
		}
		else if ((nfrac > 0 || exp != 0) && n.ok_i)
		{
			if (bad_i++ < 5)
				printf("# %s: an int64 of a non-integer\n", num);
		}
	}
	UNIT_CHECK(bad_d == 0, "%d random numbers: every double as strtod rounds it", tries);
	UNIT_CHECK(bad_i == 0, "%d random numbers: every integer of up to 19 digits exact, or none past int64", tries);
}

int
main(void)
{
	test_grammar();
	test_int64();
	test_doubles();
	test_random();
	return unit_done();
}
