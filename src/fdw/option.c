/*-------------------------------------------------------------------------
 *
 * option.c
 *	  Options of the pipeline_s3 foreign data wrapper: validation with
 *	  clear errors, and reading them back for planning and scans.
 *
 * IDENTIFICATION
 *	  src/fdw/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "fdw/fdw.h"
#include "fdw/template.h"
#include "s3/credentials.h"

/* Which option goes where. */
typedef struct FdwOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
} FdwOption;

static const FdwOption valid_options[] = {
	/* server: where requests go */
	{"region", ForeignServerRelationId},
	{"endpoint", ForeignServerRelationId},
	{"url_style", ForeignServerRelationId},
	{"sts_endpoint", ForeignServerRelationId},	/* s3/credentials.c */
	/* user mapping: who signs them */
	{"access_key_id", UserMappingRelationId},
	{"secret_access_key", UserMappingRelationId},
	{"session_token", UserMappingRelationId},
	/* ... or a role assumed with them (s3/credentials.c checks these) */
	{"role_arn", UserMappingRelationId},
	{"external_id", UserMappingRelationId},
	{"role_session_name", UserMappingRelationId},
	{"duration_seconds", UserMappingRelationId},
	/* ... or the database server's identity, if a superuser allows it */
	{"use_server_identity", UserMappingRelationId},
	/* foreign table: what is read and how */
	{"uri", ForeignTableRelationId},
	{"format", ForeignTableRelationId},
	{"compression", ForeignTableRelationId},
	{"on_error", ForeignTableRelationId},
	{"delimiter", ForeignTableRelationId},
	{"quote", ForeignTableRelationId},
	{"header", ForeignTableRelationId},
	{"null", ForeignTableRelationId},
	{"shard", ForeignTableRelationId},
	{"key_template", ForeignTableRelationId},
	{"case_insensitive", ForeignTableRelationId},	/* JSON keys, as Hive's SerDe */
	/* column: which field or metadata */
	{"field", AttributeRelationId},
	{"metadata", AttributeRelationId},
	{"partition", AttributeRelationId},
	{"format", AttributeRelationId},
	{NULL, InvalidOid}
};

/* The values of the "metadata" column option, by ColumnSource. */
static const char *const meta_names[] = {
	[COLUMN_FIELD] = NULL,
	[COLUMN_URI] = "uri",
	[COLUMN_KEY] = "key",
	[COLUMN_SIZE] = "size",
	[COLUMN_LAST_MODIFIED] = "last_modified",
	[COLUMN_LINE] = "line",
	[COLUMN_PARTITION] = NULL,
	[COLUMN_TEMPLATE] = NULL,
};

/* The values of the "format" column option, and their units per second. */
static const char *const epoch_formats[] = {"epoch_s", "epoch_ms", "epoch_us", "epoch_ns", NULL};
static const int64 epoch_units[] = {1, 1000, 1000000, 1000000000};

PG_FUNCTION_INFO_V1(pipeline_s3_fdw_validator);

/* "a", "b", "c" for the hint of an invalid value */
static void
check_choice(DefElem *def, const char *const *choices)
{
	char	   *value = defGetString(def);
	StringInfoData list;
	int			i;

	for (i = 0; choices[i]; i++)
		if (strcmp(value, choices[i]) == 0)
			return;
	initStringInfo(&list);
	for (i = 0; choices[i]; i++)
		appendStringInfo(&list, "%s%s", i ? ", " : "", choices[i]);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
			 errhint("Valid values are: %s.", list.data)));
}

/*
 * The CSV delimiter or quote: one byte, and not a line end (records end
 * at line ends, so neither could ever be read back).
 */
static char
check_csv_char(DefElem *def)
{
	char	   *value = defGetString(def);

	if (strlen(value) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must be a single one-byte character", def->defname)));
	if (value[0] == '\n' || value[0] == '\r')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" cannot be a newline or carriage return", def->defname),
				 errhint("CSV records end at line ends; choose another character, such as ';' or E'\\t'.")));
	return value[0];
}

/*
 * An endpoint is scheme://host[:port], nothing more: a path or query
 * would silently change every request's signature.
 */
static void
check_endpoint(DefElem *def)
{
	char	   *value = defGetString(def);
	const char *rest;

	if (strncmp(value, "http://", 7) == 0)
		rest = value + 7;
	else if (strncmp(value, "https://", 8) == 0)
		rest = value + 8;
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"endpoint\": \"%s\"", value),
				 errhint("An endpoint looks like https://host or http://host:port.")));
	if (rest[0] == '\0' || rest[0] == '/' ||
		(rest[strcspn(rest, "/?#@")] != '\0' &&
		 strcmp(rest + strcspn(rest, "/?#@"), "/") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"endpoint\": \"%s\"", value),
				 errdetail("An endpoint is a scheme, a host and an optional port, without a path or credentials.")));

	/* where the server sends requests is a superuser's decision */
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set option \"endpoint\""),
				 errdetail("Only superusers may choose where the database server sends requests.")));
}

/*
 * pipeline_s3_fdw_validator: check the options of a server, user mapping,
 * foreign table or column of pipeline_s3.
 */
