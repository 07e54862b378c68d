-- One large plain object read by several processes: a parallel scan reads
-- it in parts (byte ranges), each part starting at its first line end and
-- finishing the record that crosses its end; every record exactly once.
-- Objects whose records are not one per line are read whole, or fail:
-- never rows cut at the wrong place.  gzip objects are read whole.
BEGIN;
\ir lib/helpers.psql
SELECT plan(26);

SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL pipeline.split_size = '256kB';

CREATE FUNCTION pg_temp.explain(q text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(q) l
$$;
-- queries run by pgTAP's functions (and INSERT ... SELECT) are never
-- parallel: results are taken at top level, by CREATE TABLE AS

-- JSON lines: 40,000 records of 100 bytes, 4 MB, one object
CREATE FOREIGN TABLE one (i int, o int, v int) SERVER lake OPTIONS (uri 's3://synthetic-1-40000/part-0.json');
SELECT alike(pg_temp.explain('EXPLAIN SELECT count(*) FROM one'), '%Gather%Parallel Foreign Scan on one%',
  'one large object: a parallel plan');
SELECT pg_temp.clear_requests();
CREATE TEMP TABLE got_json (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT i) FROM one;
SELECT is((SELECT (n, s::numeric, d) FROM got_json), (40000::bigint, 799980000::numeric, 40000::bigint),
  'every record once');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'path' = '/synthetic-1-40000/part-0.json'
               AND r->>'range' ~ '^bytes=\d+-\d+$'), '>=', 16::bigint, 'read in byte ranges');
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT sum(v) FROM one'),
  '%Workers Launched: %Objects Read: 1%Object Parts Read: 16%Records: 40000%',
  'EXPLAIN ANALYZE: one object, 16 parts, each record once');

-- records of 128 bytes: part boundaries fall exactly on record starts
CREATE FOREIGN TABLE aligned (i int) SERVER lake OPTIONS (uri 's3://synthetic-1-16384-128/part-0.json');
SET LOCAL pipeline.split_size = '64kB';
CREATE TEMP TABLE got_aligned (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT i) FROM aligned;
SELECT is((SELECT (n, s::numeric, d) FROM got_aligned), (16384::bigint, 134209536::numeric, 16384::bigint),
  'parts that end exactly where a record starts');

-- CSV with a header: the later parts are read with the object's header
CREATE FOREIGN TABLE onecsv (o int, i int, s text) SERVER lake
  OPTIONS (uri 's3://synthetic-1-30000-100-csv/part-0.csv', format 'csv');
CREATE TEMP TABLE got_csv (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT s) FROM onecsv;
SELECT is((SELECT (n, s::numeric, d) FROM got_csv), (30000::bigint, 449985000::numeric, 10000::bigint),
  'CSV: columns by the header name in every part');
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM onecsv'),
  '%Object Parts Read: %Records: 30000%', 'in parts');

-- CRLF line ends, blank lines, no line end at the very end
SELECT pg_temp.s3('mb split');
SELECT pg_temp.s3_put('s3://split/crlf.json',
  (SELECT string_agg(format('{"i":%s,"pad":"%s"}', i, repeat('y', i % 50)) || CASE WHEN i % 7 = 0 THEN E'\r\n\r\n' ELSE E'\r\n' END,
                     '' ORDER BY i) FROM generate_series(1, 12000) i) || '{"i":0}');
CREATE FOREIGN TABLE crlf (i int) SERVER lake OPTIONS (uri 's3://split/crlf.json');
CREATE TEMP TABLE got_crlf (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT i) FROM crlf;
SELECT is((SELECT (n, s::numeric, d) FROM got_crlf), (12001::bigint, 72006000::numeric, 12001::bigint),
  'CRLF, blank lines and a last record without a line end');
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM crlf'),
  '%Object Parts Read: %Records: 12001%', 'in parts too');

-- an error in a later part names the byte, not a record number counted from the part
SELECT pg_temp.s3_put('s3://split/bad.json',
  (SELECT string_agg(CASE WHEN i = 9000 THEN '{"i":"nine thousand"}' ELSE format('{"i":%s,"pad":"%s"}', i, repeat('z', 60)) END,
                     E'\n') FROM generate_series(1, 12000) i));
