-- The decoders' memory is bounded by what they may produce, not by what a
-- record holds: a 65 KB gzip object of one 64 MB record (a 32M-element
-- array) and a 32 KB gzip line of 32M commas used to take 2.5 GB and 1.5 GB
-- of a backend, outside PostgreSQL's accounting.  Now an array record
-- beyond pipeline.max_record_size is a clear error naming the object and
-- record, the commas cost nothing, and the backend's peak memory (VmHWM)
-- stays within a few times pipeline.max_record_size.  And the buffer
-- settings cannot be set to what cannot be allocated.
BEGIN;
\ir lib/helpers.psql
SELECT pg_temp.s3('mb limits');
-- {"a":[1,1,...,1]}: 33,554,432 elements, 64 MB, about 65 KB gzipped
SELECT pg_temp.s3_put_from('s3://limits/array.json.gz',
  $$ { printf '{"a":['; yes 1, | tr -d '\n' | head -c 67108862; printf '1]}\n'; } | gzip -9 -c $$);
-- a header, then one line of 33,554,432 commas (about 32 KB gzipped)
SELECT pg_temp.s3_put_from('s3://limits/commas.csv.gz',
  $$ { printf 'a,b\n'; yes , | tr -d '\n' | head -c 33554432; printf '\nx,y\n'; } | gzip -9 -c $$);
-- the commas as the header
SELECT pg_temp.s3_put_from('s3://limits/header.csv.gz',
  $$ { yes , | tr -d '\n' | head -c 33554432; printf '\nx\n'; } | gzip -9 -c $$);
SELECT pg_temp.s3_put('s3://limits/small.json', '{"a":[1,2,3]}');
ROLLBACK;

-- a new backend: its peak memory is its own.  Each check bounds how much
-- the peak grew during one query (so the order of the queries does not
-- matter; the ones that take least come first all the same).
\c
BEGIN;
\ir lib/helpers.psql
SELECT plan(14);
CREATE FUNCTION pg_temp.peak_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint
$$;
CREATE FUNCTION pg_temp.mark() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('pipeline_test.before', pg_temp.peak_kb()::text, true)
$$;
CREATE FUNCTION pg_temp.grown_mb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (pg_temp.peak_kb() - current_setting('pipeline_test.before')::bigint) / 1024
$$;
CREATE FOREIGN TABLE arr (a int[]) SERVER lake OPTIONS (uri 's3://limits/array.json.gz');
CREATE FOREIGN TABLE arr_skip (a int[]) SERVER lake OPTIONS (uri 's3://limits/array.json.gz', on_error 'skip');
CREATE FOREIGN TABLE commas (a text, b text) SERVER lake OPTIONS (uri 's3://limits/commas.csv.gz', format 'csv');
CREATE FOREIGN TABLE commas_nohdr (c1 text, c2 text) SERVER lake
  OPTIONS (uri 's3://limits/commas.csv.gz', format 'csv', header 'false');
CREATE FOREIGN TABLE header (a text) SERVER lake OPTIONS (uri 's3://limits/header.csv.gz', format 'csv');
CREATE FOREIGN TABLE small (a int[]) SERVER lake OPTIONS (uri 's3://limits/small.json');
SET pipeline.max_record_size = 100;

-- CSV: fields no column reads take no memory
SELECT pg_temp.mark();
SELECT results_eq($$SELECT a, b FROM commas$$, $$VALUES (NULL::text, NULL::text), ('x', 'y')$$,
  'a line of 32M commas is read');
SELECT results_eq($$SELECT c1, c2 FROM commas_nohdr$$, $$VALUES ('a', 'b'), (NULL, NULL), ('x', 'y')$$,
  'without a header too');
SELECT cmp_ok(pg_temp.grown_mb(), '<', 100::bigint,
  'and the peak memory grew by less than pipeline.max_record_size');

-- a header is matched by name: as many fields as pipeline.max_record_size holds
SELECT pg_temp.mark();
SELECT throws_ok($$SELECT a FROM header$$, '54000',
  'the header of "s3://limits/header.csv.gz" has too many fields',
  'a header of 32M fields is an error naming the object');
SELECT cmp_ok(pg_temp.grown_mb(), '<', 300::bigint,
  'and the peak memory grew by less than 3 x pipeline.max_record_size');

-- JSON: array elements count against pipeline.max_record_size
SELECT pg_temp.mark();
SELECT throws_ok($$SELECT cardinality(a) FROM arr$$, '54000',
  'too many array elements in record 1 of "s3://limits/array.json.gz"',
  'a 32M-element array record is an error naming the object and record');
SELECT cmp_ok(pg_temp.grown_mb(), '<', 300::bigint,
  'and the peak memory grew by less than 3 x pipeline.max_record_size');
SELECT is((SELECT count(a) FROM arr_skip), 0::bigint, 'with on_error skip the record is skipped');
SELECT alike((SELECT error FROM pipeline.rejects()),
  '%an array of the record has more than 1638400 elements, which take more than pipeline.max_record_size (100 MB) to decode',
  'and remembered with the reason');
SELECT results_eq($$SELECT a FROM small$$, $$VALUES ('{1,2,3}'::int[])$$, 'arrays within the limit are read');

-- buffer sizes that one palloc cannot hold are refused when set; the largest work
SELECT throws_ok($$SET pipeline.max_record_size = 1024$$, '22023', NULL,
  'pipeline.max_record_size cannot be 1024 MB');
SELECT throws_ok($$SET pipeline.read_buffer_size = '1GB'$$, '22023', NULL,
  'pipeline.read_buffer_size cannot be 1 GB');
SET pipeline.read_buffer_size = 1048575;
SET pipeline.max_record_size = 1023;
SELECT results_eq($$SELECT a FROM small$$, $$VALUES ('{1,2,3}'::int[])$$,
  'a scan with the largest read buffer and record size');
SELECT is(current_setting('pipeline.max_record_size'), '1023', 'the largest record size is 1023 MB');
SELECT * FROM finish();
ROLLBACK;
