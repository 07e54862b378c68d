-- The S3 client: retries with back-off, resumed downloads, S3's errors,
-- query cancel and statement_timeout during a transfer, credentials.
BEGIN;
\ir lib/helpers.psql
SELECT plan(20);

SELECT pg_temp.s3('mb client');
SELECT pg_temp.s3_put('s3://client/d/big.json', string_agg(format('{"i":%s,"pad":"%s"}', i, repeat('x', 100)), E'\n'))
  FROM generate_series(1, 20000) i;
CREATE FOREIGN TABLE big (i int) SERVER lake OPTIONS (uri 's3://client/d/big.json');
SET pipeline.s3_max_retries = 3;
-- planning reads a sample of an unanalyzed table once per session: done here,
-- so that the requests counted below are the scans'
EXPLAIN SELECT * FROM big;

-- retries
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":503,"code":"SlowDown","count":2}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, '503 SlowDown is retried');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'path' = '/client/d/big.json' AND r->>'method' = 'GET'), 3::bigint,
          'twice, then the read succeeds');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"reset","count":1}');
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, 'a reset connection is retried');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"truncate","count":1}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, 'a body that breaks off half-way is resumed');
SELECT ok((SELECT bool_or(r->>'range' LIKE 'bytes=%-') FROM pg_temp.requests() r WHERE r->>'path' = '/client/d/big.json'),
          'with a Range request from where it stopped');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":500,"code":"InternalError","count":0}');
SELECT throws_like('SELECT sum(i) FROM big', 'could not read object "s3://client/d/big.json": InternalError',
  'retries are bounded, then the error names the code and the object');
SELECT pg_temp.clear_faults();

-- S3's errors
CREATE FOREIGN TABLE nobucket (i int) SERVER lake OPTIONS (uri 's3://no-such-bucket/x/');
SELECT throws_ok('SELECT * FROM nobucket', 'HV00R',
  'could not list objects in "s3://no-such-bucket/x/": NoSuchBucket', 'NoSuchBucket');
CREATE FOREIGN TABLE nokey (i int) SERVER lake OPTIONS (uri 's3://client/d/missing.json');
SELECT is((SELECT count(*) FROM nokey), 0::bigint, 'a single object that does not exist has no rows');

CREATE SERVER wrongkey FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER wrongkey
  OPTIONS (access_key_id 'test', secret_access_key 'not-the-secret-4711');
CREATE FOREIGN TABLE wk (i int) SERVER wrongkey OPTIONS (uri 's3://client/d/');
SELECT throws_like('SELECT * FROM wk', 'could not list objects in "s3://client/d/": SignatureDoesNotMatch',
  'a wrong secret is refused by S3 (signatures are checked)');
DO $$
BEGIN
  PERFORM * FROM wk;
EXCEPTION WHEN OTHERS THEN
  DECLARE m text; d text; h text;
  BEGIN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    PERFORM set_config('pipeline_test.err', concat_ws('|', m, d, h), true);
  END;
END $$;
SELECT unalike(current_setting('pipeline_test.err'), '%not-the-secret-4711%', 'the secret is in no error');
SELECT alike(current_setting('pipeline_test.err'), '%Check the access_key_id and secret_access_key%', 'the hint says what to check');

-- session tokens
CREATE SERVER tok FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER tok
  OPTIONS (access_key_id 'temp', secret_access_key 'temp-secret', session_token 'temp-token');
CREATE FOREIGN TABLE tk (i int) SERVER tok OPTIONS (uri 's3://client/d/big.json');
SELECT is((SELECT count(*) FROM tk), 20000::bigint, 'temporary credentials with a session token');
ALTER USER MAPPING FOR CURRENT_USER SERVER tok OPTIONS (SET session_token 'stale');
SELECT throws_like('SELECT count(*) FROM tk', 'could not read object "s3://client/d/big.json": InvalidToken%',
  'a wrong session token is refused');

-- the server's own credentials, for a superuser only
CREATE SERVER ambient FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint :'endpoint');
CREATE USER MAPPING FOR CURRENT_USER SERVER ambient;
CREATE FOREIGN TABLE amb (i int) SERVER ambient OPTIONS (uri 's3://client/d/big.json');
SELECT is((SELECT count(*) FROM amb), 20000::bigint,
  'a superuser mapping without keys uses AWS_ACCESS_KEY_ID of the server environment');
CREATE ROLE pipeline_carol;
CREATE USER MAPPING FOR pipeline_carol SERVER ambient;
GRANT SELECT ON amb TO pipeline_carol;
SET ROLE pipeline_carol;
SELECT throws_ok('SELECT count(*) FROM amb', 'HV00J',
  'user mapping for "pipeline_carol" on server "ambient" has no S3 credentials',
  'a non-superuser without keys never borrows them');
RESET ROLE;

-- virtual-hosted-style requests (bucket.host)
CREATE SERVER vhost FOREIGN DATA WRAPPER pipeline_s3
  OPTIONS (endpoint :'endpoint', url_style 'virtual');
SELECT set_config('pipeline_test.vhost', replace(:'endpoint', '127.0.0.1', 'localhost'), true) \g /dev/null
DO $$ BEGIN EXECUTE format('ALTER SERVER vhost OPTIONS (SET endpoint %L)', current_setting('pipeline_test.vhost')); END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER vhost OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE vh (i int) SERVER vhost OPTIONS (uri 's3://client/d/');
SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM vh), 20000::bigint, 'virtual-hosted-style addressing');

-- cancel: statement_timeout interrupts a slow transfer within a second.
-- (pgTAP's throws_ok cannot catch a cancel: only WHEN query_canceled can.)
CREATE FUNCTION pg_temp.timed_out(q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  EXECUTE q;
  PERFORM set_config('pipeline_test.cancel', 'no error', false);
EXCEPTION WHEN query_canceled THEN
  PERFORM set_config('pipeline_test.cancel', SQLERRM || '|' || (clock_timestamp() - t0)::text, false);
END $$;
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"slow","bytes_per_second":2000,"count":1}');
SET statement_timeout = '500ms';
SELECT pg_temp.timed_out('SELECT count(*) FROM big');
RESET statement_timeout;
SELECT is(split_part(current_setting('pipeline_test.cancel'), '|', 1),
  'canceling statement due to statement timeout', 'statement_timeout cancels a slow transfer');
SELECT cmp_ok(split_part(current_setting('pipeline_test.cancel'), '|', 2)::interval, '<', interval '1.5 seconds',
  'within a second of the timeout');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"hang","count":1}');
SET statement_timeout = '500ms';
SELECT pg_temp.timed_out('SELECT count(*) FROM big');
RESET statement_timeout;
SELECT is(split_part(current_setting('pipeline_test.cancel'), '|', 1),
  'canceling statement due to statement timeout', 'statement_timeout cancels a request that never gets an answer');
SELECT cmp_ok(split_part(current_setting('pipeline_test.cancel'), '|', 2)::interval, '<', interval '1.5 seconds',
  'also within a second');
SELECT pg_temp.clear_faults();

SELECT * FROM finish();
ROLLBACK;