CREATE FOREIGN TABLE bad (i int) SERVER lake OPTIONS (uri 's3://split/bad.json');
SELECT throws_like($$SELECT pg_temp.explain('EXPLAIN ANALYZE SELECT sum(i) FROM bad')$$,
  'invalid value for column "i" in the record at byte % of "s3://split/bad.json"', 'a bad value in a part');

-- records one per line at first, pretty-printed later: the parts do not
-- agree on where records start, and the scan fails rather than cut them
SELECT pg_temp.s3_put('s3://split/pretty.json',
  (SELECT string_agg(format('{"i":%s,"pad":"%s"}', i, repeat('p', 80)), E'\n') FROM generate_series(1, 4000) i) || E'\n' ||
  (SELECT string_agg(format(E'{\n  "pad": "%s",\n  "i": %s\n}', repeat('q', 900), i), E'\n') FROM generate_series(4001, 5000) i));
CREATE FOREIGN TABLE pretty (i int) SERVER lake OPTIONS (uri 's3://split/pretty.json');
SELECT throws_ok($$SELECT pg_temp.explain('EXPLAIN ANALYZE SELECT count(*), sum(i) FROM pretty')$$,
  NULL, 'records that turn out not to be one per line: an error, never wrong rows');
SET LOCAL pipeline.split_size = 0;
CREATE TEMP TABLE got_pretty (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT i) FROM pretty;
SELECT is((SELECT (n, s::numeric, d) FROM got_pretty), (5000::bigint, 12502500::numeric, 5000::bigint),
  'read whole with pipeline.split_size = 0');
SET LOCAL pipeline.split_size = '64kB';

-- two records on a line, later on: a part reads on to the first record
-- that starts a line at or after its end, so the second record of a line
-- crossing a boundary is read by the part before it, and the parts agree
SELECT pg_temp.s3_put('s3://split/pairs.json',
  (SELECT string_agg(format('{"i":%s,"pad":"%s"}', i, repeat('a', 80)), E'\n') FROM generate_series(1, 3000) i) || E'\n' ||
  (SELECT string_agg(format('{"i":%s,"pad":"%s"}{"j":1}', i, repeat('b', 80)), E'\n') FROM generate_series(3001, 6000) i));
CREATE FOREIGN TABLE pairs (i int, j int) SERVER lake OPTIONS (uri 's3://split/pairs.json');
CREATE TEMP TABLE got_pairs_split (n, s, d) AS SELECT count(*), sum(i), count(j) FROM pairs;
SELECT is((SELECT (n, s::numeric, d) FROM got_pairs_split), (9000::bigint, 18003000::numeric, 3000::bigint),
  'two records on a line: every record once, read in parts');
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM pairs'),
  '%Object Parts Read: %Records: 9000%', 'in parts');
SET LOCAL pipeline.split_size = 0;
CREATE TEMP TABLE got_pairs (n, s, d) AS SELECT count(*), sum(i), count(j) FROM pairs;
SELECT is((SELECT (n, s::numeric, d) FROM got_pairs), (9000::bigint, 18003000::numeric, 3000::bigint),
  'read whole, the same');
SET LOCAL pipeline.split_size = '64kB';

-- a record and junk after it on one line that crosses a part boundary (the
-- junk past it), in the middle of an object and as its last line with no
-- line end (found by test/fuzz/fuzz_json_reader): the split read fails on
-- the junk as the whole read does, not on the parts' boundary.  Lines of
-- 100 bytes; parts of 64 kB: boundaries at 327680 and 393216 fall in lines
-- 3277 and 3933.
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.explain(q);
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLERRM;
END $$;
CREATE FUNCTION pg_temp.line(i int, junk text) RETURNS text LANGUAGE sql AS $$
  SELECT format('{"i":%s,"pad":"%s"}', i, repeat('j', 84 - length(i::text) - length(junk))) || junk
$$;
SELECT pg_temp.s3_put('s3://split/junk-mid.json',
  (SELECT string_agg(pg_temp.line(i, CASE WHEN i = 3277 THEN 'J' ELSE '' END), E'\n' ORDER BY i)
   FROM generate_series(1, 5000) i) || E'\n');
SELECT pg_temp.s3_put('s3://split/junk-last.json',
  (SELECT string_agg(pg_temp.line(i, CASE WHEN i = 3933 THEN 'J' ELSE '' END), E'\n' ORDER BY i)
   FROM generate_series(1, 3933) i));
