/*-------------------------------------------------------------------------
 *
 * import.c
 *	  IMPORT FOREIGN SCHEMA for pipeline_s3: foreign tables proposed from a
 *	  sample of the records under a prefix.
 *
 *	    IMPORT FOREIGN SCHEMA lake LIMIT TO (deviceping)
 *	      FROM SERVER lake INTO raw
 *	      OPTIONS (prefix 'raw/v0/',
 *	               key_template 'raw/v0/deviceping/{year}/{month}/{day}/{hour}/');
 *
 * The remote schema is the bucket.  Each first-level "directory" under the
 * prefix becomes a table of that name (LIMIT TO and EXCEPT name them); a
 * prefix without directories is one table named after its last segment.
 * For each table, the first objects listed are read, at most
 * sample_objects of them (default 5) and sample_records records in all
 * (default 1000), and at most 8 MB of each object's decoded bytes.  The
 * columns are what infer.c makes of those records: JSON types, nested
 * objects as dotted fields, jsonb for mixed or deep values; then the
 * Hive-style partitions ("dt=2026-11-25/") seen in the sampled keys, and
 * the parts of the key template (given as an option, it applies to the
 * tables whose prefix can hold keys that match it).  Epoch numbers in
 * columns named like times become timestamptz with format 'epoch_*'.
 * With case_insensitive 'true', keys that differ only in case are one
 * column (named after the first spelling seen) and the tables made get
 * the same option, so that they read every spelling.
 *
 * The DDL is built with quote_identifier and quote_literal: key names and
 * directory names are data, never SQL.  JSON is sampled here; with
 * format 'csv' (and delimiter, quote, header, null as the tables take
 * them) import_csv.c reads the records, and the tables made get those
 * options.
 *
 * IDENTIFICATION
 *	  src/fdw/import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "decode/infer.h"
#include "decode/inflate.h"
#include "decode/json_reader.h"
#include "decode/key_template.h"
#include "fdw/fdw.h"
#include "fdw/import_csv.h"
#include "s3/credentials.h"

#define IMPORT_MAX_OBJECT_BYTES		(8 * 1024 * 1024)
#define IMPORT_CHUNK				(256 * 1024)

typedef struct ImportOptions
{
	char	   *prefix;
	int			sample_records;
	int			sample_objects;
	char	   *key_template;
	bool		case_insensitive;	/* keys in another case are one column */
	bool		csv;			/* format 'csv' (import_csv.c) */
	ImportCsv	csvopt;
	List	   *csv_ddl;		/* the CSV options given, for the tables made */
} ImportOptions;

static int
int_option(DefElem *def, int lo, int hi)
{
	char	   *v = defGetString(def);
	char	   *end;
	long		n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < lo || n > hi)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, v),
				 errhint("Give a whole number from %d to %d.", lo, hi)));
	return (int) n;
}

