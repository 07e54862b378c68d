/*-------------------------------------------------------------------------
 *
 * own_xact.h
 *	  One step of the worker's in a transaction of its own: on an error,
 *	  rolled back, logged with a hint, and its failure recorded in another
 *	  transaction.
 *
 * Used by the listing steps of backfill (report/backfill.c) and listing
 * intake (report/intake.c): one page of a listing per transaction, so
 * that what a page queued is kept when a later page fails.
 *
 * IDENTIFICATION
 *	  src/util/own_xact.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_OWN_XACT_H
#define PIPELINE_OWN_XACT_H

typedef struct OwnXactStep
{
	const char *cxt_name;		/* the step's memory context (a literal) */
	const char *activity;		/* pg_stat_activity's query meanwhile */
	const char *what;			/* LOG "<what>: <error message>" on error */
	const char *hint;			/* and this hint */
	/* the step, with SPI connected; its result is returned */
	int			(*step) (void *arg, MemoryContext step_cxt);
	/* records an error (message) in a transaction of its own (SPI not connected) */
	void		(*failed) (void *arg, const char *error);
	int			failed_result;	/* returned after an error */
} OwnXactStep;

/*
 * Run s->step(arg, cxt) in a transaction of its own, with SPI connected,
 * an active snapshot and a memory context "cxt" of its own (deleted after:
 * what is kept must be copied out of it), and return its result.  On an
 * error: roll back, LOG it, call s->failed(arg, message) in a new
 * transaction, and return s->failed_result.  Called outside a transaction.
 */
extern int	own_xact_step(const OwnXactStep *s, void *arg);

#endif							/* PIPELINE_OWN_XACT_H */
