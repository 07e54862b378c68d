/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  The SQL interface of queues and reports: pipeline.add_queue,
 *	  drop_queue, create_report, drop_report, run_report, handle_event,
 *	  trigger_uris.
 *
 * The registry tables belong to the extension's owner and are not
 * writable by other roles: these functions check what the caller may do,
 * then write with the extension's rights, recording the caller as owner.
 * A report always runs as its owner, so nobody can make the worker run a
 * query with more rights than their own.
 *
 * IDENTIFICATION
 *	  src/report/registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "report/export.h"
#include "report/report.h"
#include "report/webhook.h"
#include "s3/s3.h"
#include "s3/url.h"
#include "worker/event.h"
#include "worker/worker.h"

PG_FUNCTION_INFO_V1(pipeline_add_queue);
PG_FUNCTION_INFO_V1(pipeline_drop_queue);
PG_FUNCTION_INFO_V1(pipeline_create_report);
PG_FUNCTION_INFO_V1(pipeline_drop_report);
PG_FUNCTION_INFO_V1(pipeline_run_report);
PG_FUNCTION_INFO_V1(pipeline_handle_event);
PG_FUNCTION_INFO_V1(pipeline_trigger_uris);
PG_FUNCTION_INFO_V1(pipeline_notify_worker);

/*
 * pipeline._notify_worker(): called by CREATE EXTENSION (and ALTER
 * EXTENSION) scripts, so that a worker starts without a restart.
 */
Datum
pipeline_notify_worker(PG_FUNCTION_ARGS)
{
	pipeline_wake_worker_at_commit(true);
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */

static char *
arg_text(FunctionCallInfo fcinfo, int n, const char *name, bool required)
{
	if (PG_ARGISNULL(n))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"%s\" must not be null", name)));
		return NULL;
	}
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Run SQL on our own tables with the extension's rights. */
static int
spi_internal(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
			 bool read_only)
{
	Oid			save_userid;
	int			save_sec;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	return rc;
}

/* The owner of a queue or report; InvalidOid if there is none. */
static Oid
owner_of(const char *table, const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	spi_internal(psprintf("SELECT owner::oid FROM pipeline.%s WHERE name = $1", table),
				 1, types, values, NULL, true);
	if (SPI_processed == 0)
		return InvalidOid;
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										  &isnull));
}

/*
 * The owner of queue or report "name" (table "queues" or "reports"), after
 * checking that it exists and that the caller may act as its owner.
 * Caller is connected to SPI.
 */
static Oid
check_owned(const char *table, const char *kind, const char *name)
{
	Oid			owner = owner_of(table, name);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", kind, name)));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of %s \"%s\"", kind, name)));
	return owner;
}

static void
check_name(const char *kind, const char *name)
{
	if (name[0] == '\0' || strlen(name) >= PIPELINE_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid %s name \"%s\"", kind, name),
				 errdetail("A name has 1 to %d characters.", PIPELINE_NAME_LEN - 1)));
}

/* ----------------------------------------------------------------
 *		Queues
 * ----------------------------------------------------------------
 */

/*
 * pipeline.add_queue(name, url, server): the worker of this database
 * long-polls the queue, with the region and credentials of "server" (its
 * user mapping for the caller).
 */
