-- The fleet's SQL surface, attacked by an ordinary role: the fleet's
-- settings decide where the server sends requests and with whose keys, so
-- only superusers may set them (and read the secret); pipeline.fleet_claim()
-- asks S3 only about the caller's own reports; pipeline.fleet_claims shows a
-- role only its reports' claims.  What needs the worker and two servers is
-- in test/e2e/32_fleet.test.mjs.
BEGIN;
\ir lib/helpers.psql
\ir lib/attacks.psql
SELECT plan(14);

SELECT pg_temp.attacker('mallory');
SELECT pg_temp.victim('alice');

-- the error of a statement, as the current role (NULL: it worked)
CREATE FUNCTION pg_temp.err(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN NULL;
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

-- 1. Settings: a superuser's decision.
SELECT is(pg_temp.err($$SET pipeline.fleet = 'http://example.com/'$$),
  '22023: invalid value for parameter "pipeline.fleet": "http://example.com/"',
  'pipeline.fleet must be an s3:// prefix');
SELECT is(pg_temp.err($$SET pipeline.fleet = 's3:///nobucket'$$),
  '22023: invalid value for parameter "pipeline.fleet": "s3:///nobucket"', 'with a bucket');
SET ROLE mallory;
SELECT is(pg_temp.err($$SET pipeline.fleet = 's3://mallory-bucket/'$$),
  '42501: permission denied to set parameter "pipeline.fleet"',
  'an ordinary role cannot point the fleet''s claims elsewhere');
SELECT is(pg_temp.err($$SET pipeline.fleet_server = 'lake'$$),
  '42501: permission denied to set parameter "pipeline.fleet_server"', 'nor choose the server that signs them');
SELECT is(pg_temp.err($$SET pipeline.server_id = 'someone-else'$$),
  '42501: permission denied to set parameter "pipeline.server_id"', 'nor pose as another server');
SELECT is(pg_temp.err($$SET pipeline.fleet_lease = 2$$),
  '42501: permission denied to set parameter "pipeline.fleet_lease"', 'nor shorten the lease');
SELECT is(pg_temp.err($$SELECT current_setting('pipeline.fleet_secret')$$),
  '42501: must be superuser or have privileges of pg_read_all_settings to examine "pipeline.fleet_secret"',
  'nor read the secret claims are signed with');
RESET ROLE;

-- 2. Not in a fleet: fleet_claim() says so.
SELECT is(pg_temp.err($$SELECT * FROM pipeline.fleet_claim('r', 's3://b/k', 'v')$$),
  '55000: this database is not part of a fleet', 'fleet_claim() outside a fleet');

-- 3. In a fleet (this session's setting): fleet_claim() only for one's own reports.
SELECT pg_temp.s3('mb fleet-sql');
SET pipeline.fleet = 's3://fleet-sql/fleet/';
SET ROLE alice;
SELECT pipeline.create_report(name => 'alice_fleet', source => 's3://fleet-sql/in/',
  query => 'SELECT 1 AS one', target => 'alice.fleet_out');
RESET ROLE;
SET ROLE mallory;
SELECT is(pg_temp.err($$SELECT * FROM pipeline.fleet_claim('alice_fleet', 's3://fleet-sql/in/a.json', 'v1')$$),
  '42501: must be owner of report "alice_fleet"',
  'mallory cannot read the claims of alice''s report (nor make the server ask S3 for them)');
RESET ROLE;
SET ROLE alice;
SELECT is((SELECT (claim LIKE 's3://fleet-sql/fleet/claims/alice_fleet/%.json', holder IS NULL)
           FROM pipeline.fleet_claim('alice_fleet', 's3://fleet-sql/in/a.json', 'v1')),
  (true, true), 'alice sees where her claim would be, and that nobody holds it');
RESET ROLE;

-- 4. pipeline.fleet_claims: each role sees its own reports' claims only.
SET ROLE mallory;
SELECT pipeline.create_report(name => 'mallory_fleet', source => 's3://fleet-sql/m/',
  query => 'SELECT 1 AS one', target => 'mallory.fleet_out');
RESET ROLE;
INSERT INTO pipeline.fleet_claims (report, bucket, key, version, claim, holder, state)
VALUES ('alice_fleet', 'fleet-sql', 'in/a.json', 'v1', 'fleet/claims/alice_fleet/x.json', 'a/db', 'done'),
       ('mallory_fleet', 'fleet-sql', 'm/b.json', 'v1', 'fleet/claims/mallory_fleet/y.json', 'a/db', 'done');
SET ROLE mallory;
SELECT is((SELECT array_agg(report) FROM pipeline.fleet_claims), '{mallory_fleet}'::text[],
  'mallory sees only her report''s claims');
SELECT is(pg_temp.err($$DELETE FROM pipeline.fleet_claims$$),
  '42501: permission denied for table fleet_claims', 'and cannot delete them (to make a version run again)');
SELECT is(pg_temp.err($$INSERT INTO pipeline.fleet_claims (report, bucket, key, version, claim, holder, state)
                        VALUES ('alice_fleet', 'fleet-sql', 'in/c.json', 'v1', 'c', 'x/y', 'done')$$),
  '42501: permission denied for table fleet_claims', 'nor forge one that settles alice''s object');
RESET ROLE;
SET ROLE alice;
SELECT is((SELECT array_agg(report) FROM pipeline.fleet_claims), '{alice_fleet}'::text[],
  'alice sees only hers');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
