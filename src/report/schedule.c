/*-------------------------------------------------------------------------
 *
 * schedule.c
 *	  Scheduled runs, a safety net beside events: create_report(...,
 *	  schedule => '0,15,30,45 * * * *') (a cron expression, in UTC) or an
 *	  interval ('15 minutes').
 *
 * A report's next tick is kept in pipeline.reports.next_run.  When it is
 * due, the worker queues one task of trigger "schedule" standing for the
 * latest tick that has passed, and moves next_run to the first tick after
 * now, in one transaction: ticks missed while the worker was down (or
 * while a run took longer than the schedule's period) run once, not once
 * per tick, and a crash loses no tick (the task is in the table, retried
 * like any other).  At most one scheduled run of a report waits: a new
 * tick only moves its time.  The tick is the run's time:
 * pipeline.run_time() inside its query, the name of its export.
 *
 * IDENTIFICATION
 *	  src/report/schedule.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/intake.h"
#include "util/cron.h"
#include "util/privilege.h"

PG_FUNCTION_INFO_V1(pipeline_schedule_next);

TimestampTz report_scheduled_for = 0;

/* A schedule: a cron expression, or an interval. */
typedef struct Schedule
{
	bool		cron;
	CronSpec	spec;
	Interval   *every;
} Schedule;

/* Parse a schedule, erroring with what is wrong. */
static void
schedule_parse(const char *expr, Schedule *s)
{
	memset(s, 0, sizeof(*s));
	if (cron_looks_like(expr) || strlen(expr) > CRON_MAX_LEN)
	{
		char		err[256];

		s->cron = true;
		if (!cron_parse(expr, &s->spec, err, sizeof(err)))
		{
			err[0] = pg_toupper((unsigned char) err[0]);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 strlen(expr) > 64 ? errmsg("invalid schedule \"%.64s...\"", expr)
					 : errmsg("invalid schedule \"%s\"", expr),
					 errdetail("%s.", err),
					 errhint("A schedule is a cron expression of five fields (minute hour day-of-month month day-of-week, in UTC), such as '*/15 * * * *', or an interval, such as '15 minutes'.")));
		}
		return;
	}
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			s->every = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(expr),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)));
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 strlen(expr) > 64 ? errmsg("invalid schedule \"%.64s...\"", expr)
					 : errmsg("invalid schedule \"%s\"", expr),
					 errdetail("It is neither a cron expression of five fields nor an interval (%s).",
							   edata->message),
					 errhint("A schedule is a cron expression of five fields (minute hour day-of-month month day-of-week, in UTC), such as '*/15 * * * *', or an interval, such as '15 minutes'.")));
		}
		PG_END_TRY();
	}
	if (s->every->month < 0 || s->every->day < 0 || s->every->time < 0 ||
		(s->every->month == 0 && s->every->day == 0 && s->every->time < USECS_PER_SEC))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule \"%s\"", expr),
				 errdetail("A schedule's interval must be at least 1 second.")));
}

static int64
to_unix(TimestampTz t)
{
	int64		secs = t / USECS_PER_SEC - (t % USECS_PER_SEC < 0 ? 1 : 0);

	return secs + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

static TimestampTz
from_unix(int64 secs)
{
	return (secs - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) * USECS_PER_SEC;
}

static TimestampTz
plus(TimestampTz t, Interval *every)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(every)));
}

static void
no_tick(const char *expr)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("schedule \"%s\" has no tick in range", expr)));
}

/* The first tick of "s" after "after" (for an interval: "after" + the interval). */
static TimestampTz
schedule_next(const char *expr, Schedule *s, TimestampTz after)
{
	int64		t;

	if (!s->cron)
		return plus(after, s->every);
	t = cron_next(&s->spec, to_unix(after));
	if (t < 0)
		no_tick(expr);
	return from_unix(t);
}

TimestampTz
schedule_check(const char *schedule, TimestampTz after)
{
	Schedule	s;

	schedule_parse(schedule, &s);
	return schedule_next(schedule, &s, after);
}

/*
 * pipeline.schedule_next(schedule, after): the first tick of a schedule
 * after "after".
 */
Datum
pipeline_schedule_next(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TIMESTAMPTZ(schedule_check(expr, PG_GETARG_TIMESTAMPTZ(1)));
}

/*
 * A due schedule ("due" <= now): the latest tick at or before now (*tick),
 * and the first after it (*next).
 */
static void
schedule_ticks(const char *expr, TimestampTz due, TimestampTz now, TimestampTz *tick,
			   TimestampTz *next)
{
	Schedule	s;

	schedule_parse(expr, &s);
	if (s.cron)
	{
		int64		t = cron_prev(&s.spec, to_unix(now));

		if (t < 0)
			no_tick(expr);
		*tick = Max(from_unix(t), due);
		*next = schedule_next(expr, &s, now);
		return;
	}
	/* the ticks of an interval count from the first one */
	*tick = due;
	if (s.every->month == 0 && s.every->day == 0)
	{
		int64		n = (now - due) / s.every->time;

		*tick = due + n * s.every->time;
	}
	else
	{
		int			steps = 0;

		while (plus(*tick, s.every) <= now && steps++ < 100000)
			*tick = plus(*tick, s.every);
	}
	*next = plus(*tick, s.every);
	if (*next <= now)
		*next = plus(now, s.every);
}

TimestampTz
schedule_step(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz now;
	TimestampTz next;
	SPITupleTable *rows;
	uint64		n;
	uint64		i;

	pgstat_report_activity(STATE_RUNNING, "queueing scheduled runs");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	now = GetCurrentTransactionStartTimestamp();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* (a report being run right now is locked: its schedule waits a moment) */
	spi_internal("SELECT name, schedule, next_run FROM pipeline.reports "
				 "WHERE schedule IS NOT NULL AND next_run <= pg_catalog.now() "
				 "ORDER BY next_run FOR UPDATE SKIP LOCKED",
				 0, NULL, NULL, NULL, false, 0);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		char	   *name = SPI_getvalue(rows->vals[i], rows->tupdesc, 1);
		char	   *expr = SPI_getvalue(rows->vals[i], rows->tupdesc, 2);
		bool		isnull;
		TimestampTz due = DatumGetTimestampTz(SPI_getbinval(rows->vals[i], rows->tupdesc, 3,
															&isnull));
		TimestampTz tick;
		TimestampTz after;
		Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		values[3];

		schedule_ticks(expr, due, now, &tick, &after);
		values[0] = CStringGetTextDatum(name);
		values[1] = TimestampTzGetDatum(tick);
		values[2] = TimestampTzGetDatum(after);
		/* one waits at most: a newer tick takes its place */
		spi_internal("INSERT INTO pipeline.tasks AS t (report, trigger, scheduled_for) "
					 "VALUES ($1, 'schedule', $2) "
					 "ON CONFLICT (report) WHERE trigger = 'schedule' "
					 "DO UPDATE SET scheduled_for = $2, "
					 "  next_attempt = least(t.next_attempt, pg_catalog.now())",
					 3, types, values, NULL, false, 0);
		spi_internal("UPDATE pipeline.reports SET next_run = $3 WHERE name = $1",
					 3, types, values, NULL, false, 0);
	}
	next = spi_internal_timestamp("SELECT min(next_run) FROM pipeline.reports "
								  "WHERE schedule IS NOT NULL", 0, NULL, NULL);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	/* one skipped for a lock: in a moment */
	if (next != 0 && next <= GetCurrentTimestamp())
		next = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
	return next;
}
