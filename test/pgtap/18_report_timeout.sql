-- A report's timeout (README, create_report: timeout, pipeline.report_timeout):
-- a longer run is cancelled and recorded as failed, its writes undone; a
-- cancel that is not the report's own (the caller's statement_timeout) is
-- passed on, not recorded.  The report's query would run for 10 minutes:
-- ending before that is the timeout's doing (how soon is a timing: the
-- benchmark's).  statement_timeout 5min keeps a broken timeout from hanging
-- the run.
BEGIN;
\ir lib/helpers.psql
SELECT plan(11);

CREATE TABLE src (v int);
INSERT INTO src VALUES (1), (2), (3);
CREATE FUNCTION slow(v int) RETURNS int LANGUAGE sql AS $$ SELECT v FROM pg_sleep(600) $$;
SELECT pipeline.create_report(name => 'quick', query => 'SELECT v FROM src', target => 'quick_out',
                              timeout => '1 second') \g /dev/null
SELECT pipeline.run_report('quick') \g /dev/null
SELECT results_eq($$SELECT status FROM pipeline.runs WHERE report = 'quick'$$, $$VALUES ('succeeded')$$,
  'a run within its timeout succeeds');
SELECT results_eq('SELECT v FROM quick_out ORDER BY v', $$VALUES (1), (2), (3)$$, 'and writes its rows');

-- the same report, now slow: replace mode would empty the table first
SELECT pipeline.alter_report(name => 'quick', query => 'SELECT slow(v) AS v FROM src') \g /dev/null
SET statement_timeout = '5min';
SELECT pipeline.run_report('quick') \g /dev/null
RESET statement_timeout;
SELECT results_eq($$SELECT status, error FROM pipeline.runs WHERE report = 'quick' ORDER BY id$$,
  $$VALUES ('succeeded', NULL), ('failed', 'the report ran longer than its timeout (1000 ms)')$$,
  'a run longer than its timeout is cancelled and recorded as failed, saying why');
SELECT results_eq('SELECT v FROM quick_out ORDER BY v', $$VALUES (1), (2), (3)$$,
  'its writes are undone: the table keeps the last good rows');
SELECT ok(NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = pg_backend_pid() AND wait_event = 'PgSleep'),
  'the session goes on');

-- pipeline.report_timeout is the default of a report without one
SET pipeline.report_timeout = '1s';
SELECT pipeline.create_report(name => 'dflt', query => 'SELECT slow(v) AS v FROM src', target => 'dflt_out') \g /dev/null
SET statement_timeout = '5min';
SELECT pipeline.run_report('dflt') \g /dev/null
RESET statement_timeout;
RESET pipeline.report_timeout;
SELECT results_eq($$SELECT status, error FROM pipeline.runs WHERE report = 'dflt'$$,
  $$VALUES ('failed', 'the report ran longer than its timeout (1000 ms)')$$,
  'pipeline.report_timeout applies to a report without a timeout of its own');

-- the caller's statement_timeout, shorter than the report's: the caller's cancel
SELECT pipeline.create_report(name => 'patient', query => 'SELECT slow(v) AS v FROM src',
                              target => 'patient_out', timeout => '5 minutes') \g /dev/null
SAVEPOINT before_cancel;
SET LOCAL statement_timeout = '1s';
CREATE FUNCTION pg_temp.run_cancelled(name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pipeline.run_report(name);
  RETURN 'no error';
EXCEPTION WHEN query_canceled THEN
  RETURN SQLERRM;
END $$;
SELECT set_config('pipeline_test.cancel', pg_temp.run_cancelled('patient'), true) \g /dev/null
RESET statement_timeout;
SELECT is(current_setting('pipeline_test.cancel'), 'canceling statement due to statement timeout',
  'the caller''s statement_timeout cancels the run and reaches the caller');
SELECT is((SELECT count(*) FROM pipeline.runs WHERE report = 'patient'), 0::bigint,
  'as the caller''s cancel, not recorded as the report''s failure');
ROLLBACK TO SAVEPOINT before_cancel;
SELECT pass('and the transaction goes on after ROLLBACK TO SAVEPOINT (this crashed the server when the run''s own subtransaction was left open)');

-- the same in a scan with on_error 'skip', whose values are converted in a
-- subtransaction each: a cancel inside one (a domain check that sleeps) is
-- no bad data to skip, it ends the statement, and the subtransaction with it
SELECT pg_temp.s3('mb timeouts');
SELECT pg_temp.s3_put('s3://timeouts/d/a.json', E'{"v":1}\n{"v":2}\n');
CREATE DOMAIN slow_int AS int CHECK (slow(VALUE) IS NOT NULL);
CREATE FOREIGN TABLE slowdom (v slow_int) SERVER lake OPTIONS (uri 's3://timeouts/d/', on_error 'skip');
SAVEPOINT before_scan;
SET LOCAL statement_timeout = '1s';
CREATE FUNCTION pg_temp.scan_cancelled() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM max(v) FROM slowdom;
  RETURN 'no error';
EXCEPTION WHEN query_canceled THEN
  RETURN SQLERRM;
END $$;
SELECT set_config('pipeline_test.cancel', pg_temp.scan_cancelled(), true) \g /dev/null
RESET statement_timeout;
SELECT is(current_setting('pipeline_test.cancel'), 'canceling statement due to statement timeout',
  'a cancel inside on_error skip''s conversion is not skipped as bad data');
ROLLBACK TO SAVEPOINT before_scan;
SELECT pass('and the transaction goes on after ROLLBACK TO SAVEPOINT');

SELECT * FROM finish();
ROLLBACK;
