-- CSV header 'skip' (Athena's skip.header.line.count = 1): each object's
-- first line is not read, columns are mapped by position.  The header's
-- names are irrelevant (even names that match other columns, or none);
-- objects read in parts by a parallel scan skip it once, not per part.
BEGIN;
\ir lib/helpers.psql
SELECT plan(10);

SELECT pg_temp.s3('mb skiphdr');
-- header names that would map the wrong way round by name
SELECT pg_temp.s3_put('s3://skiphdr/a.csv', E'b,a\n1,x\n2,y\n');
SELECT pg_temp.s3_put('s3://skiphdr/b.csv.gz', E'Some Title;With spaces\n3,z\n', 'gzip -c');
SELECT pg_temp.s3_put('s3://skiphdr/c.csv', E'only a header\n');
SELECT pg_temp.s3_put('s3://skiphdr/d.csv', '');

CREATE FOREIGN TABLE skipped (a int, b text, k text OPTIONS (metadata 'key'))
  SERVER lake OPTIONS (uri 's3://skiphdr/', format 'csv', header 'skip');
SELECT is((SELECT array_agg(format('%s:%s', a, b) ORDER BY a) FROM skipped), '{1:x,2:y,3:z}',
  'the first line of each object is skipped; columns by position, not by the header''s names');
SELECT is((SELECT count(*) FROM skipped WHERE k IN ('c.csv', 'd.csv')), 0::bigint,
  'an object of only a header, or empty, has no rows');

-- what the other modes do with the same objects
CREATE FOREIGN TABLE by_name (a int, b text) SERVER lake OPTIONS (uri 's3://skiphdr/a.csv', format 'csv', header 'true');
SELECT throws_ok('SELECT * FROM by_name', '22P02', NULL, 'header ''true'' maps by name: a is read from column "a" (x)');
CREATE FOREIGN TABLE no_header (a int, b text) SERVER lake OPTIONS (uri 's3://skiphdr/a.csv', format 'csv', header 'false');
SELECT throws_ok('SELECT * FROM no_header', '22P02', NULL, 'header ''false'' reads the header line as a record');
CREATE FOREIGN TABLE skip_one (a int, b text) SERVER lake OPTIONS (uri 's3://skiphdr/a.csv', format 'csv', header 'skip');
SELECT is((SELECT sum(a) FROM skip_one), 3::bigint, 'a single object');
SELECT is((SELECT count(*) FROM skip_one), 2::bigint, 'count(*) too (no column read)');

-- a large object split across parallel workers: the header is skipped once
SELECT pg_temp.s3_put_from('s3://skiphdr/big/big.csv',
  $$printf 'name one,name two\n'; seq 1 200000 | awk '{print $1",v"$1}'$$);
CREATE FOREIGN TABLE big (a int, b text) SERVER lake OPTIONS (uri 's3://skiphdr/big/', format 'csv', header 'skip');
SET LOCAL pipeline.split_size = '256kB';
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
-- (pgTAP's queries run in functions, never in parallel: CREATE TABLE AS is)
CREATE TEMP TABLE got_big (r) AS SELECT format('%s %s %s', count(*), sum(a), count(DISTINCT a)) FROM big;
SELECT is((SELECT r FROM got_big), '200000 20000100000 200000', 'every record once, the header skipped once');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT sum(a) FROM big') l),
  '%Workers Launched: %Objects Read: 1%Object Parts Read: %Records: 200000%',
  'read in parts by a parallel scan; the header of later parts is not a record');

-- validation
SELECT throws_like($$CREATE FOREIGN TABLE bad (a int) SERVER lake OPTIONS (uri 's3://skiphdr/', format 'csv', header 'skip2')$$,
  'invalid value for option "header": "skip2"', 'a bad value');
SELECT throws_like($$CREATE FOREIGN TABLE bad (a int) SERVER lake OPTIONS (uri 's3://skiphdr/', header 'skip')$$,
  'option "header" is only valid with format ''csv''', 'CSV only');

SELECT * FROM finish();
ROLLBACK;
