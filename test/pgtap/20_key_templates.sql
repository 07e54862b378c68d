-- Key templates (option key_template): keys laid out as Firehose writes them
-- ("raw/v0/deviceping/2026/11/25/13/"), their parts as columns, objects
-- pruned before any GET, the listing narrowed by equality, bad templates
-- refused with a hint.  Keys that do not match have NULL parts and are not
-- lost by pruning (IS NULL finds them).
BEGIN;
\ir lib/helpers.psql
SELECT plan(31);

-- The hint of the error a statement raises (NULL if none).
CREATE FUNCTION pg_temp.hint_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
  EXECUTE stmt;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN h;
END $$;

SELECT pg_temp.s3('mb ktpl');
-- 2 years x 2 months x 2 days x 2 hours = 16 objects of 3 records (v 1..3)
SELECT pg_temp.s3_put(format('s3://ktpl/raw/v0/deviceping/%s/%s/%s/%s/part-0.json', y, m, d, h),
  (SELECT string_agg(format('{"v":%s}', i), E'\n') FROM generate_series(1, 3) i))
  FROM (VALUES ('2025'), ('2026')) y(y), (VALUES ('09'), ('11')) m(m),
       (VALUES ('24'), ('25')) d(d), (VALUES ('09'), ('10')) h(h);
-- keys that do not match the template: under a year, a month 13, outside its literal text
SELECT pg_temp.s3_put('s3://ktpl/raw/v0/deviceping/2026/stray.json', '{"v":100}');
SELECT pg_temp.s3_put('s3://ktpl/raw/v0/deviceping/2026/13/01/00/part-0.json', '{"v":200}');
SELECT pg_temp.s3_put('s3://ktpl/raw/other/2026/11/25/10/part-0.json', '{"v":400}');

CREATE FOREIGN TABLE pings (v int, year int, month int, day smallint, hour text,
                            k text OPTIONS (metadata 'key'))
  SERVER lake OPTIONS (uri 's3://ktpl/raw/', key_template 'raw/v0/deviceping/{year}/{month}/{day}/{hour}/');

-- parts as columns
SELECT is((SELECT count(*) FROM pings), 51::bigint, 'every object is read without a WHERE');
SELECT is((SELECT array_agg(p ORDER BY p) FROM (SELECT DISTINCT format('%s-%s-%s-%s', year, month, day, hour) p
             FROM pings WHERE year IS NOT NULL) s),
  '{2025-11-24-09,2025-11-24-10,2025-11-25-09,2025-11-25-10,2025-9-24-09,2025-9-24-10,2025-9-25-09,2025-9-25-10,2026-11-24-09,2026-11-24-10,2026-11-25-09,2026-11-25-10,2026-9-24-09,2026-9-24-10,2026-9-25-09,2026-9-25-10}'::text[],
  'each part a typed column: integers without their zeros, text as the key has it');
SELECT is((SELECT array_agg(c ORDER BY c) FROM (SELECT count(*) c FROM pings WHERE year IS NOT NULL
                                                GROUP BY year, month, day, hour) s),
  array_fill(3::bigint, ARRAY[16]), 'three rows per part');
SELECT is((SELECT array_agg(v ORDER BY v) FROM pings WHERE year IS NULL), '{100,200,400}'::int[],
  'keys that do not match the template have NULL parts (a month 13 does not match)');

-- equality on leading parts narrows the listing prefix; other objects are never listed nor read
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(v) FROM pings WHERE year = 2026 AND month = 11 AND day = 25 AND hour = '10'),
  6::bigint, 'equality on every part');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET'
           AND coalesce(r->>'query', '') NOT LIKE '%list-type%' AND r->>'path' LIKE '/ktpl/%'),
  1::bigint, 'one GET: the one object of that hour');
SELECT ok((SELECT count(*) > 0 AND bool_and(r->>'query' LIKE '%prefix=raw%2Fv0%2Fdeviceping%2F2026%2F11%2F25%2F10%2F%')
           FROM pg_temp.requests() r WHERE coalesce(r->>'query', '') LIKE '%list-type%'),
  'every listing is of raw/v0/deviceping/2026/11/25/10/');

SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM pings WHERE year = 2025 AND month = 9), 12::bigint, 'equality on the leading parts');
SELECT ok((SELECT count(*) > 0 AND bool_and(r->>'query' LIKE '%prefix=raw%2Fv0%2Fdeviceping%2F2025%2F09%2F%')
           FROM pg_temp.requests() r WHERE coalesce(r->>'query', '') LIKE '%list-type%'),
  'the listing starts at raw/v0/deviceping/2025/09/: 9 is spelled as keys spell it');

-- ranges prune objects before any GET (and directories while walking)
SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM pings WHERE year = 2026 AND day >= 25 AND hour > '09'), 6::bigint,
  'ranges on later parts');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'method' = 'GET'
           AND coalesce(r->>'query', '') NOT LIKE '%list-type%' AND r->>'path' LIKE '/ktpl/%'),
  2::bigint, 'two GETs: months 09 and 11 of day 25, hour 10');
SELECT is((SELECT count(*) FROM pings WHERE month BETWEEN 11 AND 12), 24::bigint, 'a range on a middle part');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT count(*) FROM pings WHERE hour = ''09'' AND month = 11') l),
  '%Partition Pruning: on%Objects Read: 4%',
  'EXPLAIN ANALYZE: only the four objects of hour 09 in month 11 are read');

