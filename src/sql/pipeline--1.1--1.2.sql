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
