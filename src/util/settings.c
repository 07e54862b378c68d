/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Every setting (GUC) of the extension in one place: the variables
 *	  with their defaults, and their definitions (range, unit, context,
 *	  description) for _PG_init.
 *
 * A default is written once, where its variable is defined below: each
 * DefineCustom*Variable call passes the variable's own initial value as
 * the boot value.  The modules read the variables through settings.h.
 *
 * IDENTIFICATION
 *	  src/util/settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "util/settings.h"

/* S3 and SQS requests */
int			pipeline_s3_max_retries = 5;
int			pipeline_http_connect_timeout = 10;
int			pipeline_http_timeout = 60;

/* scans */
int			pipeline_read_buffer_kb = 256;
int			pipeline_max_record_mb = 256;
int			pipeline_prefetch = 2;
int			pipeline_split_kb = 64 * 1024;
int			pipeline_gzip_index_cache_kb = 256 * 1024;	/* gzsplit.c */
int			pipeline_analyze_objects = 16;
int			pipeline_max_rejects = 1000;

/* the background workers */
int			pipeline_launcher_naptime = 10;
int			pipeline_poll_wait = 20;
int			pipeline_visibility_timeout = 30;
int			pipeline_history_days = 30;

/* reports and their work queue */
int			pipeline_max_attempts = 5;
int			pipeline_retry_delay = 10;
int			pipeline_report_timeout = 300000;

/* exports and webhooks ("" by default: set by DefineCustomStringVariable) */
char	   *pipeline_default_server = NULL;
char	   *pipeline_webhook_hosts = NULL;
int			pipeline_export_max_attempts = 10;
int			pipeline_webhook_max_attempts = 8;

/* intake (issue 12): scan budgets, listing, prices */
int			pipeline_max_bytes_scanned_kb = 0;
int			pipeline_listing_lookback = 3600;
int			pipeline_list_page_size = 1000;
double		pipeline_price_get = 0.0004;	/* us-east-1 list prices, S3 Standard */
double		pipeline_price_list = 0.005;
double		pipeline_price_athena = 5.0;	/* and Athena, per TB (2^40 bytes) */
/* credentials from the server's environment (set by DefineCustomStringVariable) */
int			pipeline_metadata_timeout_ms = 1000;
int			pipeline_sts_timeout_ms = 10000;
char	   *pipeline_container_credentials_endpoint = NULL;

/*
 * A fleet of servers sharing the queues (report/fleet.c): where the claims
 * live and with whose keys they are written decide where the database
 * server sends requests: superuser settings.
 */
char	   *pipeline_fleet = NULL;
char	   *pipeline_fleet_server = NULL;
char	   *pipeline_server_id = NULL;
char	   *pipeline_fleet_secret = NULL;
int			pipeline_fleet_lease = 60;
int			pipeline_fleet_max_receives = 10;

static bool
check_fleet(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (pg_strncasecmp(*newval, "s3://", 5) != 0 || (*newval)[5] == '\0' || (*newval)[5] == '/')
	{
		GUC_check_errdetail("pipeline.fleet is an S3 prefix, like s3://bucket/fleet/.");
		return false;
	}
	return true;
}

/*
 * settings_define: define every setting, from _PG_init (in the postmaster
 * with shared_preload_libraries, else in a backend on first use).
 */
