/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  Entry point of the pipeline extension: settings (GUCs) and library
 *	  initialization.
 *
 * IDENTIFICATION
 *	  src/pipeline.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "decode/json_reader.h"

#include "fdw/counters.h"
#include "fdw/fdw.h"
#include "pipeline.h"
#include "report/export.h"
#include "report/intake.h"
#include "report/outbox.h"
#include "report/report.h"
#include "report/tasks.h"
#include "report/webhook.h"
#include "s3/http.h"
#include "s3/s3.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

StaticAssertDecl((Size) PIPELINE_MAX_BUFFER_KB * 1024 + JSON_READER_PADDING <= MaxAllocSize,
				 "pipeline.read_buffer_size must fit in one palloc");
StaticAssertDecl((Size) PIPELINE_MAX_RECORD_MB * 1024 * 1024 + JSON_READER_PADDING <= MaxAllocSize,
				 "pipeline.max_record_size must fit in one palloc");

/*
 * _PG_init: define the settings.  Loaded in the postmaster (through
 * shared_preload_libraries) or in a backend on first use.
 */
void
_PG_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errmsg("could not initialize libcurl")));

	DefineCustomIntVariable("pipeline.s3_max_retries",
							"Retries of an S3 request that failed in a way worth retrying.",
							"500, 502, 503 (SlowDown), 504, 429 answers and broken connections are retried with exponential back-off and jitter.",
							&pipeline_s3_max_retries,
							5, 0, 100,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.s3_connect_timeout",
							"Seconds to wait for a connection to S3.",
							NULL,
							&pipeline_http_connect_timeout,
							10, 1, 3600,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.s3_timeout",
							"Seconds without any data from S3 after which a transfer is abandoned (and retried).",
							NULL,
							&pipeline_http_timeout,
							60, 1, 86400,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.read_buffer_size",
							"Size of the buffer each object is decoded in.",
							"A single record larger than this makes the buffer grow, up to pipeline.max_record_size.",
							&pipeline_read_buffer_kb,
							256, 64, PIPELINE_MAX_BUFFER_KB,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.max_record_size",
							"Largest single record a scan accepts, in megabytes.",
							"Also bounds what decoding one record may take besides: its array elements and the fields of a CSV header.",
							&pipeline_max_record_mb,
							256, 1, PIPELINE_MAX_RECORD_MB,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.prefetch",
							"Objects fetched ahead while one is being decoded.",
							NULL,
							&pipeline_prefetch,
							2, 0, 16,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.split_size",
							"Size of the parts a parallel scan reads a large plain object in.",
							"Objects of at least twice this size whose records are one per line are read in parts by the participants of a parallel scan; 0 reads every object whole.",
							&pipeline_split_kb,
							64 * 1024, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.analyze_objects",
							"Objects ANALYZE reads (chosen at random) to sample a pipeline_s3 table.",
							"Row counts are extrapolated to all objects by their compressed bytes.",
							&pipeline_analyze_objects,
							16, 1, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.max_rejects",
							"Most rejected records remembered per statement for pipeline.rejects().",
							NULL,
							&pipeline_max_rejects,
							1000, 0, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/* the worker */
	DefineCustomIntVariable("pipeline.launcher_naptime",
							"Seconds between the launcher's looks for databases that need a worker.",
							"CREATE EXTENSION and DROP DATABASE wake it at once; this only bounds the delay otherwise.",
							&pipeline_launcher_naptime,
							10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.poll_wait",
							"Seconds an SQS receive waits for messages (long polling).",
							NULL,
							&pipeline_poll_wait,
							20, 0, 20,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.visibility_timeout",
							"Seconds a received message stays invisible to other consumers while the worker takes it.",
							"The worker deletes a message as soon as the tasks it became are committed; a worker that crashes before leaves it to come back after this long.",
							&pipeline_visibility_timeout,
							30, 1, 12 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.max_attempts",
							"Attempts at an object whose report run fails before it is kept as a dead letter.",
							"Each report can set its own with create_report(..., max_attempts => ...).",
							&pipeline_max_attempts,
							5, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.retry_delay",
							"Seconds before a report run that failed is tried again; doubles with each attempt.",
							"Each report can set its own with create_report(..., retry_delay => ...).",
							&pipeline_retry_delay,
							10, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.history_retention",
							"Days of pipeline.runs and pipeline.processed history the worker keeps.",
							NULL,
							&pipeline_history_days,
							30, 1, 36500,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.report_timeout",
							"Default longest run of a report; a longer run is cancelled and recorded as failed.",
							"Each report can set its own with create_report(..., timeout => ...).",
							&pipeline_report_timeout,
							300000, 0, INT_MAX,
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
							10, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pipeline.webhook_max_attempts",
							"Attempts to deliver a run summary to a webhook before giving up.",
							NULL,
							&pipeline_webhook_max_attempts,
							8, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	/* intake: scan budgets, prices, listing (fdw/budget.c, report/costs.c, report/intake.c) */
	budget_define_settings();
	accounting_define_settings();
	intake_define_settings();

	MarkGUCPrefixReserved("pipeline");

	pipeline_worker_init();
}
