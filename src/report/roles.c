/*-------------------------------------------------------------------------
 *
 * roles.c
 *	  Queues and reports that outlive their owner: DROP ROLE, DROP OWNED
 *	  and REASSIGN OWNED, as PostgreSQL's own dependencies treat the
 *	  objects a role owns.
 *
 * IDENTIFICATION
 *	  src/report/roles.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "report/report.h"
#include "util/privilege.h"
#include "util/shared.h"

/* The OIDs of a list of RoleSpecs, as an oid[] Datum. */
static Datum
role_array(List *roles, bool missing_ok)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(roles), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, roles)
	{
		Oid			role = get_rolespec_oid(lfirst(lc), missing_ok);

		if (OidIsValid(role))
			elems[n++] = ObjectIdGetDatum(role);
	}
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * registry_role_utility: keep queues and reports from outliving their
 * owner, as PostgreSQL's own dependencies do for the objects a role owns.
 * Called by the ProcessUtility hook: before DROP ROLE (refused while the
 * role owns queues or reports in this database), after DROP OWNED (drops
 * them) and REASSIGN OWNED (gives them to the new owner).  A role's
 * queues and reports in other databases are not visible from here: a
 * report whose owner no longer exists never runs, and a queue whose owner
 * no longer exists is not polled.
 */
void
registry_role_utility(Node *stmt, bool after)
{
	Oid			types[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];

	if (!OidIsValid(get_extension_oid("pipeline", true)) || !IsTransactionState())
		return;
	if (IsA(stmt, DropRoleStmt) && !after)
	{
		DropRoleStmt *drop = (DropRoleStmt *) stmt;

		values[0] = role_array(drop->roles, true);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		spi_internal("SELECT owner::oid, kind, name, count(*) OVER () FROM ("
					 "  SELECT owner, 'report' AS kind, name FROM pipeline.reports "
					 "  WHERE owner = ANY ($1) "
					 "  UNION ALL "
					 "  SELECT owner, 'queue', name FROM pipeline.queues WHERE owner = ANY ($1)) o "
					 "ORDER BY kind DESC, name LIMIT 1",
					 1, types, values, NULL, true, 0);
		if (SPI_processed > 0)
		{
			bool		isnull;
			Oid			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
															   SPI_tuptable->tupdesc, 1, &isnull));
			int64		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 4, &isnull));

			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns pipeline queues or reports",
							GetUserNameFromId(owner, false)),
					 n > 1
					 ? errdetail_plural("It owns %s \"%s\" and %d other queue or report in database \"%s\".",
										"It owns %s \"%s\" and %d other queues or reports in database \"%s\".",
										(unsigned long) (n - 1),
										SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
										SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
										(int) (n - 1), get_database_name(MyDatabaseId))
					 : errdetail("It owns %s \"%s\" in database \"%s\".",
								 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
								 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
								 get_database_name(MyDatabaseId)),
					 errhint("Drop them, or use REASSIGN OWNED or DROP OWNED in each database first.")));
		}
		SPI_finish();
	}
	else if (IsA(stmt, DropOwnedStmt) && after)
	{
		values[0] = role_array(((DropOwnedStmt *) stmt)->roles, false);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		spi_internal("SELECT d.name, r.name FROM pipeline.reports d "
					 "JOIN pipeline.reports r ON r.name = d.after "
					 "WHERE r.owner = ANY ($1) AND d.owner <> ALL ($1) ORDER BY 1 LIMIT 1",
					 1, types, values, NULL, true, 0);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop report \"%s\" because report \"%s\" runs after it",
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
					 errhint("Drop the reports that run after it first.")));
		spi_internal("DELETE FROM pipeline.processed p USING pipeline.reports r "
					 "WHERE p.report = r.name AND r.owner = ANY ($1)",
					 1, types, values, NULL, false, 0);
		/* the last of each "after" chain first: the others are referred to */
		do
			spi_internal("DELETE FROM pipeline.reports WHERE owner = ANY ($1) AND name NOT IN "
						 "  (SELECT after FROM pipeline.reports WHERE after IS NOT NULL)",
						 1, types, values, NULL, false, 0);
		while (SPI_processed > 0);
		spi_internal("DELETE FROM pipeline.queue_counters c USING pipeline.queues q "
					 "WHERE c.queue = q.name AND q.owner = ANY ($1)",
					 1, types, values, NULL, false, 0);
		spi_internal("DELETE FROM pipeline.queues WHERE owner = ANY ($1)",
					 1, types, values, NULL, false, 0);
		SPI_finish();
		pipeline_wake_worker_at_commit(false);
	}
	else if (IsA(stmt, ReassignOwnedStmt) && after)
	{
		ReassignOwnedStmt *re = (ReassignOwnedStmt *) stmt;

		values[0] = role_array(re->roles, false);
		values[1] = ObjectIdGetDatum(get_rolespec_oid(re->newrole, false));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		spi_internal("UPDATE pipeline.reports SET owner = $2 WHERE owner = ANY ($1)",
					 2, types, values, NULL, false, 0);
		spi_internal("UPDATE pipeline.queues SET owner = $2 WHERE owner = ANY ($1)",
					 2, types, values, NULL, false, 0);
		SPI_finish();
		pipeline_wake_worker_at_commit(false);
	}
}