Datum
pipeline_add_queue(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	char	   *url = arg_text(fcinfo, 1, "url", true);
	char	   *server = arg_text(fcinfo, 2, "server", true);
	ForeignServer *fs;
	AclResult	acl;
	bool		has_endpoint = false;
	Url			parsed;
	UrlStatus	ustatus;
	bool		aws_host = false;
	ListCell   *lc;
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[4];

	check_name("queue", name);

	/*
	 * Parsed as libcurl will parse it, so the host checked is the host
	 * polled.  A password in the URL stays out of the error (and the log).
	 */
	ustatus = url_parse(url, &parsed);
	if (ustatus == URL_OK)
	{
		aws_host = url_host_is_aws(parsed.host);
		url_free(&parsed);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 ustatus == URL_USERINFO ? errmsg("invalid queue URL") :
				 errmsg("invalid queue URL \"%s\"", url),
				 errdetail("%s", url_status_message(ustatus)),
				 errhint("A queue URL looks like https://sqs.us-east-1.amazonaws.com/123456789012/name.")));

	fs = GetForeignServerByName(server, false);
	acl = pg_foreign_server_aclcheck(fs->serverid, GetUserId(), ACL_USAGE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, fs->servername);
	(void) GetUserMapping(GetUserId(), fs->serverid);	/* errors if none */
	foreach(lc, fs->options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "endpoint") == 0)
			has_endpoint = true;

	/*
	 * Requests go to the server's endpoint (a superuser chose it) or to the
	 * queue URL's host, which a non-superuser may only point at AWS.
	 */
	if (!has_endpoint && !superuser() && !aws_host)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to poll a queue outside AWS"),
				 errdetail("Server \"%s\" has no endpoint, so requests would go to the queue URL's host.",
						   fs->servername),
				 errhint("Use a server whose endpoint a superuser has set.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(fs->servername);
	values[3] = ObjectIdGetDatum(GetUserId());
	if (OidIsValid(owner_of("queues", name)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("queue \"%s\" already exists", name)));
	spi_internal("INSERT INTO pipeline.queues (name, url, server, owner) "
				 "VALUES ($1, $2, $3, $4)", 4, types, values, NULL, false);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

Datum
pipeline_drop_queue(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("queues", "queue", name);
	values[0] = CStringGetTextDatum(name);
	spi_internal("DELETE FROM pipeline.queues WHERE name = $1", 1, types, values, NULL, false);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 *		Reports
 * ----------------------------------------------------------------
 */

/* The query must be one SELECT that parses and analyzes, for the caller. */
static void
check_query(const char *query)
{
	List	   *raw = raw_parser(query, RAW_PARSE_DEFAULT);
	RawStmt    *stmt;
	SPIPlanPtr	plan;

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
	/* parse analysis: tables, columns, functions and types must exist */
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_freeplan(plan);
}

/* "public.t" or "t" -> "schema"."t", resolved as the caller would create it. */
static char *
qualify_target(const char *target)
{
	List	   *names = stringToQualifiedNameList(target);
	RangeVar   *rv = makeRangeVarFromNameList(names);
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	Oid			nsp;

	if (OidIsValid(relid))
	{
		char		kind = get_rel_relkind(relid);

		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("target \"%s\" is not a table", target)));
		nsp = get_rel_namespace(relid);
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
	if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp) ||
		strcmp(get_namespace_name(nsp), "information_schema") == 0 ||
		strcmp(get_namespace_name(nsp), "pipeline") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a report's target cannot be in schema \"%s\"", get_namespace_name(nsp))));
	return quote_qualified_identifier(get_namespace_name(nsp), rv->relname);
}

/*
 * Create the target table, empty, with the query's columns, as the caller
 * (the report's owner): reports chained after this one can be defined at
 * once, and readers see "no rows yet" rather than "no such table".
 * WITH NO DATA neither plans nor runs the query.
 */
static void
create_target(const char *target, const char *query)
{
	List	   *names = stringToQualifiedNameList(target);

	if (OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true)))
		return;
	if (SPI_execute(psprintf("CREATE TABLE %s AS %s WITH NO DATA", target, query), false, 0)
		!= SPI_OK_UTILITY)
		elog(ERROR, "could not create the target table %s", target);
}

/* Refuse an "after" chain that would come back to the new report. */
static void
check_after(const char *name, const char *after)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *cur = pstrdup(after);
	int			hops = 0;

	while (cur != NULL)
	{
		if (strcmp(cur, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("report \"%s\" cannot run after itself", name),
					 errdetail("The chain of \"after\" reports would be a cycle.")));
		values[0] = CStringGetTextDatum(cur);
		spi_internal("SELECT after FROM pipeline.reports WHERE name = $1", 1, types, values,
					 NULL, true);
		if (SPI_processed == 0)
		{
			if (hops == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("report \"%s\" does not exist", after),
						 errdetail("It is named as the report that \"%s\" runs after.", name)));
			break;
		}
		cur = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		hops++;
	}
}

