-- Parallel scans: whole objects handed to the participants, each read once.
BEGIN;
\ir lib/helpers.psql
SELECT plan(6);

SELECT pg_temp.s3('mb par');
SELECT pg_temp.s3_put(format('s3://par/in/%s.json.gz', o),
  (SELECT string_agg(format('{"o":%s,"i":%s}', o, i), E'\n') FROM generate_series(1, 5000) i), 'gzip -c')
  FROM generate_series(1, 6) o;
CREATE FOREIGN TABLE par (o int, i int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://par/in/');
CREATE FOREIGN TABLE par_skip (o int, i int) SERVER lake OPTIONS (uri 's3://par/in/', on_error 'skip');

SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;

SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT o, count(*) FROM par GROUP BY o') l),
  '%Gather%Parallel Foreign Scan on par%', 'several objects: a parallel plan');
SELECT pg_temp.clear_requests();
SELECT results_eq('SELECT o, count(*)::int, sum(i)::bigint FROM par GROUP BY o ORDER BY o',
  $$SELECT o, 5000, 12502500::bigint FROM generate_series(1, 6) o$$,
  'every record of every object, once');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/par/in/%'),
  6::bigint, 'each object fetched once across the participants');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM par') l),
  '%Workers Launched: %Objects Read: 6%Records: 30000%', 'EXPLAIN ANALYZE sums the participants');
SELECT unalike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT count(*) FROM par_skip') l),
  '%Parallel%', 'on_error skip scans are not parallel');
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is((SELECT count(DISTINCT src) FROM par), 6::bigint, 'the same without workers');

SELECT * FROM finish();
ROLLBACK;
