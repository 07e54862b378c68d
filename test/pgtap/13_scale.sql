-- Scans that scale with the data: memory flat in the number of objects, the
-- listing streamed page by page (planning lists one page), parallel scans
-- handing out objects as they are listed, and object quals (partitions,
-- size, last_modified) decided from the listing before any GET.  The
-- emulator's synthetic buckets (tools/node/README.md) hold the objects.
BEGIN;
\ir lib/helpers.psql
SELECT plan(20);

-- what S3 was asked, as the emulator logged it
CREATE FUNCTION pg_temp.lists() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT r FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'query' LIKE '%list-type=2%'
$$;
-- GETs of objects (not the planning's sample of an unanalyzed table: a Range GET)
CREATE FUNCTION pg_temp.gets(bucket text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_temp.requests() r
  WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/' || bucket || '/%' AND r->>'range' IS NULL
$$;

-- 1. Memory: 2,000 objects, every GET in a memory context of its own, freed
-- when its object is done.  The contexts of the scan are measured while it
-- runs, at every row (from a volatile function: a function scan with no
-- parameter would be read once and rewound).
CREATE FUNCTION pg_temp.scan_memory(row_value int) RETURNS numeric LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN (SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name LIKE 'pipeline_s3%');
END $$;
CREATE FOREIGN TABLE many (i int, o int) SERVER lake OPTIONS (uri 's3://synthetic-2000-1/');
CREATE TEMP TABLE mem AS
  SELECT count(*) AS n, count(DISTINCT o) AS objects, max(bytes) AS peak, min(bytes) AS low
  FROM (SELECT o, pg_temp.scan_memory(o) AS bytes FROM many m) x;
SELECT is((SELECT (n, objects) FROM mem), (2000::bigint, 2000::bigint), 'every record of the 2,000 objects');
SELECT cmp_ok((SELECT peak FROM mem), '<', 4 * 1024 * 1024::numeric,
  'the scan''s memory stays under 4 MB (it used to grow by 7.9 kB an object: 16 MB)');
SELECT cmp_ok((SELECT peak - low FROM mem), '<', 2 * 1024 * 1024::numeric,
  'and does not grow with the objects read');

-- 2. The listing is streamed: planning lists one page of a prefix of
-- 100,000 objects, and a scan that stops early lists no more than it reads.
CREATE FOREIGN TABLE lots (i int, o int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-100000-1/');
SELECT pg_temp.clear_requests();
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT count(*) FROM lots') l),
  '%Estimated Objects: %', 'EXPLAIN of 100,000 objects');
SELECT is((SELECT count(*) FROM pg_temp.lists()), 1::bigint, 'planning lists one page, not the whole prefix');
SELECT pg_temp.clear_requests();
SELECT is((SELECT array_agg(k ORDER BY k) FROM (SELECT k FROM lots LIMIT 3) x),
  '{part-00000.json,part-00001.json,part-00002.json}', 'the first rows');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.lists()), '<=', 2::bigint,
  'come after one or two pages of listing (the planning''s page is reused)');
SELECT cmp_ok(pg_temp.gets('synthetic-100000-1'), '<=', 6::bigint, 'and a few GETs');

-- 3. Parallel: the participants list page by page through shared memory
-- (at most 1,024 objects queued), each object read by exactly one of them.
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
CREATE FOREIGN TABLE par3k (i int, o int) SERVER lake OPTIONS (uri 's3://synthetic-3000-2/');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT count(*) FROM par3k') l),
  '%Gather%Parallel Foreign Scan on par3k%', 'a parallel plan');
SELECT pg_temp.clear_requests();
-- (at top level: queries run by pgTAP's functions are never parallel)
CREATE TEMP TABLE par_result AS SELECT count(*) AS n, count(DISTINCT o) AS objects, sum(i) AS s FROM par3k;
SELECT is((SELECT (n, objects, s) FROM par_result), (6000::bigint, 3000::bigint, 3000::bigint),
  'every record of 3,000 objects, once');
SELECT is(pg_temp.gets('synthetic-3000-2'), 3000::bigint, 'each object fetched once across the participants');
SELECT ok((SELECT count(*) FROM pg_temp.lists() r WHERE r->>'query' LIKE '%continuation-token=%max-keys=%') >= 2,
  'the participants listed a page at a time, as the shared queue ran short');

-- a report's run (a SELECT that may be parallel) records the bytes its workers read too
SET LOCAL parallel_leader_participation = off;
SELECT pipeline.create_report(name => 'par_bytes', query => 'SELECT count(*) AS n FROM par3k', target => 'par_bytes');
SELECT pipeline.run_report('par_bytes');
SELECT is((SELECT (rows, bytes) FROM pipeline.runs WHERE report = 'par_bytes'), (1::bigint, 3000 * 200::bigint),
  'a run records the bytes its scan''s parallel workers read');
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;

-- 4. Partitions narrow the listing: of 20,000 objects in 2,000 daily
-- directories, only the directory of the day is listed (after one page of
-- the prefix for the planning's estimate, and the directories themselves).
CREATE FOREIGN TABLE days (i int, o int, dt date OPTIONS (partition 'dt')) SERVER lake
  OPTIONS (uri 's3://synthetic-20000-1-hive/');
SELECT pg_temp.clear_requests();
SELECT results_eq($$SELECT count(*), min(o), max(o) FROM days WHERE dt = '2026-01-05'$$,
  'VALUES (10::bigint, 40, 49)', 'the 10 objects of one day');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.lists() r
               WHERE r->>'query' NOT LIKE '%delimiter=%' AND r->>'query' NOT LIKE '%prefix=dt%3D2026-01-05%2F%'),
  '<=', 1::bigint, 'no other directory is listed (one page of the prefix, for planning)');
SELECT is(pg_temp.gets('synthetic-20000-1-hive'), 10::bigint, 'nor read');

-- 5. size and last_modified are decided from the listing, before any GET
CREATE FOREIGN TABLE stamped (i int, o int, modified timestamptz OPTIONS (metadata 'last_modified'),
                              bytes bigint OPTIONS (metadata 'size')) SERVER lake
  OPTIONS (uri 's3://synthetic-50-1/');
SELECT pg_temp.clear_requests();
SELECT is((SELECT array_agg(o ORDER BY o) FROM stamped WHERE modified < '2026-01-01 00:00:03+00'),
  '{0,1,2}'::int[], 'last_modified <');
SELECT is(pg_temp.gets('synthetic-50-1'), 3::bigint, 'fetches only the 3 objects that can match');
SELECT pg_temp.s3('mb sizes');
SELECT pg_temp.s3_put(format('s3://sizes/in/%s.json', n), (SELECT string_agg('{"v":1}', E'\n') FROM generate_series(1, n)))
  FROM unnest('{1,100,1000}'::int[]) n;
CREATE FOREIGN TABLE sized (v int, bytes bigint OPTIONS (metadata 'size')) SERVER lake OPTIONS (uri 's3://sizes/in/');
SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM sized WHERE bytes >= 500), 1100::bigint, 'size >=');
SELECT is(pg_temp.gets('sizes'), 2::bigint, 'fetches only the two large objects');

SELECT * FROM finish();
ROLLBACK;