/*
 * A webhook makes the database server POST to a URL: a superuser's
 * decision, unless the host is in pipeline.webhook_hosts.  The host
 * checked is the one libcurl parses out of the URL, so the one posted to.
 */
static void
check_webhook(const char *url)
{
	Url			parsed;
	UrlStatus	ustatus = url_parse(url, &parsed);
	char	   *host;
	bool		allowed;

	if (ustatus != URL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 ustatus == URL_USERINFO ? errmsg("invalid webhook URL") :
				 errmsg("invalid webhook URL \"%s\"", url),
				 errdetail("%s", url_status_message(ustatus)),
				 errhint("A webhook is an http:// or https:// URL.")));
	host = pstrdup(parsed.host);
	allowed = url_host_in_list(parsed.host, pipeline_webhook_hosts);
	url_free(&parsed);
	if (allowed || superuser())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to send webhooks to \"%s\"", host),
			 errhint("A superuser can allow the host in pipeline.webhook_hosts.")));
}

/*
 * pipeline.create_report(name, source, query, target, mode, export, after,
 * only_if_changed, export_format, timeout)
 */
Datum
pipeline_create_report(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	char	   *source = arg_text(fcinfo, 1, "source", false);
	char	   *query = arg_text(fcinfo, 2, "query", true);
	char	   *target = arg_text(fcinfo, 3, "target", true);
	char	   *mode = arg_text(fcinfo, 4, "mode", false);
	char	   *export = arg_text(fcinfo, 5, "export", false);
	char	   *after = arg_text(fcinfo, 6, "after", false);
	bool		only_if_changed = PG_ARGISNULL(7) ? false : PG_GETARG_BOOL(7);
	char	   *export_format = arg_text(fcinfo, 8, "export_format", false);
	Interval   *timeout = PG_ARGISNULL(9) ? NULL : PG_GETARG_INTERVAL_P(9);
	char	   *server = arg_text(fcinfo, 10, "server", false);
	char	   *webhook = arg_text(fcinfo, 11, "webhook", false);
	Oid			types[14] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	BOOLOID, TEXTOID, INTERVALOID, OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[14];
	char		nulls[15] = "              ";
	char	   *bucket;
	char	   *key;
	char	   *search_path;

	check_name("report", name);
	if (mode == NULL)
		mode = "replace";
	if (strcmp(mode, "replace") != 0 && strcmp(mode, "append") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid mode \"%s\"", mode),
				 errhint("Valid modes are: replace, append.")));
	if (source)
		s3_parse_uri(source, &bucket, &key);
	if (export)
		s3_parse_uri(export, &bucket, &key);
	if (export_format == NULL)
		export_format = "json";
	if (strcmp(export_format, "json") != 0 && strcmp(export_format, "csv") != 0 &&
		strcmp(export_format, "svg") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid export format \"%s\"", export_format),
				 errhint("Valid formats are: json, csv, svg.")));

	if (server || export)
		(void) export_server(server);	/* exists, and is a pipeline_s3 server */
	if (webhook)
		check_webhook(webhook);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (OidIsValid(owner_of("reports", name)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("report \"%s\" already exists", name),
				 errhint("Drop it first with pipeline.drop_report('%s').", name)));
	check_query(query);
	target = qualify_target(target);
	create_target(target, query);
	if (after)
		check_after(name, after);
	search_path = GetConfigOptionByName("search_path", NULL, false);

	values[0] = CStringGetTextDatum(name);
	if (source)
		values[1] = CStringGetTextDatum(source);
	else
		nulls[1] = 'n';
	values[2] = CStringGetTextDatum(query);
	values[3] = CStringGetTextDatum(target);
	values[4] = CStringGetTextDatum(mode);
	if (export)
		values[5] = CStringGetTextDatum(export);
	else
		nulls[5] = 'n';
	if (after)
		values[6] = CStringGetTextDatum(after);
	else
		nulls[6] = 'n';
	values[7] = BoolGetDatum(only_if_changed);
	values[8] = CStringGetTextDatum(export_format);
	if (timeout)
		values[9] = IntervalPGetDatum(timeout);
	else
		nulls[9] = 'n';
	values[10] = ObjectIdGetDatum(GetUserId());
	values[11] = CStringGetTextDatum(search_path);
	if (server)
		values[12] = CStringGetTextDatum(server);
	else
		nulls[12] = 'n';
	if (webhook)
		values[13] = CStringGetTextDatum(webhook);
	else
		nulls[13] = 'n';
	spi_internal("INSERT INTO pipeline.reports (name, source, query, target, mode, export, "
				 "  after, only_if_changed, export_format, timeout, owner, search_path, "
				 "  server, webhook) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
				 "        coalesce($10, current_setting('pipeline.report_timeout')::interval), "
				 "        $11, $12, $13, $14)",
				 14, types, values, nulls, false);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

