-- jsonb columns are built from the text the reader checked, without a
-- second parse (src/fdw/jsonb_build.c); the datum must be the one jsonb_in
-- makes of the same text, for every shape of value, and jsonb_in's errors
-- must stay its errors.
BEGIN;
\ir lib/helpers.psql
SELECT plan(11);

SELECT pg_temp.s3('mb jsonb');
-- one record per shape: nested containers, escapes of every kind, duplicate
-- keys (the last wins in jsonb), integers at and past int64, decimals of up
-- to 18 digits at every scale and past them, exponents, long numbers,
-- top-level scalars, white space, deep nesting
SELECT pg_temp.s3_put('s3://jsonb/shapes.json', string_agg(r, E'\n' ORDER BY n))
FROM (VALUES
  (1,  '{"n":1,"v":{"a":1,"b":[1,2,{"c":null}],"d":"x"}}'),
  (2,  '{"n":2,"v":{"s":"tab\there \"quoted\" back\\slash \/ \b\f\n\r é \u00e9 \u20ac \ud83d\ude00"}}'),
  (3,  '{"n":3,"v":{"a":1,"a":2,"b":{"x":1,"x":[3]}}}'),
  (4,  '{"n":4,"v":[0,-0,1,-1,123456789012345678,-123456789012345678,1234567890123456789,99999999999999999999]}'),
  (5,  '{"n":5,"v":[1.5,-1.50,0.000001,3.14159265358979323846264338327950288419716939937510,100.0]}'),
  (6,  '{"n":6,"v":[1e3,1E-2,-2.5e+10,0e0]}'),
  (7,  '{"n":7,"v":"just a string"}'),
  (8,  '{"n":8,"v":42}'),
  (9,  '{"n":9,"v":true}'),
  (10, '{"n":10,"v":false}'),
  (11, '{"n":11,"v":  { "sp" :  [ 1 , "a" , { } , [ ] ]  ,  "e" : {} } }'),
  (12, '{"n":12,"v":' || repeat('[', 60) || '1' || repeat(']', 60) || '}'),
  (13, '{"n":13,"v":{"' || repeat('k', 300) || '":"' || repeat('long ', 2000) || '"}}'),
  (14, '{"n":14,"v":[' || repeat('7', 150) || ', -0.' || repeat('3', 120) || ']}'),
  (15, '{"n":15,"v":{"z":1,"a":2,"m":{"bb":1,"a":2,"ccc":3}}}'),
  (16, '{"n":16,"v":""}'),
  (17, '{"n":17,"v":{"\u0041\u00df":"\u00df"}}'),
  (18, '{"n":18,"v":[-0.0,0.10,1.2345,12345.6789,-0.000123400,0.000000000000000001,123456789.123456789,' ||
       '-123456789.123456789,1234567890.123456789,68.6945,-35.3246,3.64,-18.8,10.0000,99999999999999999.9]}'),
  -- past JB_OFFSET_STRIDE (32): every 32nd JEntry an offset; keys of
  -- several lengths out of order, duplicates among them, numbers and
  -- containers after strings of odd lengths (alignment padding)
  (19, '{"n":19,"v":{' || (SELECT string_agg(format('"%s":%s', repeat(chr(97 + i % 26), 1 + i % 5),
          CASE i % 4 WHEN 0 THEN i::text WHEN 1 THEN format('"%s"', repeat('x', i % 7))
                     WHEN 2 THEN format('[%s.5,{"a":%s}]', i, i) ELSE 'null' END), ',') FROM generate_series(1, 80) i)
       || ',"arr":[' || (SELECT string_agg(CASE WHEN i % 3 = 0 THEN format('"%s"', repeat('y', i % 5))
                                        ELSE (i * 1.25)::text END, ',') FROM generate_series(1, 100) i) || ']}}')
) AS s(n, r);

CREATE FOREIGN TABLE shapes (n int, j jsonb OPTIONS (field 'v'), t json OPTIONS (field 'v'))
  SERVER lake OPTIONS (uri 's3://jsonb/shapes.json');

