/*-------------------------------------------------------------------------
 *
 * template.c
 *	  Key templates of pipeline_s3 tables: the parts of keys laid out as
 *	  Firehose writes them ("raw/v0/deviceping/2026/11/25/13/"), as columns,
 *	  as Athena's partition projection reads them:
 *
 *	    CREATE FOREIGN TABLE pings (device text, year int, month int, day int, hour int)
 *	      SERVER lake OPTIONS (uri 's3://lake/raw/',
 *	        key_template 'raw/v0/deviceping/{year}/{month}/{day}/{hour}/');
 *
 * A column whose name is a placeholder of the template (and that has no
 * "field", "metadata" or "partition" option) holds that part of its
 * object's key, NULL for keys that do not match the template.  The
 * template describes whole keys, from the bucket's root; the table's uri
 * must be able to hold keys that match it.
 *
 * Template columns are partition columns: clauses on them only are
 * object quals (decided from the listing, before any GET) and directory
 * quals (listing.c walks directories and prunes those no key of which can
 * match).  Besides, equality on template columns narrows the listing
 * prefix at once: year = 2026 AND month = 11 lists
 * "raw/v0/deviceping/2026/11/" and nothing else.  Keys under a
 * directory may still fail to match the template further down (and then
 * have NULL parts): a directory is pruned only when a clause is false both
 * for the parts it decides and for NULL parts, so that IS NULL finds those
 * keys too.
 *
 * The matching itself is pure C (src/decode/key_template.c).
 *
 * IDENTIFICATION
 *	  src/fdw/template.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/rel.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "decode/key_template.h"
#include "fdw/scan.h"
#include "fdw/template.h"

/*
 * template_parse: "text" parsed (in CurrentMemoryContext, with a copy of
 * the text it points into); NULL for NULL.  Errors for a bad template
 * (the validator refused it already: only a catalog edited by hand gets
 * here).
 */
KeyTemplate *
template_parse(const char *text)
{
	KeyTemplate *t;
	char		err[256];

	if (text == NULL)
		return NULL;
	t = palloc(sizeof(KeyTemplate));
	if (!kt_parse(pstrdup(text), t, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"key_template\": \"%s\"", text),
				 errdetail("%s", err)));
	return t;
}

/*
 * template_check_option: validate option key_template given with uri
 * (NULL if the uri is missing, which the validator reports itself).
 */
void
template_check_option(const char *text, const char *uri)
{
	KeyTemplate t;
	char		err[256];
	char	   *bucket;
	char	   *key;
	size_t		len;
	KtSpan		spans[KT_MAX_PARTS];

	if (!kt_parse(text, &t, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"key_template\": \"%s\"", text),
				 errdetail("%s", err),
				 errhint("A key template is the layout of whole keys with {name} or {name:type} placeholders, e.g. 'raw/v0/deviceping/{year}/{month}/{day}/{hour}/'; "
						 "types are year, month, day, hour, minute, date, int and text.")));
	if (t.nparts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"key_template\": \"%s\"", text),
				 errdetail("The template has no placeholders."),
				 errhint("Name the parts of the keys in braces, e.g. 'raw/{year}/{month}/{day}/'.")));
	if (uri == NULL)
		return;
	s3_parse_uri(uri, &bucket, &key);
	len = strlen(key);
	if (len > 0 && key[len - 1] == '*')
		len--;
	if (kt_match_prefix(&t, key, len, spans) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"key_template\" cannot match any key under \"%s\"", uri),
				 errdetail("The template describes whole keys from the bucket's root: \"%s\".", text),
				 errhint("Begin the template with the key prefix of the uri, e.g. uri 's3://bucket/raw/' with key_template 'raw/{year}/{month}/'.")));
}

/*
 * template_column: is column "attnum" of table "relid" a part of its key
 * template (its name a placeholder, no other option)?  Its name then in
 * *name.
 */
bool
template_column(Oid relid, AttrNumber attnum, char **name)
{
	ForeignTable *table = GetForeignTable(relid);
	ListCell   *lc;
	char	   *attname;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "key_template") == 0)
		{
			KeyTemplate t;
			char		err[256];

			attname = get_attname(relid, attnum, true);
			if (attname == NULL || !kt_parse(defGetString(def), &t, err, sizeof(err)) ||
				kt_find(&t, attname) < 0)
				return false;
			*name = attname;
			return true;
		}
	}
	return false;
}

/* Part i's text as a value of column "att" (a template column). */
static bool
part_datum(FdwScanState *st, int att, const char *v, size_t len, Datum *d, const char *key)
{
	ConvError	err;

	if (conv_text(&st->conv[att], v, len, d, &err))
		return true;
	ereport(ERROR,
			(errcode(err.sqlerrcode),
			 errmsg("invalid value for key template column \"%s\" in key \"%s\"",
					st->field_name[att], key),
			 errdetail("%s.", err.message)));
	return false;
}