void
settings_define(void)
{
	DefineCustomIntVariable("pipeline.s3_max_retries",
							"Retries of an S3 request that failed in a way worth retrying.",
							"500, 502, 503 (SlowDown), 504, 429 answers and broken connections are retried with exponential back-off and jitter.",
							&pipeline_s3_max_retries,
							pipeline_s3_max_retries, 0, 100,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.s3_connect_timeout",
							"Seconds to wait for a connection to S3.",
							NULL,
							&pipeline_http_connect_timeout,
							pipeline_http_connect_timeout, 1, 3600,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.s3_timeout",
							"Seconds without any data from S3 after which a transfer is abandoned (and retried).",
							NULL,
							&pipeline_http_timeout,
							pipeline_http_timeout, 1, 86400,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.read_buffer_size",
							"Size of the buffer each object is decoded in.",
							"A single record larger than this makes the buffer grow, up to pipeline.max_record_size.",
							&pipeline_read_buffer_kb,
							pipeline_read_buffer_kb, 64, PIPELINE_MAX_BUFFER_KB,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.max_record_size",
							"Largest single record a scan accepts, in megabytes.",
							"Also bounds what decoding one record may take besides: its array elements and the fields of a CSV header.",
							&pipeline_max_record_mb,
							pipeline_max_record_mb, 1, PIPELINE_MAX_RECORD_MB,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.prefetch",
							"Objects fetched ahead while one is being decoded.",
							NULL,
							&pipeline_prefetch,
							pipeline_prefetch, 0, 16,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.split_size",
							"Size of the parts a parallel scan reads a large plain object in.",
							"Objects of at least twice this size whose records are one per line are read in parts by the participants of a parallel scan; 0 reads every object whole.",
							&pipeline_split_kb,
							pipeline_split_kb, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	/* gzip restart indexes (src/fdw/gzsplit.c) */
	DefineCustomIntVariable("pipeline.gzip_index_cache_size",
							"Disk space for indexes of restart points into large gzip objects.",
							"A gzip object of at least a quarter of pipeline.split_size read whole is indexed, and read in parts by later parallel scans; the indexes are kept under the data directory, the oldest removed past this size; 0 builds and uses none.",
							&pipeline_gzip_index_cache_kb,
							pipeline_gzip_index_cache_kb, 0, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.analyze_objects",
							"Objects ANALYZE reads (chosen at random) to sample a pipeline_s3 table.",
							"Row counts are extrapolated to all objects by their compressed bytes.",
							&pipeline_analyze_objects,
							pipeline_analyze_objects, 1, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.max_rejects",
							"Most rejected records remembered per statement for pipeline.rejects().",
							NULL,
							&pipeline_max_rejects,
							pipeline_max_rejects, 0, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/* the worker */
	DefineCustomIntVariable("pipeline.launcher_naptime",
							"Seconds between the launcher's looks for databases that need a worker.",
							"CREATE EXTENSION and DROP DATABASE wake it at once; this only bounds the delay otherwise.",
							&pipeline_launcher_naptime,
							pipeline_launcher_naptime, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.poll_wait",
							"Seconds an SQS receive waits for messages (long polling).",
							NULL,
							&pipeline_poll_wait,
							pipeline_poll_wait, 0, 20,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.visibility_timeout",
							"Seconds a received message stays invisible to other consumers while the worker takes it.",
							"The worker deletes a message as soon as the tasks it became are committed; a worker that crashes before leaves it to come back after this long.",
							&pipeline_visibility_timeout,
							pipeline_visibility_timeout, 1, 12 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.max_attempts",
							"Attempts at an object whose report run fails before it is kept as a dead letter.",
							"Each report can set its own with create_report(..., max_attempts => ...).",
							&pipeline_max_attempts,
							pipeline_max_attempts, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.retry_delay",
							"Seconds before a report run that failed is tried again; doubles with each attempt.",
							"Each report can set its own with create_report(..., retry_delay => ...).",
							&pipeline_retry_delay,
							pipeline_retry_delay, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.history_retention",
							"Days of pipeline.runs and pipeline.processed history the worker keeps.",
							NULL,
							&pipeline_history_days,
							pipeline_history_days, 1, 36500,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.report_timeout",
							"Default longest run of a report; a longer run is cancelled and recorded as failed.",
							"Each report can set its own with create_report(..., timeout => ...).",
							&pipeline_report_timeout,
							pipeline_report_timeout, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* export and webhooks */
	DefineCustomStringVariable("pipeline.default_server",
							   "The pipeline_s3 server exports use when none is named.",
							   "Empty: the only pipeline_s3 server there is.",
							   &pipeline_default_server,
							   "",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("pipeline.webhook_hosts",
							   "Hosts that non-superusers may send report webhooks to (comma-separated).",
							   NULL,
							   &pipeline_webhook_hosts,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.export_max_attempts",
							"Attempts to complete an export after its transaction committed before giving up.",
							"Completing retries with back-off (1 s doubling, at most 10 minutes); the upload is then aborted.",
							&pipeline_export_max_attempts,
							pipeline_export_max_attempts, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.webhook_max_attempts",
							"Attempts to deliver a run summary to a webhook before giving up.",
							NULL,
							&pipeline_webhook_max_attempts,
							pipeline_webhook_max_attempts, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	/* a fleet of servers sharing the queues (report/fleet.c) */
	DefineCustomStringVariable("pipeline.fleet",
							   "S3 prefix where the servers of a fleet keep their claims (s3://bucket/prefix/).",
							   "Empty: this database is not part of a fleet, and every event is run here.",
							   &pipeline_fleet,
							   "",
							   PGC_SUSET, 0,
							   check_fleet, NULL, NULL);
	DefineCustomStringVariable("pipeline.fleet_server",
							   "The pipeline_s3 server through which the fleet's claims are written.",
							   "Empty: pipeline.default_server, else the only pipeline_s3 server.  The bootstrap superuser's user mapping (or the server process's own credentials) signs the requests.",
							   &pipeline_fleet_server,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("pipeline.server_id",
							   "This server's name in the fleet; unique in the fleet.",
							   "Empty: the host name and port.  Claims name their holder as server_id/database.",
							   &pipeline_server_id,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("pipeline.fleet_secret",
							   "Key the fleet's claims are signed with (HMAC-SHA256); the same on every server.",
							   "Empty: claims are not signed, and any writer of the fleet's prefix is believed.",
							   &pipeline_fleet_secret,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.fleet_lease",
							"Seconds a claim holds after it was written: a holder silent for longer loses it.",
							"Keep it above the longest run: a run older than half its lease renews its claim before it commits, and fails if it was taken over.",
							&pipeline_fleet_lease,
							pipeline_fleet_lease, 2, 12 * 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.fleet_max_receives",
							"Receives of a message with objects no report here takes before it is kept as unmatched here.",
							"Until then it is handed back to the queue (visible again after a second) for a server that has the report.",
							&pipeline_fleet_max_receives,
							pipeline_fleet_max_receives, 1, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	/* intake (issue 12): scan budgets (fdw/budget.c), listing (report/intake.c), prices (report/accounting.c) */
	DefineCustomIntVariable("pipeline.max_bytes_scanned",
							"Most bytes a statement may read from S3 through pipeline_s3 tables; 0: no limit.",
							"A report's runs use the report's own max_bytes_scanned instead, when it has one.",
							&pipeline_max_bytes_scanned_kb,
							pipeline_max_bytes_scanned_kb, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.listing_lookback",
							"How late, in seconds, an object may appear in a listing after objects written after it.",
							"Listing intake looks this far back at every poll: objects modified this long before the newest one a poll saw (or, with increasing keys, keys written this long before) are listed again and looked up in the ledger.",
							&pipeline_listing_lookback,
							pipeline_listing_lookback, 0, 30 * 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.list_page_size",
							"Keys per ListObjectsV2 request of listing intake and backfills (S3 answers at most 1000).",
							"Each page is queued in a transaction of its own.",
							&pipeline_list_page_size,
							pipeline_list_page_size, 1, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("pipeline.price_get_requests",
							 "USD per 1,000 S3 GET (and HEAD) requests, for pipeline.costs.",
							 "The default is S3 Standard's list price in us-east-1.",
							 &pipeline_price_get,
							 pipeline_price_get, 0.0, 1000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomRealVariable("pipeline.price_list_requests",
							 "USD per 1,000 S3 LIST (and PUT, COPY, POST) requests, for pipeline.costs.",
							 "The default is S3 Standard's list price in us-east-1.",
							 &pipeline_price_list,
							 pipeline_price_list, 0.0, 1000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomRealVariable("pipeline.price_athena_tb",
							 "USD per terabyte Athena would bill for the same scans, for pipeline.costs.",
							 "The default is Athena's list price in us-east-1 (per TB scanned, at least 10 MB per query).",
							 &pipeline_price_athena,
							 pipeline_price_athena, 0.0, 100000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	/*
	 * Credentials from the server's environment (s3/cred_fetch.c).
	 * Superuser-only: they are about the database server's own identity.
	 */
	DefineCustomIntVariable("pipeline.metadata_timeout",
							"Time to wait for one answer of the EC2 instance metadata service or a container credentials endpoint.",
							"Each request is tried twice; a peer that never answers costs at most twice this.",
							&pipeline_metadata_timeout_ms,
							pipeline_metadata_timeout_ms, 100, 600000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.sts_timeout",
							"Time to wait for one answer of STS (AssumeRole, AssumeRoleWithWebIdentity).",
							"Each request is tried three times.",
							&pipeline_sts_timeout_ms,
							pipeline_sts_timeout_ms, 100, 600000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("pipeline.container_credentials_endpoint",
							   "Where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is resolved.",
							   "The ECS agent's address; a scheme, a host and an optional port.",
							   &pipeline_container_credentials_endpoint,
							   "http://169.254.170.2",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("pipeline");
}
