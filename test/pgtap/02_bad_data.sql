-- Bad data: clear errors naming the object, record, line and column with
-- on_error 'stop'; skipped, counted and kept for inspection with 'skip';
-- corrupt compression and hostile JSON never crash.
BEGIN;
\ir lib/helpers.psql
SELECT plan(28);

SELECT pg_temp.s3('mb bad');
SELECT pg_temp.s3_put('s3://bad/v/1.json',
  E'{"id":1,"battery":10}\n{"id":2,"battery":"abc"}\n{"id":3,"battery":30}\n{"id":4,battery:40}\n{"id":5,"battery":{"x":1}}\n{"id":6,"battery":60}\n');

CREATE FOREIGN TABLE v_stop (id int, battery float8) SERVER lake OPTIONS (uri 's3://bad/v/');
CREATE FOREIGN TABLE v_skip (id int, battery float8) SERVER lake OPTIONS (uri 's3://bad/v/', on_error 'skip');

SELECT throws_ok('SELECT * FROM v_stop', '22P02',
  'invalid value for column "battery" in record 2 of "s3://bad/v/1.json"',
  'a bad value stops the scan, naming column, record and object');
DO $$
BEGIN
  PERFORM * FROM v_stop;
EXCEPTION WHEN OTHERS THEN
  DECLARE d text;
  BEGIN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    PERFORM set_config('pipeline_test.detail', d, true);
  END;
END $$;
SELECT is(current_setting('pipeline_test.detail'),
  'Line 2: invalid input syntax for type double precision: "abc".', 'the detail gives the line and the value');

-- The WARNINGs this session got since the last mark, from the server log
-- (a unique application_name tells this session's lines).
SELECT set_config('application_name', 'pgtap-02-' || md5(random()::text), false) \g /dev/null
CREATE FUNCTION pg_temp.mark_warnings() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('pipeline_test.warned', (SELECT count(*) FROM pg_temp.server_log('WARNING:  '))::text, false)
$$;
CREATE FUNCTION pg_temp.warnings_since_mark() RETURNS text[] LANGUAGE sql AS $$
  SELECT ARRAY(SELECT regexp_replace(l, '^.*WARNING:  ', '') FROM pg_temp.server_log('WARNING:  ') l
               OFFSET current_setting('pipeline_test.warned')::int)
$$;
SELECT pg_temp.mark_warnings();
SELECT results_eq('SELECT id, battery FROM v_skip', $$VALUES (1, 10::float8), (3, 30), (6, 60)$$,
  'on_error skip keeps the good records, and only them');
SELECT is(pg_temp.warnings_since_mark(), ARRAY['skipped 3 bad records of foreign table "v_skip"'],
  'a WARNING at the end of the scan counts them');
SELECT is((SELECT count(*) FROM pipeline.rejects()), 3::bigint, 'and remembers the bad ones');
SELECT is((SELECT array_agg(record ORDER BY record) FROM pipeline.rejects()), '{2,4,5}'::bigint[],
          'by record number');
SELECT is((SELECT array_agg(line ORDER BY record) FROM pipeline.rejects()), '{2,4,5}'::bigint[], 'and line');
SELECT ok((SELECT bool_and(uri = 's3://bad/v/1.json' AND relation = 'v_skip'::regclass) FROM pipeline.rejects()),
          'with the object and the table');
SELECT alike((SELECT error FROM pipeline.rejects() WHERE record = 4), 'line 4, column %', 'a syntax error says where');
SELECT alike((SELECT error FROM pipeline.rejects() WHERE record = 5), 'column "battery": cannot convert an object to double precision%',
            'a type mismatch says what it found');
SELECT is((SELECT raw FROM pipeline.rejects() WHERE record = 2), '{"id":2,"battery":"abc"}', 'the raw record is kept');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT * FROM v_skip') l),
  '%Records: 6%Rejected Records: 3%', 'EXPLAIN ANALYZE counts every record, and the rejected ones');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT * FROM v_skip WHERE id > 2') l),
  '%Rejected Records: 3%', 'whatever the WHERE clause keeps');
-- pipeline.max_rejects bounds what is remembered, not what is counted or read
SET pipeline.max_rejects = 2;
SELECT pg_temp.mark_warnings();
SELECT results_eq('SELECT id, battery FROM v_skip', $$VALUES (1, 10::float8), (3, 30), (6, 60)$$,
  'pipeline.max_rejects: the scan goes on past it');
SELECT is((SELECT array_agg(record ORDER BY record) FROM pipeline.rejects()), '{2,4}'::bigint[],
  'the first pipeline.max_rejects bad records are remembered');
