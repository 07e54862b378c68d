-- One large gzip object read by several processes (issue 10): the first
-- whole read by a parallel scan builds an index of restart points
-- (src/fdw/gzsplit.c) and keeps it under the data directory (a serial scan
-- builds none); later parallel scans read the object
-- in parts, each from its restart point, and return exactly the rows of a
-- serial read.  A stale, corrupt or foreign index is ignored: the object is
-- read whole, never wrong rows.  The index is the reading role's own.
BEGIN;
\ir lib/helpers.psql
SELECT plan(28);

SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL pipeline.split_size = '256kB';

CREATE FUNCTION pg_temp.explain(q text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(q) l
$$;
CREATE FUNCTION pg_temp.indexes() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT f FROM pg_ls_dir('pipeline_gzindex', true, false) f WHERE f LIKE '%.gzi' ORDER BY 1
$$;
-- records of about 60 bytes that do not compress to nothing
CREATE FUNCTION pg_temp.records(a int, b int) RETURNS text LANGUAGE sql AS $$
  SELECT format($c$seq %s %s | awk '{ srand($1); printf "{\"i\":%%d,\"v\":%%d,\"s\":\"dev-%%04d\",\"r\":%%d}\n", $1, $1 %% 1000, $1 %% 10000, int(rand() * 1000000) }'$c$, a, b)
$$;
SELECT pg_temp.sh('rm -rf pipeline_gzindex');
SELECT pg_temp.s3('mb gzsplit');

-- one member, 40,000 records, 2.4 MB decompressed
SELECT pg_temp.s3_put_from('s3://gzsplit/one.json.gz', pg_temp.records(1, 40000) || ' | gzip -6 -c');
CREATE FOREIGN TABLE one (i int, v int, s text, r int) SERVER lake OPTIONS (uri 's3://gzsplit/one.json.gz');

-- the serial read: the answer, and no index
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_one (n, s, d, sv, sr) AS
  SELECT count(*), sum(i), count(DISTINCT i), sum(v), sum(r::bigint) FROM one;
SELECT is((SELECT (n, s::numeric, d) FROM serial_one), (40000::bigint, 800020000::numeric, 40000::bigint),
  'single member: the serial read, every record');
SELECT is((SELECT count(*) FROM pg_temp.indexes()), 0::bigint, 'a serial scan builds no index');
SET LOCAL max_parallel_workers_per_gather = 2;

-- the first parallel scan: read whole by one participant, which indexes it
SELECT alike(pg_temp.explain('EXPLAIN SELECT count(*) FROM one'), '%Gather%Parallel Foreign Scan on one%',
  'a parallel plan');
CREATE TEMP TABLE first_one AS SELECT pg_temp.explain(
  'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM one') AS p;
SELECT unalike((SELECT p FROM first_one), '%Object Parts Read%', 'the first parallel scan reads it whole');
SELECT is((SELECT count(*) FROM pg_temp.indexes()), 1::bigint, 'and left an index in the cache');

-- in parts
SELECT pg_temp.clear_requests();
CREATE TEMP TABLE par_one (n, s, d, sv, sr) AS
  SELECT count(*), sum(i), count(DISTINCT i), sum(v), sum(r::bigint) FROM one;
SELECT is((SELECT (n, s, d, sv, sr) FROM par_one), (SELECT (n, s, d, sv, sr) FROM serial_one),
  'single member in parts: count, sums and distinct records equal the serial read''s');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'path' = '/gzsplit/one.json.gz'
               AND r->>'range' ~ '^bytes=\d+-\d+$' AND r ? 'if_match'), '>=', 5::bigint,
  'read in compressed byte ranges, each with If-Match on the ETag');
CREATE TEMP TABLE plan_one AS SELECT pg_temp.explain(
  'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT sum(v) FROM one') AS p;
SELECT alike((SELECT p FROM plan_one), '%Workers Launched: %Objects Read: 1%Object Parts Read: %Part Readers: %Records: 40000%',
  'EXPLAIN ANALYZE: one object, in parts, each record once');
SELECT cmp_ok((SELECT substring(p FROM 'Object Parts Read: (\d+)')::int FROM plan_one), '>=', 5,
  'one part per restart point: about one per 256 kB of the 1.8 MB decompressed');
-- every record once, not just the totals
CREATE TEMP TABLE rows_par AS SELECT i, count(*) AS c FROM one GROUP BY i;
SELECT is((SELECT (count(*), max(c), min(i), max(i)) FROM rows_par), (40000::bigint, 1::bigint, 1, 40000),
  'each of the 40,000 records exactly once');

-- without workers the index changes nothing
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM one'),
  '%Object Parts Read%', 'a serial scan reads it whole');
SET LOCAL max_parallel_workers_per_gather = 2;

-- several members back to back (appending writers), member boundaries inside parts
SELECT pg_temp.s3_put_from('s3://gzsplit/multi.json.gz',
  format('(%s | gzip -1 -c; %s | gzip -9 -c; printf "" | gzip -c; %s | gzip -c)',
         pg_temp.records(1, 15000), pg_temp.records(15001, 27000), pg_temp.records(27001, 40000)));
CREATE FOREIGN TABLE multi (i int, v int, s text, r int) SERVER lake OPTIONS (uri 's3://gzsplit/multi.json.gz');
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_multi (n, s, d, sv, sr) AS
  SELECT count(*), sum(i), count(DISTINCT i), sum(v), sum(r::bigint) FROM multi;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE TEMP TABLE first_multi AS SELECT count(*) AS n FROM multi;
