-- The S3 client: retries with back-off, resumed downloads, S3's errors,
-- query cancel and statement_timeout during a transfer, credentials.
BEGIN;
\ir lib/helpers.psql
SELECT plan(31);

SELECT pg_temp.s3('mb client');
SELECT pg_temp.s3_put('s3://client/d/big.json', string_agg(format('{"i":%s,"pad":"%s"}', i, repeat('x', 100)), E'\n'))
  FROM generate_series(1, 20000) i;
CREATE FOREIGN TABLE big (i int) SERVER lake OPTIONS (uri 's3://client/d/big.json');
SET pipeline.s3_max_retries = 3;
-- planning reads a sample of an unanalyzed table once per session: done here,
-- so that the requests counted below are the scans'
EXPLAIN SELECT * FROM big;

-- The GETs of big.json since the log was cleared, in order.
CREATE FUNCTION pg_temp.big_gets() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT r FROM pg_temp.requests() r WHERE r->>'path' = '/client/d/big.json' AND r->>'method' = 'GET'
$$;
SELECT set_config('pipeline_test.big_etag', split_part(pg_temp.s3('ls s3://client/d/big.json'), E'\t', 3), false) \g /dev/null
SELECT set_config('pipeline_test.big_size', split_part(pg_temp.s3('ls s3://client/d/big.json'), E'\t', 2), false) \g /dev/null

-- retries
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":503,"code":"SlowDown","count":2}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, '503 SlowDown is retried');
SELECT is(ARRAY(SELECT (r->>'status')::int FROM pg_temp.big_gets() r), '{503,503,200}'::int[],
          'twice, then the read succeeds');
-- every status worth retrying, in turn
SELECT pg_temp.fault('[{"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":429,"code":"TooManyRequests"},
                       {"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":502,"code":"BadGateway"},
                       {"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":504,"code":"GatewayTimeout"}]');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, '429, 502 and 504 are retried');
SELECT is(ARRAY(SELECT (r->>'status')::int FROM pg_temp.big_gets() r), '{429,502,504,200}'::int[],
          'each once, then the read succeeds');
-- back-off: attempt k waits at least half of 100 ms x 2^k (the rest is jitter) after its answer
SELECT ok((SELECT bool_and(gap >= interval '1 millisecond' * 50 * 2 ^ (n - 2))
           FROM (SELECT n, (r->>'time')::timestamptz - lag((r->>'time')::timestamptz) OVER (ORDER BY n) AS gap
                 FROM pg_temp.big_gets() WITH ORDINALITY AS g(r, n)) x WHERE n > 1),
          'with exponential back-off between the attempts (50, 100, 200 ms at least)');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":403,"code":"AccessDenied"}');
SELECT pg_temp.clear_requests();
SELECT throws_like('SELECT sum(i) FROM big', 'could not read object "s3://client/d/big.json": AccessDenied',
  'a 403 is not worth retrying');
SELECT is(ARRAY(SELECT (r->>'status')::int FROM pg_temp.big_gets() r), '{403}'::int[], 'one request');

SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"reset","count":1}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, 'a reset connection is retried');
SELECT is(ARRAY(SELECT coalesce(r->>'fault', r->>'status') FROM pg_temp.big_gets() r), '{reset,200}'::text[],
          'the reset did happen, then one more GET');

-- a body that breaks off half-way: the rest of the same version, from the byte it stopped at
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"truncate","count":1}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM big), 200010000::bigint, 'a body that breaks off half-way is resumed');
SELECT is(ARRAY(SELECT concat_ws(' ', r->>'fault', r->>'status', r->>'range', r->>'if_match') FROM pg_temp.big_gets() r),
          ARRAY['truncate 200', format('206 %s %s', (SELECT r->>'range' FROM pg_temp.big_gets() r WHERE r->>'range' IS NOT NULL),
                                     current_setting('pipeline_test.big_etag'))],
          'the first GET broke off; the second asked for the rest, pinned to the ETag (If-Match)');
SELECT ok((SELECT substring(r->>'range' FROM '^bytes=(\d+)-$')::bigint
                  BETWEEN 1 AND current_setting('pipeline_test.big_size')::bigint / 2
           FROM pg_temp.big_gets() r WHERE r->>'range' IS NOT NULL),
          'from where it stopped: not byte 0, not past what was sent (half the object)');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"status","status":500,"code":"InternalError","count":0}');
