/* src/sql/pipeline--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pipeline UPDATE TO '1.1'" to load this file. \quit

-------------------------------------------------------------------------------
-- Security: every role sees its own queues only
-------------------------------------------------------------------------------

-- The view read pipeline.queues with its owner's rights (bypassing the
-- row-level security that shows each role the queues of roles it belongs
-- to); read it with the reader's.
ALTER VIEW pipeline.status SET (security_invoker = true);

-------------------------------------------------------------------------------
-- Exactly once when things go wrong
-------------------------------------------------------------------------------

-- Object versions are compared by one rule everywhere: a version id, else
-- the S3 sequencer as AWS compares them (upper case, right-padded with
-- zeros, so trailing zeros do not count), else the ETag.
CREATE FUNCTION pipeline.sequencer_norm(s text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT coalesce(nullif(rtrim(upper(s), '0'), ''), '0') $$;
COMMENT ON FUNCTION pipeline.sequencer_norm(text) IS
  'an S3 sequencer in the form versions are stored and compared in: upper case, trailing zeros dropped';

DELETE FROM pipeline.processed p USING pipeline.processed q
  WHERE p.version = p.sequencer AND q.version = q.sequencer
    AND (p.report, p.bucket, p.key) = (q.report, q.bucket, q.key)
    AND pipeline.sequencer_norm(p.version) = pipeline.sequencer_norm(q.version)
    AND p.ctid > q.ctid;
UPDATE pipeline.processed SET version = pipeline.sequencer_norm(version)
  WHERE version = sequencer;

-- the ETag of each processed version: an out-of-order event is checked
-- against the object before an older version counts as superseded
ALTER TABLE pipeline.processed ADD COLUMN etag text;

-- reports: their own retry schedule, paused or not (enabled)
ALTER TABLE pipeline.reports
  ADD COLUMN max_attempts integer CHECK (max_attempts > 0),
  ADD COLUMN retry_delay interval CHECK (retry_delay >= interval '0');

-- runs: rejected records, and the oldest event time of the objects a run
-- processed (its lag is finished_at - oldest_event)
ALTER TABLE pipeline.runs
  ADD COLUMN rejects bigint NOT NULL DEFAULT 0,
  ADD COLUMN oldest_event timestamptz,
  ADD COLUMN attempt integer;
COMMENT ON COLUMN pipeline.runs.oldest_event IS 'when the oldest object the run processed was created (its S3 event time)';

-- Work to do: objects announced by events, for one report each, and runs
-- of reports chained after another (trigger "after").  The worker inserts
-- them in the transaction that takes messages off the queue, runs them,
-- and deletes them in the transaction of their successful run; a failed
-- one is retried with back-off, and after max_attempts it becomes a dead
-- letter.
CREATE TABLE pipeline.tasks (
  id            bigserial PRIMARY KEY,
  report        text NOT NULL REFERENCES pipeline.reports (name) ON DELETE CASCADE,
  trigger       text NOT NULL CHECK (trigger IN ('event', 'after')),
  bucket        text,
  key           text,
  version       text,
  sequencer     text,
  etag          text,
  size          bigint,
  event_time    timestamptz,
  queue         text,
  message_id    text,
  attempts      integer NOT NULL DEFAULT 0,
  next_attempt  timestamptz NOT NULL DEFAULT now(),
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((trigger = 'event') = (bucket IS NOT NULL AND key IS NOT NULL))
);
CREATE INDEX ON pipeline.tasks (next_attempt);
CREATE INDEX ON pipeline.tasks (report);
CREATE UNIQUE INDEX tasks_after_once ON pipeline.tasks (report) WHERE trigger = 'after';
COMMENT ON TABLE pipeline.tasks IS 'work waiting for the worker: objects to process (once per report) and chained runs, with retries';

-- Events that no report took: kept (pipeline.history_retention) with the
-- reason, so that a report created later can take them (replay_unmatched).
CREATE TABLE pipeline.unmatched (
  id            bigserial PRIMARY KEY,
  queue         text NOT NULL,
  owner         regrole NOT NULL,
  bucket        text NOT NULL,
  key           text NOT NULL,
  version       text NOT NULL,
  sequencer     text,
  etag          text,
  size          bigint,
  event_time    timestamptz,
  reason        text NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON pipeline.unmatched (received_at);
COMMENT ON TABLE pipeline.unmatched IS 'objects announced on a queue that no report took, and why';

-- dead letters: also failed objects of a report, and chained runs
ALTER TABLE pipeline.dead_letters
  ALTER COLUMN queue DROP NOT NULL,
  ADD COLUMN report text,
  ADD COLUMN object text,
  ADD COLUMN version text,
  ADD COLUMN owner regrole;
-- a dead-lettered version is not queued again by a duplicate event
CREATE INDEX ON pipeline.dead_letters (report, object, version) WHERE report IS NOT NULL;
UPDATE pipeline.dead_letters d SET owner = q.owner FROM pipeline.queues q WHERE q.name = d.queue;

-- Exports, staged during the run as a multipart upload that is completed
-- only after the run's transaction commits: nothing reaches S3 (no object,
-- no ObjectCreated event) for a run that rolled back.
CREATE TABLE pipeline.exports (
  id            bigserial PRIMARY KEY,
  run_id        bigint,
  report        text,
  server        text NOT NULL,
  owner         regrole NOT NULL,
  bucket        text NOT NULL,
  key           text NOT NULL,
  upload_id     text NOT NULL,
  etags         text[] NOT NULL,
  rows          bigint NOT NULL,
  bytes         bigint NOT NULL,
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'completed', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  next_attempt  timestamptz NOT NULL DEFAULT now(),
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz
);
CREATE INDEX ON pipeline.exports (next_attempt) WHERE state = 'pending';
COMMENT ON TABLE pipeline.exports IS 'objects written by exports: completed in S3 by the worker once the transaction that wrote them committed';

-- The records that on_error 'skip' scans of a run left out (at most
-- pipeline.max_rejects per run; runs.rejects counts them all).
CREATE TABLE pipeline.run_rejects (
  run_id        bigint NOT NULL,
  uri           text NOT NULL,
  record        bigint,
  line          bigint,
  error         text NOT NULL,
  raw           text
);
CREATE INDEX ON pipeline.run_rejects (run_id);
COMMENT ON TABLE pipeline.run_rejects IS 'records that report runs skipped (on_error ''skip''), and why';

-- What each queue brought, across restarts.
CREATE TABLE pipeline.queue_counters (
  queue         text PRIMARY KEY,
  messages      bigint NOT NULL DEFAULT 0,
  redelivered   bigint NOT NULL DEFAULT 0,
  objects       bigint NOT NULL DEFAULT 0,
  unmatched     bigint NOT NULL DEFAULT 0,
  ignored       bigint NOT NULL DEFAULT 0,
  invalid       bigint NOT NULL DEFAULT 0,
  since         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.queue_counters IS 'messages each queue delivered (first deliveries and redeliveries), objects, unmatched, ignored and invalid';

-- pg_dump dumps the rows of the config tables; their sequences must come
-- along (1.0 forgot them: a restored database would number runs from 1 again)
SELECT pg_catalog.pg_extension_config_dump('pipeline.runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.dead_letters_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.webhooks_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.tasks_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.unmatched_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.exports_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.unmatched', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.exports', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.run_rejects', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.queue_counters', '');

-- each role sees the rows of its own queues and reports
ALTER TABLE pipeline.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.unmatched ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.run_rejects ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.processed ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.queue_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.webhooks ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tasks ON pipeline.tasks FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = tasks.report AND pg_has_role(r.owner, 'MEMBER')));
CREATE POLICY own_unmatched ON pipeline.unmatched FOR SELECT
  USING (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_dead_letters ON pipeline.dead_letters FOR SELECT
  USING (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_exports ON pipeline.exports FOR SELECT
  USING (pg_has_role(owner, 'MEMBER'));
CREATE POLICY own_run_rejects ON pipeline.run_rejects FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.runs u JOIN pipeline.reports r ON r.name = u.report
                 WHERE u.id = run_rejects.run_id AND pg_has_role(r.owner, 'MEMBER')));
CREATE POLICY own_processed ON pipeline.processed FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = processed.report AND pg_has_role(r.owner, 'MEMBER')));
CREATE POLICY own_queue_counters ON pipeline.queue_counters FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.queues q
                 WHERE q.name = queue_counters.queue AND pg_has_role(q.owner, 'MEMBER')));
CREATE POLICY own_webhooks ON pipeline.webhooks FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = webhooks.report AND pg_has_role(r.owner, 'MEMBER')));
GRANT SELECT ON pipeline.tasks, pipeline.unmatched, pipeline.dead_letters, pipeline.exports,
  pipeline.run_rejects, pipeline.processed, pipeline.queue_counters, pipeline.webhooks TO PUBLIC;

-- The health of each report: durable (from the history), not the worker's
-- counters.
CREATE VIEW pipeline.report_status WITH (security_invoker = true) AS
  SELECT r.name AS report,
         CASE WHEN r.enabled THEN 'active' ELSE 'paused' END AS state,
         s.last_success, f.last_failure,
         (SELECT count(*) FROM pipeline.runs x
          WHERE x.report = r.name AND x.status = 'failed'
            AND x.id > coalesce(s.last_success_id, 0)) AS consecutive_failures,
         (SELECT count(*) FROM pipeline.tasks t WHERE t.report = r.name) AS pending,
         (SELECT count(*) FROM pipeline.tasks t
          WHERE t.report = r.name AND t.last_error IS NOT NULL) AS retrying,
         (SELECT count(*) FROM pipeline.dead_letters d WHERE d.report = r.name) AS dead_letters,
         (SELECT min(t.created_at) FROM pipeline.tasks t WHERE t.report = r.name) AS oldest_pending,
         s.last_lag, f.last_error
  FROM pipeline.reports r
  LEFT JOIN LATERAL (
    SELECT u.id AS last_success_id, u.finished_at AS last_success,
           u.finished_at - u.oldest_event AS last_lag
    FROM pipeline.runs u WHERE u.report = r.name AND u.status = 'succeeded'
    ORDER BY u.id DESC LIMIT 1) s ON true
  LEFT JOIN LATERAL (
    SELECT u.finished_at AS last_failure, u.error AS last_error
    FROM pipeline.runs u WHERE u.report = r.name AND u.status = 'failed'
    ORDER BY u.id DESC LIMIT 1) f ON true;
GRANT SELECT ON pipeline.report_status TO PUBLIC;
COMMENT ON VIEW pipeline.report_status IS 'each report: last success and failure, consecutive failures, pending and retrying work, dead letters, lag';

-------------------------------------------------------------------------------
-- Reports: their retry schedule; change, pause and resume them
-------------------------------------------------------------------------------

DROP FUNCTION pipeline.create_report(text, text, text, text, text, text, text, boolean, text,
                                     interval, text, text);
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
  webhook          text DEFAULT NULL,
  max_attempts     integer DEFAULT NULL,
  retry_delay      interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_create_report'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.create_report(text, text, text, text, text, text, text, boolean, text,
                                           interval, text, text, integer, interval) IS
  'define a report: its query runs into target when objects arrive under source (or after another report)';

CREATE FUNCTION pipeline.alter_report(
  name             text,
  source           text DEFAULT NULL,
  query            text DEFAULT NULL,
  target           text DEFAULT NULL,
  mode             text DEFAULT NULL,
  export           text DEFAULT NULL,
  after            text DEFAULT NULL,
  only_if_changed  boolean DEFAULT NULL,
  export_format    text DEFAULT NULL,
  timeout          interval DEFAULT NULL,
  server           text DEFAULT NULL,
  webhook          text DEFAULT NULL,
  max_attempts     integer DEFAULT NULL,
  retry_delay      interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_alter_report'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.alter_report(text, text, text, text, text, text, text, boolean, text,
                                          interval, text, text, integer, interval) IS
  'change a report (NULL keeps a setting, '''' clears source, export, after, server, webhook); its history stays';

CREATE FUNCTION pipeline.pause_report(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_pause_report'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.pause_report(text) IS
  'no runs from events or chains until resume_report: their work waits and runs then';

CREATE FUNCTION pipeline.resume_report(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_resume_report'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.resume_report(text) IS
  'run a paused report again, starting with the work that waited';

CREATE FUNCTION pipeline.retry_dead_letters(report text,
  OUT report text, OUT run_id bigint, OUT status text, OUT objects integer,
  OUT rows bigint, OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_retry_dead_letters'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.retry_dead_letters(text) IS
  'run the dead-lettered work of a report again now (after fixing what made it fail), with fresh attempts';

CREATE FUNCTION pipeline.replay_unmatched(report text DEFAULT NULL,
  OUT report text, OUT run_id bigint, OUT status text, OUT objects integer,
  OUT rows bigint, OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_replay_unmatched'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.replay_unmatched(text) IS
  'run the objects in pipeline.unmatched that a report (default: each of yours) takes now';

-- a table's rows into another at COPY speed, as a report's run writes
CREATE FUNCTION pipeline.load(source regclass, target regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_load'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.load(regclass, regclass) IS
  'every row of source (a pipeline_s3 foreign table, say) into target, by column name, the way COPY writes; returns the rows';

-------------------------------------------------------------------------------
-- Monitoring
-------------------------------------------------------------------------------

-- per queue: the worker's state, and durable counts
CREATE OR REPLACE VIEW pipeline.status WITH (security_invoker = true) AS
  SELECT q.name AS queue, q.url, q.server, q.owner,
         s.worker_pid, coalesce(s.state, 'not polled') AS state,
         s.last_poll, s.last_message,
         (SELECT min(t.created_at) FROM pipeline.tasks t WHERE t.queue = q.name) AS oldest_pending,
         coalesce(c.messages, 0) AS received, coalesce(s.deleted, 0) AS deleted,
         (SELECT count(*) FROM pipeline.dead_letters d WHERE d.queue = q.name) AS dead_letters,
         coalesce(s.runs_succeeded, 0) AS runs_succeeded,
         coalesce(s.runs_failed, 0) AS runs_failed,
         s.last_error,
         coalesce(c.redelivered, 0) AS redelivered,
         coalesce(c.objects, 0) AS objects,
         coalesce(c.unmatched, 0) AS unmatched,
         coalesce(c.ignored, 0) AS ignored,
         coalesce(c.invalid, 0) AS invalid,
         (SELECT count(*) FROM pipeline.tasks t WHERE t.queue = q.name) AS pending
  FROM pipeline.queues q
  LEFT JOIN pipeline.queue_stats() s ON s.queue = q.name
  LEFT JOIN pipeline.queue_counters c ON c.queue = q.name;
COMMENT ON VIEW pipeline.status IS 'each queue: worker state, last poll, messages received (first deliveries) and redelivered, objects, unmatched, pending work, dead letters, runs';

-- long work in progress, as pg_stat_progress_copy shows a COPY
CREATE FUNCTION pipeline.progress_info(
  OUT pid integer, OUT leader_pid integer, OUT userid oid, OUT kind text, OUT what text,
  OUT within text, OUT objects_done bigint, OUT objects_total bigint, OUT bytes bigint,
  OUT rows bigint, OUT rejects bigint, OUT started_at timestamptz, OUT elapsed float8,
  OUT remaining float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_progress'
LANGUAGE C STRICT;
CREATE VIEW pipeline.progress WITH (security_invoker = true) AS
  SELECT p.pid, p.leader_pid, p.userid::regrole AS usename, p.kind, p.what, p.within,
         p.objects_done, p.objects_total, p.bytes, p.rows, p.rejects, p.started_at,
         make_interval(secs => p.elapsed) AS elapsed,
         make_interval(secs => p.remaining) AS remaining
  FROM pipeline.progress_info() p;
GRANT SELECT ON pipeline.progress TO PUBLIC;
COMMENT ON VIEW pipeline.progress IS 'long scans, exports and report runs under way in this database: objects done of total, bytes, rows, rejects, elapsed, an estimate of what is left';

-- charts with options: axis labels, size, lines or bars (chart_svg keeps
-- its first two arguments; a report's exported chart takes set_chart's)
DROP FUNCTION pipeline.chart_svg(text, text);
CREATE FUNCTION pipeline.chart_svg(query text, title text DEFAULT NULL,
  x_label text DEFAULT NULL, y_label text DEFAULT NULL,
  width integer DEFAULT 960, height integer DEFAULT 480, kind text DEFAULT 'line')
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_chart_svg' LANGUAGE C;
COMMENT ON FUNCTION pipeline.chart_svg(text, text, text, text, integer, integer, text) IS
  'a SELECT''s time series as an SVG chart: x = its first timestamptz/timestamp/date column, one line (or bars: kind => ''bar'') per numeric column or per value of its only text column; width 320-4096, height 200-4096 pixels';

CREATE TABLE pipeline.charts (
  report   text PRIMARY KEY REFERENCES pipeline.reports (name) ON DELETE CASCADE,
  title    text,
  x_label  text,
  y_label  text,
  width    integer CHECK (width BETWEEN 320 AND 4096),
  height   integer CHECK (height BETWEEN 200 AND 4096),
  kind     text CHECK (kind IN ('line', 'bar'))
);
COMMENT ON TABLE pipeline.charts IS 'how the chart a report exports (export_format ''svg'') looks; NULL: the default (title: the report''s name)';
SELECT pg_catalog.pg_extension_config_dump('pipeline.charts', '');
ALTER TABLE pipeline.charts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_charts ON pipeline.charts FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = charts.report AND pg_has_role(r.owner, 'MEMBER')));
GRANT SELECT ON pipeline.charts TO PUBLIC;

CREATE FUNCTION pipeline.set_chart(report text, title text DEFAULT NULL,
  x_label text DEFAULT NULL, y_label text DEFAULT NULL,
  width integer DEFAULT NULL, height integer DEFAULT NULL, kind text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_set_chart' LANGUAGE C;
COMMENT ON FUNCTION pipeline.set_chart(text, text, text, text, integer, integer, text) IS
  'how the chart report exports looks (export_format ''svg''): title, axis labels, size, ''line'' or ''bar''; NULL keeps the default; the report''s owner only';

-- signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp,
-- webhook-signature); secrets readable by no one but superusers
CREATE TABLE pipeline.webhook_secrets (
  report           text PRIMARY KEY REFERENCES pipeline.reports (name) ON DELETE CASCADE,
  secret           text NOT NULL,
  previous_secret  text,
  previous_until   timestamptz,
  rotated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.webhook_secrets IS 'the secret each report''s webhook deliveries are signed with (and the rotated-out one, until previous_until); not readable by ordinary roles';
SELECT pg_catalog.pg_extension_config_dump('pipeline.webhook_secrets', '');
REVOKE ALL ON pipeline.webhook_secrets FROM PUBLIC;

CREATE FUNCTION pipeline.rotate_webhook_secret(report text,
  keep_previous interval DEFAULT '24 hours')
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_rotate_webhook_secret' LANGUAGE C;
COMMENT ON FUNCTION pipeline.rotate_webhook_secret(text, interval) IS
  'a new secret for the report''s webhook signatures, returned once (whsec_...); the previous one still signs for keep_previous; the report''s owner only';
CREATE FUNCTION pipeline.drop_webhook_secret(report text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_drop_webhook_secret' LANGUAGE C;
COMMENT ON FUNCTION pipeline.drop_webhook_secret(text) IS
  'the report''s webhook deliveries go unsigned again; the report''s owner only';

-- \d+ and \df+ explain every object: the functions and columns 1.0 left bare
COMMENT ON FUNCTION pipeline._notify_worker() IS 'internal: wakes the database''s worker when the calling transaction commits (the extension scripts call it)';
COMMENT ON FUNCTION pipeline.drop_queue(text) IS 'stop polling a queue and forget it (its counters too); the queue''s owner only';
COMMENT ON FUNCTION pipeline.drop_report(text) IS 'drop a report, its waiting work and its processed versions; its runs stay in pipeline.runs; the report''s owner only';
COMMENT ON FUNCTION pipeline.progress_info() IS 'internal: the rows of pipeline.progress (this database''s backends'' long work)';
COMMENT ON FUNCTION pipeline.queue_stats() IS 'internal: the worker''s live state per queue (pid, state, last poll, deleted, runs), for pipeline.status';
COMMENT ON FUNCTION pipeline.s3_fdw_handler() IS 'the pipeline_s3 foreign data wrapper''s handler';
COMMENT ON FUNCTION pipeline.s3_fdw_validator(text[], oid) IS 'checks the options of pipeline_s3 servers, user mappings, tables and columns';
COMMENT ON FUNCTION pipeline.sequencer_cmp(text, text) IS 'compare two S3 sequencers as AWS documents (hex, right-padded): -1, 0 or 1';

COMMENT ON COLUMN pipeline.queues.name IS 'the queue''s name in this database';
COMMENT ON COLUMN pipeline.queues.url IS 'the SQS queue URL the worker long-polls';
COMMENT ON COLUMN pipeline.queues.server IS 'the pipeline_s3 server whose region, endpoint and (owner''s) user mapping reach the queue';
COMMENT ON COLUMN pipeline.queues.owner IS 'who added the queue: its events reach only reports whose owner''s rights this role has';
COMMENT ON COLUMN pipeline.queues.created_at IS 'when the queue was added';

COMMENT ON COLUMN pipeline.reports.name IS 'the report''s name';
COMMENT ON COLUMN pipeline.reports.source IS 's3:// prefix whose new objects run the report (NULL: only by hand or after another report)';
COMMENT ON COLUMN pipeline.reports.query IS 'the SELECT whose result is written to the target table, run as the owner';
COMMENT ON COLUMN pipeline.reports.target IS 'the table the result is written to';
COMMENT ON COLUMN pipeline.reports.mode IS 'replace: the target holds the last result; append: results accumulate';
COMMENT ON COLUMN pipeline.reports.export IS 's3:// object or prefix the result is exported to after each run (NULL: none)';
COMMENT ON COLUMN pipeline.reports.export_format IS 'json (gzip JSON lines), csv or svg (a chart, see pipeline.set_chart)';
COMMENT ON COLUMN pipeline.reports.after IS 'the report after whose successful runs this one runs (chaining inside PostgreSQL)';
COMMENT ON COLUMN pipeline.reports.only_if_changed IS 'with after: run only if the upstream result changed';
COMMENT ON COLUMN pipeline.reports.timeout IS 'a run taking longer is cancelled and recorded failed';
COMMENT ON COLUMN pipeline.reports.server IS 'the pipeline_s3 server exports go through (NULL: pipeline.default_server)';
COMMENT ON COLUMN pipeline.reports.webhook IS 'URL each run''s summary is POSTed to after commit (NULL: none)';
COMMENT ON COLUMN pipeline.reports.consumed_hash IS 'internal: fingerprint of the upstream result the last run consumed (only_if_changed)';
COMMENT ON COLUMN pipeline.reports.owner IS 'the role the report''s query runs as';
COMMENT ON COLUMN pipeline.reports.search_path IS 'the owner''s search_path when the report was created: its query runs with it (pg_temp last)';
COMMENT ON COLUMN pipeline.reports.enabled IS 'false while paused: its work waits in pipeline.tasks';
COMMENT ON COLUMN pipeline.reports.created_at IS 'when the report was created';
COMMENT ON COLUMN pipeline.reports.max_attempts IS 'runs of one object before it becomes a dead letter (NULL: pipeline.max_attempts)';
COMMENT ON COLUMN pipeline.reports.retry_delay IS 'first delay before a failed object is retried, doubling (NULL: pipeline.retry_delay)';

COMMENT ON COLUMN pipeline.runs.id IS 'the run''s id (also the NOTIFY pipeline_runs payload and the webhook summary''s id)';
COMMENT ON COLUMN pipeline.runs.report IS 'the report that ran';
COMMENT ON COLUMN pipeline.runs.trigger IS 'event (objects arrived), manual (run_report) or after (chained)';
COMMENT ON COLUMN pipeline.runs.trigger_uris IS 'the s3:// objects the run processed';
COMMENT ON COLUMN pipeline.runs.status IS 'succeeded, failed or skipped (only_if_changed found nothing new)';
COMMENT ON COLUMN pipeline.runs.started_at IS 'when the run started';
COMMENT ON COLUMN pipeline.runs.finished_at IS 'when the run ended';
COMMENT ON COLUMN pipeline.runs.rows IS 'rows written to the target';
COMMENT ON COLUMN pipeline.runs.bytes IS 'bytes read from S3 by the run''s scans, parallel workers included';
COMMENT ON COLUMN pipeline.runs.objects IS 'number of objects the run processed';
COMMENT ON COLUMN pipeline.runs.error IS 'why a failed run failed';
COMMENT ON COLUMN pipeline.runs.export_uri IS 'the object the run exported (NULL: none)';
COMMENT ON COLUMN pipeline.runs.rejects IS 'records the run''s scans skipped (on_error ''skip''; see pipeline.run_rejects)';
COMMENT ON COLUMN pipeline.runs.attempt IS 'which attempt at its objects this run was (1: the first)';

COMMENT ON COLUMN pipeline.processed.report IS 'the report that processed the object version';
COMMENT ON COLUMN pipeline.processed.bucket IS 'the object''s bucket';
COMMENT ON COLUMN pipeline.processed.key IS 'the object''s key';
COMMENT ON COLUMN pipeline.processed.version IS 'the version processed: S3 version id, else sequencer, else ETag';
COMMENT ON COLUMN pipeline.processed.sequencer IS 'the event''s S3 sequencer (orders events of one key)';
COMMENT ON COLUMN pipeline.processed.run_id IS 'the run that processed it';
COMMENT ON COLUMN pipeline.processed.processed_at IS 'when it was processed';
COMMENT ON COLUMN pipeline.processed.etag IS 'the object''s ETag as announced';

COMMENT ON COLUMN pipeline.dead_letters.id IS 'the dead letter''s id';
COMMENT ON COLUMN pipeline.dead_letters.queue IS 'the queue the message came from (NULL for a report''s failed object or chained run)';
COMMENT ON COLUMN pipeline.dead_letters.message_id IS 'the SQS message id';
COMMENT ON COLUMN pipeline.dead_letters.body IS 'the message body, or a description of the failed work';
COMMENT ON COLUMN pipeline.dead_letters.reason IS 'why it could not be handled (the last error)';
COMMENT ON COLUMN pipeline.dead_letters.attempts IS 'attempts made';
COMMENT ON COLUMN pipeline.dead_letters.received_at IS 'when it became a dead letter';
COMMENT ON COLUMN pipeline.dead_letters.report IS 'the report that kept failing on it (NULL: a message no report could use)';
COMMENT ON COLUMN pipeline.dead_letters.object IS 'the s3:// object (NULL: a chained run or a message)';
COMMENT ON COLUMN pipeline.dead_letters.version IS 'the object version (retry_dead_letters runs it again)';
COMMENT ON COLUMN pipeline.dead_letters.owner IS 'whose dead letter it is (the report''s or the queue''s owner)';

COMMENT ON COLUMN pipeline.webhooks.id IS 'the delivery''s id (in the webhook-id header)';
COMMENT ON COLUMN pipeline.webhooks.report IS 'the report whose run it summarizes';
COMMENT ON COLUMN pipeline.webhooks.run_id IS 'the run it summarizes';
COMMENT ON COLUMN pipeline.webhooks.url IS 'where it is POSTed';
COMMENT ON COLUMN pipeline.webhooks.payload IS 'the JSON summary POSTed';
COMMENT ON COLUMN pipeline.webhooks.attempts IS 'POSTs made';
COMMENT ON COLUMN pipeline.webhooks.next_attempt IS 'when the next POST is due';
COMMENT ON COLUMN pipeline.webhooks.delivered_at IS 'when the receiver answered 2xx (NULL: not yet)';
COMMENT ON COLUMN pipeline.webhooks.gave_up IS 'true after pipeline.webhook_max_attempts, or if the URL is refused';
COMMENT ON COLUMN pipeline.webhooks.last_error IS 'the last failure (HTTP status or transfer error)';
COMMENT ON COLUMN pipeline.webhooks.created_at IS 'when the run committed it';

COMMENT ON COLUMN pipeline.tasks.id IS 'the task''s id';
COMMENT ON COLUMN pipeline.tasks.report IS 'the report to run';
COMMENT ON COLUMN pipeline.tasks.trigger IS 'event (an object to process) or after (a chained run)';
COMMENT ON COLUMN pipeline.tasks.bucket IS 'the object''s bucket (event)';
COMMENT ON COLUMN pipeline.tasks.key IS 'the object''s key (event)';
COMMENT ON COLUMN pipeline.tasks.version IS 'the object version to process (event)';
COMMENT ON COLUMN pipeline.tasks.sequencer IS 'the event''s S3 sequencer';
COMMENT ON COLUMN pipeline.tasks.etag IS 'the object''s ETag as announced';
COMMENT ON COLUMN pipeline.tasks.size IS 'the object''s size as announced';
COMMENT ON COLUMN pipeline.tasks.event_time IS 'when S3 announced the object (for lag)';
COMMENT ON COLUMN pipeline.tasks.queue IS 'the queue the event came from (NULL: handle_event or a chain)';
COMMENT ON COLUMN pipeline.tasks.message_id IS 'the SQS message that announced it';
COMMENT ON COLUMN pipeline.tasks.attempts IS 'runs tried so far';
COMMENT ON COLUMN pipeline.tasks.next_attempt IS 'when it is due (back-off after a failure)';
COMMENT ON COLUMN pipeline.tasks.last_error IS 'why the last attempt failed (NULL: not tried yet)';
COMMENT ON COLUMN pipeline.tasks.created_at IS 'when the work arrived';

COMMENT ON COLUMN pipeline.unmatched.id IS 'the entry''s id';
COMMENT ON COLUMN pipeline.unmatched.queue IS 'the queue that announced the object';
COMMENT ON COLUMN pipeline.unmatched.owner IS 'the queue''s owner';
COMMENT ON COLUMN pipeline.unmatched.bucket IS 'the object''s bucket';
COMMENT ON COLUMN pipeline.unmatched.key IS 'the object''s key';
COMMENT ON COLUMN pipeline.unmatched.version IS 'the object version';
COMMENT ON COLUMN pipeline.unmatched.sequencer IS 'the event''s S3 sequencer';
COMMENT ON COLUMN pipeline.unmatched.etag IS 'the object''s ETag as announced';
COMMENT ON COLUMN pipeline.unmatched.size IS 'the object''s size as announced';
COMMENT ON COLUMN pipeline.unmatched.event_time IS 'when S3 announced it';
COMMENT ON COLUMN pipeline.unmatched.reason IS 'why no report took it (no source matches, or only reports the queue''s owner may not run)';
COMMENT ON COLUMN pipeline.unmatched.received_at IS 'when it arrived (kept for pipeline.history_retention; replay_unmatched takes it up)';

COMMENT ON COLUMN pipeline.exports.id IS 'the export''s id';
COMMENT ON COLUMN pipeline.exports.run_id IS 'the run that exported it (NULL: pipeline.export)';
COMMENT ON COLUMN pipeline.exports.report IS 'the report that exported it (NULL: pipeline.export)';
COMMENT ON COLUMN pipeline.exports.server IS 'the pipeline_s3 server it goes through';
COMMENT ON COLUMN pipeline.exports.owner IS 'whose credentials complete it';
COMMENT ON COLUMN pipeline.exports.bucket IS 'the object''s bucket';
COMMENT ON COLUMN pipeline.exports.key IS 'the object''s key';
COMMENT ON COLUMN pipeline.exports.upload_id IS 'the multipart upload holding the parts';
COMMENT ON COLUMN pipeline.exports.etags IS 'the parts'' ETags, in order';
COMMENT ON COLUMN pipeline.exports.rows IS 'rows exported';
COMMENT ON COLUMN pipeline.exports.bytes IS 'the object''s size';
COMMENT ON COLUMN pipeline.exports.state IS 'pending (waiting for commit and completion), completed or failed';
COMMENT ON COLUMN pipeline.exports.attempts IS 'attempts to complete the upload';
COMMENT ON COLUMN pipeline.exports.next_attempt IS 'when the next attempt is due';
COMMENT ON COLUMN pipeline.exports.last_error IS 'why the last attempt failed';
COMMENT ON COLUMN pipeline.exports.created_at IS 'when the parts were staged';
COMMENT ON COLUMN pipeline.exports.completed_at IS 'when the object appeared in S3';

COMMENT ON COLUMN pipeline.run_rejects.run_id IS 'the run whose scan skipped the record';
COMMENT ON COLUMN pipeline.run_rejects.uri IS 'the s3:// object it is in';
COMMENT ON COLUMN pipeline.run_rejects.record IS 'its number in the object (from 1)';
COMMENT ON COLUMN pipeline.run_rejects.line IS 'its line in the object, where lines apply';
COMMENT ON COLUMN pipeline.run_rejects.error IS 'why it was skipped';
COMMENT ON COLUMN pipeline.run_rejects.raw IS 'the start of the record as read';

COMMENT ON COLUMN pipeline.queue_counters.queue IS 'the queue';
COMMENT ON COLUMN pipeline.queue_counters.messages IS 'messages received the first time';
COMMENT ON COLUMN pipeline.queue_counters.redelivered IS 'messages received again (ApproximateReceiveCount > 1)';
COMMENT ON COLUMN pipeline.queue_counters.objects IS 'object events that found a report';
COMMENT ON COLUMN pipeline.queue_counters.unmatched IS 'object events no report took (pipeline.unmatched)';
COMMENT ON COLUMN pipeline.queue_counters.ignored IS 'messages that are not object-created events (test events, deletions)';
COMMENT ON COLUMN pipeline.queue_counters.invalid IS 'messages that could not be parsed (dead letters)';
COMMENT ON COLUMN pipeline.queue_counters.since IS 'when counting started';

COMMENT ON COLUMN pipeline.charts.report IS 'the report whose exported chart this describes';
COMMENT ON COLUMN pipeline.charts.title IS 'the chart''s title (NULL: the report''s name)';
COMMENT ON COLUMN pipeline.charts.x_label IS 'caption under the x axis (NULL: none)';
COMMENT ON COLUMN pipeline.charts.y_label IS 'caption of the y axis (NULL: the only value column''s name)';
COMMENT ON COLUMN pipeline.charts.width IS 'width in pixels (NULL: 960)';
COMMENT ON COLUMN pipeline.charts.height IS 'height in pixels (NULL: 480)';
COMMENT ON COLUMN pipeline.charts.kind IS 'line or bar (NULL: line)';

COMMENT ON COLUMN pipeline.webhook_secrets.report IS 'the report whose deliveries are signed';
COMMENT ON COLUMN pipeline.webhook_secrets.secret IS 'the signing secret (whsec_ + base64 key)';
COMMENT ON COLUMN pipeline.webhook_secrets.previous_secret IS 'the secret it replaced, still signing until previous_until';
COMMENT ON COLUMN pipeline.webhook_secrets.previous_until IS 'until when the previous secret signs too';
COMMENT ON COLUMN pipeline.webhook_secrets.rotated_at IS 'when the secret was last made';

COMMENT ON COLUMN pipeline.status.queue IS 'the queue';
COMMENT ON COLUMN pipeline.status.url IS 'its SQS URL';
COMMENT ON COLUMN pipeline.status.server IS 'the pipeline_s3 server it is reached through';
COMMENT ON COLUMN pipeline.status.owner IS 'who added it';
COMMENT ON COLUMN pipeline.status.worker_pid IS 'the database''s worker (NULL: not running)';
COMMENT ON COLUMN pipeline.status.state IS 'the worker''s state for the queue: polling, backing off, ...';
COMMENT ON COLUMN pipeline.status.last_poll IS 'when the worker last asked the queue for messages';
COMMENT ON COLUMN pipeline.status.last_message IS 'when the last message arrived';
COMMENT ON COLUMN pipeline.status.oldest_pending IS 'when the oldest work from this queue still waiting arrived';
COMMENT ON COLUMN pipeline.status.received IS 'messages received since the worker started';
COMMENT ON COLUMN pipeline.status.deleted IS 'messages deleted from the queue since the worker started';
COMMENT ON COLUMN pipeline.status.dead_letters IS 'dead letters from this queue';
COMMENT ON COLUMN pipeline.status.runs_succeeded IS 'runs succeeded since the worker started';
COMMENT ON COLUMN pipeline.status.runs_failed IS 'runs failed since the worker started';
COMMENT ON COLUMN pipeline.status.last_error IS 'the worker''s last error for the queue';
COMMENT ON COLUMN pipeline.status.redelivered IS 'messages received again (durable)';
COMMENT ON COLUMN pipeline.status.objects IS 'object events that found a report (durable)';
COMMENT ON COLUMN pipeline.status.unmatched IS 'object events no report took (durable)';
COMMENT ON COLUMN pipeline.status.ignored IS 'messages that are not object-created events (durable)';
COMMENT ON COLUMN pipeline.status.invalid IS 'messages that could not be parsed (durable)';
COMMENT ON COLUMN pipeline.status.pending IS 'work from this queue waiting in pipeline.tasks';

COMMENT ON COLUMN pipeline.report_status.report IS 'the report';
COMMENT ON COLUMN pipeline.report_status.state IS 'active or paused';
COMMENT ON COLUMN pipeline.report_status.last_success IS 'when its last successful run ended';
COMMENT ON COLUMN pipeline.report_status.last_failure IS 'when its last failed run ended';
COMMENT ON COLUMN pipeline.report_status.consecutive_failures IS 'failed runs since the last success';
COMMENT ON COLUMN pipeline.report_status.pending IS 'its work waiting in pipeline.tasks';
COMMENT ON COLUMN pipeline.report_status.retrying IS 'its waiting work that failed before';
COMMENT ON COLUMN pipeline.report_status.dead_letters IS 'its dead letters';
COMMENT ON COLUMN pipeline.report_status.oldest_pending IS 'when its oldest waiting work arrived';
COMMENT ON COLUMN pipeline.report_status.last_lag IS 'from the oldest event to the end of its last successful run';
COMMENT ON COLUMN pipeline.report_status.last_error IS 'why its last failed run failed';

COMMENT ON COLUMN pipeline.progress.pid IS 'the backend doing the work';
COMMENT ON COLUMN pipeline.progress.leader_pid IS 'the parallel leader, for a parallel worker''s share of a scan';
COMMENT ON COLUMN pipeline.progress.usename IS 'the role the work runs as';
COMMENT ON COLUMN pipeline.progress.kind IS 'run, export or scan';
COMMENT ON COLUMN pipeline.progress.what IS 'the report, object or table';
COMMENT ON COLUMN pipeline.progress.within IS 'the work it is part of (the run an export belongs to)';
COMMENT ON COLUMN pipeline.progress.objects_done IS 'objects finished';
COMMENT ON COLUMN pipeline.progress.objects_total IS 'objects in all (NULL: not known yet)';
COMMENT ON COLUMN pipeline.progress.bytes IS 'bytes read or written so far';
COMMENT ON COLUMN pipeline.progress.rows IS 'rows so far';
COMMENT ON COLUMN pipeline.progress.rejects IS 'records skipped so far';
COMMENT ON COLUMN pipeline.progress.started_at IS 'when the work started';
COMMENT ON COLUMN pipeline.progress.elapsed IS 'time since it started';
COMMENT ON COLUMN pipeline.progress.remaining IS 'an estimate of what is left, at the pace so far';

-- the worker takes up the new schema at once
SELECT pipeline._notify_worker();