SELECT is(pg_temp.warnings_since_mark(), ARRAY['skipped 3 bad records of foreign table "v_skip"'],
  'the WARNING still counts all of them');
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines(
    'EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT * FROM v_skip') l),
  '%Rejected Records: 3%', 'and so does EXPLAIN ANALYZE');
SET pipeline.max_rejects = 0;
SELECT is((SELECT count(battery) FROM v_skip), 3::bigint, 'pipeline.max_rejects = 0: good records only');
SELECT is((SELECT count(*) FROM pipeline.rejects()), 0::bigint, 'and none remembered');
RESET pipeline.max_rejects;

-- compression gone wrong
-- distinct records compress to several kB: keep the first 1000 bytes
SELECT pg_temp.s3_put('s3://bad/gz/truncated.json.gz',
  (SELECT string_agg(format('{"id":%s}', i), E'\n') FROM generate_series(1, 2000) i), 'gzip -c | head -c 1000');
CREATE FOREIGN TABLE trunc (id int) SERVER lake OPTIONS (uri 's3://bad/gz/truncated.json.gz');
SELECT throws_like('SELECT count(*) FROM trunc', 'could not decompress "s3://bad/gz/truncated.json.gz"%',
  'a truncated gzip object is a clear error');
SELECT pg_temp.s3_put_from('s3://bad/gz/corrupt.json.gz',
  'printf ''{"id":1}\n'' | gzip -c | head -c 12; head -c 200 /dev/zero | tr ''\0'' ''x''');
CREATE FOREIGN TABLE corrupt (id int) SERVER lake OPTIONS (uri 's3://bad/gz/corrupt.json.gz');
SELECT throws_like('SELECT count(*) FROM corrupt', 'could not decompress "s3://bad/gz/corrupt.json.gz"%',
  'a corrupt gzip object is a clear error');
CREATE FOREIGN TABLE corrupt_skip (id int) SERVER lake
  OPTIONS (uri 's3://bad/gz/corrupt.json.gz', on_error 'skip');
SELECT lives_ok('SELECT count(*) FROM corrupt_skip', 'with on_error skip the object is skipped');
SELECT alike((SELECT error FROM pipeline.rejects()), 'could not decompress the rest of the object%',
            'and the reason remembered');

-- hostile JSON
SELECT pg_temp.s3_put_from('s3://bad/j/utf8.json', 'printf ''{"t":"a\\377b"}\n''');
CREATE FOREIGN TABLE utf8 (t text) SERVER lake OPTIONS (uri 's3://bad/j/utf8.json');
SELECT throws_like('SELECT * FROM utf8', 'invalid JSON in record 1 of "s3://bad/j/utf8.json"',
  'invalid UTF-8 is a clear error');
SELECT pg_temp.s3_put('s3://bad/j/nul.json', '{"t":"a\u0000b"}');
CREATE FOREIGN TABLE nul (t text, j json) SERVER lake OPTIONS (uri 's3://bad/j/nul.json');
SELECT throws_ok('SELECT t FROM nul', '22P05',
  'invalid value for column "t" in record 1 of "s3://bad/j/nul.json"', '\u0000 cannot become text');
SELECT pg_temp.s3_put_from('s3://bad/j/deep.json',
  'printf ''{"t":''; head -c 100000 /dev/zero | tr ''\0'' ''[''; head -c 100000 /dev/zero | tr ''\0'' '']''; printf ''}''');
CREATE FOREIGN TABLE deep (t text) SERVER lake OPTIONS (uri 's3://bad/j/deep.json');
SELECT throws_like('SELECT * FROM deep', 'invalid JSON in record 1 of "s3://bad/j/deep.json"',
  'nesting deep enough to blow a stack is a clear error');
SELECT pg_temp.s3_put('s3://bad/j/scalar.json', E'{"t":"ok"}\n42\n');
CREATE FOREIGN TABLE scalar (t text) SERVER lake OPTIONS (uri 's3://bad/j/scalar.json');
SELECT throws_like('SELECT * FROM scalar', 'invalid JSON in record 2 of "s3://bad/j/scalar.json"',
  'a record must be an object');
SELECT pg_temp.s3_put('s3://bad/j/cut.json', E'{"t":"ok"}\n{"t":"no end');
CREATE FOREIGN TABLE cut (t text) SERVER lake OPTIONS (uri 's3://bad/j/cut.json');
SELECT throws_like('SELECT * FROM cut', 'invalid JSON in record 2 of "s3://bad/j/cut.json"',
  'a record cut short at the end of the object');

SELECT * FROM finish();
ROLLBACK;
