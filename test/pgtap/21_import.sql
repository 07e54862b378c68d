-- IMPORT FOREIGN SCHEMA: tables proposed from a sample of records (types,
-- nested fields, mixed kinds as jsonb, Hive partitions, key template parts),
-- LIMIT TO / EXCEPT, the sample bounded, and hostile key and directory
-- names that end up as quoted identifiers and literals, never as SQL.
BEGIN;
\ir lib/helpers.psql
SELECT plan(21);

SELECT pg_temp.s3('mb imp');
-- Firehose-style gzip JSON, concatenated without newlines, under a templated layout
SELECT pg_temp.s3_put('s3://imp/raw/deviceping/2026/11/25/10/part-0.json.gz',
  '{"deviceId":"d1","temp":21.5,"count":3,"ok":true,"at":"2026-11-25T10:00:00Z","loc":{"lat":1.5,"lon":2.5},"tags":["a","b"],"mixed":1,"year":7}'
  || '{"deviceId":"d2","temp":22,"count":5000000000,"ok":false,"at":"2026-11-25T10:05:00+01:00","loc":{"lat":-1,"lon":0},"tags":[],"mixed":"x","year":8}',
  'gzip -c');
SELECT pg_temp.s3_put('s3://imp/raw/deviceping/2026/11/25/11/part-0.json',
  '{"deviceId":"d3","temp":null,"count":1,"ok":true,"at":"2026-11-25T11:00:00Z","loc":{"lat":3,"lon":4},"tags":["c"],"mixed":{"k":1},"year":9}');
-- Hive partitions
SELECT pg_temp.s3_put(format('s3://imp/raw/hive/dt=2026-11-%s/hour=%s/part-0.json', d, h),
  format('{"v":%s}', d * 100 + h)) FROM generate_series(24, 25) d, generate_series(9, 10) h;
-- a hostile directory and a hostile key
SELECT pg_temp.s3_put('s3://imp/raw/we"ird;DROP TABLE canary;--/part-0.json',
  '{"a''); DROP TABLE canary; --":1,"b\"c":"x"}');
-- something we must not sample: more records than sample_records
SELECT pg_temp.s3_put('s3://imp/raw/many/part-0.json',
  (SELECT string_agg(CASE WHEN i <= 10 THEN format('{"n":%s}', i) ELSE '{"n":"text now"}' END, E'\n')
     FROM generate_series(1, 50) i));
CREATE TABLE canary (x int);
CREATE SCHEMA imported;

IMPORT FOREIGN SCHEMA imp LIMIT TO (deviceping) FROM SERVER lake INTO imported
  OPTIONS (prefix 'raw', key_template 'raw/deviceping/{year}/{month}/{day}/{hour}/');