Datum
pipeline_s3_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		have_uri = false;
	bool		have_field = false;
	bool		have_meta = false;
	bool		have_part = false;
	bool		have_case_insensitive = false;
	bool		have_key = false;
	bool		have_secret = false;
	bool		is_csv = false;
	char		delimiter = ',';	/* the defaults of fdw_table_options */
	char		quote = '"';
	char	   *uri = NULL;
	char	   *key_template = NULL;
	List	   *seen = NIL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const FdwOption *opt;

		for (opt = valid_options; opt->name; opt++)
			if (opt->context == catalog && strcmp(opt->name, def->defname) == 0)
				break;
		if (opt->name == NULL)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			for (opt = valid_options; opt->name; opt++)
				if (opt->context == catalog)
					appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 buf.len > 0
					 ? errhint("Valid options in this context are: %s.", buf.data)
					 : errhint("There are no valid options in this context.")));
		}
		if (list_member(seen, makeString(def->defname)))
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("conflicting or redundant options"),
					 errdetail("Option \"%s\" is given more than once.", def->defname)));
		seen = lappend(seen, makeString(def->defname));

		if (strcmp(def->defname, "region") == 0)
		{
			char	   *v = defGetString(def);

			if (v[0] == '\0' || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"region\": \"%s\"", v),
						 errhint("A region looks like us-east-1.")));
		}
		else if (strcmp(def->defname, "endpoint") == 0)
			check_endpoint(def);
		else if (strcmp(def->defname, "url_style") == 0)
			check_choice(def, (const char *const[]) {"path", "virtual", NULL});
		else if (strcmp(def->defname, "access_key_id") == 0)
			have_key = true;
		else if (strcmp(def->defname, "secret_access_key") == 0)
			have_secret = true;
		else if (strcmp(def->defname, "uri") == 0)
		{
			char	   *bucket;
			char	   *key;

			s3_parse_uri(defGetString(def), &bucket, &key);
			have_uri = true;
			uri = defGetString(def);
		}
		else if (strcmp(def->defname, "key_template") == 0)
			key_template = defGetString(def);
		else if (strcmp(def->defname, "format") == 0 && catalog == AttributeRelationId)
			check_choice(def, epoch_formats);
		else if (strcmp(def->defname, "format") == 0)
		{
			check_choice(def, (const char *const[]) {"json", "csv", NULL});
			is_csv = strcmp(defGetString(def), "csv") == 0;
		}
		else if (strcmp(def->defname, "compression") == 0)
			check_choice(def, (const char *const[]) {"auto", "gzip", "none", NULL});
		else if (strcmp(def->defname, "on_error") == 0)
			check_choice(def, (const char *const[]) {"stop", "skip", NULL});
		else if (strcmp(def->defname, "delimiter") == 0)
			delimiter = check_csv_char(def);
		else if (strcmp(def->defname, "quote") == 0)
			quote = check_csv_char(def);
		else if (strcmp(def->defname, "header") == 0)
		{
			bool		b;

			if (strcmp(defGetString(def), "skip") != 0 && !parse_bool(defGetString(def), &b))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"header\": \"%s\"", defGetString(def)),
						 errhint("Valid values are: true (columns by the header's names), false (no header line), skip (a header line that is not read: columns by position).")));
		}
		else if (strcmp(def->defname, "case_insensitive") == 0)
		{
			bool		b;

			have_case_insensitive = true;
			if (!parse_bool(defGetString(def), &b))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"case_insensitive\": \"%s\"", defGetString(def)),
						 errhint("Valid values are: true (a column \"userid\" reads the key \"UserId\", as Athena's JSON SerDe does), false (keys match as written, the default).")));
		}
		else if (strcmp(def->defname, "shard") == 0)
		{
			int			k,
						n;

			fdw_shard_parse(defGetString(def), &k, &n);
		}
		else if (strcmp(def->defname, "field") == 0)
		{
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"field\" must not be empty")));
			have_field = true;
		}
		else if (strcmp(def->defname, "metadata") == 0)
		{
			check_choice(def, &meta_names[1]);
			have_meta = true;
		}
		else if (strcmp(def->defname, "partition") == 0)
		{
			char	   *v = defGetString(def);

			if (v[0] == '\0' || strpbrk(v, "/=") != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"partition\": \"%s\"", v),
						 errhint("Name the key's \"name=value\" directory, e.g. OPTIONS (partition 'dt').")));
			have_part = true;
		}
	}

	if (catalog == ForeignTableRelationId && !have_uri)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"uri\" is required for pipeline_s3 foreign tables"),
				 errhint("Give the object or prefix to read, e.g. OPTIONS (uri 's3://bucket/prefix/').")));
	if (key_template != NULL)
		template_check_option(key_template, uri);
	if (!is_csv)
	{
		foreach(lc, options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "delimiter") == 0 || strcmp(def->defname, "quote") == 0 ||
				strcmp(def->defname, "header") == 0 || strcmp(def->defname, "null") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is only valid with format 'csv'", def->defname)));
		}
	}
	else if (delimiter == quote)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("options \"delimiter\" and \"quote\" must be different characters"),
				 errdetail("Both are '%c'.", delimiter),
				 errhint("Choose a delimiter and a quote that differ; unless set, the delimiter is ',' and the quote is '\"'.")));
	if (is_csv && have_case_insensitive)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"case_insensitive\" is only valid with format 'json'"),
				 errhint("CSV header names already match columns whatever their case.")));
	if ((have_field ? 1 : 0) + (have_meta ? 1 : 0) + (have_part ? 1 : 0) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"field\", \"metadata\" and \"partition\" cannot be used together"),
				 errdetail("A column holds a field of the records, metadata of their object, or a partition of its key.")));
	if (have_key != have_secret)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("options \"access_key_id\" and \"secret_access_key\" must be given together")));
	aws_credential_options_check(options, catalog);

	PG_RETURN_VOID();
}

