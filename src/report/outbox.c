/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  Effects on S3 that follow commits.
 *
 * An export never writes an object while its transaction may still roll
 * back: export_query stages the result as a multipart upload (invisible: no
 * object, no ObjectCreated event), and the run (or pipeline.export) records
 * it in pipeline.exports in its own transaction.  Once that commits, the
 * worker completes the upload; a crash between completing and recording it
 * is recognized afterwards (S3 answers NoSuchUpload, and the object has the
 * ETag the parts make), so each export is completed exactly once.
 *
 * A staged upload whose (sub)transaction rolls back is aborted: at once by
 * a failed run (outbox_abort_abandoned, after its subtransaction rolled
 * back), otherwise by the worker, which finds it in a small ring in shared
 * memory filled by the transaction callbacks (they cannot talk to S3
 * themselves).  A crash of the backend leaves the upload to S3's own clean-
 * up (the AbortIncompleteMultipartUpload lifecycle rule); it is never an
 * object.
 *
 * IDENTIFICATION
 *	  src/report/outbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "report/outbox.h"
#include "s3/credentials.h"
#include "s3/s3.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "util/shared.h"

/* ----------------------------------------------------------------
 *		Uploads staged by this backend's transaction
 * ----------------------------------------------------------------
 */

typedef struct Staged
{
	SubTransactionId subid;
	Oid			serverid;
	Oid			owner;
	char	   *bucket;
	char	   *key;
	char	   *upload_id;
} Staged;

static MemoryContext staged_cxt = NULL;
static List *staged = NIL;		/* this transaction's, live */
static List *abandoned = NIL;	/* of its subtransactions that rolled back */

/* What the worker aborts for a rolled-back transaction. */
#define RING_SIZE 64

typedef struct RolledBack
{
	Oid			dboid;
	Oid			serverid;
	Oid			owner;
	char		bucket[64];
	char		key[1025];
	char		upload_id[512];
} RolledBack;

typedef struct OutboxShared
{
	LWLock	   *lock;
	int			count;
	RolledBack	ring[RING_SIZE];
} OutboxShared;

static OutboxShared *outbox_shared = NULL;

Size
outbox_shmem_size(void)
{
	return sizeof(OutboxShared);
}

/* From the shmem startup hook (the caller holds AddinShmemInitLock). */
void
outbox_shmem_init(void)
{
	bool		found;

	outbox_shared = ShmemInitStruct("pipeline outbox", sizeof(OutboxShared), &found);
	if (!found)
	{
		memset(outbox_shared, 0, sizeof(OutboxShared));
		outbox_shared->lock = &(GetNamedLWLockTranche("pipeline outbox"))->lock;
	}
}

/* Hand uploads to the worker; those that do not fit are left to S3. */
static void
ring_push(List *uploads)
{
	ListCell   *lc;

	if (outbox_shared == NULL || uploads == NIL)
		return;
	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	foreach(lc, uploads)
	{
		Staged	   *s = lfirst(lc);
		RolledBack *r;

		if (outbox_shared->count >= RING_SIZE || strlen(s->bucket) >= sizeof(r->bucket) ||
			strlen(s->key) >= sizeof(r->key) || strlen(s->upload_id) >= sizeof(r->upload_id))
			continue;
		r = &outbox_shared->ring[outbox_shared->count++];
		r->dboid = MyDatabaseId;
		r->serverid = s->serverid;
		r->owner = s->owner;
		strlcpy(r->bucket, s->bucket, sizeof(r->bucket));
		strlcpy(r->key, s->key, sizeof(r->key));
		strlcpy(r->upload_id, s->upload_id, sizeof(r->upload_id));
	}
	LWLockRelease(outbox_shared->lock);
}

static void
forget_all(void)
{
	staged = NIL;
	abandoned = NIL;
	if (staged_cxt)
		MemoryContextReset(staged_cxt);
}

static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			/* the live ones are in pipeline.exports now */
			ring_push(abandoned);
			forget_all();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			ring_push(staged);
			ring_push(abandoned);
			forget_all();
			break;
		default:
			break;
	}
}

static void
outbox_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, staged)
	{
		Staged	   *s = lfirst(lc);

		if (s->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			s->subid = parentSubid;
		else
		{
			MemoryContext old = MemoryContextSwitchTo(staged_cxt);

			abandoned = lappend(abandoned, s);
			staged = foreach_delete_current(staged, lc);
			MemoryContextSwitchTo(old);
		}
	}
}

void
outbox_staged(Oid serverid, Oid owner, const char *bucket, const char *key,
			  const char *upload_id)
{
	MemoryContext old;
	Staged	   *s;

	if (staged_cxt == NULL)
	{
		staged_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline staged uploads",
										   ALLOCSET_SMALL_SIZES);
		RegisterXactCallback(outbox_xact_callback, NULL);
		RegisterSubXactCallback(outbox_subxact_callback, NULL);
	}
	old = MemoryContextSwitchTo(staged_cxt);
	s = palloc(sizeof(Staged));
	s->subid = GetCurrentSubTransactionId();
	s->serverid = serverid;
	s->owner = owner;
	s->bucket = pstrdup(bucket);
	s->key = pstrdup(key);
	s->upload_id = pstrdup(upload_id);
	staged = lappend(staged, s);
	MemoryContextSwitchTo(old);
}

