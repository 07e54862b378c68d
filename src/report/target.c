/*-------------------------------------------------------------------------
 *
 * target.c
 *	  A report's query and its result table.
 *
 * The result table is described by the query's result columns, never by
 * pasting the query into DDL: CREATE TABLE with those columns (types and
 * collations schema-qualified), and INSERT INTO target (columns) with the
 * query's own column names, so that results go in by name whatever the
 * order of the table's columns.
 *
 * IDENTIFICATION
 *	  src/report/target.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_collation.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "report/target.h"

/* What a query (with its sublinks, CTEs and views) reads and calls. */
typedef struct QueryUses
{
	List	   *rtes;			/* RTE_RELATION entries */
	List	   *functions;		/* OIDs */
} QueryUses;

static bool
collect_uses(Node *node, QueryUses *uses)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			uses->rtes = lappend(uses->rtes, rte);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, collect_uses, uses, QTW_EXAMINE_RTES_BEFORE);
	switch (nodeTag(node))
	{
		case T_FuncExpr:
			uses->functions = lappend_oid(uses->functions, ((FuncExpr *) node)->funcid);
			break;
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			set_opfuncid((OpExpr *) node);
			uses->functions = lappend_oid(uses->functions, ((OpExpr *) node)->opfuncid);
			break;
		case T_ScalarArrayOpExpr:
			set_sa_opfuncid((ScalarArrayOpExpr *) node);
			uses->functions = lappend_oid(uses->functions,
										  ((ScalarArrayOpExpr *) node)->opfuncid);
			break;
		case T_Aggref:
			uses->functions = lappend_oid(uses->functions, ((Aggref *) node)->aggfnoid);
			break;
		case T_WindowFunc:
			uses->functions = lappend_oid(uses->functions, ((WindowFunc *) node)->winfnoid);
			break;
		default:
			break;
	}
	return expression_tree_walker(node, collect_uses, uses);
}

TupleDesc
target_query_columns(const char *query, bool check_rights)
{
	List	   *raw = raw_parser(query, RAW_PARSE_DEFAULT);
	RawStmt    *stmt;
	SPIPlanPtr	plan;
	CachedPlanSource *src;
	TupleDesc	result;

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a report's query must be exactly one statement"),
				 errdetail("The query has %d statements.", list_length(raw))));
	stmt = linitial_node(RawStmt, raw);
	if (!IsA(stmt->stmt, SelectStmt) || ((SelectStmt *) stmt->stmt)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a report's query must be a SELECT"),
				 errhint("The report writes the result into its target table itself.")));

	/* parse analysis and rewriting: tables, columns, functions, views */
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	src = linitial(SPI_plan_get_plan_sources(plan));
	if (src->resultDesc == NULL)
		elog(ERROR, "a report's query returns no columns");
	if (check_rights)
	{
		QueryUses	uses = {NIL, NIL};
		ListCell   *lc;

		/* as the executor will check them when the report runs */
		foreach(lc, src->query_list)
			(void) collect_uses(lfirst(lc), &uses);
		(void) ExecCheckRTPerms(uses.rtes, true);
		foreach(lc, uses.functions)
		{
			AclResult	acl = pg_proc_aclcheck(lfirst_oid(lc), GetUserId(), ACL_EXECUTE);

			if (acl != ACLCHECK_OK)
				aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(lfirst_oid(lc)));
		}
	}
	result = CreateTupleDescCopy(src->resultDesc);
	SPI_freeplan(plan);
	return result;
}

