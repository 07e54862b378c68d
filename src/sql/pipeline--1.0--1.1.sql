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

-- the worker takes up the new schema at once
SELECT pipeline._notify_worker();