CREATE FOREIGN TABLE junk_mid (i int) SERVER lake OPTIONS (uri 's3://split/junk-mid.json');
CREATE FOREIGN TABLE junk_last (i int) SERVER lake OPTIONS (uri 's3://split/junk-last.json');
SELECT pg_temp.clear_requests();
CREATE TEMP TABLE junk_split (t, e) AS
  SELECT t, pg_temp.error_of(format('EXPLAIN ANALYZE SELECT count(*) FROM %s', t)) FROM (VALUES ('junk_mid'), ('junk_last')) v(t);
SELECT is((SELECT count(DISTINCT r->>'path') FROM pg_temp.requests() r
           WHERE r->>'path' LIKE '/split/junk-%' AND r->>'range' ~ '^bytes=[1-9]'), 2::bigint,
  'junk objects: read in parts (byte ranges after the start)');
SET LOCAL pipeline.split_size = 0;
CREATE TEMP TABLE junk_whole (t, e) AS
  SELECT t, pg_temp.error_of(format('EXPLAIN ANALYZE SELECT count(*) FROM %s', t)) FROM (VALUES ('junk_mid'), ('junk_last')) v(t);
SET LOCAL pipeline.split_size = '64kB';
SELECT is((SELECT e FROM junk_whole WHERE t = 'junk_mid'), 'invalid JSON in record 3278 of "s3://split/junk-mid.json"',
  'read whole: the junk in the middle is invalid JSON');
SELECT is((SELECT e FROM junk_whole WHERE t = 'junk_last'), 'invalid JSON in record 3934 of "s3://split/junk-last.json"',
  'read whole: the junk at the end is invalid JSON');
-- (a part names the byte: its record numbers would count from the part)
SELECT is((SELECT e FROM junk_split WHERE t = 'junk_mid'), 'invalid JSON in the record at byte 327698 of "s3://split/junk-mid.json"',
  'read in parts: the same junk is the error, in the middle');
SELECT is((SELECT e FROM junk_split WHERE t = 'junk_last'), 'invalid JSON in the record at byte 393298 of "s3://split/junk-last.json"',
  'read in parts: the same junk is the error, on the last line after no line end');

-- pretty-printed from the start: never split
SELECT pg_temp.s3_put('s3://split/allpretty.json',
  (SELECT string_agg(format(E'{\n  "pad": "%s",\n  "i": %s\n}', repeat('q', 200), i), E'\n') FROM generate_series(1, 3000) i));
CREATE FOREIGN TABLE allpretty (i int) SERVER lake OPTIONS (uri 's3://split/allpretty.json');
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM allpretty'),
  '%Object Parts Read%', 'pretty-printed JSON is read whole');
CREATE TEMP TABLE got_allpretty (n, s, d) AS SELECT count(*), sum(i), count(DISTINCT i) FROM allpretty;
SELECT is((SELECT (n, s::numeric, d) FROM got_allpretty), (3000::bigint, 4501500::numeric, 3000::bigint),
  'and right');

-- gzip is read whole
SELECT pg_temp.s3_put_from('s3://split/big.json.gz',
  format('%1$s/tools/node/node %1$s/test/pgtap/lib/records.mjs 30000 | gzip -1 -c', current_setting('pipeline_test.top')));
CREATE FOREIGN TABLE gz (i int) SERVER lake OPTIONS (uri 's3://split/big.json.gz');
SELECT alike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM gz'),
  '%Objects Read: 1%Records: 30000%', 'a gzip object: every record');
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM gz'),
  '%Object Parts Read%', 'in one piece');

-- a "line" column needs lines counted from the object's start: read whole
CREATE FOREIGN TABLE lined (i int, line bigint OPTIONS (metadata 'line')) SERVER lake
  OPTIONS (uri 's3://synthetic-1-40000/part-0.json');
SELECT unalike(pg_temp.explain('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT max(line) FROM lined'),
  '%Object Parts Read%', 'with a line column: read whole');
CREATE TEMP TABLE got_lined (n, s, d) AS SELECT count(*), max(line), count(*) FILTER (WHERE line = i + 1) FROM lined;
SELECT is((SELECT (n, s::numeric, d) FROM got_lined), (40000::bigint, 40000::numeric, 40000::bigint),
  'and its lines are right');

SELECT * FROM finish();
ROLLBACK;
