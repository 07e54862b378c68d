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
#include "commands/dbcommands.h"
#include "commands/extension.h"
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
#include "report/export_template.h"
#include "report/intake.h"
#include "report/report.h"
#include "report/target.h"
#include "report/webhook.h"
#include "s3/event.h"
#include "s3/s3.h"
#include "s3/url.h"
#include "util/privilege.h"
#include "util/settings.h"
#include "util/shared.h"

PG_FUNCTION_INFO_V1(pipeline_add_queue);
PG_FUNCTION_INFO_V1(pipeline_drop_queue);
PG_FUNCTION_INFO_V1(pipeline_create_report);
PG_FUNCTION_INFO_V1(pipeline_drop_report);
PG_FUNCTION_INFO_V1(pipeline_alter_report);
PG_FUNCTION_INFO_V1(pipeline_pause_report);
PG_FUNCTION_INFO_V1(pipeline_resume_report);
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

char *
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

/* The owner of a queue or report; InvalidOid if there is none. */
Oid
owner_of(const char *table, const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	spi_internal(psprintf("SELECT owner::oid FROM pipeline.%s WHERE name = $1", table),
				 1, types, values, NULL, true, 0);
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
Oid
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
	Oid			elsewhere;

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
				 "VALUES ($1, $2, $3, $4)", 4, types, values, NULL, false, 0);
	SPI_finish();
	if (OidIsValid(elsewhere = pipeline_queue_polled_elsewhere(url)))
		ereport(WARNING,
				(errmsg("queue \"%s\" is polled by the pipeline worker of database \"%s\" too",
						name, get_database_name(elsewhere)),
				 errdetail("Workers that poll one queue compete for its messages: each event goes to one database only."),
				 errhint("Give each database a queue of its own (an SNS topic can fan out to several).")));
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
	spi_internal("DELETE FROM pipeline.queues WHERE name = $1", 1, types, values, NULL, false, 0);
	spi_internal("DELETE FROM pipeline.queue_counters WHERE queue = $1",
				 1, types, values, NULL, false, 0);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 *		Reports
 * ----------------------------------------------------------------
 */

/*
 * "after" must name a report the caller may act as the owner of (its runs
 * start ours, and our run happens inside them), and must not come back to
 * the new report.
 */
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
					 NULL, true, 0);
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
	(void) check_owned("reports", "report", after);
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

/* A report's definition, as create_report and alter_report take it. */
typedef struct ReportArgs
{
	char	   *name;
	char	   *source;
	char	   *query;
	char	   *target;
	char	   *mode;
	char	   *export;
	char	   *after;
	bool		only_if_changed;
	char	   *export_format;
	Interval   *timeout;		/* NULL: pipeline.report_timeout */
	char	   *server;
	char	   *webhook;
	int			max_attempts;	/* 0: pipeline.max_attempts */
	Interval   *retry_delay;	/* NULL: pipeline.retry_delay */
} ReportArgs;

/*
 * Check a definition as its owner (the caller) would run it; with
 * "query_changed", also its query against the target, which is created if
 * need be and qualified in *a.  Caller is connected to SPI.
 */
static void
check_report(ReportArgs *a, bool query_changed, bool after_changed)
{
	char	   *bucket;
	char	   *key;

	check_name("report", a->name);
	if (strcmp(a->mode, "replace") != 0 && strcmp(a->mode, "append") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid mode \"%s\"", a->mode),
				 errhint("Valid modes are: replace, append.")));
	if (a->source)
		s3_parse_uri(a->source, &bucket, &key);
	if (a->export)
	{
		s3_parse_uri(a->export, &bucket, &key);
		export_template_check(a->export);	/* placeholders: {date}, ... */
	}
	(void) export_format_from_name(a->export_format);
	if (a->server || a->export)
		(void) export_server(a->server);	/* a pipeline_s3 server we may use */
	if (a->webhook)
		check_webhook(a->webhook);
	if (a->max_attempts < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_attempts must be at least 1")));
	if (a->retry_delay && a->retry_delay->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retry_delay must not be negative")));
	if (query_changed)
	{
		TupleDesc	columns = target_query_columns(a->query, true);
		Oid			relid;

		a->target = target_resolve(a->target, &relid);
		if (OidIsValid(relid))
			target_check_columns(relid, a->target, columns, strcmp(a->mode, "replace") == 0);
		else
			target_create(a->target, columns);
	}
	if (a->after && after_changed)
		check_after(a->name, a->after);
}

/* Parameters $1..$15 of a definition; owner and search_path in $11, $12. */
static void
report_values(ReportArgs *a, Datum *values, char *nulls)
{
#define TEXT_OR_NULL(i, v) \
	do { if (v) values[i] = CStringGetTextDatum(v); else nulls[i] = 'n'; } while (0)

	memset(nulls, ' ', 15);
	values[0] = CStringGetTextDatum(a->name);
	TEXT_OR_NULL(1, a->source);
	values[2] = CStringGetTextDatum(a->query);
	values[3] = CStringGetTextDatum(a->target);
	values[4] = CStringGetTextDatum(a->mode);
	TEXT_OR_NULL(5, a->export);
	TEXT_OR_NULL(6, a->after);
	values[7] = BoolGetDatum(a->only_if_changed);
	values[8] = CStringGetTextDatum(a->export_format);
	if (a->timeout)
		values[9] = IntervalPGetDatum(a->timeout);
	else
		nulls[9] = 'n';
	values[10] = ObjectIdGetDatum(GetUserId());
	values[11] = CStringGetTextDatum(GetConfigOptionByName("search_path", NULL, false));
	TEXT_OR_NULL(12, a->server);
	TEXT_OR_NULL(13, a->webhook);
	values[14] = Int32GetDatum(a->max_attempts);
	if (a->max_attempts == 0)
		nulls[14] = 'n';
#undef TEXT_OR_NULL
}

static const Oid report_types[16] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	BOOLOID, TEXTOID, INTERVALOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID};

