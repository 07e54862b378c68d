/*-------------------------------------------------------------------------
 *
 * run_processed.c
 *	  Exactly once per object version: has a report processed this
 *	  version of an object already (or is it superseded), and the record
 *	  that it has, in pipeline.processed (see run.c).
 *
 * IDENTIFICATION
 *	  src/report/run_processed.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "report/export.h"
#include "report/run_int.h"
#include "s3/credentials.h"
#include "s3/s3.h"
#include "util/privilege.h"

/* Parameters $1..$6 of the queries on pipeline.processed. */
static void
version_args(const char *report, const EventObject *o, Datum *args, char *nulls)
{
	args[0] = CStringGetTextDatum(report);
	args[1] = CStringGetTextDatum(o->bucket);
	args[2] = CStringGetTextDatum(o->key);
	args[3] = CStringGetTextDatum(event_object_version(o));
	memset(nulls, ' ', 6);
	if (o->sequencer && o->sequencer[0])
		args[4] = CStringGetTextDatum(o->sequencer);
	else
		nulls[4] = 'n';
	if (o->etag && o->etag[0])
		args[5] = CStringGetTextDatum(o->etag);
	else
		nulls[5] = 'n';
}

/*
 * The ETag an object has now, as the report's owner reads it through the
 * report's server; NULL if it cannot be found out.
 */
static char *
current_etag(ReportDef *def, const EventObject *o)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner resowner = CurrentResourceOwner;
	char	   *etag = NULL;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		PrivSave	save;
		AwsConfig	cfg;
		AwsClient  *client;
		S3Object   *obj;

		priv_enter_role(&save, def->owner, NULL);
		aws_server_config(export_server(def->server), def->owner, &cfg);
		client = aws_client_create(&cfg, CurrentMemoryContext);
		obj = s3_head_object(client, o->bucket, o->key, true);
		if (obj && obj->etag)
			etag = MemoryContextStrdup(cxt, obj->etag);
		aws_client_destroy(client);
		priv_leave(&save);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = resowner;
	return etag;
}

static bool processed_by_etag(ReportDef *def, const EventObject *o, Datum *args, char *nulls);

/*
 * Was this version of the object processed by the report already, or is
 * it superseded?  S3 may deliver events out of order: an event older (by
 * S3's sequencer) than a version already processed is skipped if the
 * object now holds that newer version, since what the older event
 * announced is gone.  A sequencer is only what an event says, though: if
 * the object does not hold the version recorded as newer (it was forged,
 * or the object changed again), the older event runs if the object holds
 * exactly what it announced.
 */
bool
run_already_processed(ReportDef *def, const EventObject *o)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[6];
	char		nulls[6];
	char	   *newer_etag;
	char	   *now_etag;

	version_args(def->name, o, args, nulls);
	spi_internal("SELECT version = $4, etag FROM pipeline.processed "
				 "WHERE report = $1 AND bucket = $2 AND key = $3 "
				 "  AND (version = $4 OR "
				 "       (sequencer IS NOT NULL AND $5 IS NOT NULL AND "
				 "        pipeline.sequencer_cmp(sequencer, $5) > 0)) "
				 "ORDER BY 1 DESC, run_id DESC LIMIT 1",
				 5, argtypes, args, nulls, false, 1);
	if (SPI_processed == 0)
		return processed_by_etag(def, o, args, nulls);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0)
		return true;			/* this very version */
	newer_etag = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (newer_etag == NULL || o->etag == NULL || strcmp(newer_etag, o->etag) == 0)
		return true;
	now_etag = current_etag(def, o);
	if (now_etag == NULL || strcmp(now_etag, newer_etag) == 0)
		return true;			/* the newer version is what S3 holds */
	return strcmp(now_etag, o->etag) != 0;
}

/*
 * Versions known by their ETag only (listed objects, events without a
 * sequencer) cannot be ordered against others of the same key: the same
 * ETag (the same bytes) counts as processed, and if another version of
 * the key was processed, the object runs only if S3 still holds what was
 * announced (else what it holds was processed, or is a newer version that
 * comes by its own event or listing).  Two events with sequencers are
 * compared by them only (above): an overwrite with the same bytes runs
 * again.
 */
static bool
processed_by_etag(ReportDef *def, const EventObject *o, Datum *args, char *nulls)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	bool		isnull;
	bool		same;
	char	   *now_etag;

	if (o->etag == NULL || o->etag[0] == '\0')
		return false;
	spi_internal("SELECT coalesce(bool_or(etag = $6), false) FROM pipeline.processed "
				 "WHERE report = $1 AND bucket = $2 AND key = $3 "
				 "  AND (sequencer IS NULL OR $5 IS NULL) "
				 "HAVING count(*) > 0",
				 6, argtypes, args, nulls, false, 0);
	if (SPI_processed == 0)
		return false;			/* no version of the key to compare with */
	same = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (same)
		return true;
	now_etag = current_etag(def, o);
	/* S3 could not say: run (a run that cannot read it fails, and is retried) */
	if (now_etag == NULL)
		return false;
	return strcmp(now_etag, o->etag) != 0;
}

void
run_mark_processed(const char *report, const EventObject *o, int64 run_id)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		args[7];
	char		nulls[7];

	version_args(report, o, args, nulls);
	nulls[6] = ' ';
	args[6] = Int64GetDatum(run_id);
	spi_internal("INSERT INTO pipeline.processed "
				 "  (report, bucket, key, version, sequencer, etag, run_id) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
				 7, argtypes, args, nulls, false, 0);
}
