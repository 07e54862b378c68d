/* src/sql/pipeline--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pipeline" to load this file. \quit

-------------------------------------------------------------------------------
-- Read: the pipeline_s3 foreign data wrapper
-------------------------------------------------------------------------------

CREATE FUNCTION pipeline.s3_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'pipeline_s3_fdw_handler'
LANGUAGE C STRICT;

CREATE FUNCTION pipeline.s3_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_s3_fdw_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER pipeline_s3
  HANDLER pipeline.s3_fdw_handler
  VALIDATOR pipeline.s3_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER pipeline_s3 IS
  'S3 objects (gzip or plain; JSON or CSV) as foreign tables';

CREATE FUNCTION pipeline.rejects(
  OUT relation regclass,
  OUT uri text,
  OUT record bigint,
  OUT line bigint,
  OUT error text,
  OUT raw text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_rejects'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION pipeline.rejects() IS
  'records that on_error ''skip'' scans of the last statement that skipped any left out, and why';

-------------------------------------------------------------------------------
-- React: queues, reports, runs
--
-- These tables belong to the extension's owner.  Other roles change them
-- only through the functions below, which check what the caller may do and
-- record the caller as owner; a report always runs as its owner.
-------------------------------------------------------------------------------

CREATE TABLE pipeline.queues (
  name        text PRIMARY KEY,
  url         text NOT NULL,
  server      text NOT NULL,
  owner       regrole NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.queues IS 'SQS queues the worker of this database long-polls';

CREATE TABLE pipeline.reports (
  name             text PRIMARY KEY,
  source           text,
  query            text NOT NULL,
  target           text NOT NULL,
  mode             text NOT NULL DEFAULT 'replace' CHECK (mode IN ('replace', 'append')),
  export           text,
  export_format    text NOT NULL DEFAULT 'json',
  after            text REFERENCES pipeline.reports (name),
  only_if_changed  boolean NOT NULL DEFAULT false,
  timeout          interval NOT NULL,
  server           text,
  webhook          text,
  consumed_hash    text,
  owner            regrole NOT NULL,
  search_path      text,
  enabled          boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.reports IS 'reports: a query whose result is written to a table (and S3) when objects arrive under its source';

CREATE TABLE pipeline.runs (
  id            bigserial PRIMARY KEY,
  report        text NOT NULL,
  trigger       text NOT NULL CHECK (trigger IN ('event', 'manual', 'after')),
  trigger_uris  text[] NOT NULL DEFAULT '{}',
  status        text NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
  started_at    timestamptz NOT NULL,
  finished_at   timestamptz NOT NULL,
  rows          bigint,
  bytes         bigint,
  objects       integer NOT NULL DEFAULT 0,
  error         text,
  export_uri    text
);
CREATE INDEX ON pipeline.runs (report, started_at);
COMMENT ON TABLE pipeline.runs IS 'history of report runs: trigger, status, rows, bytes scanned, error';

CREATE TABLE pipeline.processed (
  report        text NOT NULL,
  bucket        text NOT NULL,
  key           text NOT NULL,
  version       text NOT NULL,
  sequencer     text,
  run_id        bigint NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (report, bucket, key, version)
);
COMMENT ON TABLE pipeline.processed IS 'object versions each report has processed (exactly once)';

CREATE TABLE pipeline.dead_letters (
  id           bigserial PRIMARY KEY,
  queue        text NOT NULL,
  message_id   text,
  body         text NOT NULL,
  reason       text NOT NULL,
  attempts     integer,
  received_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.dead_letters IS 'messages that could not be handled: not an event, or their reports kept failing';

-- the history survives pg_dump
SELECT pg_catalog.pg_extension_config_dump('pipeline.queues', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.reports', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.runs', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.processed', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.dead_letters', '');

-- everyone sees the queues, reports and runs of roles they belong to
ALTER TABLE pipeline.queues ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_queues ON pipeline.queues FOR SELECT
  USING (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_reports ON pipeline.reports FOR SELECT
  USING (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_runs ON pipeline.runs FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = runs.report AND pg_has_role(r.owner, 'MEMBER')));
GRANT USAGE ON SCHEMA pipeline TO PUBLIC;
GRANT SELECT ON pipeline.queues, pipeline.reports, pipeline.runs TO PUBLIC;

-- Compare two S3 sequencers (hex strings of different lengths: right-pad
-- the shorter with zeros), as AWS documents.
CREATE FUNCTION pipeline.sequencer_cmp(a text, b text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN x < y THEN -1 WHEN x > y THEN 1 ELSE 0 END
  FROM (SELECT rpad(upper(a), greatest(length(a), length(b)), '0') COLLATE "C" AS x,
               rpad(upper(b), greatest(length(a), length(b)), '0') COLLATE "C" AS y) s
$$;

CREATE FUNCTION pipeline.add_queue(name text, url text, server text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_add_queue'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.add_queue(text, text, text) IS
  'long-poll an SQS queue (S3 events, directly or through SNS) with the region and your credentials of a pipeline_s3 server';

CREATE FUNCTION pipeline.drop_queue(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_drop_queue'
LANGUAGE C STRICT;

CREATE FUNCTION pipeline.create_report(
  name             text,
  source           text DEFAULT NULL,
  query            text DEFAULT NULL,
  target           text DEFAULT NULL,
  mode             text DEFAULT 'replace',
  export           text DEFAULT NULL,
  after            text DEFAULT NULL,
  only_if_changed  boolean DEFAULT false,
  export_format    text DEFAULT 'json',
  timeout          interval DEFAULT NULL,
  server           text DEFAULT NULL,
  webhook          text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_create_report'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.create_report(text, text, text, text, text, text, text, boolean, text, interval, text, text) IS
  'define a report: its query runs into target when objects arrive under source (or after another report)';

CREATE FUNCTION pipeline.drop_report(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_drop_report'
LANGUAGE C STRICT;

CREATE FUNCTION pipeline.run_report(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_run_report'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.run_report(text) IS
  'run a report now, without an event; returns its id in pipeline.runs';

CREATE FUNCTION pipeline.handle_event(event jsonb,
  OUT report text, OUT run_id bigint, OUT status text, OUT objects integer,
  OUT rows bigint, OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_handle_event'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.handle_event(jsonb) IS
  'what the worker does with one queue message (S3 event, SNS envelope, EventBridge), in this session';

CREATE FUNCTION pipeline.trigger_uris()
RETURNS text[]
AS 'MODULE_PATHNAME', 'pipeline_trigger_uris'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline.trigger_uris() IS
  'inside a report run: the s3:// URIs of the objects that triggered it (empty when run by hand)';

CREATE TABLE pipeline.webhooks (
  id            bigserial PRIMARY KEY,
  report        text NOT NULL,
  run_id        bigint NOT NULL,
  url           text NOT NULL,
  payload       text NOT NULL,
  attempts      integer NOT NULL DEFAULT 0,
  next_attempt  timestamptz NOT NULL DEFAULT now(),
  delivered_at  timestamptz,
  gave_up       boolean NOT NULL DEFAULT false,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON pipeline.webhooks (next_attempt) WHERE delivered_at IS NULL AND NOT gave_up;
COMMENT ON TABLE pipeline.webhooks IS 'run summaries to POST to report webhooks; the worker delivers them after commit, with retries';
SELECT pg_catalog.pg_extension_config_dump('pipeline.webhooks', '');

-------------------------------------------------------------------------------
-- Write: export query results to S3
-------------------------------------------------------------------------------

CREATE FUNCTION pipeline.export(
  query        text,
  uri          text,
  format       text DEFAULT 'json',
  compression  text DEFAULT 'gzip',
  server       text DEFAULT NULL,
  allow_empty  boolean DEFAULT false,
  OUT object text, OUT rows bigint, OUT bytes bigint)
AS 'MODULE_PATHNAME', 'pipeline_export'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.export(text, text, text, text, text, boolean) IS
  'stream a query''s rows to an S3 object: json (one object per row) or csv (with header), gzip or none';

CREATE FUNCTION pipeline._notify_worker()
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_notify_worker'
LANGUAGE C;

CREATE FUNCTION pipeline.queue_stats(
  OUT queue text, OUT worker_pid integer, OUT state text, OUT last_poll timestamptz,
  OUT last_message timestamptz, OUT oldest_pending timestamptz,
  OUT received bigint, OUT deleted bigint, OUT dead_letters bigint,
  OUT runs_succeeded bigint, OUT runs_failed bigint, OUT last_error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_queue_stats'
LANGUAGE C STRICT;

CREATE VIEW pipeline.status AS
  SELECT q.name AS queue, q.url, q.server, q.owner,
         s.worker_pid, coalesce(s.state, 'not polled') AS state,
         s.last_poll, s.last_message, s.oldest_pending,
         coalesce(s.received, 0) AS received, coalesce(s.deleted, 0) AS deleted,
         coalesce(s.dead_letters, 0) AS dead_letters,
         coalesce(s.runs_succeeded, 0) AS runs_succeeded,
         coalesce(s.runs_failed, 0) AS runs_failed,
         s.last_error
  FROM pipeline.queues q LEFT JOIN pipeline.queue_stats() s ON s.queue = q.name;
GRANT SELECT ON pipeline.status TO PUBLIC;
COMMENT ON VIEW pipeline.status IS 'each queue: worker, last poll, messages received, runs, failures, oldest pending event';

-- start this database's worker once CREATE EXTENSION commits
SELECT pipeline._notify_worker();

CREATE FUNCTION pipeline.chart_svg(query text, title text DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_chart_svg' LANGUAGE C;
COMMENT ON FUNCTION pipeline.chart_svg(text, text) IS 'a SELECT''s time series as an SVG chart: x = its first timestamptz/timestamp/date column, lines = its numeric columns, or one line per value of its only text column';