/* The Datum of template column "att" for object key "key" (NULL: no match). */
Datum
template_datum(FdwScanState *st, int att, const char *key, bool *isnull)
{
	KtSpan		spans[KT_MAX_PARTS];
	int			p = kt_find(st->tmpl, st->field_name[att]);
	Datum		d = (Datum) 0;

	*isnull = true;
	if (p < 0 || !kt_match(st->tmpl, key, strlen(key), spans))
		return d;
	part_datum(st, att, key + spans[p].off, spans[p].len, &d, key);
	*isnull = false;
	return d;
}

/*
 * template_dir_values: the template columns' values every key under
 * "dir" that matches the template has, into "slot"; the columns known are
 * added to *known.  With as_null (or when no key under dir can match),
 * every template column is known to be NULL.
 */
void
template_dir_values(FdwScanState *st, const char *dir, TupleTableSlot *slot,
					Bitmapset **known, bool as_null)
{
	KtSpan		spans[KT_MAX_PARTS];
	int			n = as_null ? -1 : kt_match_prefix(st->tmpl, dir, strlen(dir), spans);
	int			i;

	for (i = 0; i < st->natts; i++)
	{
		int			p;

		if (st->source[i] != COLUMN_TEMPLATE)
			continue;
		p = kt_find(st->tmpl, st->field_name[i]);
		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
		if (n < 0)
			*known = bms_add_member(*known, i + 1);
		else if (p >= 0 && p < n)
		{
			ConvError	err;

			/* a value the column cannot hold: the scan will say so */
			if (!conv_text(&st->conv[i], dir + spans[p].off, spans[p].len,
						   &slot->tts_values[i], &err))
				continue;
			slot->tts_isnull[i] = false;
			*known = bms_add_member(*known, i + 1);
		}
	}
}

/*
 * The text keys hold for a value "d" of type "type" compared by equality
 * with a template column (part p); NULL if it cannot be told exactly
 * (one value, one spelling in keys), so the clause does not narrow.
 */
static char *
equality_text(const KeyTemplate *t, int p, Datum d, Oid type, Oid collation)
{
	KtType		kt = t->parts[p].type;
	char		buf[32];

	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			{
				long long	v = type == INT2OID ? DatumGetInt16(d) :
					type == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);

				/* fixed widths: 7 is "07" in every key that has it */
				if (kt != KT_YEAR && kt != KT_MONTH && kt != KT_DAY && kt != KT_HOUR &&
					kt != KT_MINUTE)
					return NULL;
				kt_format_int(kt, v, buf, sizeof(buf));
				return pstrdup(buf);
			}
		case TEXTOID:
		case VARCHAROID:
			/* equal text is the same bytes (with a deterministic collation) */
			if (OidIsValid(collation) && !get_collation_isdeterministic(collation))
				return NULL;
			return TextDatumGetCString(d);
		case DATEOID:
			{
				DateADT		date = DatumGetDateADT(d);
				int			y,
							m,
							day;

				if (kt != KT_DATE || DATE_NOT_FINITE(date))
					return NULL;
				j2date(date + POSTGRES_EPOCH_JDATE, &y, &m, &day);
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, day);
				return pstrdup(buf);
			}
		default:
			return NULL;
	}
}

