-- Parallel scans: whole objects handed to the participants, each read once.
-- The leader does not take part (parallel_leader_participation off), so
-- that rows can only come from workers: a plan that launched none, or a
-- worker that read nothing, fails here instead of passing serially.
BEGIN;
\ir lib/helpers.psql
SELECT plan(10);

SELECT pg_temp.s3('mb par');
SELECT pg_temp.s3_put(format('s3://par/in/%s.json.gz', o),
  (SELECT string_agg(format('{"o":%s,"i":%s}', o, i), E'\n') FROM generate_series(1, 5000) i), 'gzip -c')
  FROM generate_series(1, 6) o;
CREATE FOREIGN TABLE par (o int, i int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://par/in/');
CREATE FOREIGN TABLE par_skip (o int, i int) SERVER lake OPTIONS (uri 's3://par/in/', on_error 'skip');
-- the pid of the process that computes it: in a parallel plan, the worker that read the row
CREATE FUNCTION whose_pid(int) RETURNS int LANGUAGE sql PARALLEL SAFE AS 'SELECT pg_backend_pid()';

SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL parallel_leader_participation = off;

SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT o, count(*) FROM par GROUP BY o') l),
  '%Gather%Parallel Foreign Scan on par%', 'several objects: a parallel plan');
SELECT pg_temp.clear_requests();
SELECT results_eq('SELECT o, count(*)::int, sum(i)::bigint FROM par GROUP BY o ORDER BY o',
  $$SELECT o, 5000, 12502500::bigint FROM generate_series(1, 6) o$$,
  'every record of every object, once');
SELECT results_eq($$SELECT r->>'path', count(*) FROM pg_temp.requests() r
                    WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/par/in/%' GROUP BY 1 ORDER BY 1$$,
  $$SELECT format('/par/in/%s.json.gz', o), 1::bigint FROM generate_series(1, 6) o$$,
  'each object fetched exactly once across the participants');

-- who read what
CREATE TEMP TABLE readers AS SELECT DISTINCT whose_pid(o) AS pid, src FROM par;
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (COSTS OFF, VERBOSE) SELECT DISTINCT whose_pid(o) AS pid, src FROM par') l),
  '%Gather%Parallel Foreign Scan on public.par%Output: %pid(%), src%',
  'the reader''s pid is taken below the Gather, in the process that read the row (the function is inlined)');
SELECT is((SELECT count(DISTINCT src) FROM readers), 6::bigint, 'every object was read');
SELECT is((SELECT count(*) FILTER (WHERE pid = pg_backend_pid()) FROM readers), 0::bigint,
  'by parallel workers only (the leader does not take part)');
SELECT is((SELECT max(n) FROM (SELECT count(*) AS n FROM readers GROUP BY src) x), 1::bigint,
  'each object by exactly one process');

SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM par') l),
  '%Workers Planned: 2%Workers Launched: 2%Objects Read: 6%Records: 30000%',
  'EXPLAIN ANALYZE: two workers launched, the counts summed over them');
SELECT unalike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT count(*) FROM par_skip') l),
  '%Parallel%', 'on_error skip scans are not parallel');
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is((SELECT count(DISTINCT src) FROM par), 6::bigint, 'the same without workers');

SELECT * FROM finish();
ROLLBACK;
