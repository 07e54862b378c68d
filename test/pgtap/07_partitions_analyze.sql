-- Hive-style partitions in keys as columns, pruned before reading; ANALYZE
-- samples objects so that the planner's estimates follow the data.
BEGIN;
\ir lib/helpers.psql
SELECT plan(20);

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

-- ANALYZE, every object sampled (7 objects, pipeline.analyze_objects 16)
ANALYZE hive;
SELECT is((SELECT reltuples FROM pg_class WHERE oid = 'hive'::regclass), 61::real, 'ANALYZE counts the rows');
SELECT is(ARRAY(SELECT format('%s %s %s', attname, round(n_distinct::numeric, 4), round(null_frac::numeric, 4)) FROM pg_stats
                WHERE tablename = 'hive' AND attname IN ('dt', 'hour', 'site') ORDER BY attname),
  ARRAY['dt 4.0000 0.0000', 'hour 2.0000 0.0000', format('site %s %s', round(-1 / 61.0, 4), round(60 / 61.0, 4))],
  'and gathers column statistics: distinct values and nulls of the partition columns');

-- ANALYZE over more objects than it samples: 20 objects of 50 records,
-- every object the same size and the same pattern record by record, so
-- that whichever 4 it picks the counts are exact: g takes 5 values, n is
-- NULL in every fifth record, v is unique (1000..1999).
SELECT pg_temp.s3_put(format('s3://hive/many/part-%s.json', lpad(o::text, 2, '0')),
  (SELECT string_agg(format('{"v":%s,"g":"%s","n":%s}', 1000 + o * 50 + i, chr(97 + i % 5),
                            CASE WHEN i % 5 = 0 THEN 'null' ELSE (1000 + i)::text END), E'\n') FROM generate_series(0, 49) i))
  FROM generate_series(0, 19) o;
CREATE FOREIGN TABLE many (v int, g text, n int) SERVER lake OPTIONS (uri 's3://hive/many/');
SET pipeline.analyze_objects = 4;
SELECT pg_temp.clear_requests();
ANALYZE many;
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/hive/many/part-%'),
  4::bigint, 'ANALYZE reads pipeline.analyze_objects of the 20 objects');
SELECT is((SELECT count(DISTINCT r->>'path') FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/hive/many/part-%'),
  4::bigint, 'four different ones');
SELECT is((SELECT reltuples FROM pg_class WHERE oid = 'many'::regclass), 1000::real,
  'and extrapolates the rows of all 20 by their bytes');
SELECT is((SELECT (regexp_match(l, 'rows=(\d+)'))[1]::int FROM pg_temp.explain_lines('EXPLAIN SELECT * FROM many') l
           WHERE l LIKE 'Foreign Scan%'), 1000, 'which the planner then estimates');
SELECT results_eq($$SELECT n_distinct, null_frac FROM pg_stats WHERE tablename = 'many' AND attname = 'g'$$,
  $$VALUES (5::real, 0::real)$$, 'g: five distinct values, no nulls');
SELECT results_eq($$SELECT most_common_vals::text, most_common_freqs FROM pg_stats WHERE tablename = 'many' AND attname = 'g'$$,
  $$VALUES ('{a,b,c,d,e}', '{0.2,0.2,0.2,0.2,0.2}'::real[])$$, 'each a fifth of the rows');
SELECT results_eq($$SELECT n_distinct, null_frac FROM pg_stats WHERE tablename = 'many' AND attname = 'n'$$,
  $$VALUES (40::real, 0.2::real)$$, 'n: NULL in a fifth of the rows, 40 other values');
SELECT is((SELECT n_distinct FROM pg_stats WHERE tablename = 'many' AND attname = 'v'), -1::real, 'v: unique');
SELECT ok((SELECT cardinality(b) = 101 AND b[1] >= 1000 AND b[101] <= 1999 AND b[101] - b[1] >= 150
                  AND b = ARRAY(SELECT x FROM unnest(b) x ORDER BY x)
           FROM (SELECT histogram_bounds::text::int[] AS b FROM pg_stats WHERE tablename = 'many' AND attname = 'v') h),
  'its histogram: 101 sorted bounds within the values, over at least the 4 objects'' spread');
RESET pipeline.analyze_objects;

SELECT * FROM finish();
ROLLBACK;
