/*-------------------------------------------------------------------------
 *
 * unit.h
 *	  A minimal TAP producer for the C unit tests of pure pieces (decoders,
 *	  signing).  Each test program prints "ok N - name" / "not ok N - name"
 *	  lines and a plan at the end, and exits non-zero if anything failed.
 *
 * IDENTIFICATION
 *	  test/unit/unit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_UNIT_H
#define PIPELINE_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	unit_tests_run = 0;
static int	unit_tests_failed = 0;

#define UNIT_CHECK(cond, ...) \
	do { \
		int unit_c_ = (cond) ? 1 : 0;	/* evaluated once */ \
		unit_tests_run++; \
		if (unit_c_) \
			printf("ok %d - ", unit_tests_run); \
		else \
		{ \
			unit_tests_failed++; \
			printf("not ok %d - ", unit_tests_run); \
		} \
		printf(__VA_ARGS__); \
		printf("\n"); \
		if (!unit_c_) \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} while (0)

/* Compare two strings, printing both on failure. */
#define UNIT_CHECK_STR(got, want, ...) \
	do { \
		const char *unit_g_ = (got); \
		const char *unit_w_ = (want); \
		int unit_ok_ = unit_g_ != NULL && unit_w_ != NULL && strcmp(unit_g_, unit_w_) == 0; \
		UNIT_CHECK(unit_ok_, __VA_ARGS__); \
		if (!unit_ok_) \
			printf("#   got:  \"%s\"\n#   want: \"%s\"\n", \
				   unit_g_ ? unit_g_ : "(null)", unit_w_ ? unit_w_ : "(null)"); \
	} while (0)

static inline int
unit_done(void)
{
	printf("1..%d\n", unit_tests_run);
	if (unit_tests_failed)
		printf("# %d of %d checks failed\n", unit_tests_failed, unit_tests_run);
	return unit_tests_failed ? 1 : 0;
}

#endif							/* PIPELINE_UNIT_H */