/* Abort one upload, with its owner's credentials; false (logged) on failure. */
static bool
abort_upload(Oid serverid, Oid owner, const char *bucket, const char *key,
			 const char *upload_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner resowner = CurrentResourceOwner;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		AwsConfig	cfg;
		AwsClient  *client;

		aws_server_config(serverid, owner, &cfg);
		client = aws_client_create(&cfg, CurrentMemoryContext);
		s3_multipart_abort(client, bucket, key, upload_id);
		aws_client_destroy(client);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ereport(LOG,
				(errmsg("could not abort the staged upload of \"%s\"", s3_make_uri(bucket, key)),
				 errdetail_internal("%s", edata->message),
				 errhint("S3 removes incomplete uploads by the AbortIncompleteMultipartUpload lifecycle rule.")));
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = resowner;
	return ok;
}

void
outbox_abort_abandoned(void)
{
	List	   *todo = abandoned;
	ListCell   *lc;

	abandoned = NIL;
	foreach(lc, todo)
	{
		Staged	   *s = lfirst(lc);

		(void) abort_upload(s->serverid, s->owner, s->bucket, s->key, s->upload_id);
	}
}

void
outbox_abort_rolled_back(void)
{
	RolledBack *mine;
	int			n = 0;
	int			i;

	if (outbox_shared == NULL)
		return;
	mine = palloc(sizeof(RolledBack) * RING_SIZE);
	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < outbox_shared->count;)
	{
		if (outbox_shared->ring[i].dboid == MyDatabaseId)
		{
			mine[n++] = outbox_shared->ring[i];
			outbox_shared->ring[i] = outbox_shared->ring[--outbox_shared->count];
		}
		else
			i++;
	}
	LWLockRelease(outbox_shared->lock);
	if (n == 0)
		return;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "aborting the staged uploads of rolled-back transactions");
	for (i = 0; i < n; i++)
		(void) abort_upload(mine[i].serverid, mine[i].owner, mine[i].bucket, mine[i].key,
							mine[i].upload_id);
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* ----------------------------------------------------------------
 *		Completing exports after commit
 * ----------------------------------------------------------------
 */

void
outbox_add_export(const ExportResult *r, Oid serverid, Oid owner, int64 run_id,
				  const char *report)
{
	Oid			types[10] = {INT8OID, TEXTOID, TEXTOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTARRAYOID, INT8OID, INT8OID};
	Datum		values[10];
	char		nulls[10] = "          ";
	Datum	   *etags = palloc(sizeof(Datum) * Max(list_length(r->etags), 1));
	ListCell   *lc;

	/* nobody would ever complete it */
	if (!pipeline_shared_exists())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("exports need the pipeline worker"),
				 errdetail("An export becomes an object when the worker completes it, after the transaction commits."),
				 errhint("Add pipeline to shared_preload_libraries and restart the server.")));
	foreach(lc, r->etags)
		etags[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
	values[0] = Int64GetDatum(run_id);
	nulls[0] = run_id == 0 ? 'n' : ' ';
	if (report)
		values[1] = CStringGetTextDatum(report);
	else
		nulls[1] = 'n';
	values[2] = CStringGetTextDatum(GetForeignServer(serverid)->servername);
	values[3] = ObjectIdGetDatum(owner);
	values[4] = CStringGetTextDatum(r->bucket);
	values[5] = CStringGetTextDatum(r->key);
	values[6] = CStringGetTextDatum(r->upload_id);
	values[7] = PointerGetDatum(construct_array(etags, list_length(r->etags), TEXTOID, -1,
												false, TYPALIGN_INT));
	values[8] = Int64GetDatum(r->rows);
	values[9] = Int64GetDatum(r->bytes);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_internal("INSERT INTO pipeline.exports (run_id, report, server, owner, bucket, key, "
				 "  upload_id, etags, rows, bytes) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
				 10, types, values, nulls, false, 0);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
}

/*
 * The ETag S3 gives the object a multipart upload makes: the MD5 of its
 * parts' MD5s, then "-" and the number of parts.
 */
