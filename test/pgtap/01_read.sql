-- Reading objects: layouts, compression, prefixes, metadata, types.
BEGIN;
\ir lib/helpers.psql
SELECT plan(31);

SELECT pg_temp.s3('mb read');
-- NDJSON, gzip, with a blank line and CRLF line ends
SELECT pg_temp.s3_put('s3://read/raw/a.json.gz',
  E'{"device_id":"d1","battery":81.5,"ts":"2026-11-25T10:00:00Z","loc":{"lat":52.5,"lon":13.4}}\r\n\r\n' ||
  E'{"device_id":"d2","battery":12,"ts":"2026-11-25T10:00:01+02:00","loc":{"lat":48.1}}\n', 'gzip -c');
-- concatenated without separators, plain
SELECT pg_temp.s3_put('s3://read/raw/b.json',
  '{"device_id":"d3","battery":50}{"device_id":"d4","battery":null}{"device_id":"d5"}');
-- a top-level array
SELECT pg_temp.s3_put('s3://read/raw/c.json',
  E'[{"device_id":"d6","battery":1.25},\n {"device_id":"d7","battery":2.5}]');
-- several gzip members back to back (Firehose appends)
SELECT pg_temp.s3_put_from('s3://read/raw/d.json.gz',
  'printf ''{"device_id":"d8"}\n'' | gzip -c; printf ''{"device_id":"d9"}\n'' | gzip -c');
-- not under the prefix
SELECT pg_temp.s3_put('s3://read/other/e.json', '{"device_id":"x"}');

CREATE FOREIGN TABLE ping (
  device_id text,
  battery   float8,
  ts        timestamptz,
  lat       float8 OPTIONS (field 'loc.lat'),
  src       text   OPTIONS (metadata 'uri'),
  k         text   OPTIONS (metadata 'key'),
  sz        bigint OPTIONS (metadata 'size'),
  lm        timestamptz OPTIONS (metadata 'last_modified'),
  ln        bigint OPTIONS (metadata 'line')
) SERVER lake OPTIONS (uri 's3://read/raw/');

SELECT is((SELECT count(*) FROM ping), 9::bigint, 'a prefix reads every object under it, all layouts');
SELECT set_eq('SELECT device_id FROM ping',
  ARRAY['d1','d2','d3','d4','d5','d6','d7','d8','d9'], 'every record of every layout, none outside the prefix');
SELECT is((SELECT battery FROM ping WHERE device_id = 'd1'), 81.5::float8, 'numbers');
SELECT is((SELECT battery FROM ping WHERE device_id = 'd2'), 12::float8, 'integers into float8');
SELECT ok((SELECT battery IS NULL FROM ping WHERE device_id = 'd4'), 'JSON null is NULL');
SELECT ok((SELECT battery IS NULL AND ts IS NULL FROM ping WHERE device_id = 'd5'), 'a missing key is NULL');
SELECT is((SELECT ts FROM ping WHERE device_id = 'd1'), '2026-11-25 10:00:00+00'::timestamptz, 'ISO-8601 with Z');
SELECT is((SELECT ts FROM ping WHERE device_id = 'd2'), '2026-11-25 08:00:01+00'::timestamptz, 'ISO-8601 with an offset');
SELECT is((SELECT lat FROM ping WHERE device_id = 'd2'), 48.1::float8, 'a dotted path reads a nested field');
SELECT is((SELECT src FROM ping WHERE device_id = 'd1'), 's3://read/raw/a.json.gz', 'metadata uri');
SELECT is((SELECT k FROM ping WHERE device_id = 'd6'), 'raw/c.json', 'metadata key');
SELECT is((SELECT sz FROM ping WHERE device_id = 'd3'),
          (SELECT octet_length('{"device_id":"d3","battery":50}{"device_id":"d4","battery":null}{"device_id":"d5"}'))::bigint,
          'metadata size is the object''s size');
SELECT ok((SELECT lm BETWEEN now() - interval '10 minutes' AND now() + interval '1 minute' FROM ping WHERE device_id = 'd1'),
          'metadata last_modified');
