-- Which objects are read: filters on the uri and key columns fetch only the
-- named objects (no listing) or narrow the listing; EXPLAIN shows what a
-- scan costs and EXPLAIN ANALYZE what it read.
BEGIN;
\ir lib/helpers.psql
SELECT plan(19);

SELECT pg_temp.s3('mb push');
SELECT pg_temp.s3_put('s3://push/in/2026-11-24/a.json', E'{"n":1}\n{"n":2}\n');
SELECT pg_temp.s3_put('s3://push/in/2026-11-25/b.json', E'{"n":3}\n');
SELECT pg_temp.s3_put('s3://push/in/2026-11-25/c.json.gz', E'{"n":4}\n{"n":5}\n{"n":6}\n', 'gzip -c');

CREATE FOREIGN TABLE p (n int, src text OPTIONS (metadata 'uri'), k text OPTIONS (metadata 'key'))
  SERVER lake OPTIONS (uri 's3://push/in/');

-- what S3 was asked, as the emulator logged it
CREATE FUNCTION pg_temp.lists() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_temp.requests() r
  WHERE r->>'method' = 'GET' AND r->>'query' LIKE '%list-type=2%'
$$;
CREATE FUNCTION pg_temp.gets() RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(r->>'path' ORDER BY r->>'path'), '{}') FROM pg_temp.requests() r
  WHERE r->>'method' = 'GET' AND coalesce(r->>'query', '') NOT LIKE '%list-type%'
$$;

SELECT pg_temp.clear_requests();
SELECT is((SELECT array_agg(n ORDER BY n) FROM p WHERE src = 's3://push/in/2026-11-25/b.json'), '{3}'::int[],
          'src = one URI');
SELECT is(pg_temp.lists(), 0::bigint, 'fetches without listing');
SELECT is(pg_temp.gets(), '{/push/in/2026-11-25/b.json}', 'and only that object');

SELECT pg_temp.clear_requests();
SELECT is((SELECT array_agg(n ORDER BY n) FROM p
           WHERE src = ANY (ARRAY['s3://push/in/2026-11-24/a.json', 's3://push/in/2026-11-25/c.json.gz',
                                  's3://push/in/missing.json', 's3://elsewhere/in/a.json'])),
          '{1,2,4,5,6}'::int[], 'src = ANY (array): missing objects and other buckets have no rows');
SELECT is(pg_temp.lists(), 0::bigint, 'still no listing');
SELECT is(pg_temp.gets(), '{/push/in/2026-11-24/a.json,/push/in/2026-11-25/c.json.gz,/push/in/missing.json}',
          'a GET per named object of this table');

SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM p WHERE k IN ('in/2026-11-25/b.json')), 1::bigint, 'key = works the same way');
SELECT is(pg_temp.lists(), 0::bigint, 'without a listing');

SELECT pg_temp.clear_requests();
SELECT is((SELECT array_agg(n ORDER BY n) FROM p WHERE k LIKE 'in/2026-11-25/%'), '{3,4,5,6}'::int[],
          'key LIKE prefix%');
SELECT ok((SELECT bool_and(r->>'query' LIKE '%prefix=in%2F2026-11-25%2F%') FROM pg_temp.requests() r
           WHERE r->>'query' LIKE '%list-type=2%'), 'narrows the listing prefix');
SELECT is(pg_temp.gets(), '{/push/in/2026-11-25/b.json,/push/in/2026-11-25/c.json.gz}', 'and reads only those');

PREPARE byuri(text[]) AS SELECT count(*) FROM p WHERE src = ANY ($1);
SELECT is((SELECT count(*) FROM p WHERE src = ANY ('{}'::text[])), 0::bigint, 'an empty array reads nothing');
SELECT pg_temp.clear_requests();
CREATE TEMP TABLE r AS EXECUTE byuri('{s3://push/in/2026-11-25/b.json}');
SELECT is((SELECT count FROM r), 1::bigint, 'values known only at execution (parameters)');
SELECT is(pg_temp.lists(), 0::bigint, 'are pushed down too');

-- EXPLAIN
SELECT alike((SELECT string_agg(l, E'\n') FROM (SELECT * FROM pg_temp.explain_lines(
              'EXPLAIN SELECT n FROM p')) x(l)),
             '%S3 URI: s3://push/in/%Format: json%Compression: auto%Estimated Objects: 3%Estimated Bytes: %',
             'EXPLAIN shows the URI, format, compression, estimated objects and bytes');
SELECT alike((SELECT string_agg(l, E'\n') FROM (SELECT * FROM pg_temp.explain_lines(
              'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) SELECT n FROM p')) x(l)),
             '%Objects Read: 3%Bytes Read: % bytes%Bytes Decoded: 48 bytes%Records: 6%Rejected Records: 0%',
             'EXPLAIN ANALYZE shows objects, bytes read and decoded, records and rejects');

-- only the columns a query reads are formed; the others are null in the
-- scan's rows, and a whole-row reference reads every column
SELECT is((SELECT array_agg(to_jsonb(p) ORDER BY n) FROM p WHERE n = 3),
  ARRAY['{"k": "in/2026-11-25/b.json", "n": 3, "src": "s3://push/in/2026-11-25/b.json"}'::jsonb],
  'a whole-row reference has every column');
SELECT is((SELECT array_agg(k || ':' || n ORDER BY n) FROM p WHERE n IN (1, 4)),
  '{in/2026-11-24/a.json:1,in/2026-11-25/c.json.gz:4}', 'a key column and a field read together');
SELECT is((SELECT array_agg(src ORDER BY src) FROM p WHERE k LIKE '%b.json'),
  '{s3://push/in/2026-11-25/b.json}', 'a column only in the filter is formed for it');

SELECT * FROM finish();
ROLLBACK;
