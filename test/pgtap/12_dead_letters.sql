-- Dead letters: a version given up on is not queued again by a duplicate
-- event (S3 delivers at least once), and retry_dead_letters runs it again
-- once what made it fail is fixed.
BEGIN;
\ir lib/helpers.psql
SELECT plan(9);

SELECT pg_temp.s3('mb deadl');
SELECT pg_temp.s3_put('s3://deadl/in/a.json', '{"v":1}');
CREATE FOREIGN TABLE dl_src (v int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://deadl/in/');
CREATE TABLE dl_fixed (ok boolean);
CREATE FUNCTION dl_check() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM dl_fixed) THEN RAISE EXCEPTION 'not fixed yet'; END IF;
  RETURN true;
END $$;
SELECT pipeline.create_report(name => 'fragile', source => 's3://deadl/in/', mode => 'append', max_attempts => 1,
  query => $$SELECT v, src FROM dl_src WHERE src = ANY (pipeline.trigger_uris()) AND dl_check()$$,
  target => 'fragile');

\set event '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"deadl"},"object":{"key":"in/a.json","eTag":"e1","sequencer":"0A"}}}]}'
SET client_min_messages = error;
SELECT is((SELECT status FROM pipeline.handle_event(:'event')), 'failed', 'the run fails');
SELECT results_eq($$SELECT report, object, version, reason FROM pipeline.dead_letters$$,
  $$VALUES ('fragile'::text, 's3://deadl/in/a.json'::text, '0A'::text, 'gave up after 1 attempts: not fixed yet'::text)$$,
  'after its last attempt the object is a dead letter, with its version');
SELECT is((SELECT count(*) FROM pipeline.tasks), 0::bigint, 'and no longer a task');

-- the same event again: nothing is queued, nothing runs, no second dead letter
SELECT is((SELECT count(*) FROM pipeline.handle_event(:'event')), 0::bigint, 'a duplicate event runs nothing');
SELECT is((SELECT count(*) FROM pipeline.dead_letters), 1::bigint, 'one dead letter for one version');
SELECT is((SELECT count(*) FROM pipeline.runs WHERE report = 'fragile'), 1::bigint, 'one failed run');

-- fixed: retry it
INSERT INTO dl_fixed VALUES (true);
SELECT results_eq($$SELECT status, objects, rows FROM pipeline.retry_dead_letters('fragile')$$,
  $$VALUES ('succeeded'::text, 1, 1::bigint)$$, 'retry_dead_letters runs it again');
SELECT is((SELECT count(*) FROM pipeline.dead_letters), 0::bigint, 'and it leaves the dead letters');
SELECT is((SELECT count(*) FROM pipeline.processed WHERE report = 'fragile' AND version = '0A'), 1::bigint,
  'the version is processed');

SELECT * FROM finish();
ROLLBACK;