SELECT is((SELECT count(*) FROM shapes), 19::bigint, 'every shape was read');
SELECT is_empty($$SELECT n FROM shapes WHERE j IS DISTINCT FROM t::text::jsonb$$,
  'each value equals what jsonb_in makes of its text');
SELECT is_empty($$SELECT n FROM shapes WHERE j::text IS DISTINCT FROM t::text::jsonb::text$$,
  'and prints the same');
SELECT is_empty($$SELECT n FROM shapes WHERE pg_column_size(j) <> pg_column_size(t::text::jsonb)$$,
  'and is stored in the same number of bytes');
-- the binary form byte for byte: each value stored beside jsonb_in's in a
-- heap page, their tuples' bytes compared (pageinspect)
CREATE EXTENSION IF NOT EXISTS pageinspect;
CREATE TABLE pair (n int, built bool, j jsonb);	-- j starts at byte 9 of each tuple
ALTER TABLE pair ALTER COLUMN j SET STORAGE PLAIN;
INSERT INTO pair SELECT n, true, j FROM shapes WHERE pg_column_size(j) < 6000;
INSERT INTO pair SELECT n, false, t::text::jsonb FROM shapes WHERE pg_column_size(j) < 6000;
SELECT ok((SELECT count(DISTINCT n) FROM pair) >= 17 AND EXISTS (SELECT FROM pair WHERE n = 19),
  'the values small enough for one page were stored, shape 19 among them');
SELECT is_empty($$
  WITH tup AS (SELECT p.n, p.built, substr(i.t_data, 9) AS datum
               FROM generate_series(0, pg_relation_size('pair') / 8192 - 1) AS blk
                    CROSS JOIN LATERAL heap_page_items(get_raw_page('pair', blk::int)) AS i
                    JOIN pair p ON p.ctid = ('(' || blk || ',' || i.lp || ')')::tid)
  SELECT a.n FROM tup a JOIN tup b ON a.n = b.n AND a.built AND NOT b.built
  WHERE a.datum IS DISTINCT FROM b.datum OR a.datum IS NULL$$,
  'each value is the datum jsonb_in makes, byte for byte');
-- lookups go through the JEntry offsets: every key and element of shape 19
SELECT is_empty($$
  SELECT k FROM shapes, jsonb_object_keys(j) k
  WHERE n = 19 AND (j -> k) IS DISTINCT FROM (t::text::jsonb -> k)
  UNION ALL
  SELECT i::text FROM shapes, generate_series(0, 99) i
  WHERE n = 19 AND (j -> 'arr' -> i) IS DISTINCT FROM (t::text::jsonb -> 'arr' -> i)$$,
  'every key and element is found through the offsets');
SELECT is((SELECT j->>'a' FROM shapes WHERE n = 3), '2', 'of duplicate keys the last wins, as in jsonb_in');
SELECT is((SELECT j->'s' FROM shapes WHERE n = 2),
  to_jsonb(E'tab\there "quoted" back\\slash / \b\f\n\r é é € 😀'::text), 'escapes and surrogate pairs decoded');

-- what jsonb_in refuses is still refused, with its error
SELECT pg_temp.s3_put('s3://jsonb/nul.json', '{"v":{"a":"x\u0000y"}}');
SELECT pg_temp.s3_put('s3://jsonb/lone.json', '{"v":["\ud83d"]}');
CREATE FOREIGN TABLE nul (j jsonb OPTIONS (field 'v')) SERVER lake OPTIONS (uri 's3://jsonb/nul.json');
CREATE FOREIGN TABLE lone (j jsonb OPTIONS (field 'v')) SERVER lake OPTIONS (uri 's3://jsonb/lone.json');
SELECT throws_ok('SELECT * FROM nul', '22P05', NULL, 'a \u0000 escape is refused as jsonb_in refuses it');
SELECT throws_ok('SELECT * FROM lone', '22032', NULL, 'a lone surrogate is refused (by the reader, before any jsonb)');

SELECT * FROM finish();
ROLLBACK;