/*
 * pipeline.create_report(name, source, query, target, mode, export, after,
 * only_if_changed, export_format, timeout, server, webhook, max_attempts,
 * retry_delay)
 */
Datum
pipeline_create_report(PG_FUNCTION_ARGS)
{
	ReportArgs	a;
	Datum		values[16];
	char		nulls[16];

	memset(&a, 0, sizeof(a));
	a.name = arg_text(fcinfo, 0, "name", true);
	a.source = arg_text(fcinfo, 1, "source", false);
	a.query = arg_text(fcinfo, 2, "query", true);
	a.target = arg_text(fcinfo, 3, "target", true);
	a.mode = arg_text(fcinfo, 4, "mode", false);
	a.export = arg_text(fcinfo, 5, "export", false);
	a.after = arg_text(fcinfo, 6, "after", false);
	a.only_if_changed = PG_ARGISNULL(7) ? false : PG_GETARG_BOOL(7);
	a.export_format = arg_text(fcinfo, 8, "export_format", false);
	a.timeout = PG_ARGISNULL(9) ? NULL : PG_GETARG_INTERVAL_P(9);
	a.server = arg_text(fcinfo, 10, "server", false);
	a.webhook = arg_text(fcinfo, 11, "webhook", false);
	/* (a 1.0 schema passes twelve arguments) */
	if (PG_NARGS() > 12 && !PG_ARGISNULL(12))
		a.max_attempts = PG_GETARG_INT32(12) < 1 ? -1 : PG_GETARG_INT32(12);
	a.retry_delay = PG_NARGS() > 13 && !PG_ARGISNULL(13) ? PG_GETARG_INTERVAL_P(13) : NULL;
	if (a.mode == NULL)
		a.mode = "replace";
	if (a.export_format == NULL)
		a.export_format = "json";

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (OidIsValid(owner_of("reports", a.name)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("report \"%s\" already exists", a.name),
				 errhint("Change it with pipeline.alter_report, or drop it first with pipeline.drop_report('%s').",
						 a.name)));
	check_report(&a, true, true);

	report_values(&a, values, nulls);
	if (a.retry_delay)
		values[15] = IntervalPGetDatum(a.retry_delay);
	else
		nulls[15] = 'n';
	spi_internal("INSERT INTO pipeline.reports (name, source, query, target, mode, export, "
				 "  after, only_if_changed, export_format, timeout, owner, search_path, "
				 "  server, webhook, max_attempts, retry_delay) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
				 "        coalesce($10, current_setting('pipeline.report_timeout')::interval), "
				 "        $11, $12, $13, $14, $15, $16)",
				 16, (Oid *) report_types, values, nulls, false, 0);
	/* schedule, list_every, list_keys, max_bytes_scanned */
	intake_report_options(fcinfo, 14, a.name, true);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

/* A text argument of alter_report: NULL keeps, '' clears (if it may), else sets. */
static void
alter_text(FunctionCallInfo fcinfo, int n, char **field, bool clearable, bool *changed)
{
	char	   *v;

	if (PG_ARGISNULL(n))
		return;
	v = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (v[0] == '\0' && clearable)
		v = NULL;
	*changed = (v == NULL) != (*field == NULL) || (v && strcmp(v, *field) != 0);
	*field = v;
}

/*
 * pipeline.alter_report(name, ...): change what is given (NULL: keep; ''
 * clears source, export, after, server and webhook).  The report keeps its
 * history, the versions it processed, its pending work, and (unless it
 * runs after another report now) its only_if_changed baseline.  A new
 * query is checked against the target as create_report checks it, and
 * resolved with the caller's search_path.
 */
Datum
pipeline_alter_report(PG_FUNCTION_ARGS)
{
	ReportArgs	a;
	Datum		values[16];
	char		nulls[16];
	Datum		name[1];
	Oid			nametype[1] = {TEXTOID};
	bool		query_changed = false;
	bool		target_changed = false;
	bool		mode_changed = false;
	bool		after_changed = false;
	bool		unused = false;
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	td;

	memset(&a, 0, sizeof(a));
	a.name = arg_text(fcinfo, 0, "name", true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", a.name);
	name[0] = CStringGetTextDatum(a.name);
	spi_internal("SELECT source, query, target, mode, export, after, only_if_changed, "
				 "  export_format, timeout, server, webhook, max_attempts, retry_delay, search_path "
				 "FROM pipeline.reports WHERE name = $1 FOR UPDATE",
				 1, nametype, name, NULL, false, 1);
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	a.source = SPI_getvalue(tup, td, 1);
	a.query = SPI_getvalue(tup, td, 2);
	a.target = SPI_getvalue(tup, td, 3);
	a.mode = SPI_getvalue(tup, td, 4);
	a.export = SPI_getvalue(tup, td, 5);
	a.after = SPI_getvalue(tup, td, 6);
	a.only_if_changed = DatumGetBool(SPI_getbinval(tup, td, 7, &isnull));
	a.export_format = SPI_getvalue(tup, td, 8);
	a.timeout = DatumGetIntervalP(SPI_getbinval(tup, td, 9, &isnull));
	a.server = SPI_getvalue(tup, td, 10);
	a.webhook = SPI_getvalue(tup, td, 11);
	{
		Datum		d = SPI_getbinval(tup, td, 12, &isnull);

		a.max_attempts = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tup, td, 13, &isnull);
		a.retry_delay = isnull ? NULL : DatumGetIntervalP(d);
	}

	alter_text(fcinfo, 1, &a.source, true, &unused);
	alter_text(fcinfo, 2, &a.query, false, &query_changed);
	alter_text(fcinfo, 3, &a.target, false, &target_changed);
	alter_text(fcinfo, 4, &a.mode, false, &mode_changed);
	alter_text(fcinfo, 5, &a.export, true, &unused);
	alter_text(fcinfo, 6, &a.after, true, &after_changed);
	if (!PG_ARGISNULL(7))
		a.only_if_changed = PG_GETARG_BOOL(7);
	alter_text(fcinfo, 8, &a.export_format, false, &unused);
	if (!PG_ARGISNULL(9))
		a.timeout = PG_GETARG_INTERVAL_P(9);
	alter_text(fcinfo, 10, &a.server, true, &unused);
	alter_text(fcinfo, 11, &a.webhook, true, &unused);
	if (!PG_ARGISNULL(12))
		a.max_attempts = PG_GETARG_INT32(12) < 1 ? -1 : PG_GETARG_INT32(12);
	if (!PG_ARGISNULL(13))
		a.retry_delay = PG_GETARG_INTERVAL_P(13);

	check_report(&a, query_changed || target_changed || mode_changed, after_changed);
	report_values(&a, values, nulls);
	if (a.retry_delay)
		values[15] = IntervalPGetDatum(a.retry_delay);
	else
		nulls[15] = 'n';
	/* the query is resolved with the search_path of whoever wrote it last */
	if (!query_changed)
		values[11] = CStringGetTextDatum(SPI_getvalue(tup, td, 14));
	spi_internal("UPDATE pipeline.reports SET source = $2, query = $3, target = $4, mode = $5, "
				 "  export = $6, after = $7, only_if_changed = $8, export_format = $9, "
				 "  timeout = $10, search_path = $12, server = $13, webhook = $14, "
				 "  max_attempts = $15, retry_delay = $16, "
				 "  consumed_hash = CASE WHEN after IS NOT DISTINCT FROM $7 "
				 "                       THEN consumed_hash END "
				 "WHERE name = $1",
				 16, (Oid *) report_types, values, nulls, false, 0);
	/* schedule, list_every, list_keys, max_bytes_scanned */
	intake_report_options(fcinfo, 14, a.name, false);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}

/* pause_report / resume_report */
static void
set_enabled(FunctionCallInfo fcinfo, bool enabled)
{
	char	   *name = arg_text(fcinfo, 0, "name", true);
	Oid			types[2] = {TEXTOID, BOOLOID};
	Datum		values[2];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) check_owned("reports", "report", name);
	values[0] = CStringGetTextDatum(name);
	values[1] = BoolGetDatum(enabled);
	spi_internal("UPDATE pipeline.reports SET enabled = $2 WHERE name = $1",
				 2, types, values, NULL, false, 0);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
}

/*
 * pipeline.pause_report(name): no runs from events or chains until
 * resume_report; their work waits (in pipeline.tasks) and runs then.
 * run_report still runs it.
 */
Datum
pipeline_pause_report(PG_FUNCTION_ARGS)
{
	set_enabled(fcinfo, false);
	PG_RETURN_VOID();
}

Datum
pipeline_resume_report(PG_FUNCTION_ARGS)
{
	set_enabled(fcinfo, true);
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
				 1, types, values, NULL, true, 0);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop report \"%s\" because report \"%s\" runs after it",
						name, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("Drop the reports that run after it first.")));
	spi_internal("DELETE FROM pipeline.processed WHERE report = $1", 1, types, values, NULL, false, 0);
	/* its tasks go with it (ON DELETE CASCADE) */
	spi_internal("DELETE FROM pipeline.reports WHERE name = $1", 1, types, values, NULL, false, 0);
	SPI_finish();
	pipeline_wake_worker_at_commit(false);
	PG_RETURN_VOID();
}
