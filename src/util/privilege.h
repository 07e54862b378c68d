/*-------------------------------------------------------------------------
 *
 * privilege.h
 *	  Whose rights, and which search_path, the SQL the extension runs
 *	  has.
 *
 * Two kinds of SQL run on someone's behalf:
 *	- the extension's bookkeeping on its own tables (pipeline.queues,
 *	  reports, runs, ...): as the extension's owner, never as the caller
 *	  and never as the bootstrap superuser;
 *	- a report's query: as the report's owner.
 * Both run the way REFRESH MATERIALIZED VIEW runs a view's query: the user
 * id switched with SECURITY_RESTRICTED_OPERATION, inside a GUC nest level
 * that is closed with AtEOXact_GUC(false, ...) so that nothing the SQL
 * SETs survives it, and with a search_path fixed inside the switch: for
 * bookkeeping "pg_catalog, pg_temp" (so no caller's schema can hold an
 * operator or function that resolves first), for a report the path its
 * owner defined it with, with pg_temp last (so that the temporary objects
 * of whatever session runs it shadow nothing).
 *
 * IDENTIFICATION
 *	  src/util/privilege.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_PRIVILEGE_H
#define PIPELINE_PRIVILEGE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* the search_path of the extension's own statements */
#define PIPELINE_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/* What a switch saved, to be given back to priv_leave. */
typedef struct PrivSave
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} PrivSave;

/* The owner of the extension in this database. */
extern Oid	pipeline_extension_owner(void);

/* Bookkeeping: as the extension's owner, with PIPELINE_SAFE_SEARCH_PATH. */
extern void priv_enter_internal(PrivSave *save);

/*
 * A user's SQL: as "role", with "search_path" (NULL: the safe path), pg_temp
 * moved last.
 */
extern void priv_enter_role(PrivSave *save, Oid role, const char *search_path);

/* Back to the user and settings before the matching enter. */
extern void priv_leave(PrivSave *save);

/*
 * SPI_execute_with_args as the extension's owner (priv_enter_internal);
 * errors if SPI fails.  The caller is connected to SPI.
 */
extern int	spi_internal(const char *sql, int nargs, Oid *argtypes, Datum *values,
						 const char *nulls, bool read_only, long tcount);

/* spi_internal of a query whose first value is a timestamp; 0 for none or NULL. */
extern TimestampTz spi_internal_timestamp(const char *sql, int nargs, Oid *argtypes,
										  Datum *values);

/* A search_path with every mention of pg_temp removed and pg_temp appended. */
extern char *priv_temp_last(const char *search_path);

#endif							/* PIPELINE_PRIVILEGE_H */
