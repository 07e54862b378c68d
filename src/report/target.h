/*-------------------------------------------------------------------------
 *
 * target.h
 *	  A report's query and its result table: the query's columns (checked
 *	  as the owner would run it), the table created from them, and the
 *	  result written into it by column name.
 *
 * IDENTIFICATION
 *	  src/report/target.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_TARGET_H
#define PIPELINE_TARGET_H

#include "access/tupdesc.h"

/*
 * The result columns of a report's query, which must be exactly one SELECT
 * that parses and analyzes for the current user; with check_rights, also
 * that the current user may read every table and view it reads and execute
 * every function it calls.
 */
extern TupleDesc target_query_columns(const char *query, bool check_rights);

/*
 * "t" or "s.t" -> the quoted, qualified name of the existing table, or of
 * the one the current user would create (*relid InvalidOid then).
 */
extern char *target_resolve(const char *target, Oid *relid);

/*
 * Errors unless the current user may write the table (insert; with
 * "replace", delete too) and every column of the query is a column of it,
 * by name, of a type it can take.
 */
extern void target_check_columns(Oid relid, const char *target, TupleDesc columns,
								 bool replace);

/* Create the (empty) table with the query's columns, as the current user. */
extern void target_create(const char *target, TupleDesc columns);

/*
 * Run "query" (as the current user) into the table, by column name, the way
 * COPY writes when the table allows it (load.c), else by INSERT ... SELECT;
 * returns the rows written.
 */
extern int64 target_write(const char *target, Oid relid, TupleDesc columns, const char *query);

/* INSERT INTO target (the query's columns, by name) query */
extern char *target_insert_sql(const char *target, TupleDesc columns, const char *query);

#endif							/* PIPELINE_TARGET_H */