Datum
pipeline_drop_report(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", name);
	values[0] = CStringGetTextDatum(name);
	spi_internal("SELECT name FROM pipeline.reports WHERE after = $1 ORDER BY name LIMIT 1",
				 1, types, values, NULL, true);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop report \"%s\" because report \"%s\" runs after it",
						name, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("Drop the reports that run after it first.")));
	spi_internal("DELETE FROM pipeline.processed WHERE report = $1", 1, types, values, NULL, false);
	spi_internal("DELETE FROM pipeline.reports WHERE name = $1", 1, types, values, NULL, false);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

/* Tell the caller how a run it asked for went. */
static void
report_outcome(List *results)
{
	ListCell   *lc;

	foreach(lc, results)
	{
		RunResult  *r = lfirst(lc);

		if (strcmp(r->status, "failed") == 0)
			ereport(WARNING,
					(errmsg("report \"%s\" failed: %s", r->report, r->error),
					 errdetail("The failure is recorded in pipeline.runs (id " INT64_FORMAT ").",
							   r->run_id)));
	}
}

/*
 * pipeline.run_report(name): run now, without an event.  Returns the id of
 * the run in pipeline.runs; a failed run is recorded and reported as a
 * WARNING (raising it would roll the record back).
 */
Datum
pipeline_run_report(PG_FUNCTION_ARGS)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	RunResult  *r;
	List	   *results;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", name);
	SPI_finish();

	r = report_run(name, "manual", NIL);
	results = list_make1(r);
	if (strcmp(r->status, "succeeded") == 0)
		results = list_concat(results, report_run_after(name, NULL));
	report_outcome(results);
	PG_RETURN_INT64(r->run_id);
}

/*
 * pipeline.handle_event(jsonb): what the worker does with one queue
 * message, in the caller's session and transaction.
 */
Datum
pipeline_handle_event(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *body = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	List	   *objects;
	List	   *triggers = NIL;
	List	   *results;
	char	   *reason;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	switch (event_parse(body, strlen(body), &objects, &reason))
	{
		case EVENT_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid event: %s", reason)));
			break;
		case EVENT_IGNORED:
			ereport(NOTICE,
					(errmsg("event ignored: %s", reason)));
			return (Datum) 0;
		case EVENT_OBJECTS:
			break;
	}
	foreach(lc, objects)
	{
		TriggerObject *t = palloc(sizeof(TriggerObject));

		t->obj = lfirst(lc);
		t->msg = 0;
		triggers = lappend(triggers, t);
	}
	results = report_dispatch(triggers);
	report_outcome(results);
	foreach(lc, results)
	{
		RunResult  *r = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = CStringGetTextDatum(r->report);
		values[1] = Int64GetDatum(r->run_id);
		nulls[1] = r->run_id == 0;
		values[2] = CStringGetTextDatum(r->status);
		values[3] = Int32GetDatum(r->objects);
		values[4] = Int64GetDatum(r->rows);
		nulls[4] = strcmp(r->status, "succeeded") != 0;
		if (r->error)
			values[5] = CStringGetTextDatum(r->error);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pipeline.trigger_uris(): the s3:// URIs of the objects that triggered
 * the run in progress; empty outside a run and in manual runs.
 */
Datum
pipeline_trigger_uris(PG_FUNCTION_ARGS)
{
	int			n = list_length(report_trigger_uris);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ListCell   *lc;

	foreach(lc, report_trigger_uris)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(strVal(lfirst(lc)));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