static void
import_options(ImportForeignSchemaStmt *stmt, ImportOptions *o)
{
	ListCell   *lc;

	o->prefix = "";
	o->sample_records = 1000;
	o->sample_objects = 5;
	o->key_template = NULL;
	o->case_insensitive = false;
	o->csv = false;
	o->csvopt.delimiter = ',';
	o->csvopt.quote = '"';
	o->csvopt.header = "true";
	o->csvopt.null_string = "";
	o->csv_ddl = NIL;
	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "prefix") == 0)
			o->prefix = defGetString(def);
		else if (strcmp(def->defname, "sample_records") == 0)
			o->sample_records = int_option(def, 1, 1000000);
		else if (strcmp(def->defname, "sample_objects") == 0)
			o->sample_objects = int_option(def, 1, 1000);
		else if (strcmp(def->defname, "key_template") == 0)
		{
			KeyTemplate t;
			char		err[256];

			o->key_template = defGetString(def);
			if (!kt_parse(o->key_template, &t, err, sizeof(err)) || t.nparts == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"key_template\": \"%s\"", o->key_template),
						 errdetail("%s", t.nparts == 0 ? "The template has no placeholders." : err)));
		}
		else if (strcmp(def->defname, "case_insensitive") == 0)
		{
			bool		b;

			if (!parse_bool(defGetString(def), &b))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"case_insensitive\": \"%s\"", defGetString(def)),
						 errhint("Valid values are: true (keys that differ only in case are one column, read whatever their case), false (the default).")));
			o->case_insensitive = b;
		}
		else if (strcmp(def->defname, "format") == 0)
		{
			if (strcmp(defGetString(def), "json") != 0 && strcmp(defGetString(def), "csv") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"format\": \"%s\"", defGetString(def)),
						 errhint("Valid values are: json, csv.")));
			o->csv = strcmp(defGetString(def), "csv") == 0;
		}
		else if (strcmp(def->defname, "delimiter") == 0 || strcmp(def->defname, "quote") == 0 ||
				 strcmp(def->defname, "header") == 0 || strcmp(def->defname, "null") == 0)
		{
			char	   *v = defGetString(def);
			bool		b;

			if ((def->defname[0] == 'd' || def->defname[0] == 'q') &&
				(strlen(v) != 1 || v[0] == '\n' || v[0] == '\r'))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must be a single one-byte character other than a line end",
								def->defname)));
			if (def->defname[0] == 'h' && strcmp(v, "skip") != 0 && !parse_bool(v, &b))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"header\": \"%s\"", v),
						 errhint("Valid values are: true (columns named by each object's first line), false (no header line: columns c1, c2, ...), skip (a first line that is not read).")));
			if (def->defname[0] == 'd')
				o->csvopt.delimiter = v[0];
			else if (def->defname[0] == 'q')
				o->csvopt.quote = v[0];
			else if (def->defname[0] == 'h')
				o->csvopt.header = strcmp(v, "skip") == 0 ? "skip" : (parse_bool(v, &b) && b) ? "true" : "false";
			else
				o->csvopt.null_string = v;
			o->csv_ddl = lappend(o->csv_ddl, def);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("Valid options of IMPORT FOREIGN SCHEMA are: prefix, sample_records, sample_objects, key_template, case_insensitive, format, and for CSV delimiter, quote, header, null.")));
	}
	if (o->csv_ddl != NIL && !o->csv)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" is only valid with format 'csv'", ((DefElem *) linitial(o->csv_ddl))->defname)));
	if (o->csv && o->case_insensitive)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"case_insensitive\" is only valid with format 'json'"),
				 errhint("CSV header names already match columns whatever their case.")));
	if (o->csv && o->csvopt.delimiter == o->csvopt.quote)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("options \"delimiter\" and \"quote\" must be different characters")));
	if (o->prefix[0] != '\0' && o->prefix[strlen(o->prefix) - 1] != '/')
		o->prefix = psprintf("%s/", o->prefix);
}

/*
 * Feed the records of one object (its first bytes) to inf, up to
 * "*left" records; in a memory context of its own.
 */
