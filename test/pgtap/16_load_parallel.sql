-- A load or a report run from a parallel plan in a transaction that has
-- written nothing yet: the rows are written while the plan runs in
-- parallel mode, where no transaction id can be assigned, so the run must
-- take one before (found by bench/run --smoke --force-parallel: the run
-- failed with "cannot assign XIDs during a parallel operation" and the
-- target stayed empty).  No BEGIN here: each statement is a transaction of
-- its own, as in the worker and in psql's autocommit.
-- (no S3 here: the helpers' server would outlive this file)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pipeline;
SELECT plan(5);

CREATE TABLE lp_src AS SELECT i AS id, 'n' || i AS name FROM generate_series(1, 5000) i;
CREATE TABLE lp_dst (id int, name text);
CREATE FUNCTION lp_pid(int) RETURNS int LANGUAGE sql PARALLEL SAFE AS 'SELECT pg_backend_pid()';
SELECT pipeline.create_report(name => 'lp', query => 'SELECT DISTINCT lp_pid(id) AS pid FROM lp_src',
                              target => 'lp_out');

SET force_parallel_mode = on;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;

SELECT is(pipeline.load('lp_src', 'lp_dst'), 5000::bigint,
  'a load from a parallel plan, first write of its transaction');
SELECT is((SELECT count(*) FROM lp_dst), 5000::bigint, 'every row is in the table');
SELECT ok(pipeline.run_report('lp') > 0, 'a report run from a parallel plan into its empty target');
SELECT is((SELECT status FROM pipeline.runs WHERE report = 'lp' ORDER BY id DESC LIMIT 1), 'succeeded',
  'the run succeeded');
SELECT ok((SELECT count(*) > 0 AND bool_and(pid <> pg_backend_pid()) FROM lp_out),
  'its query ran in parallel workers');

RESET force_parallel_mode;
SELECT pipeline.drop_report('lp');
DROP TABLE lp_src, lp_dst, lp_out;
DROP FUNCTION lp_pid(int);
SELECT * FROM finish();
