/*-------------------------------------------------------------------------
 *
 * privilege.c
 *	  Running SQL as the extension's owner or as a report's owner, with a
 *	  search_path the caller does not control (see privilege.h).
 *
 * IDENTIFICATION
 *	  src/util/privilege.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "util/privilege.h"

/* the owner, looked up once per transaction */
static LocalTransactionId owner_lxid = InvalidLocalTransactionId;
static Oid	owner_cached = InvalidOid;

Oid
pipeline_extension_owner(void)
{
	Oid			extoid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (owner_lxid == MyProc->lxid && OidIsValid(owner_cached))
		return owner_cached;
	extoid = get_extension_oid("pipeline", false);
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "could not find extension \"pipeline\"");
	owner_cached = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	owner_lxid = MyProc->lxid;
	return owner_cached;
}

char *
priv_temp_last(const char *search_path)
{
	char	   *raw = pstrdup(search_path ? search_path : "");
	List	   *names;
	ListCell   *lc;
	StringInfoData buf;

	initStringInfo(&buf);
	if (!SplitIdentifierString(raw, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid search_path \"%s\"", search_path)));
	foreach(lc, names)
	{
		const char *name = lfirst(lc);

		if (strcmp(name, "pg_temp") == 0 || strncmp(name, "pg_temp_", 8) == 0)
			continue;
		appendStringInfo(&buf, "%s, ", quote_identifier(name));
	}
	appendStringInfoString(&buf, "pg_temp");
	return buf.data;
}

static void
enter(PrivSave *save, Oid role, const char *search_path)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(role, save->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
priv_enter_internal(PrivSave *save)
{
	enter(save, pipeline_extension_owner(), PIPELINE_SAFE_SEARCH_PATH);
}

void
priv_enter_role(PrivSave *save, Oid role, const char *search_path)
{
	enter(save, role, search_path ? priv_temp_last(search_path) : PIPELINE_SAFE_SEARCH_PATH);
}

void
priv_leave(PrivSave *save)
{
	/* false: whatever the SQL SET (even with is_local false) is undone */
	AtEOXact_GUC(false, save->nestlevel);
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

int
spi_internal(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
			 bool read_only, long tcount)
{
	PrivSave	save;
	int			rc;

	priv_enter_internal(&save);
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, tcount);
	priv_leave(&save);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	return rc;
}

/*
 * spi_internal_timestamp: a query (as spi_internal) whose first column of
 * its first row is a timestamp, such as "when is the next one due"; 0 if
 * it returns no row or NULL.
 */
TimestampTz
spi_internal_timestamp(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	bool		isnull;
	Datum		d;

	spi_internal(sql, nargs, argtypes, values, NULL, true, 1);
	if (SPI_processed == 0)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}