SELECT throws_like('SELECT sum(i) FROM big', 'could not read object "s3://client/d/big.json": InternalError',
  'retries are bounded, then the error names the code and the object');
SELECT pg_temp.clear_faults();

-- a body that breaks off, and the object is replaced before the rest is
-- asked for: the resumed GET is pinned to the first version, S3 answers 412,
-- and the scan fails rather than splice two versions together.  In the
-- background, once the resumed GET is held, the object is replaced and the
-- GET let go (a bounded poll of the request log, no fixed wait).
SELECT pg_temp.s3_put('s3://client/e/chg.json', string_agg(format('{"i":%s,"pad":"%s"}', i, repeat('x', 100)), E'\n'))
  FROM generate_series(1, 2000) i;
CREATE FOREIGN TABLE chg (i int) SERVER lake OPTIONS (uri 's3://client/e/chg.json');
EXPLAIN SELECT * FROM chg;
SELECT pg_temp.fault('[{"method":"GET","path_prefix":"/client/e/chg.json","action":"truncate","count":1},
                       {"method":"GET","path_prefix":"/client/e/chg.json","action":"hold","count":1}]');
SELECT pg_temp.clear_requests();
SELECT pg_temp.sh(format($sh$(for i in $(seq 1200); do curl -s %1$s/_emulator/requests | grep -q '"fault":"hold"' && break; sleep 0.1; done; printf '{"i":1}\n' | %2$s put s3://client/e/chg.json - --content-type application/octet-stream; curl -s -X DELETE %1$s/_emulator/faults) </dev/null >/dev/null 2>&1 &$sh$,
  current_setting('pipeline_test.endpoint'), current_setting('pipeline_test.cli')));
SELECT throws_like('SELECT sum(i) FROM chg', 'object "s3://client/e/chg.json" changed while it was being read',
  'an object replaced between a broken-off GET and its resumption fails the scan');
SELECT is(ARRAY(SELECT concat_ws(' ', r->>'fault', r->>'status', CASE WHEN r ? 'if_match' THEN 'If-Match' END)
                FROM pg_temp.requests() r WHERE r->>'path' = '/client/e/chg.json' AND r->>'method' = 'GET'),
          '{"truncate 200","hold 412 If-Match"}'::text[],
          'the resumed GET carried If-Match, and S3 answered 412 Precondition Failed');
SELECT is((SELECT sum(i) FROM chg), 1::bigint, 'read again, the new version');

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
SELECT is(ARRAY(SELECT DISTINCT concat_ws(' ', r->>'method', r->>'host', r->>'path') FROM pg_temp.requests() r ORDER BY 1),
          ARRAY['GET ' || replace(current_setting('pipeline_test.vhost'), 'http://', 'client.') || ' /',
                'GET ' || replace(current_setting('pipeline_test.vhost'), 'http://', 'client.') || ' /d/big.json'],
          'the bucket in the Host header, not in the path (the listing and the GET)');

-- cancel: statement_timeout interrupts a slow transfer, and a request that is
-- never answered.  Without it the statement could only end after
-- pipeline.s3_timeout (10 minutes here, no retries), so ending before that is
-- the cancel's doing.  (How fast a cancel is, is a timing: the benchmark's.)
-- (pgTAP's throws_ok cannot catch a cancel: only WHEN query_canceled can.)
SET pipeline.s3_timeout = '10min';
SET pipeline.s3_max_retries = 0;
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
SELECT cmp_ok(split_part(current_setting('pipeline_test.cancel'), '|', 2)::interval, '<', interval '10 minutes',
  'long before the transfer could have ended by itself');
SELECT pg_temp.fault('{"method":"GET","path_prefix":"/client/d/big.json","action":"hang","count":1}');
SET statement_timeout = '500ms';
SELECT pg_temp.timed_out('SELECT count(*) FROM big');
RESET statement_timeout;
SELECT is(split_part(current_setting('pipeline_test.cancel'), '|', 1),
  'canceling statement due to statement timeout', 'statement_timeout cancels a request that never gets an answer');
SELECT cmp_ok(split_part(current_setting('pipeline_test.cancel'), '|', 2)::interval, '<', interval '10 minutes',
  'long before pipeline.s3_timeout');
SELECT pg_temp.clear_faults();
RESET pipeline.s3_timeout;
SET pipeline.s3_max_retries = 2;

SELECT * FROM finish();
ROLLBACK;
