/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Cron expressions (five fields, as crontab(5) writes them) for report
 *	  schedules: parsed, checked, and the ticks before and after a moment.
 *
 *	  minute hour day-of-month month day-of-week
 *	  "*", "N", "N-M", "* /S", "N-M/S", "N/S", lists "a,b-c"; month and
 *	  day-of-week names (jan..dec, sun..sat); day-of-week 0-7 (0 and 7 are
 *	  Sunday); @hourly, @daily, @midnight, @weekly, @monthly, @yearly,
 *	  @annually.  When both day fields are restricted a day matches either
 *	  (as Vixie cron does); a day field that starts with "*" restricts
 *	  nothing.  Times are UTC.
 *
 * Pure C, no backend calls (test/unit/test_cron.c).
 *
 * IDENTIFICATION
 *	  src/util/cron.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_CRON_H
#define PIPELINE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the longest expression accepted */
#define CRON_MAX_LEN 256

typedef struct CronSpec
{
	uint64_t	minutes;		/* bit m: minute m (0-59) */
	uint32_t	hours;			/* bit h: hour h (0-23) */
	uint32_t	days;			/* bit d: day of month d (1-31) */
	uint16_t	months;			/* bit m: month m (1-12) */
	uint8_t		weekdays;		/* bit w: day of week w (0-6, 0 = Sunday) */
	bool		days_star;		/* the day-of-month field starts with '*' */
	bool		weekdays_star;	/* the day-of-week field starts with '*' */
} CronSpec;

/*
 * Parse "expr".  On failure returns false with a sentence saying what is
 * wrong in err (NUL-terminated, at most errlen bytes).  An expression that
 * can never fire (February 30th) is refused.
 */
extern bool cron_parse(const char *expr, CronSpec *spec, char *err, size_t errlen);

/* Does "s" look like a cron expression (five fields or a macro) rather than an interval? */
extern bool cron_looks_like(const char *s);

/*
 * The first tick strictly after "t", and the last tick at or before "t"
 * (seconds since 1970-01-01 00:00:00 UTC); -1 if there is none within ten
 * years.
 */
extern int64_t cron_next(const CronSpec *spec, int64_t t);
extern int64_t cron_prev(const CronSpec *spec, int64_t t);

#endif							/* PIPELINE_CRON_H */