static bool
sample_object(AwsClient *client, const char *bucket, const char *key, Infer *inf, int *left,
			  const ImportOptions *o, StringInfo first_header)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pipeline_s3 import object",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	S3Get	   *get = s3_get_start(client, bucket, key, IMPORT_CHUNK * 4);
	StringInfoData raw;
	char	   *data;
	size_t		data_len = 0;
	bool		whole = true;
	JsonField	field = {"", JSON_WANT_RAW, false};
	JsonReader *jr;
	JsonValue	value;

	initStringInfo(&raw);
	if (!s3_get_open(get, true))
	{
		s3_get_close(get);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return false;
	}
	for (;;)
	{
		size_t		n;

		CHECK_FOR_INTERRUPTS();
		if (raw.len >= IMPORT_MAX_OBJECT_BYTES)
		{
			whole = false;
			break;
		}
		enlargeStringInfo(&raw, IMPORT_CHUNK);
		n = s3_get_read(get, raw.data + raw.len, Min(IMPORT_CHUNK, raw.maxlen - raw.len - 1));
		if (n == 0)
			break;
		raw.len += n;
	}
	s3_get_close(get);

	data = palloc(IMPORT_MAX_OBJECT_BYTES + JSON_READER_PADDING);
	if (inflate_is_gzip(raw.data, raw.len))
	{
		Inflater   *z = inflater_create(INFLATE_IMPL_AUTO);
		const uint8_t *in = (const uint8_t *) raw.data;
		size_t		in_len = raw.len;

		if (z == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		for (;;)
		{
			size_t		out_len = 0;
			InflateResult r = inflater_run(z, &in, &in_len, whole, (uint8_t *) data + data_len,
										   IMPORT_MAX_OBJECT_BYTES - data_len, &out_len);

			data_len += out_len;
			if (r != INFLATE_OK || data_len >= IMPORT_MAX_OBJECT_BYTES || (in_len == 0 && out_len == 0))
			{
				if (r == INFLATE_ERROR || in_len > 0)
					whole = false;	/* a corrupt tail or more than we keep: what came before counts */
				break;
			}
		}
		inflater_free(z);
	}
	else
	{
		data_len = Min((size_t) raw.len, (size_t) IMPORT_MAX_OBJECT_BYTES);
		memcpy(data, raw.data, data_len);
	}
	memset(data + data_len, 0, JSON_READER_PADDING);

	if (o->csv)
	{
		bool		sampled = import_sample_csv(data, data_len, whole, inf, left, &o->csvopt,
												first_header);

		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return sampled;
	}
	jr = json_reader_create(&field, 1);
	if (jr == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	json_reader_feed(jr, data, data_len, whole);
	while (*left > 0)
	{
		JsonResult r = json_reader_next(jr, &value);

		if (r == JSON_RECORD)
		{
			if (infer_json(inf, value.str, value.len))
				(*left)--;
		}
		else if (r != JSON_BAD_RECORD)
			break;
	}
	json_reader_free(jr);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return true;
}

/* Infer is malloc'd (pure C): freed with the memory context, also on error. */
static void
free_infer(void *arg)
{
	infer_free((Infer *) arg);
}

static Infer *
create_infer(const ImportOptions *o)
{
	InferOptions io = {0};
	Infer	   *inf;
	MemoryContextCallback *cb;

	io.case_insensitive = o->case_insensitive;
	inf = infer_create(&io);
	if (inf == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = free_infer;
	cb->arg = inf;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return inf;
}

/* A column of the table being made. */
typedef struct ImportColumn
{
	char	   *name;
	const char *type;
	char	   *option;			/* "field", "partition" or NULL */
	char	   *value;
	const char *format;			/* format 'epoch_ms', ... or NULL */
} ImportColumn;

static bool
column_taken(List *cols, const char *name)
{
	ListCell   *lc;

	foreach(lc, cols)
		if (strcmp(((ImportColumn *) lfirst(lc))->name, name) == 0)
			return true;
	return false;
}

static ImportColumn *
add_column(List **cols, const char *name, const char *type, const char *option, const char *value)
{
	ImportColumn *c = palloc0(sizeof(ImportColumn));
	int			suffix = 2;

	c->name = pstrdup(name);
	while (column_taken(*cols, c->name))
		c->name = psprintf("%.55s_%d", name, suffix++);
	c->type = type;
	c->option = option ? pstrdup(option) : NULL;
	c->value = value ? pstrdup(value) : NULL;
	*cols = lappend(*cols, c);
	return c;
}

/* A Hive partition seen in the sampled keys. */
typedef struct HivePart
{
	char	   *name;
	const char *type;
} HivePart;

/* Remember the "name=value" directories of key (after the table's prefix). */
static void
hive_parts(List **parts, const char *rest)
{
	const char *last = strrchr(rest, '/');
	const char *seg = rest;

	while (last && seg < last)
	{
		const char *end = strchr(seg, '/');
		const char *eq = memchr(seg, '=', end - seg);

		if (eq && eq > seg)
		{
			char	   *name = pnstrdup(seg, eq - seg);
			const char *type = infer_text_type(eq + 1, end - eq - 1);
			ListCell   *lc;
			bool		found = false;

			foreach(lc, *parts)
			{
				HivePart   *hp = lfirst(lc);

				if (strcmp(hp->name, name) == 0)
				{
					if (strcmp(hp->type, type) != 0)
						hp->type = (strcmp(hp->type, "integer") == 0 && strcmp(type, "bigint") == 0) ||
							(strcmp(hp->type, "bigint") == 0 && strcmp(type, "integer") == 0)
							? "bigint" : "text";
					found = true;
				}
			}
			if (!found && strpbrk(name, "/=") == NULL)
			{
				HivePart   *hp = palloc(sizeof(HivePart));

				hp->name = name;
				hp->type = type;
				*parts = lappend(*parts, hp);
			}
		}
		seg = end + 1;
	}
}

static const char *
template_part_type(KtType t)
{
	switch (t)
	{
		case KT_DATE:
			return "date";
		case KT_INT:
			return "bigint";
		case KT_TEXT:
			return "text";
		default:
			return "integer";
	}
}

/*
 * The CREATE FOREIGN TABLE of table "name" reading the objects under
 * "prefix"; NULL if there is nothing to sample.
 */
static char *
import_table(AwsClient *client, const char *server, const char *bucket, const char *name,
			 const char *prefix, const ImportOptions *o)
{
	S3ListPage *page = s3_list_page(client, bucket, prefix, NULL, NULL, 0);
	Infer	   *inf = create_infer(o);
	int			left = o->sample_records;
	int			nobjects = 0;
	List	   *hive = NIL;
	List	   *cols = NIL;
	const InferColumn *ic;
	int			ncols;
	KeyTemplate t;
	bool		templated = false;
	char		err[256];
	KtSpan		spans[KT_MAX_PARTS];
	StringInfoData sql;
	StringInfoData first_header;	/* CSV: the first object's header line */
	ListCell   *lc;
	int			i;

	initStringInfo(&first_header);
	if (o->key_template && kt_parse(o->key_template, &t, err, sizeof(err)) &&
		kt_match_prefix(&t, prefix, strlen(prefix), spans) >= 0)
		templated = true;
	foreach(lc, page->objects)
	{
		S3Object   *obj = lfirst(lc);
		size_t		klen = strlen(obj->key);

		if (left <= 0 || nobjects >= o->sample_objects)
			break;
		if (klen == 0 || obj->key[klen - 1] == '/' || obj->size == 0)
			continue;
		if (!sample_object(client, bucket, obj->key, inf, &left, o, &first_header))
		{
			if (first_header.len > 0)
				ereport(NOTICE,
						(errmsg("not sampled: \"%s\", whose header differs from the first object's",
								s3_make_uri(bucket, obj->key))));
			continue;
		}
		hive_parts(&hive, obj->key + strlen(prefix));
		nobjects++;
	}
	if (nobjects == 0)
		return NULL;
	ncols = infer_result(inf, &ic);
	if (ncols < 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	/* parts of the key first take their names: a record's "year" is then year_2 with its field */
	if (templated)
		for (i = 0; i < t.nparts; i++)
			add_column(&cols, t.parts[i].name, template_part_type(t.parts[i].type), NULL, NULL);
	foreach(lc, hive)
	{
		HivePart   *hp = lfirst(lc);
		char		cname[INFER_NAME_MAX + 1];

		infer_name(hp->name, strlen(hp->name), cname);
		if (templated && kt_find(&t, cname) >= 0)
			continue;
		add_column(&cols, cname, hp->type, "partition", hp->name);
	}
	{
		List	   *data = NIL;

		for (i = 0; i < ncols; i++)
		{
			ImportColumn *c = add_column(&data, ic[i].name, ic[i].type, NULL, NULL);

			c->format = ic[i].format;	/* epoch numbers: timestamptz */

			/* CSV without a header by name: columns by position, no field option */
			if (o->csv && strcmp(o->csvopt.header, "true") != 0)
			{
				while (column_taken(cols, c->name))
					c->name = psprintf("%.55s_%s", c->name, "2");
			}
			else if (column_taken(cols, c->name) || strcmp(c->name, ic[i].path) != 0)
			{
				c->option = "field";
				c->value = pstrdup(ic[i].path);
				while (column_taken(cols, c->name))
					c->name = psprintf("%.55s_%s", c->name, "2");
			}
		}
		cols = list_concat(data, cols);
	}

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE FOREIGN TABLE %s (\n", quote_identifier(name));
	foreach(lc, cols)
	{
		ImportColumn *c = lfirst(lc);

		appendStringInfo(&sql, "  %s %s", quote_identifier(c->name), c->type);
		if (c->option || c->format)
		{
			appendStringInfoString(&sql, " OPTIONS (");
			if (c->option)
				appendStringInfo(&sql, "%s %s", c->option, quote_literal_cstr(c->value));
			if (c->format)
				appendStringInfo(&sql, "%sformat %s", c->option ? ", " : "",
								 quote_literal_cstr(c->format));
			appendStringInfoChar(&sql, ')');
		}
		appendStringInfoString(&sql, foreach_current_index(lc) + 1 < list_length(cols) ? ",\n" : "\n");
	}
	appendStringInfo(&sql, ") SERVER %s\nOPTIONS (uri %s", quote_identifier(server),
					 quote_literal_cstr(s3_make_uri(bucket, prefix)));
	if (templated)
		appendStringInfo(&sql, ", key_template %s", quote_literal_cstr(o->key_template));
	if (o->case_insensitive)
		appendStringInfoString(&sql, ", case_insensitive 'true'");
	if (o->csv)
	{
		appendStringInfoString(&sql, ", format 'csv'");
		foreach(lc, o->csv_ddl)
		{
			DefElem    *def = lfirst(lc);

			appendStringInfo(&sql, ", %s %s", def->defname, quote_literal_cstr(defGetString(def)));
		}
	}
	appendStringInfoString(&sql, ")");
	return sql.data;
}

/* Is "name" one that LIMIT TO / EXCEPT lets through? */
static bool
wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	return stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO ? listed : !listed;
}

List *
s3ImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	ImportOptions o;
	AwsConfig	cfg;
	AwsClient   *client;
	List	   *names = NIL;
	List	   *result = NIL;
	ListCell   *lc;
	const char *bucket = stmt->remote_schema;
	char	   *single = NULL;

	import_options(stmt, &o);
	aws_server_config(serverOid, GetUserId(), &cfg);
	client = aws_client_create(&cfg, CurrentMemoryContext);

	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
	{
		/* the directories named: no listing of the others */
		foreach(lc, stmt->table_list)
			names = lappend(names, ((RangeVar *) lfirst(lc))->relname);
	}
	else
	{
		char	   *token = NULL;
		int			pages = 0;

		do
		{
			S3ListPage *page = s3_list_page(client, bucket, o.prefix, "/", token, 0);
			ListCell   *pc;

			foreach(pc, page->prefixes)
			{
				char	   *dir = lfirst(pc);
				char	   *name = pnstrdup(dir + strlen(o.prefix), strlen(dir) - strlen(o.prefix) - 1);

				if (name[0] != '\0' && wanted(stmt, name))
					names = lappend(names, name);
			}
			if (page->prefixes == NIL && page->objects != NIL && pages == 0)
			{
				/* no directories: the prefix is one table, named after its last segment */
				char	   *p = pstrdup(o.prefix);
				char	   *slash;

				if (p[0] != '\0')
					p[strlen(p) - 1] = '\0';
				slash = strrchr(p, '/');
				single = p[0] == '\0' ? pstrdup(bucket) : slash ? slash + 1 : p;
				if (!wanted(stmt, single))
					single = NULL;
				break;
			}
			token = page->next_token;
		} while (token != NULL && ++pages < 10);
	}

	if (single)
		names = list_make1(single);
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		char	   *prefix;
		char	   *ddl;

		CHECK_FOR_INTERRUPTS();
		prefix = single ? o.prefix : psprintf("%s%s/", o.prefix, name);
		if (strlen(name) >= NAMEDATALEN)
		{
			ereport(NOTICE,
					(errmsg("skipping \"%s\": its name is longer than a table name can be", name)));
			continue;
		}
		ddl = import_table(client, server->servername, bucket, name, prefix, &o);
		if (ddl == NULL)
			ereport(NOTICE,
					(errmsg("skipping \"%s\": no objects under s3://%s/%s", name, bucket, prefix)));
		else
			result = lappend(result, ddl);
	}
	return result;
}
