-- The planner's estimates without listing whole prefixes: rows per byte
-- measured on a sample (no 10x error without ANALYZE), ANALYZE's rows kept
-- exactly for an unchanged table, ANALYZE over a streamed listing, and
-- what a complete scan listed used by the next plans.
BEGIN;
\ir lib/helpers.psql
SELECT plan(11);

-- the planner's row estimate of a query (the top plan node's)
CREATE FUNCTION pg_temp.plan_rows(q text) RETURNS numeric LANGUAGE sql AS $$
  SELECT ((string_agg(l, E'\n'))::jsonb -> 0 -> 'Plan' ->> 'Plan Rows')::numeric
  FROM pg_temp.explain_lines('EXPLAIN (FORMAT JSON) ' || q) l
$$;
CREATE FUNCTION pg_temp.plan_text(q text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN ' || q) l
$$;

-- gzip JSON of small records: 20 records in 100 bytes, not 2.5
SELECT pg_temp.s3('mb est');
SELECT pg_temp.s3_put('s3://est/small/a.json.gz',
  (SELECT string_agg(format('{"v":%s}', i % 10), E'\n') FROM generate_series(1, 20000) i), 'gzip -9 -c');
CREATE FOREIGN TABLE small (v int) SERVER lake OPTIONS (uri 's3://est/small/');
SELECT cmp_ok(pg_temp.plan_rows('SELECT * FROM small'), '>', 10000::numeric,
  'gzip of small records, without ANALYZE: rows estimated from a sample, not from a constant');
SELECT cmp_ok(pg_temp.plan_rows('SELECT * FROM small'), '<', 40000::numeric, 'and not too high either');

-- plain JSON lines of 100 bytes
CREATE FOREIGN TABLE plain (i int) SERVER lake OPTIONS (uri 's3://synthetic-1-40000/part-0.json');
SELECT is(pg_temp.plan_rows('SELECT * FROM plain'), 40000::numeric, 'plain JSON lines: rows from the sample');

-- ANALYZE of a table of 72 rows in 6 small objects: the planner keeps 72
SELECT pg_temp.s3_put(format('s3://est/six/%s.json', o),
  (SELECT string_agg(format('{"v":%s}', i), E'\n') FROM generate_series(1, 12) i))
  FROM generate_series(1, 6) o;
CREATE FOREIGN TABLE six (v int) SERVER lake OPTIONS (uri 's3://est/six/');
ANALYZE six;
SELECT is((SELECT reltuples FROM pg_class WHERE oid = 'six'::regclass), 72::real, 'ANALYZE counts 72 rows');
SELECT is(pg_temp.plan_rows('SELECT * FROM six'), 72::numeric,
  'and the plan estimates 72, not 12 (bytes are counted in pages as ANALYZE counts them)');

-- ANALYZE over 20,000 objects: the listing streamed, a sample of them read
CREATE FOREIGN TABLE wide (i int, o int) SERVER lake OPTIONS (uri 's3://synthetic-20000-1/');
SET LOCAL pipeline.analyze_objects = 16;
SELECT pg_temp.clear_requests();
ANALYZE wide;
SELECT is((SELECT (reltuples, relpages) FROM pg_class WHERE oid = 'wide'::regclass), (20000::real, 245),
  'ANALYZE: the rows and 8 kB pages of 20,000 objects');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/synthetic-20000-1/%'),
  16::bigint, 'reading 16 of them');
SELECT alike(pg_temp.plan_text('SELECT * FROM wide'), '%Estimated Objects: 20000%',
  'later plans take the objects from what ANALYZE listed, after one page');

-- without ANALYZE: after a complete scan, later plans know how many objects there are
CREATE FOREIGN TABLE fivek (i int) SERVER lake OPTIONS (uri 's3://synthetic-5000-1/');
SELECT alike(pg_temp.plan_text('SELECT * FROM fivek'), '%Estimated Objects: 10000%',
  'before: a first page of 1,000 keys and more to come is taken for a tenth');
SELECT is((SELECT count(*) FROM fivek), 5000::bigint, 'a scan');
SELECT alike(pg_temp.plan_text('SELECT * FROM fivek'), '%Estimated Objects: 5000%', 'after it: exact');

SELECT * FROM finish();
ROLLBACK;