-- "name type [option value]" of a table's columns
CREATE FUNCTION pg_temp.cols(t regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(format('%s %s%s', attname, format_type(atttypid, atttypmod),
                           coalesce(' ' || array_to_string(attfdwoptions, ' '), '')), ', ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped
$$;

SELECT is(pg_temp.cols('imported.deviceping'),
  'device_id text field=deviceId, temp double precision, count bigint, ok boolean, at timestamp with time zone, '
  'loc_lat double precision field=loc.lat, loc_lon double precision field=loc.lon, tags text[], mixed jsonb, '
  'year_2 integer field=year, year integer, month integer, day integer, hour integer',
  'columns and types inferred; nested fields as dotted paths; mixed kinds as jsonb; the key template''s parts');
SELECT is((SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imported.deviceping'::regclass),
  '{uri=s3://imp/raw/deviceping/,"key_template=raw/deviceping/{year}/{month}/{day}/{hour}/"}'::text[],
  'the table reads the directory, with the key template');
SELECT is((SELECT string_agg(format('%s %s %s %s %s %s', device_id, count, loc_lat, hour, year_2, mixed), '; ' ORDER BY device_id)
           FROM imported.deviceping),
  'd1 3 1.5 10 7 1; d2 5000000000 -1 10 8 "x"; d3 1 3 11 9 {"k": 1}', 'the imported table reads its records');
SELECT is((SELECT count(*) FROM imported.deviceping WHERE hour = 11), 1::bigint, 'template parts are columns');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'imported'::regnamespace), 1::bigint,
  'LIMIT TO: only that table');

-- every first-level directory, EXCEPT
IMPORT FOREIGN SCHEMA imp EXCEPT (deviceping) FROM SERVER lake INTO imported
  OPTIONS (prefix 'raw/', sample_records '10');
SELECT is((SELECT array_agg(relname::text ORDER BY relname) FROM pg_class WHERE relnamespace = 'imported'::regnamespace),
  '{deviceping,hive,many,"we\"ird;DROP TABLE canary;--"}'::text[], 'one table per directory, EXCEPT honoured');
SELECT is(pg_temp.cols('imported.hive'), 'v integer, dt date partition=dt, hour integer partition=hour',
  'Hive partitions in the sampled keys become typed partition columns');
SELECT is((SELECT sum(v) FROM imported.hive WHERE dt = '2026-11-25'), 5019::bigint, 'and are read as such');
SELECT is(pg_temp.cols('imported.many'), 'n integer',
  'sample_records bounds the sample: the text after record 10 was not seen');
SELECT ok(to_regclass('canary') IS NOT NULL, 'the hostile names ran no SQL');
SELECT is(pg_temp.cols('imported."we""ird;DROP TABLE canary;--"'),
  'a_drop_table_canary integer field=a''); DROP TABLE canary; --, b_c text field=b"c',
  'hostile keys: identifiers made of them, the keys kept as literals');
SELECT is((SELECT a_drop_table_canary FROM imported."we""ird;DROP TABLE canary;--"), 1,
  'and the table reads them');

-- options checked
SELECT throws_like($$IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported OPTIONS (sample_records '0')$$,
  'invalid value for option "sample_records": "0"', 'a sample of no records');
SELECT throws_like($$IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported OPTIONS (key_template 'raw/{x')$$,
  'invalid value for option "key_template"%', 'a bad key template');
SELECT throws_like($$IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported OPTIONS (format 'xml')$$,
  'invalid value for option "format": "xml"', 'a format that is not sampled (CSV is: 37_import_csv)');
SELECT throws_like($$IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported OPTIONS (sample 'x')$$,
  'invalid option "sample"', 'an unknown option');

-- a prefix without directories is one table; an empty one is none
CREATE SCHEMA imported2;
IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported2 OPTIONS (prefix 'raw/many/');
SELECT is((SELECT array_agg(relname::text) FROM pg_class WHERE relnamespace = 'imported2'::regnamespace), '{many}',
  'a prefix of objects is a table named after it');
SELECT is(pg_temp.cols('imported2.many'), 'n jsonb', 'the whole sample: numbers and text are jsonb');
IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported2 OPTIONS (prefix 'nothing/');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'imported2'::regnamespace), 1::bigint,
  'an empty prefix imports nothing');

-- an ordinary role reads the bucket with its own user mapping, never the server's credentials
CREATE ROLE onb_importer;
GRANT USAGE ON FOREIGN SERVER lake TO onb_importer;
GRANT USAGE, CREATE ON SCHEMA imported2 TO onb_importer;
SET LOCAL ROLE onb_importer;
SELECT throws_like($$IMPORT FOREIGN SCHEMA imp FROM SERVER lake INTO imported2 OPTIONS (prefix 'raw/')$$,
  'user mapping not found%', 'an ordinary role without a user mapping imports nothing');
RESET ROLE;
CREATE USER MAPPING FOR onb_importer SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
SET LOCAL ROLE onb_importer;
IMPORT FOREIGN SCHEMA imp LIMIT TO (hive) FROM SERVER lake INTO imported2 OPTIONS (prefix 'raw/');
RESET ROLE;
SELECT is((SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'imported2.hive'::regclass), 'onb_importer',
  'with its mapping it imports, and owns what it made');

SELECT * FROM finish();
ROLLBACK;