/*
 * fdw_table_options: the validated options of a foreign table.
 */
void
fdw_table_options(Oid relid, FdwTableOptions *opts)
{
	ForeignTable *table = GetForeignTable(relid);
	ListCell   *lc;
	size_t		len;

	memset(opts, 0, sizeof(*opts));
	opts->format = FDW_FORMAT_JSON;
	opts->compression = FDW_COMPRESSION_AUTO;
	opts->delimiter = ',';
	opts->quote = '"';
	opts->header = true;
	opts->null_string = "";

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (strcmp(def->defname, "uri") == 0)
			opts->uri = v;
		else if (strcmp(def->defname, "format") == 0)
			opts->format = strcmp(v, "csv") == 0 ? FDW_FORMAT_CSV : FDW_FORMAT_JSON;
		else if (strcmp(def->defname, "compression") == 0)
			opts->compression = strcmp(v, "gzip") == 0 ? FDW_COMPRESSION_GZIP :
				strcmp(v, "none") == 0 ? FDW_COMPRESSION_NONE : FDW_COMPRESSION_AUTO;
		else if (strcmp(def->defname, "on_error") == 0)
			opts->skip_errors = strcmp(v, "skip") == 0;
		else if (strcmp(def->defname, "delimiter") == 0)
			opts->delimiter = v[0];
		else if (strcmp(def->defname, "quote") == 0)
			opts->quote = v[0];
		else if (strcmp(def->defname, "header") == 0)
		{
			opts->header_skip = strcmp(v, "skip") == 0;
			opts->header = !opts->header_skip && defGetBoolean(def);
		}
		else if (strcmp(def->defname, "null") == 0)
			opts->null_string = v;
		else if (strcmp(def->defname, "shard") == 0)
			fdw_shard_parse(v, &opts->shard_k, &opts->shard_n);
		else if (strcmp(def->defname, "key_template") == 0)
			opts->key_template = v;
		else if (strcmp(def->defname, "case_insensitive") == 0)
			opts->case_insensitive = defGetBoolean(def);
	}

	/*
	 * A URI ending in "/" (or naming a bare bucket) is a prefix: every object
	 * under it.  A trailing "*" makes any key prefix one ("s3://b/2026-11-*").
	 * Anything else names one object.
	 */
	s3_parse_uri(opts->uri, &opts->bucket, &opts->key);
	len = strlen(opts->key);
	if (len == 0 || opts->key[len - 1] == '/')
		opts->is_prefix = true;
	else if (opts->key[len - 1] == '*')
	{
		opts->key[len - 1] = '\0';
		opts->is_prefix = true;
	}
}

/*
 * fdw_column_source: where column "attnum" takes its values from; for a
 * field, its path in *name (NULL: the column name, no "field" option);
 * for a partition, the partition's name.
 */
ColumnSource
fdw_column_source(Oid relid, AttrNumber attnum, char **name)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *lc;

	*name = NULL;
	/* a column without options named like a part of the key template */
	if (options == NIL && template_column(relid, attnum, name))
		return COLUMN_TEMPLATE;
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (strcmp(def->defname, "field") == 0)
			*name = v;
		else if (strcmp(def->defname, "partition") == 0)
		{
			*name = v;
			return COLUMN_PARTITION;
		}
		else if (strcmp(def->defname, "metadata") == 0)
		{
			int			m;

			for (m = COLUMN_URI; m <= COLUMN_LINE; m++)
				if (strcmp(v, meta_names[m]) == 0)
					return (ColumnSource) m;
		}
	}
	return COLUMN_FIELD;
}

/* column_source_name: the "metadata" option value of a metadata column. */
const char *
column_source_name(ColumnSource source)
{
	return meta_names[source];
}

/*
 * fdw_column_epoch_unit: the units per second of column "attnum"'s
 * format 'epoch_*' option (Athena's habit of epoch seconds or
 * milliseconds in timestamp columns), 0 without one.
 */
int64
fdw_column_epoch_unit(Oid relid, AttrNumber attnum)
{
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, attnum))
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		int			i;

		if (strcmp(def->defname, "format") != 0)
			continue;
		for (i = 0; epoch_formats[i]; i++)
			if (strcmp(defGetString(def), epoch_formats[i]) == 0)
				return epoch_units[i];
	}
	return 0;
}