static bool
is_int_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/* Strip binary-compatible casts. */
static Node *
strip(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

/*
 * narrow: the key prefix that "clauses" (ANDed) leave, from equality on
 * template columns: literal, value, ... up to the first part without
 * one.  NULL when no key can satisfy them; "prefix" itself when they do
 * not narrow it.  part_of(arg, attno, &typid) says which part a column
 * of the scanned relation is (-1: none).  Parameters are evaluated in
 * econtext (NULL when planning: they do not narrow then).
 *
 * Equality is strict, so keys that do not match the template (NULL
 * parts) are out as soon as one such clause is there.
 */
typedef int (*part_of_fn) (void *arg, AttrNumber attno, Oid *typid);

static char *
narrow(const KeyTemplate *t, List *clauses, part_of_fn part_of, void *arg,
	   ExprContext *econtext, const char *prefix)
{
	char	   *values[KT_MAX_PARTS] = {0};
	bool		any = false;
	int			n;
	ListCell   *lc;
	size_t		need;
	char	   *tp;

	foreach(lc, clauses)
	{
		OpExpr	   *op = lfirst(lc);
		Node	   *l;
		Node	   *r;
		Var		   *var;
		Node	   *other;
		Oid			typid;
		int			p;
		Datum		d;
		bool		isnull;
		char	   *v;

		if (op == NULL || !IsA(op, OpExpr) || list_length(op->args) != 2 ||
			!op_strict(op->opno) || get_oprrest(op->opno) != F_EQSEL)
			continue;
		l = strip(linitial(op->args));
		r = strip(lsecond(op->args));
		if (IsA(l, Var))
			var = (Var *) l, other = r;
		else if (IsA(r, Var))
			var = (Var *) r, other = l;
		else
			continue;
		if (var->varlevelsup != 0 || var->varattno <= 0)
			continue;
		p = part_of(arg, var->varattno, &typid);
		if (p < 0)
			continue;
		if (IsA(other, Const))
		{
			d = ((Const *) other)->constvalue;
			isnull = ((Const *) other)->constisnull;
		}
		else if (IsA(other, Param) && ((Param *) other)->paramkind == PARAM_EXTERN &&
				 econtext != NULL)
		{
			ExprState  *es = ExecInitExpr((Expr *) other, NULL);

			d = ExecEvalExprSwitchContext(es, econtext, &isnull);
		}
		else
			continue;
		if (isnull)
			return NULL;		/* = NULL: nothing */
		/* the column's own kind of value (integers of any width compare as such) */
		if (exprType(other) != typid &&
			!(is_int_type(exprType(other)) && is_int_type(typid)) &&
			!(typid == TEXTOID && exprType(other) == VARCHAROID))
			continue;
		v = equality_text(t, p, d, exprType(other), op->inputcollid);
		if (v == NULL)
			continue;
		any = true;
		if (!kt_value_ok(t, p, v, strlen(v)))
			return NULL;		/* no key holds it */
		if (values[p] != NULL && strcmp(values[p], v) != 0)
			return NULL;		/* month = 1 AND month = 2 */
		values[p] = v;
	}
	if (!any)
		return pstrdup(prefix);
	for (n = 0; n < t->nparts && values[n] != NULL; n++)
		;
	need = kt_prefix(t, n, (const char *const *) values, NULL, 0);
	tp = palloc(need + 1);
	kt_prefix(t, n, (const char *const *) values, tp, need + 1);
	/* the longer of the two, if one is a prefix of the other */
	if (strncmp(tp, prefix, strlen(prefix)) == 0)
		return tp;
	if (strncmp(prefix, tp, strlen(tp)) == 0)
		return pstrdup(prefix);
	return NULL;
}

/* part_of for a scan */
static int
scan_part_of(void *arg, AttrNumber attno, Oid *typid)
{
	FdwScanState *st = arg;

	if (attno > st->natts || st->source[attno - 1] != COLUMN_TEMPLATE)
		return -1;
	*typid = st->conv[attno - 1].typid;
	return kt_find(st->tmpl, st->field_name[attno - 1]);
}

/*
 * template_prefix: the scan's listing prefix "prefix" narrowed by
 * equality on template columns (its directory quals); NULL when no key
 * can satisfy them.
 */
char *
template_prefix(FdwScanState *st, const char *prefix)
{
	List	   *clauses = NIL;
	ListCell   *lc;

	foreach(lc, st->dir_quals)
		clauses = lappend(clauses, ((DirQual *) lfirst(lc))->expr);
	return narrow(st->tmpl, clauses, scan_part_of, st, st->econtext, prefix);
}

typedef struct PlanPartOf
{
	Oid			relid;
	const KeyTemplate *t;
} PlanPartOf;

static int
plan_part_of(void *arg, AttrNumber attno, Oid *typid)
{
	PlanPartOf *pp = arg;
	char	   *name;

	if (fdw_column_source(pp->relid, attno, &name) != COLUMN_TEMPLATE)
		return -1;
	*typid = get_atttype(pp->relid, attno);
	return kt_find(pp->t, name);
}

/*
 * template_plan_prefix: the same when planning (for the estimate's
 * listing), from the clauses on partition columns of table "relid" whose
 * Vars are of range table entry "varno"; parameters do not narrow.
 */
char *
template_plan_prefix(Oid relid, const char *key_template, List *clauses, Index varno,
					 const char *prefix)
{
	PlanPartOf	pp;
	List	   *mine = NIL;
	ListCell   *lc;

	pp.relid = relid;
	pp.t = template_parse(key_template);
	foreach(lc, clauses)
	{
		Bitmapset  *attnos = NULL;

		/* (a clause of a dir qual is on this relation only) */
		pull_varattnos(lfirst(lc), varno, &attnos);
		if (!bms_is_empty(attnos))
			mine = lappend(mine, lfirst(lc));
	}
	return narrow(pp.t, mine, plan_part_of, &pp, NULL, prefix);
}

/*
 * template_explain_prefix: for EXPLAIN, the listing prefix that equality
 * on the table's template columns leaves, as an s3:// URI ("(none can
 * match)" when no key can): from the scan's state when it ran (EXPLAIN
 * ANALYZE: parameters known), else from the plan's clauses (constants
 * only).  dir_quals: the plan's clauses on partition columns.
 */
char *
template_explain_prefix(ForeignScanState *node, const FdwTableOptions *opts,
						const char *like_prefix, List *dir_quals)
{
	FdwScanState *st = (FdwScanState *) node->fdw_state;
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	char	   *prefix = fdw_effective_prefix(opts, like_prefix);

	if (prefix != NULL)
	{
		if (st != NULL && st->tmpl != NULL && st->econtext != NULL)
			prefix = template_prefix(st, prefix);
		else
			prefix = template_plan_prefix(RelationGetRelid(node->ss.ss_currentRelation),
										  opts->key_template, dir_quals,
										  plan->scan.scanrelid, prefix);
	}
	return prefix ? s3_make_uri(opts->bucket, prefix) : pstrdup("(none can match)");
}

