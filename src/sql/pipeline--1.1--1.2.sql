/* src/sql/pipeline--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pipeline UPDATE TO '1.2'" to load this file. \quit

-- Version 1.1 is released: every schema change from here on goes in this
-- script, one block per feature, each under a header naming it.

-------------------------------------------------------------------------------
-- Scaling out: a fleet of servers sharing the queues (pipeline.fleet)
--
-- Each object version's work is claimed across the fleet in S3 (a claim
-- object per report and version, written with If-None-Match / If-Match);
-- pipeline.fleet_claims is this database's side of it: the claims whose runs
-- committed here, to be marked done (or dead) in S3 after the commit (the
-- outbox of the marks), and versions another server settled (so that their
-- events run nothing here, without a request).
-------------------------------------------------------------------------------

-- a held message is deleted once no task of it is left: found by message id
CREATE INDEX ON pipeline.tasks (message_id) WHERE message_id IS NOT NULL;

CREATE TABLE pipeline.fleet_claims (
  report        text NOT NULL,
  bucket        text NOT NULL,
  key           text NOT NULL,
  version       text NOT NULL,
  claim         text NOT NULL,
  holder        text NOT NULL,
  state         text NOT NULL CHECK (state IN ('held', 'done', 'dead')),
  run_id        bigint,
  etag          text,
  token         text,
  marked        boolean NOT NULL DEFAULT false,
  lost          boolean NOT NULL DEFAULT false,
  attempts      integer NOT NULL DEFAULT 0,
  next_attempt  timestamptz NOT NULL DEFAULT now(),
  last_error    text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (report, bucket, key, version)
);
CREATE INDEX ON pipeline.fleet_claims (next_attempt) WHERE NOT marked;
COMMENT ON TABLE pipeline.fleet_claims IS 'the fleet''s claims as this database knows them: ran here (held, done, dead; marked in S3 after commit) or settled by another server (holder)';
COMMENT ON COLUMN pipeline.fleet_claims.holder IS 'the server (server_id/database) that holds or settled the claim';
COMMENT ON COLUMN pipeline.fleet_claims.marked IS 'S3 says so: the claim object carries this state';
COMMENT ON COLUMN pipeline.fleet_claims.lost IS 'the claim was found taken over when it was marked: the work ran on two servers';
COMMENT ON COLUMN pipeline.fleet_claims.report IS 'the report whose work the claim is for';
COMMENT ON COLUMN pipeline.fleet_claims.bucket IS 'the object''s bucket';
COMMENT ON COLUMN pipeline.fleet_claims.key IS 'the object''s key';
COMMENT ON COLUMN pipeline.fleet_claims.version IS 'the object version (version id, S3 sequencer or ETag)';
COMMENT ON COLUMN pipeline.fleet_claims.claim IS 'the claim object''s key under pipeline.fleet';
COMMENT ON COLUMN pipeline.fleet_claims.state IS 'held (ours, a retry waits), done (processed by holder), dead (given up on by holder)';
COMMENT ON COLUMN pipeline.fleet_claims.run_id IS 'the run that settled it here (pipeline.runs.id), if it ran here';
COMMENT ON COLUMN pipeline.fleet_claims.etag IS 'the claim object''s ETag as last written by this server (for If-Match)';
COMMENT ON COLUMN pipeline.fleet_claims.token IS 'the random token this server wrote into the claim (was it ours?)';
COMMENT ON COLUMN pipeline.fleet_claims.attempts IS 'attempts at marking the claim in S3 that failed';
COMMENT ON COLUMN pipeline.fleet_claims.next_attempt IS 'when marking is tried again';
COMMENT ON COLUMN pipeline.fleet_claims.last_error IS 'why the last attempt at marking failed';
COMMENT ON COLUMN pipeline.fleet_claims.updated_at IS 'when the row last changed';
SELECT pg_catalog.pg_extension_config_dump('pipeline.fleet_claims', '');
ALTER TABLE pipeline.fleet_claims ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_fleet_claims ON pipeline.fleet_claims FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = fleet_claims.report AND pg_has_role(r.owner, 'MEMBER')));
GRANT SELECT ON pipeline.fleet_claims TO PUBLIC;

-- the servers of the fleet, from their heartbeat objects in S3
CREATE FUNCTION pipeline.fleet_info(
  OUT server text, OUT database text, OUT me boolean, OUT heartbeat timestamptz,
  OUT alive boolean, OUT lease integer, OUT valid boolean, OUT report text,
  OUT held text[], OUT ran bigint, OUT gave_up bigint, OUT claims bigint, OUT takeovers bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_fleet_info'
LANGUAGE C STRICT VOLATILE;
CREATE VIEW pipeline.fleet WITH (security_invoker = true) AS
  SELECT server, database, me, heartbeat, alive, lease, valid, report, held, ran, gave_up,
         claims, takeovers
  FROM pipeline.fleet_info();
GRANT SELECT ON pipeline.fleet TO PUBLIC;
COMMENT ON FUNCTION pipeline.fleet_info() IS 'the servers of the fleet, from their heartbeat objects in S3 (what pipeline.fleet shows)';
COMMENT ON COLUMN pipeline.fleet.server IS 'the server''s pipeline.server_id';
COMMENT ON COLUMN pipeline.fleet.database IS 'its database';
COMMENT ON COLUMN pipeline.fleet.me IS 'this server and database';
COMMENT ON COLUMN pipeline.fleet.heartbeat IS 'when S3 last heard from it (the heartbeat object''s Last-Modified, S3''s clock)';
COMMENT ON COLUMN pipeline.fleet.alive IS 'its heartbeat is younger than its lease';
COMMENT ON COLUMN pipeline.fleet.lease IS 'its pipeline.fleet_lease, seconds';
COMMENT ON COLUMN pipeline.fleet.valid IS 'its heartbeat object''s signature verifies (true without pipeline.fleet_secret)';
COMMENT ON COLUMN pipeline.fleet.report IS 'a report you may see (one row per report it holds or ran; NULL: none)';
COMMENT ON COLUMN pipeline.fleet.held IS 'the objects of that report whose claims it holds';
COMMENT ON COLUMN pipeline.fleet.ran IS 'object versions of that report it processed';
COMMENT ON COLUMN pipeline.fleet.gave_up IS 'object versions of that report it gave up on (dead letters there)';
COMMENT ON COLUMN pipeline.fleet.claims IS 'claims it took since its worker started';
COMMENT ON COLUMN pipeline.fleet.takeovers IS 'of them, taken over from a holder whose lease ran out';
COMMENT ON VIEW pipeline.fleet IS 'the servers of the fleet (pipeline.fleet): heartbeat by S3''s clock, alive, and per report you may see: the claims each holds and what it ran';

-- one claim, as S3 holds it now
CREATE FUNCTION pipeline.fleet_claim(report text, uri text, version text,
  OUT claim text, OUT holder text, OUT state text, OUT lease integer, OUT written timestamptz,
  OUT expired boolean, OUT run_id bigint, OUT etag text, OUT valid boolean,
  OUT invalid_reason text, OUT previous text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_fleet_claim'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline.fleet_claim(text, text, text) IS
  'the fleet''s claim of one object version for one of your reports, as S3 holds it now (NULLs: none)';

-------------------------------------------------------------------------------
-- Intake: backfill, listing intake, schedules, scan budgets and costs
--
-- Objects already in S3 (pipeline.backfill), objects found by listing a
-- source (for buckets without notifications) and scheduled runs become
-- tasks like events do, run by the worker and recorded in the same ledger
-- (pipeline.processed): an object version is processed once, whichever
-- way it came.
-------------------------------------------------------------------------------

-- new triggers of runs and tasks
ALTER TABLE pipeline.runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE pipeline.runs ADD CONSTRAINT runs_trigger_check
  CHECK (trigger IN ('event', 'manual', 'after', 'backfill', 'listing', 'schedule'));
ALTER TABLE pipeline.tasks DROP CONSTRAINT tasks_trigger_check;
ALTER TABLE pipeline.tasks DROP CONSTRAINT tasks_check;
ALTER TABLE pipeline.tasks ADD CONSTRAINT tasks_trigger_check
  CHECK (trigger IN ('event', 'after', 'backfill', 'listing', 'schedule'));
ALTER TABLE pipeline.tasks ADD CONSTRAINT tasks_check
  CHECK ((trigger IN ('event', 'backfill', 'listing')) = (bucket IS NOT NULL AND key IS NOT NULL));

-- the backfill a task belongs to; the tick a scheduled task stands for
ALTER TABLE pipeline.tasks
  ADD COLUMN backfill bigint,
  ADD COLUMN scheduled_for timestamptz;
-- one scheduled run waits at most (missed ticks run once)
CREATE UNIQUE INDEX tasks_schedule_once ON pipeline.tasks (report) WHERE trigger = 'schedule';
-- "is this object waiting already?", asked for every object a listing finds
CREATE INDEX tasks_object ON pipeline.tasks (report, bucket, key) WHERE bucket IS NOT NULL;
CREATE INDEX tasks_backfill ON pipeline.tasks (backfill) WHERE backfill IS NOT NULL;
COMMENT ON COLUMN pipeline.tasks.backfill IS 'the backfill (pipeline.backfills.id) the object is part of; NULL if none';
COMMENT ON COLUMN pipeline.tasks.scheduled_for IS 'for a scheduled run: the tick it stands for';

-- reports: a schedule (cron or interval) and its next tick; a scan budget
ALTER TABLE pipeline.reports
  ADD COLUMN schedule text,
  ADD COLUMN next_run timestamptz,
  ADD COLUMN max_bytes_scanned bigint CHECK (max_bytes_scanned > 0);
COMMENT ON COLUMN pipeline.reports.schedule IS 'when the report also runs: a cron expression (UTC) or an interval; NULL: never on a schedule';
COMMENT ON COLUMN pipeline.reports.next_run IS 'the next tick of its schedule';
COMMENT ON COLUMN pipeline.reports.max_bytes_scanned IS 'most bytes a run may read from S3 (a run that would read more fails); NULL: no limit';

-- runs: the tick a scheduled run stands for, and the S3 requests it made
-- (retries included), by the tier S3 bills them in
ALTER TABLE pipeline.runs
  ADD COLUMN scheduled_for timestamptz,
  ADD COLUMN get_requests bigint NOT NULL DEFAULT 0,
  ADD COLUMN list_requests bigint NOT NULL DEFAULT 0,
  ADD COLUMN put_requests bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN pipeline.runs.get_requests IS 'S3 GET and HEAD requests the run made (its parallel workers'' included)';
COMMENT ON COLUMN pipeline.runs.list_requests IS 'S3 LIST requests the run made';
COMMENT ON COLUMN pipeline.runs.put_requests IS 'S3 PUT and POST requests the run made (its export)';
COMMENT ON COLUMN pipeline.runs.scheduled_for IS 'for a scheduled run: the tick it stands for';

-- Backfills: the objects under a report's source, listed a page at a time
-- (resuming after the last key queued), in batches of tasks.
CREATE TABLE pipeline.backfills (
  id              bigserial PRIMARY KEY,
  report          text NOT NULL REFERENCES pipeline.reports (name) ON DELETE CASCADE,
  bucket          text NOT NULL,
  prefix          text NOT NULL,
  since           timestamptz,
  until           timestamptz,
  state           text NOT NULL DEFAULT 'listing'
                  CHECK (state IN ('listing', 'running', 'done', 'failed', 'cancelled')),
  listed_after    text,
  objects_listed  bigint NOT NULL DEFAULT 0,
  objects_queued  bigint NOT NULL DEFAULT 0,
  objects_skipped bigint NOT NULL DEFAULT 0,
  objects_done    bigint NOT NULL DEFAULT 0,
  objects_failed  bigint NOT NULL DEFAULT 0,
  bytes_queued    bigint NOT NULL DEFAULT 0,
  bytes_done      bigint NOT NULL DEFAULT 0,
  list_requests   bigint NOT NULL DEFAULT 0,
  requested_by    text NOT NULL,
  failures        integer NOT NULL DEFAULT 0,
  next_attempt    timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  listed_at       timestamptz,
  finished_at     timestamptz
);
CREATE INDEX ON pipeline.backfills (report);
COMMENT ON TABLE pipeline.backfills IS 'backfills: objects already in S3 run through a report, in batches, resumable; progress';
COMMENT ON COLUMN pipeline.backfills.listed_after IS 'the last key listed and queued: the next page starts after it';
COMMENT ON COLUMN pipeline.backfills.objects_skipped IS 'objects listed that the report had processed (or was about to) already';
COMMENT ON COLUMN pipeline.backfills.id IS 'what pipeline.backfill returned';
COMMENT ON COLUMN pipeline.backfills.report IS 'the report run over the objects';
COMMENT ON COLUMN pipeline.backfills.bucket IS 'the bucket of the report''s source';
COMMENT ON COLUMN pipeline.backfills.prefix IS 'the key prefix of the report''s source';
COMMENT ON COLUMN pipeline.backfills.since IS 'objects last modified at or after this (NULL: any)';
COMMENT ON COLUMN pipeline.backfills.until IS 'objects last modified before this (NULL: any)';
COMMENT ON COLUMN pipeline.backfills.state IS 'listing, running (all listed, objects waiting), done, failed, cancelled';
COMMENT ON COLUMN pipeline.backfills.objects_listed IS 'objects listed in the range';
COMMENT ON COLUMN pipeline.backfills.objects_queued IS 'objects queued to run';
COMMENT ON COLUMN pipeline.backfills.objects_done IS 'queued objects run (or found processed when their turn came)';
COMMENT ON COLUMN pipeline.backfills.objects_failed IS 'queued objects given up on (see pipeline.dead_letters)';
COMMENT ON COLUMN pipeline.backfills.bytes_queued IS 'bytes of the objects queued';
COMMENT ON COLUMN pipeline.backfills.bytes_done IS 'bytes of the objects done';
COMMENT ON COLUMN pipeline.backfills.list_requests IS 'S3 LIST requests made';
COMMENT ON COLUMN pipeline.backfills.requested_by IS 'the role that called pipeline.backfill';
COMMENT ON COLUMN pipeline.backfills.failures IS 'listings failed in a row';
COMMENT ON COLUMN pipeline.backfills.next_attempt IS 'when the listing goes on (after a failure: a back-off)';
COMMENT ON COLUMN pipeline.backfills.last_error IS 'the last listing error';
COMMENT ON COLUMN pipeline.backfills.created_at IS 'when pipeline.backfill was called';
COMMENT ON COLUMN pipeline.backfills.listed_at IS 'when the listing was over';
COMMENT ON COLUMN pipeline.backfills.finished_at IS 'when it was done, failed or cancelled';

-- Listing intake: a report's source listed every "every", for buckets
-- without notifications.  The marks say what a poll need not look at
-- again: keys up to mark_key ("increasing" keys), objects modified before
-- mark_time less pipeline.listing_lookback ("any" keys).  A poll in
-- progress resumes after poll_after.
CREATE TABLE pipeline.listings (
  report         text PRIMARY KEY REFERENCES pipeline.reports (name) ON DELETE CASCADE,
  every          interval NOT NULL CHECK (every >= interval '1 second'),
  keys           text NOT NULL DEFAULT 'any' CHECK (keys IN ('any', 'increasing')),
  since          timestamptz NOT NULL DEFAULT now(),
  source         text,
  mark_key       text,
  mark_time      timestamptz,
  poll_after     text,
  poll_started   timestamptz,
  poll_max_time  timestamptz,
  poll_mark_key  text,
  next_poll      timestamptz NOT NULL DEFAULT now(),
  last_poll      timestamptz,
  polls          bigint NOT NULL DEFAULT 0,
  objects        bigint NOT NULL DEFAULT 0,
  failures       integer NOT NULL DEFAULT 0,
  last_error     text
);
COMMENT ON TABLE pipeline.listings IS 'reports whose source is polled by listing (list_every): marks, the poll in progress, errors';
COMMENT ON COLUMN pipeline.listings.report IS 'the report whose source is listed';
COMMENT ON COLUMN pipeline.listings.every IS 'how often a poll starts (list_every)';
COMMENT ON COLUMN pipeline.listings.keys IS 'any, or increasing (keys written in increasing order, as Firehose''s: a poll starts after mark_key)';
COMMENT ON COLUMN pipeline.listings.since IS 'objects modified before this are not polled for (pipeline.backfill is for them)';
COMMENT ON COLUMN pipeline.listings.source IS 'the source the marks are of';
COMMENT ON COLUMN pipeline.listings.mark_key IS 'increasing keys: polls start after this key';
COMMENT ON COLUMN pipeline.listings.mark_time IS 'the newest modification the last poll saw';
COMMENT ON COLUMN pipeline.listings.poll_after IS 'the poll in progress resumes after this key';
COMMENT ON COLUMN pipeline.listings.poll_started IS 'when the poll in progress started';
COMMENT ON COLUMN pipeline.listings.poll_max_time IS 'the newest modification the poll in progress saw';
COMMENT ON COLUMN pipeline.listings.poll_mark_key IS 'the mark_key the poll in progress will leave';
COMMENT ON COLUMN pipeline.listings.next_poll IS 'when the next poll (or page, after a failure) is due';
COMMENT ON COLUMN pipeline.listings.last_poll IS 'when the last complete poll ended';
COMMENT ON COLUMN pipeline.listings.polls IS 'complete polls';
COMMENT ON COLUMN pipeline.listings.objects IS 'objects queued by polls';
COMMENT ON COLUMN pipeline.listings.failures IS 'pages failed in a row';
COMMENT ON COLUMN pipeline.listings.last_error IS 'the last error of a poll';

-- LIST requests made outside runs (listing intake, backfills), per report and day
CREATE TABLE pipeline.listing_usage (
  report         text NOT NULL,
  day            date NOT NULL,
  list_requests  bigint NOT NULL DEFAULT 0,
  objects_listed bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (report, day)
);
COMMENT ON TABLE pipeline.listing_usage IS 'LIST requests of listing intake and backfills, per report and (UTC) day';
COMMENT ON COLUMN pipeline.listing_usage.report IS 'the report listed for';
COMMENT ON COLUMN pipeline.listing_usage.day IS 'the UTC day';
COMMENT ON COLUMN pipeline.listing_usage.list_requests IS 'S3 LIST requests';
COMMENT ON COLUMN pipeline.listing_usage.objects_listed IS 'objects those requests listed';

SELECT pg_catalog.pg_extension_config_dump('pipeline.backfills', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.backfills_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.listings', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.listing_usage', '');

ALTER TABLE pipeline.backfills ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.listings ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.listing_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_backfills ON pipeline.backfills FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = backfills.report AND pg_has_role(r.owner, 'MEMBER')));
CREATE POLICY own_listings ON pipeline.listings FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = listings.report AND pg_has_role(r.owner, 'MEMBER')));
CREATE POLICY own_listing_usage ON pipeline.listing_usage FOR SELECT
  USING (EXISTS (SELECT 1 FROM pipeline.reports r
                 WHERE r.name = listing_usage.report AND pg_has_role(r.owner, 'MEMBER')));
GRANT SELECT ON pipeline.backfills, pipeline.listings, pipeline.listing_usage TO PUBLIC;

-- create_report and alter_report: schedule, listing intake, scan budget
DROP FUNCTION pipeline.create_report(text, text, text, text, text, text, text, boolean, text,
                                     interval, text, text, integer, interval);
CREATE FUNCTION pipeline.create_report(
  name               text,
  source             text DEFAULT NULL,
  query              text DEFAULT NULL,
  target             text DEFAULT NULL,
  mode               text DEFAULT 'replace',
  export             text DEFAULT NULL,
  after              text DEFAULT NULL,
  only_if_changed    boolean DEFAULT false,
  export_format      text DEFAULT 'json',
  timeout            interval DEFAULT NULL,
  server             text DEFAULT NULL,
  webhook            text DEFAULT NULL,
  max_attempts       integer DEFAULT NULL,
  retry_delay        interval DEFAULT NULL,
  schedule           text DEFAULT NULL,
  list_every         interval DEFAULT NULL,
  list_keys          text DEFAULT NULL,
  max_bytes_scanned  bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_create_report'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.create_report(text, text, text, text, text, text, text, boolean, text,
                                           interval, text, text, integer, interval, text, interval,
                                           text, bigint) IS
  'define a report: its query runs into target when objects arrive under source (events, listing), after another report, or on a schedule';

DROP FUNCTION pipeline.alter_report(text, text, text, text, text, text, text, boolean, text,
                                    interval, text, text, integer, interval);
CREATE FUNCTION pipeline.alter_report(
  name               text,
  source             text DEFAULT NULL,
  query              text DEFAULT NULL,
  target             text DEFAULT NULL,
  mode               text DEFAULT NULL,
  export             text DEFAULT NULL,
  after              text DEFAULT NULL,
  only_if_changed    boolean DEFAULT NULL,
  export_format      text DEFAULT NULL,
  timeout            interval DEFAULT NULL,
  server             text DEFAULT NULL,
  webhook            text DEFAULT NULL,
  max_attempts       integer DEFAULT NULL,
  retry_delay        interval DEFAULT NULL,
  schedule           text DEFAULT NULL,
  list_every         interval DEFAULT NULL,
  list_keys          text DEFAULT NULL,
  max_bytes_scanned  bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_alter_report'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.alter_report(text, text, text, text, text, text, text, boolean, text,
                                          interval, text, text, integer, interval, text, interval,
                                          text, bigint) IS
  'change a report (NULL keeps a setting; '''' clears source, export, after, server, webhook, schedule; list_every ''0'' and max_bytes_scanned 0 clear theirs); its history stays';

CREATE FUNCTION pipeline.backfill(report text, since timestamptz DEFAULT NULL,
                                  until timestamptz DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_backfill'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.backfill(text, timestamptz, timestamptz) IS
  'run a report over the objects already under its source (last modified in [since, until)), in batches, by the worker; returns the id in pipeline.backfills';

CREATE FUNCTION pipeline.cancel_backfill(id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_cancel_backfill'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.cancel_backfill(bigint) IS
  'stop a backfill: nothing more is listed, and its waiting objects are dropped';

CREATE FUNCTION pipeline.schedule_next(schedule text, after timestamptz DEFAULT now())
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_schedule_next'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.schedule_next(text, timestamptz) IS
  'the first tick of a schedule (a cron expression, UTC, or an interval from "after") after "after"';

CREATE FUNCTION pipeline.run_time()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_run_time'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline.run_time() IS
  'inside a run: the tick a scheduled run stands for, else when the run started; NULL outside a run';

-- prices, for pipeline.costs (settings pipeline.price_*)
CREATE FUNCTION pipeline.prices(OUT get_requests numeric, OUT list_requests numeric,
                                OUT athena_tb numeric)
AS 'MODULE_PATHNAME', 'pipeline_prices'
LANGUAGE C STABLE;
COMMENT ON FUNCTION pipeline.prices() IS
  'USD per 1,000 GET and per 1,000 LIST/PUT requests, per TB scanned by Athena: the pipeline.price_* settings';

-- What reports cost per (UTC) day: bytes scanned and S3 requests, and
-- their price as S3 requests and as Athena would bill the same scans (per
-- run: rounded up to a MB, at least 10 MB).  Failed runs count.
CREATE VIEW pipeline.costs WITH (security_invoker = true) AS
  SELECT u.report, u.day,
         sum(u.runs)::bigint AS runs,
         sum(u.failed)::bigint AS failed_runs,
         sum(u.bytes)::bigint AS bytes_scanned,
         sum(u.gets)::bigint AS get_requests,
         sum(u.lists)::bigint AS list_requests,
         sum(u.puts)::bigint AS put_requests,
         round((sum(u.gets) * p.get_requests + sum(u.lists + u.puts) * p.list_requests) / 1000, 8)
           AS s3_request_cost,
         round(sum(u.athena_bytes) / 1099511627776 * p.athena_tb, 8) AS athena_cost
  FROM (SELECT x.report, (x.started_at AT TIME ZONE 'UTC')::date AS day, 1 AS runs,
               (x.status = 'failed')::int AS failed, coalesce(x.bytes, 0) AS bytes,
               x.get_requests AS gets, x.list_requests AS lists, x.put_requests AS puts,
               greatest(ceil(coalesce(x.bytes, 0) / 1048576.0), 10) * 1048576 AS athena_bytes
        FROM pipeline.runs x WHERE x.status <> 'skipped'
        UNION ALL
        SELECT l.report, l.day, 0, 0, 0, 0, l.list_requests, 0, 0
        FROM pipeline.listing_usage l) u,
       pipeline.prices() p
  GROUP BY u.report, u.day, p.get_requests, p.list_requests, p.athena_tb;
GRANT SELECT ON pipeline.costs TO PUBLIC;
COMMENT ON VIEW pipeline.costs IS 'per report and UTC day: runs, bytes scanned, S3 GET/LIST/PUT requests, their S3 price and the Athena price of the same scans (pipeline.price_* settings)';
COMMENT ON COLUMN pipeline.costs.report IS 'the report';
COMMENT ON COLUMN pipeline.costs.day IS 'the UTC day its runs started';
COMMENT ON COLUMN pipeline.costs.runs IS 'runs (skipped ones not counted)';
COMMENT ON COLUMN pipeline.costs.failed_runs IS 'runs that failed (what they read counts too)';
COMMENT ON COLUMN pipeline.costs.bytes_scanned IS 'bytes read from S3 by its runs';
COMMENT ON COLUMN pipeline.costs.get_requests IS 'S3 GET and HEAD requests of its runs';
COMMENT ON COLUMN pipeline.costs.list_requests IS 'S3 LIST requests of its runs, listing intake and backfills';
COMMENT ON COLUMN pipeline.costs.put_requests IS 'S3 PUT and POST requests of its runs';
COMMENT ON COLUMN pipeline.costs.s3_request_cost IS 'USD: the requests at pipeline.price_get_requests and pipeline.price_list_requests';
COMMENT ON COLUMN pipeline.costs.athena_cost IS 'USD: what Athena would bill for the same scans (per run: rounded up to a MB, at least 10 MB) at pipeline.price_athena_tb';

-- Backfills under way are long work too: shown with the rest
CREATE OR REPLACE VIEW pipeline.progress WITH (security_invoker = true) AS
  SELECT p.pid, p.leader_pid, p.userid::regrole AS usename, p.kind, p.what, p.within,
         p.objects_done, p.objects_total, p.bytes, p.rows, p.rejects, p.started_at,
         make_interval(secs => p.elapsed) AS elapsed,
         make_interval(secs => p.remaining) AS remaining
  FROM pipeline.progress_info() p
  UNION ALL
  SELECT (SELECT a.pid FROM pg_catalog.pg_stat_activity a
          WHERE a.backend_type = 'pipeline worker' AND a.datname = current_database() LIMIT 1),
         NULL, r.owner, 'backfill', b.report, 'backfill ' || b.id,
         b.objects_done + b.objects_failed,
         CASE WHEN b.state = 'listing' THEN NULL ELSE b.objects_queued END,
         b.bytes_done,
         (SELECT coalesce(sum(x.rows), 0)::bigint FROM pipeline.runs x
          WHERE x.report = b.report AND x.trigger = 'backfill' AND x.started_at >= b.created_at),
         0, b.created_at, now() - b.created_at,
         CASE WHEN b.state = 'running' AND b.objects_done + b.objects_failed > 0
              THEN (now() - b.created_at) * ((b.objects_queued - b.objects_done - b.objects_failed)::float8
                                              / (b.objects_done + b.objects_failed)) END
  FROM pipeline.backfills b JOIN pipeline.reports r ON r.name = b.report
  WHERE b.state IN ('listing', 'running');
COMMENT ON VIEW pipeline.progress IS 'long scans, exports, report runs and backfills under way in this database: objects done of total, bytes, rows, rejects, elapsed, an estimate of what is left';
COMMENT ON COLUMN pipeline.progress.kind IS 'run, export, scan or backfill';

-- the worker takes up the new schema at once
SELECT pipeline._notify_worker();