SELECT is((SELECT count(*) FROM pg_temp.indexes()), 2::bigint, 'multi-member: indexed by its first parallel scan');
CREATE TEMP TABLE par_multi (n, s, d, sv, sr) AS
  SELECT count(*), sum(i), count(DISTINCT i), sum(v), sum(r::bigint) FROM multi;
SELECT is((SELECT (n, s, d, sv, sr) FROM par_multi), (SELECT (n, s, d, sv, sr) FROM serial_multi),
  'four members in parts: equal to the serial read');
SELECT is((SELECT (n, d) FROM par_multi), (40000::bigint, 40000::bigint), 'every record of every member');
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM multi'),
  '%Object Parts Read: %Records: 40000%', 'multi-member: in parts');

-- CSV with a header: later parts get the header from the first bytes
SELECT pg_temp.s3_put_from('s3://gzsplit/one.csv.gz',
  format($c$(echo "r,s,i"; seq 1 30000 | awk '{ printf "%%d,dev-%%04d,%%d\n", ($1 * 7919) %% 100003, $1 %% 10000, $1 }') | gzip -c$c$));
CREATE FOREIGN TABLE onecsv (i int, s text) SERVER lake OPTIONS (uri 's3://gzsplit/one.csv.gz', format 'csv');
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is((SELECT (count(*), sum(i)) FROM onecsv), (30000::bigint, 450015000::bigint), 'CSV: serial read');
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE TEMP TABLE first_csv AS SELECT count(*) AS n FROM onecsv;
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM onecsv'),
  '%Object Parts Read: %Records: 30000%', 'CSV: in parts once indexed');
CREATE TEMP TABLE par_csv (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT s) FROM onecsv;
SELECT is((SELECT (n, s::numeric, d) FROM par_csv), (30000::bigint, 450015000::numeric, 10000::bigint),
  'CSV in parts: columns by the header in every part');

-- a corrupt index is ignored: read whole, the right rows
SELECT pg_temp.sh('for f in pipeline_gzindex/*.gzi; do printf X | dd of="$f" bs=1 seek=5000 conv=notrunc 2>/dev/null; done');
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM one'),
  '%Object Parts Read%', 'a corrupt index (a byte changed): read whole');
CREATE TEMP TABLE corrupt_one (n, s, d, sv, sr) AS
  SELECT count(*), sum(i), count(DISTINCT i), sum(v), sum(r::bigint) FROM one;
SELECT is((SELECT (n, s, d, sv, sr) FROM corrupt_one), (SELECT (n, s, d, sv, sr) FROM serial_one),
  'and right');
-- that whole (parallel) read indexed it again
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM one'),
  '%Object Parts Read%', 'the whole read wrote a good index again: in parts');

-- a stale index: the object was replaced (new ETag); another object's index under its name
SELECT pg_temp.s3_put_from('s3://gzsplit/one.json.gz', pg_temp.records(1, 39000) || ' | gzip -6 -c');
CREATE TEMP TABLE stale_one (n, s) AS SELECT count(*), sum(i) FROM one;
SELECT is((SELECT (n, s::numeric) FROM stale_one), (39000::bigint, 760519500::numeric),
  'the object replaced: its old index is not used, the new version read right');
-- every index file gets the next one's bytes (valid files, other objects)
SELECT pg_temp.sh($c$cd pipeline_gzindex && set -- *.gzi && cp "$1" first.tmp && while [ $# -gt 1 ]; do cp "$2" "$1"; shift; done && mv first.tmp "$1"$c$);
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM multi'),
  '%Object Parts Read%', 'another object''s index under its name: read whole');
CREATE TEMP TABLE foreign_multi (n, s, d, sv, sr) AS
  SELECT count(*), sum(i), count(DISTINCT i), sum(v), sum(r::bigint) FROM multi;
SELECT is((SELECT (n, s, d, sv, sr) FROM foreign_multi), (SELECT (n, s, d, sv, sr) FROM serial_multi),
  'and right');

-- the index is the role's own: another role builds its own, reads right
CREATE ROLE gz_other;
GRANT USAGE ON FOREIGN SERVER lake TO gz_other;
CREATE USER MAPPING FOR gz_other SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
GRANT SELECT ON one TO gz_other;
SELECT pg_temp.sh('rm -rf pipeline_gzindex');
CREATE TEMP TABLE own_one (n, s) AS SELECT count(*), sum(i) FROM one;	-- indexed for the test's role
SET LOCAL ROLE gz_other;
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM one'),
  '%Object Parts Read%', 'another role does not use this role''s index: its first read is whole');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.indexes()), 2::bigint, 'and built its own');

-- a parallel scan of a prefix shares its objects among the participants: it builds no index
SELECT pg_temp.sh('rm -rf pipeline_gzindex');
SELECT pg_temp.s3_put_from('s3://gzsplit/p/a.json.gz', pg_temp.records(1, 40000) || ' | gzip -6 -c');
CREATE FOREIGN TABLE prefixed (i int) SERVER lake OPTIONS (uri 's3://gzsplit/p/');
CREATE TEMP TABLE got_prefixed AS SELECT count(*) AS n FROM prefixed;
SELECT is((SELECT (n, (SELECT count(*) FROM pg_temp.indexes())) FROM got_prefixed), (40000::bigint, 0::bigint),
  'a parallel scan of a prefix reads right and builds no index');

-- pipeline.gzip_index_cache_size = 0: no index built or used
SET LOCAL pipeline.gzip_index_cache_size = 0;
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM one'),
  '%Object Parts Read%', 'with the cache off: read whole');
RESET pipeline.gzip_index_cache_size;

SELECT pg_temp.sh('rm -rf pipeline_gzindex');
SELECT * FROM finish();
ROLLBACK;