static char *
multipart_etag(Datum etags_array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	StringInfoData md5s;
	char		hex[33];
	const char *errstr = NULL;

	deconstruct_array(DatumGetArrayTypeP(etags_array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	initStringInfo(&md5s);
	for (i = 0; i < n; i++)
	{
		char	   *etag = TextDatumGetCString(elems[i]);
		char		bin[16];

		if (strlen(etag) != 32 || hex_decode(etag, 32, bin) != 16)
			return NULL;
		appendBinaryStringInfo(&md5s, bin, 16);
	}
	if (!pg_md5_hash(md5s.data, md5s.len, hex, &errstr))
		return NULL;
	return psprintf("%s-%d", hex, n);
}

/* Complete one staged export; raises on failure. */
static void
complete_one(HeapTuple tup, TupleDesc td)
{
	bool		isnull;
	char	   *server = SPI_getvalue(tup, td, 2);
	Oid			owner = DatumGetObjectId(SPI_getbinval(tup, td, 3, &isnull));
	char	   *bucket = SPI_getvalue(tup, td, 4);
	char	   *key = SPI_getvalue(tup, td, 5);
	char	   *upload_id = SPI_getvalue(tup, td, 6);
	Datum		etags = SPI_getbinval(tup, td, 7, &isnull);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			i;
	List	   *parts = NIL;
	AwsConfig	cfg;
	AwsClient  *client;

	deconstruct_array(DatumGetArrayTypeP(etags), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &n);
	for (i = 0; i < n; i++)
		parts = lappend(parts, TextDatumGetCString(elems[i]));
	aws_server_config(get_foreign_server_oid(server, false), owner, &cfg);
	client = aws_client_create(&cfg, CurrentMemoryContext);
	if (s3_multipart_complete(client, bucket, key, upload_id, parts, true) == NULL)
	{
		/* completed already (we crashed before recording it), or lost */
		S3Object   *o = s3_head_object(client, bucket, key, true);
		char	   *expected = multipart_etag(etags);

		if (o == NULL || o->etag == NULL || expected == NULL || strcmp(o->etag, expected) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the staged upload of \"%s\" no longer exists", s3_make_uri(bucket, key)),
					 errdetail("S3 answered NoSuchUpload, and the object is not the one the upload makes.")));
	}
	aws_client_destroy(client);
}

TimestampTz
outbox_complete_exports(void)
{
	TimestampTz next;
	MemoryContext cxt;
	SPITupleTable *due;
	uint64		n;
	uint64		i;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	/*
	 * What this snapshot sees committed must be durable before S3 sees it:
	 * with synchronous_commit off a crash could still take the run back,
	 * leaving an object (and its event) for a run that never was.
	 */
	XLogFlush(GetXLogInsertRecPtr());

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	cxt = CurrentMemoryContext;
	spi_internal("SELECT id, server, owner::oid, bucket, key, upload_id, etags, attempts "
				 "FROM pipeline.exports WHERE state = 'pending' AND next_attempt <= now() "
				 "ORDER BY id LIMIT 20 FOR UPDATE SKIP LOCKED", 0, NULL, NULL, NULL, false, 0);
	due = SPI_tuptable;
	n = SPI_processed;
	if (n > 0)
		pgstat_report_activity(STATE_RUNNING, "completing exports");
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = due->vals[i];
		int64		id = DatumGetInt64(SPI_getbinval(tup, due->tupdesc, 1, &isnull));
		int			attempts = DatumGetInt32(SPI_getbinval(tup, due->tupdesc, 8, &isnull)) + 1;
		ResourceOwner resowner = CurrentResourceOwner;
		char	   *error = NULL;
		Oid			types[4] = {INT8OID, TEXTOID, INT4OID, INT4OID};
		Datum		values[4];
		char		nulls[4] = "    ";

		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			complete_one(tup, due->tupdesc);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			error = edata->message;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = resowner;

		values[0] = Int64GetDatum(id);
		if (error)
			values[1] = CStringGetTextDatum(error);
		else
			nulls[1] = 'n';
		values[2] = Int32GetDatum(attempts);
		values[3] = Int32GetDatum(pipeline_export_max_attempts);
		/* back-off: 1, 2, 4 ... seconds, at most ten minutes */
		spi_internal("UPDATE pipeline.exports SET attempts = $3, last_error = $2, "
					 "  state = CASE WHEN $2 IS NULL THEN 'completed' "
					 "               WHEN $3 >= $4 THEN 'failed' ELSE 'pending' END, "
					 "  completed_at = CASE WHEN $2 IS NULL THEN now() END, "
					 "  next_attempt = now() + least(600, 2 ^ ($3 - 1)) * interval '1 second' "
					 "WHERE id = $1",
					 4, types, values, nulls, false, 0);
		if (error && attempts >= pipeline_export_max_attempts)
		{
			ereport(LOG,
					(errmsg("pipeline gave up completing the export to \"%s\" after %d attempts",
							s3_make_uri(SPI_getvalue(tup, due->tupdesc, 4),
										SPI_getvalue(tup, due->tupdesc, 5)), attempts),
					 errdetail_internal("%s", error)));
			(void) abort_upload(get_foreign_server_oid(SPI_getvalue(tup, due->tupdesc, 2), false),
								DatumGetObjectId(SPI_getbinval(tup, due->tupdesc, 3, &isnull)),
								SPI_getvalue(tup, due->tupdesc, 4),
								SPI_getvalue(tup, due->tupdesc, 5),
								SPI_getvalue(tup, due->tupdesc, 6));
		}
	}
	next = spi_internal_timestamp("SELECT min(next_attempt) FROM pipeline.exports "
								  "WHERE state = 'pending'", 0, NULL, NULL);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return next;
}
