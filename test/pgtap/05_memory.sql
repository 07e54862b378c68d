-- Memory stays flat in the size of the object: a 146 MB (uncompressed)
-- gzip object is scanned by a fresh backend whose peak resident memory
-- (VmHWM) must grow by far less than the object.
BEGIN;
\ir lib/helpers.psql
SELECT pg_temp.s3('mb mem');
-- 600,000 records of about 260 bytes, generated and gzipped by the server's OS user
SELECT pg_temp.s3_put_from('s3://mem/big/records.json.gz',
  format('%1$s/tools/node/node %1$s/test/pgtap/lib/records.mjs 600000 | gzip -1 -c',
         current_setting('pipeline_test.top')));
ROLLBACK;

-- a new backend: its peak memory is its own
\c
BEGIN;
\ir lib/helpers.psql
SELECT plan(3);
CREATE FOREIGN TABLE mem (i int, device_id text, pad text) SERVER lake
  OPTIONS (uri 's3://mem/big/records.json.gz');
CREATE FUNCTION pg_temp.peak_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint
$$;
SELECT set_config('pipeline_test.before', pg_temp.peak_kb()::text, true) \g /dev/null
SELECT is((SELECT count(*) FROM mem WHERE length(pad) = 200), 600000::bigint, 'all 600,000 records of the 146 MB object');
SELECT cmp_ok((SELECT (regexp_match(string_agg(l, E'\n'), 'Bytes Decoded: (\d+)'))[1]::bigint
               FROM (SELECT * FROM pg_temp.explain_lines('EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) SELECT i FROM mem')) x(l)),
              '>', 140000000::bigint, 'the object is more than 140 MB uncompressed');
SELECT cmp_ok(pg_temp.peak_kb() - current_setting('pipeline_test.before')::bigint, '<', 32768::bigint,
              'peak memory grew by less than 32 MB');
SELECT * FROM finish();
ROLLBACK;
