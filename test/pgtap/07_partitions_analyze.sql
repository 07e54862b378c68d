-- Hive-style partitions in keys as columns, pruned before reading; ANALYZE
-- samples objects so that the planner's estimates follow the data.
BEGIN;
\ir lib/helpers.psql
SELECT plan(11);

SELECT pg_temp.s3('mb hive');
SELECT pg_temp.s3_put(format('s3://hive/t/dt=2026-11-%s/hour=%s/part-0.json', d, h),
  (SELECT string_agg(format('{"v":%s}', i), E'\n') FROM generate_series(1, 10) i))
  FROM generate_series(24, 26) d, generate_series(9, 10) h;
SELECT pg_temp.s3_put('s3://hive/t/dt=2026-11-27/hour=10/site=a%2Fb/part-0.json', '{"v":100}');

CREATE FOREIGN TABLE hive (v int, dt date OPTIONS (partition 'dt'), hour int OPTIONS (partition 'hour'),
                           site text OPTIONS (partition 'site'), k text OPTIONS (metadata 'key'))
  SERVER lake OPTIONS (uri 's3://hive/t/');

SELECT is((SELECT count(*) FROM hive), 61::bigint, 'every object');
SELECT is((SELECT array_agg(DISTINCT dt ORDER BY dt) FROM hive),
  '{2026-11-24,2026-11-25,2026-11-26,2026-11-27}'::date[], 'partition values as typed columns');
SELECT is((SELECT site FROM hive WHERE v = 100), 'a/b', 'percent-decoded, NULL where the key has none');
SELECT is((SELECT count(*) FROM hive WHERE site IS NULL), 60::bigint, 'NULL where the key has no such directory');

SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(v) FROM hive WHERE dt = '2026-11-25' AND hour = 10), 55::bigint, 'a WHERE on partitions');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'query' IS DISTINCT FROM 'list-type=2'
           AND r->>'path' LIKE '/hive/t/%'), 1::bigint, 'reads only the matching object');
SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM hive WHERE dt >= '2026-11-26'), 21::bigint, 'ranges prune too');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/hive/t/%'
           AND coalesce(r->>'query', '') NOT LIKE '%list-type%'), 3::bigint, 'three objects read');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM hive WHERE hour = 9') l),
  '%Partition Pruning: on%Objects Read: 3%Objects Pruned: 0%Directories Pruned: 4%',
  'EXPLAIN says how many directories were pruned (their objects were never even listed)');

-- ANALYZE
ANALYZE hive;
SELECT is((SELECT reltuples FROM pg_class WHERE oid = 'hive'::regclass), 61::real, 'ANALYZE counts the rows');
SELECT ok((SELECT n_distinct IS NOT NULL FROM pg_stats WHERE tablename = 'hive' AND attname = 'dt'),
  'and gathers column statistics');

SELECT * FROM finish();
ROLLBACK;