char *
target_resolve(const char *target, Oid *relid)
{
	List	   *names = stringToQualifiedNameList(target);
	RangeVar   *rv = makeRangeVarFromNameList(names);
	Oid			nsp;

	*relid = RangeVarGetRelid(rv, NoLock, true);
	if (OidIsValid(*relid))
	{
		char		kind = get_rel_relkind(*relid);

		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("target \"%s\" is not a table", target)));
		nsp = get_rel_namespace(*relid);
	}
	else
	{
		nsp = RangeVarGetCreationNamespace(rv);
		if (pg_namespace_aclcheck(nsp, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to create \"%s\" in schema \"%s\"",
							rv->relname, get_namespace_name(nsp))));
	}
	/* results never go into catalogs, nor into our own tables */
	if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp) || isAnyTempNamespace(nsp) ||
		strcmp(get_namespace_name(nsp), "information_schema") == 0 ||
		strcmp(get_namespace_name(nsp), "pipeline") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a report's target cannot be in schema \"%s\"", get_namespace_name(nsp))));
	return quote_qualified_identifier(get_namespace_name(nsp), rv->relname);
}

/* Refuse a result with two columns of one name: it goes in by name. */
static void
check_unique_names(TupleDesc columns)
{
	int			i,
				j;

	for (i = 0; i < columns->natts; i++)
		for (j = 0; j < i; j++)
			if (strcmp(NameStr(TupleDescAttr(columns, i)->attname),
					   NameStr(TupleDescAttr(columns, j)->attname)) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears more than once in the query's result",
								NameStr(TupleDescAttr(columns, i)->attname)),
						 errhint("Give each column its own name with AS: results are written by column name.")));
}

void
target_check_columns(Oid relid, const char *target, TupleDesc columns, bool replace)
{
	int			i;
	AclResult	acl;

	/* the run inserts (and, replacing, deletes) as the owner: each right counts */
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (acl == ACLCHECK_OK && replace)
		acl = pg_class_aclcheck(relid, GetUserId(), ACL_DELETE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, get_relkind_objtype(get_rel_relkind(relid)), get_rel_name(relid));
	check_unique_names(columns);
	for (i = 0; i < columns->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(columns, i);
		AttrNumber	attnum = get_attnum(relid, NameStr(att->attname));
		Oid			to;

		if (attnum == InvalidAttrNumber || attnum < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of the query is not a column of %s",
							NameStr(att->attname), target),
					 errhint("Results are written by column name: name the query's columns (AS ...) after the table's, or add the column to the table.")));
		to = get_atttype(relid, attnum);
		if (!can_coerce_type(1, &att->atttypid, &to, COERCION_ASSIGNMENT))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of the query is of type %s, but column \"%s\" of %s is of type %s",
							NameStr(att->attname), format_type_be(att->atttypid),
							NameStr(att->attname), target, format_type_be(to))));
	}
}

/* A collation by qualified name. */
static char *
collation_name(Oid collid)
{
	HeapTuple	tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(collid));
	Form_pg_collation coll;
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for collation %u", collid);
	coll = (Form_pg_collation) GETSTRUCT(tup);
	name = quote_qualified_identifier(get_namespace_name(coll->collnamespace),
									  NameStr(coll->collname));
	ReleaseSysCache(tup);
	return name;
}

void
target_create(const char *target, TupleDesc columns)
{
	StringInfoData sql;
	int			i;

	check_unique_names(columns);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", target);
	for (i = 0; i < columns->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(columns, i);
		Oid			type = att->atttypid == UNKNOWNOID ? TEXTOID : att->atttypid;

		appendStringInfo(&sql, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(NameStr(att->attname)),
						 format_type_extended(type, att->atttypmod,
											  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
		if (OidIsValid(att->attcollation) && att->attcollation != get_typcollation(type))
			appendStringInfo(&sql, " COLLATE %s", collation_name(att->attcollation));
	}
	appendStringInfoChar(&sql, ')');
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the target table %s", target);
}

char *
target_insert_sql(const char *target, TupleDesc columns, const char *query)
{
	StringInfoData sql;
	int			i;

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (", target);
	for (i = 0; i < columns->natts; i++)
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(columns, i)->attname)));
	/* the query last, on a line of its own: a trailing comment ends with it */
	appendStringInfo(&sql, ")\n%s\n", query);
	return sql.data;
}
