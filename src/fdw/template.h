/*-------------------------------------------------------------------------
 *
 * template.h
 *	  Key templates of pipeline_s3 tables (option key_template): parts of
 *	  keys as columns, pruned before any GET, the listing narrowed.
 *
 * IDENTIFICATION
 *	  src/fdw/template.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_FDW_TEMPLATE_H
#define PIPELINE_FDW_TEMPLATE_H

#include "executor/tuptable.h"
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"

#include "decode/key_template.h"

struct FdwScanState;

extern KeyTemplate *template_parse(const char *text);
extern void template_check_option(const char *text, const char *uri);
extern bool template_column(Oid relid, AttrNumber attnum, char **name);
extern Datum template_datum(struct FdwScanState *st, int att, const char *key, bool *isnull);
extern void template_dir_values(struct FdwScanState *st, const char *dir, TupleTableSlot *slot,
								Bitmapset **known, bool as_null);
extern char *template_prefix(struct FdwScanState *st, const char *prefix);
extern char *template_plan_prefix(Oid relid, const char *key_template, List *clauses,
								  Index varno, const char *prefix);

/* For EXPLAIN: the listing prefix as the template narrows it (an s3:// URI). */
struct ForeignScanState;
struct FdwTableOptions;
extern char *template_explain_prefix(struct ForeignScanState *node,
									 const struct FdwTableOptions *opts,
									 const char *like_prefix, List *dir_quals);

#endif							/* PIPELINE_FDW_TEMPLATE_H */
