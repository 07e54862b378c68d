-- Keys with "./" and "../" segments are keys like any other: they are read
-- as they are, signed as they are sent (libcurl must not remove the dot
-- segments after signing), and one of them does not break a scan of its
-- prefix.
BEGIN;
\ir lib/helpers.psql
SELECT plan(6);

SELECT pg_temp.s3('mb dots');
SELECT pg_temp.s3_put('s3://dots/in/a/./b.json', '{"v":1}');
SELECT pg_temp.s3_put('s3://dots/in/a/../c.json', '{"v":2}');
SELECT pg_temp.s3_put('s3://dots/in/x/../../y.json', '{"v":3}');
SELECT pg_temp.s3_put('s3://dots/in/plain.json', '{"v":4}');

CREATE FOREIGN TABLE dots_all (v int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://dots/in/');
CREATE FOREIGN TABLE dots_prefix (v int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://dots/in/a/../');
CREATE FOREIGN TABLE dots_one (v int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://dots/in/a/./b.json');

SELECT pg_temp.clear_requests();
SELECT results_eq($$SELECT v, k FROM dots_all ORDER BY v$$,
  $$VALUES (1, 'in/a/./b.json'), (2, 'in/a/../c.json'), (3, 'in/x/../../y.json'), (4, 'in/plain.json')$$,
  'a prefix with such keys reads every object');
SELECT results_eq($$SELECT v, k FROM dots_prefix$$, $$VALUES (2, 'in/a/../c.json')$$,
  'a prefix with "../" in it');
SELECT results_eq($$SELECT v, k FROM dots_one$$, $$VALUES (1, 'in/a/./b.json')$$,
  'one object with "./" in its key');
SELECT results_eq($$SELECT v FROM dots_all WHERE k = 'in/x/../../y.json'$$, $$VALUES (3)$$,
  'a filter on such a key');

-- what went over the wire: the paths as signed, dot segments and all
SELECT is((SELECT count(*) FROM pg_temp.requests() r
           WHERE r->>'method' = 'GET' AND r->>'path' IN ('/dots/in/a/./b.json', '/dots/in/a/../c.json',
                                                         '/dots/in/x/../../y.json')
             AND (r->>'status')::int IN (200, 206)),
          (SELECT count(*) FROM pg_temp.requests() r
           WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/dots/in/%' AND r->>'path' <> '/dots/in/plain.json'),
          'every GET of a dotted key was sent as is and signed right');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE (r->>'status')::int >= 400), 0::bigint,
  'no request was refused');

SELECT * FROM finish();
ROLLBACK;
