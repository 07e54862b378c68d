/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  Every setting (GUC) of the extension: the variables the modules read.
 *	  settings.c defines them, with their defaults, ranges and
 *	  descriptions, in the order of postgresql.conf.sample-like groups.
 *
 * IDENTIFICATION
 *	  src/util/settings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PIPELINE_SETTINGS_H
#define PIPELINE_SETTINGS_H

/*
 * A scan's data buffer is one palloc of the buffer size plus the JSON
 * reader's padding (64 bytes), so neither pipeline.read_buffer_size nor
 * pipeline.max_record_size may exceed MaxAllocSize less that: 1 GB - 1 kB
 * and 1023 MB (fdw/stream.c checks this at compile time).
 */
#define PIPELINE_MAX_BUFFER_KB	(1024 * 1024 - 1)
#define PIPELINE_MAX_RECORD_MB	1023

/* S3 and SQS requests (s3/) */
extern PGDLLIMPORT int pipeline_s3_max_retries;	/* pipeline.s3_max_retries */
extern PGDLLIMPORT int pipeline_http_connect_timeout;	/* pipeline.s3_connect_timeout, s */
extern PGDLLIMPORT int pipeline_http_timeout;	/* pipeline.s3_timeout, s */

/* Scans (fdw/) */
extern PGDLLIMPORT int pipeline_read_buffer_kb;	/* pipeline.read_buffer_size */
extern PGDLLIMPORT int pipeline_max_record_mb;	/* pipeline.max_record_size */
extern PGDLLIMPORT int pipeline_prefetch;	/* pipeline.prefetch */
extern PGDLLIMPORT int pipeline_split_kb;	/* pipeline.split_size (0: never split) */
extern PGDLLIMPORT int pipeline_gzip_index_cache_kb;	/* pipeline.gzip_index_cache_size (0: none) */
extern PGDLLIMPORT int pipeline_analyze_objects;	/* pipeline.analyze_objects */
extern PGDLLIMPORT int pipeline_max_rejects;	/* pipeline.max_rejects */

/* Reports and their work queue (report/) */
extern PGDLLIMPORT int pipeline_max_attempts;	/* pipeline.max_attempts */
extern PGDLLIMPORT int pipeline_retry_delay;	/* pipeline.retry_delay, s */
extern PGDLLIMPORT int pipeline_report_timeout;	/* pipeline.report_timeout, ms */

/* Exports and webhooks (report/) */
extern PGDLLIMPORT char *pipeline_default_server;	/* pipeline.default_server */
extern PGDLLIMPORT char *pipeline_webhook_hosts;	/* pipeline.webhook_hosts */
extern PGDLLIMPORT int pipeline_export_max_attempts;	/* pipeline.export_max_attempts */
extern PGDLLIMPORT int pipeline_webhook_max_attempts;	/* pipeline.webhook_max_attempts */

/* Intake (issue 12): scan budgets (fdw/), listing and prices (report/) */
extern PGDLLIMPORT int pipeline_max_bytes_scanned_kb;	/* pipeline.max_bytes_scanned (0: none) */
extern PGDLLIMPORT int pipeline_listing_lookback;	/* pipeline.listing_lookback, s */
extern PGDLLIMPORT int pipeline_list_page_size;	/* pipeline.list_page_size */
extern PGDLLIMPORT double pipeline_price_get;	/* pipeline.price_get_requests */
extern PGDLLIMPORT double pipeline_price_list;	/* pipeline.price_list_requests */
extern PGDLLIMPORT double pipeline_price_athena;	/* pipeline.price_athena_tb */

/* The background workers (worker/) */
extern PGDLLIMPORT int pipeline_launcher_naptime;	/* pipeline.launcher_naptime, s */
extern PGDLLIMPORT int pipeline_poll_wait;	/* pipeline.poll_wait, s */
extern PGDLLIMPORT int pipeline_visibility_timeout;	/* pipeline.visibility_timeout, s */
extern PGDLLIMPORT int pipeline_history_days;	/* pipeline.history_retention */

/* Credentials from the server's environment (s3/cred_fetch.c) */
extern PGDLLIMPORT int pipeline_metadata_timeout_ms;	/* pipeline.metadata_timeout, ms */
extern PGDLLIMPORT int pipeline_sts_timeout_ms;	/* pipeline.sts_timeout, ms */
extern PGDLLIMPORT char *pipeline_container_credentials_endpoint;	/* pipeline.container_credentials_endpoint */

/* Define them all (from _PG_init), and reserve the "pipeline." prefix. */
/* a fleet of servers sharing the queues (report/fleet.c) */
extern PGDLLIMPORT char *pipeline_fleet;	/* pipeline.fleet: s3:// prefix, "" if none */
extern PGDLLIMPORT char *pipeline_fleet_server;	/* pipeline.fleet_server */
extern PGDLLIMPORT char *pipeline_server_id;	/* pipeline.server_id */
extern PGDLLIMPORT char *pipeline_fleet_secret;	/* pipeline.fleet_secret */
extern PGDLLIMPORT int pipeline_fleet_lease;	/* pipeline.fleet_lease, s */
extern PGDLLIMPORT int pipeline_fleet_max_receives;	/* pipeline.fleet_max_receives */

extern void settings_define(void);

#endif							/* PIPELINE_SETTINGS_H */