SELECT is((SELECT array_agg(ln ORDER BY ln) FROM ping WHERE k = 'raw/a.json.gz'), '{1,3}'::bigint[],
          'metadata line counts lines, blank ones and CRLF included');
SELECT is((SELECT array_agg(DISTINCT ln) FROM ping WHERE k = 'raw/b.json'), '{1}'::bigint[],
          'concatenated records share their line');

-- one object
CREATE FOREIGN TABLE one (device_id text) SERVER lake OPTIONS (uri 's3://read/raw/b.json');
SELECT is((SELECT count(*) FROM one), 3::bigint, 'a URI without a trailing slash is one object');
CREATE FOREIGN TABLE star (device_id text) SERVER lake OPTIONS (uri 's3://read/raw/*');
SELECT is((SELECT count(*) FROM star), 9::bigint, 'a trailing * makes any key prefix');
CREATE FOREIGN TABLE plain (device_id text) SERVER lake OPTIONS (uri 's3://read/raw/b.json', compression 'none');
SELECT is((SELECT count(*) FROM plain), 3::bigint, 'compression none');
CREATE FOREIGN TABLE forced (device_id text) SERVER lake OPTIONS (uri 's3://read/raw/a.json.gz', compression 'gzip');
SELECT is((SELECT count(*) FROM forced), 2::bigint, 'compression gzip');

-- types
SELECT pg_temp.s3_put('s3://read/types/t.json',
  '{"t":"héllo \"q\" \u00e9","v":"abc","i2":7,"i4":-2147483648,"i8":9007199254740993,"f4":1.5,"f8":1e-3,' ||
  '"n":123456789012345678901234567890.5,"b":true,"d":"2026-02-28","ts":"2026-11-25T10:00:00.123456",' ||
  '"tz":"2026-11-25 10:00:00.5-05:30","j":{"a":[1,2]},"jb":[1,{"b":null}],"a":[1,2,null,4],"ta":["x","y"],' ||
  '"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","num_as_text":42,"obj_as_text":{"k":1},"s_int":"12"}');
CREATE FOREIGN TABLE types (
  t text, v varchar(3), i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, b bool, d date,
  ts timestamp, tz timestamptz, j json, jb jsonb, a int[], ta text[], u uuid,
  num_as_text text, obj_as_text text, s_int int4
) SERVER lake OPTIONS (uri 's3://read/types/t.json');
SELECT is((SELECT t FROM types), 'héllo "q" é', 'text with escapes and non-ASCII');
SELECT is((SELECT row(v, i2, i4, i8)::text FROM types), '(abc,7,-2147483648,9007199254740993)', 'varchar and integers');
SELECT is((SELECT row(f4, f8, n)::text FROM types), '(1.5,0.001,123456789012345678901234567890.5)', 'floats and numeric');
SELECT is((SELECT row(b, d)::text FROM types), '(t,2026-02-28)', 'bool and date');
SELECT is((SELECT ts FROM types), '2026-11-25 10:00:00.123456'::timestamp, 'timestamp');
SELECT is((SELECT tz FROM types), '2026-11-25 15:30:00.5+00'::timestamptz, 'timestamptz with an offset');
SELECT is((SELECT j::text FROM types), '{"a":[1,2]}', 'json keeps the text');
SELECT is((SELECT jb FROM types), '[1, {"b": null}]'::jsonb, 'jsonb');
SELECT is((SELECT a FROM types), '{1,2,NULL,4}'::int[], 'an int array from a JSON array, with a null');
SELECT is((SELECT ta FROM types), '{x,y}'::text[], 'a text array');
SELECT is((SELECT row(u, num_as_text, obj_as_text, s_int)::text FROM types),
          '(a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,42,"{""k"":1}",12)',
          'other types through their input function; numbers and objects into text; a string into int');
SELECT is((SELECT count(*) FROM types WHERE i8 = 9007199254740993), 1::bigint, 'int8 beyond double precision is exact');

SELECT * FROM finish();
ROLLBACK;