-- EXPLAIN shows the listing prefix the template narrowed (plan time: constants; ANALYZE and
-- EXECUTE: parameters too)
SELECT ok('Listing Prefix: s3://ktpl/raw/v0/deviceping/2026/11/' IN (SELECT trim(l) FROM pg_temp.explain_lines(
    'EXPLAIN (COSTS OFF) SELECT count(*) FROM pings WHERE year = 2026 AND month = 11') l),
  'EXPLAIN: the listing prefix equality on leading parts narrowed');
SELECT ok('Listing Prefix: s3://ktpl/raw/v0/deviceping/2025/' IN (SELECT trim(l) FROM pg_temp.explain_lines(
    'EXPLAIN (COSTS OFF) SELECT count(*) FROM pings WHERE year = 2025 AND day = 24') l),
  'EXPLAIN: a later part does not narrow past a gap');
SELECT ok('Listing Prefix: s3://ktpl/raw/v0/deviceping/' IN (SELECT trim(l) FROM pg_temp.explain_lines(
    'EXPLAIN (COSTS OFF) SELECT count(*) FROM pings WHERE month = 11') l),
  'EXPLAIN: the template''s literal text when no leading part is fixed');
SELECT ok('Listing Prefix: (none can match)' IN (SELECT trim(l) FROM pg_temp.explain_lines(
    'EXPLAIN (COSTS OFF) SELECT count(*) FROM pings WHERE year = 2026 AND month = 13') l),
  'EXPLAIN: a value no key can hold');
PREPARE by_hour(int, int) AS SELECT count(*) FROM pings WHERE year = $1 AND month = $2;
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT ok('Listing Prefix: s3://ktpl/raw/v0/deviceping/2025/09/' IN (SELECT trim(l) FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) EXECUTE by_hour(2025, 9)') l),
  'EXPLAIN ANALYZE of a generic plan: the prefix its parameters narrowed');
RESET plan_cache_mode;
DEALLOCATE by_hour;

-- non-strict clauses: pruning never loses keys that do not match the template
SELECT is((SELECT sum(v) FROM pings WHERE year IS NULL OR year = 2030), 700::bigint,
  'IS NULL finds the keys that do not match, also under directories of the template');
SELECT is((SELECT sum(v) FROM pings WHERE coalesce(month, 13) = 13), 700::bigint,
  'coalesce over NULL parts is not pruned away');

-- impossible values: nothing is listed or read, not even to plan
SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM pings WHERE month = 13), 0::bigint, 'month 13 is in no key of the template');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'path' LIKE '/ktpl%'), 0::bigint,
  'neither listed nor read anything');
SELECT is((SELECT count(*) FROM pings WHERE month = 9 AND month::text = '11'), 0::bigint, 'month 9 and 11');

-- parameters of a generic plan narrow too
PREPARE by_year(int, int) AS SELECT count(*) FROM pings WHERE year = $1 AND month = $2;
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT is((SELECT count(*) FROM pings WHERE year = 2026 AND month = 9), 12::bigint, 'literal values');
EXECUTE by_year(2026, 9);		-- plans (generic: the parameters are not known yet)
SELECT pg_temp.clear_requests();
EXECUTE by_year(2026, 9);		-- the cached plan: the execution narrows
SELECT ok((SELECT count(*) > 0 AND bool_and(r->>'query' LIKE '%prefix=raw%2Fv0%2Fdeviceping%2F2026%2F09%2F%')
           FROM pg_temp.requests() r WHERE coalesce(r->>'query', '') LIKE '%list-type%'),
  'a generic plan''s parameters narrow the listing as literals do');

-- a column with its own options is not a part; a date part
CREATE FOREIGN TABLE pings2 (v int, year int OPTIONS (field 'v'), month text)
  SERVER lake OPTIONS (uri 's3://ktpl/raw/v0/deviceping/2026/11/', key_template 'raw/v0/deviceping/{year}/{month}/{day}/{hour}/');
SELECT is((SELECT array_agg(DISTINCT year::text || '/' || month) FROM pings2), '{1/11,2/11,3/11}',
  'a column with a "field" option reads the field; the uri may go into the template');

-- bad templates are refused, with a hint
SELECT throws_like($$CREATE FOREIGN TABLE bad (v int) SERVER lake OPTIONS (uri 's3://ktpl/', key_template 'raw/{year/')$$,
  'invalid value for option "key_template"%', 'an unclosed brace');
SELECT throws_like($$CREATE FOREIGN TABLE bad (v int) SERVER lake OPTIONS (uri 's3://ktpl/', key_template 'raw/{device}{date}/')$$,
  'invalid value for option "key_template"%', 'a text part followed by another part');
SELECT throws_like($$CREATE FOREIGN TABLE bad (v int) SERVER lake OPTIONS (uri 's3://other/', key_template 'raw/{year}/{year}/')$$,
  'invalid value for option "key_template"%', 'a name used twice');
SELECT throws_like($$CREATE FOREIGN TABLE bad (v int) SERVER lake OPTIONS (uri 's3://ktpl/logs/', key_template 'raw/{year}/')$$,
  'option "key_template" cannot match any key under "s3://ktpl/logs/"', 'a template no key under the uri can match');
SELECT is(pg_temp.hint_of($$ALTER FOREIGN TABLE pings OPTIONS (SET key_template 'raw/{year:week}/')$$),
  'A key template is the layout of whole keys with {name} or {name:type} placeholders, e.g. ''raw/v0/deviceping/{year}/{month}/{day}/{hour}/''; types are year, month, day, hour, minute, date, int and text.',
  'ALTER to an unknown type is refused with a hint naming the types');

SELECT * FROM finish();
ROLLBACK;
