/*-------------------------------------------------------------------------
 *
 * own_xact.c
 *	  One step in a transaction of its own (see own_xact.h).
 *
 * IDENTIFICATION
 *	  src/util/own_xact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "util/own_xact.h"

int
own_xact_step(const OwnXactStep *s, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	/* (AllocSetContextCreate wants a literal: cxt_name is one, kept by the caller) */
	MemoryContext step_cxt = AllocSetContextCreateInternal(cxt, s->cxt_name,
														   ALLOCSET_DEFAULT_SIZES);
	int			result;

	pgstat_report_activity(STATE_RUNNING, s->activity);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		result = s->step(arg, step_cxt);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("%s: %s", s->what, edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("%s", s->hint)));
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		s->failed(arg, edata->message);
		PopActiveSnapshot();
		CommitTransactionCommand();
		result = s->failed_result;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	MemoryContextDelete(step_cxt);
	return result;
}
