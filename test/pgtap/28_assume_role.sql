-- Roles assumed from a user mapping (role_arn, external_id, role_session_name,
-- duration_seconds) through the emulator's STS, which checks SigV4 signatures
-- and trust policies: who signs AssumeRole, what is cached for whom, and the
-- attacks an ordinary role can try with role_arn (the confused deputy: the
-- server's own identity, another role's cached credentials, a redirected STS).
-- STS's errors as PostgreSQL errors with hints, bounded when STS hangs, and
-- no secret in any error or view.
BEGIN;
\ir lib/helpers.psql
SELECT plan(39);

-- the emulator's STS (its own port) and its roles: who may assume what;
-- s3://assume-role/d/, server sts, table ar, three ordinary roles
\ir lib/identity.psql
SELECT pg_temp.identity_fixture('{
    "arn:aws:iam::000000000000:role/reader":   {"trust": ["alice"]},
    "arn:aws:iam::000000000000:role/partner":  {"trust": ["alice"], "external_id": "ext-4711"},
    "arn:aws:iam::000000000000:role/ops":      {"trust": ["test"]},
    "arn:aws:iam::000000000000:role/instance-only": {"trust": ["instance", "test"]}
  }', 'assume-role', 3, 'sts', 'ar', 'pipeline_alice', 'pipeline_bob', 'pipeline_carol');

-- the STS requests since the log was cleared: action, signing key, status, error
CREATE FUNCTION pg_temp.sts_requests() RETURNS TABLE (action text, key text, status int, error text)
LANGUAGE sql AS $$
  SELECT r->>'target', r->>'access_key_id', (r->>'status')::int, r->>'error'
  FROM pg_temp.requests() r WHERE r->>'service' = 'sts'
$$;

-------------------------------------------------------------------------------
-- Options: validated when set, with hints; the STS endpoint is a superuser's
-------------------------------------------------------------------------------
SET ROLE pipeline_alice;
CREATE USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (access_key_id 'alice', secret_access_key 'alice-secret');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (ADD role_arn 'reader')$$,
  'HV024', 'invalid value for option "role_arn": "reader"', 'a role_arn must be an IAM role ARN');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (ADD external_id 'x-1')$$,
  'HV00J', 'option "external_id" needs option "role_arn"', 'external_id without role_arn');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_alice SERVER sts
                   OPTIONS (ADD role_arn 'arn:aws:iam::000000000000:role/reader', ADD duration_seconds '60')$$,
  'HV024', 'invalid value for option "duration_seconds": "60"', 'duration_seconds between 900 and 43200');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_alice SERVER sts
                   OPTIONS (ADD role_arn 'arn:aws:iam::000000000000:role/reader', ADD role_session_name 'a b')$$,
  'HV024', 'invalid value for option "role_session_name": "a b"', 'a session name of AWS''s characters');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (ADD sts_endpoint 'http://127.0.0.1:9')$$,
  'HV00D', 'invalid option "sts_endpoint"', 'a user mapping cannot choose the STS endpoint');
RESET ROLE;
-- an ordinary role that may create servers still cannot point one's STS anywhere
GRANT USAGE ON FOREIGN DATA WRAPPER pipeline_s3 TO pipeline_bob;
SET ROLE pipeline_bob;
SELECT throws_ok($$CREATE SERVER bobs FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (sts_endpoint 'http://127.0.0.1:9')$$,
  '42501', 'permission denied to set option "sts_endpoint"', 'only superusers set sts_endpoint');
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER pipeline_s3 FROM pipeline_bob;
SELECT throws_ok($$ALTER SERVER sts OPTIONS (SET sts_endpoint 'http://u:p@127.0.0.1:9/')$$,
  'HV024', 'invalid value for option "sts_endpoint": "http://u:p@127.0.0.1:9/"', 'no credentials in the STS endpoint');

-------------------------------------------------------------------------------
-- AssumeRole with the mapping's own keys
-------------------------------------------------------------------------------
SET ROLE pipeline_alice;
ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (ADD role_arn 'arn:aws:iam::000000000000:role/reader');
RESET ROLE;
SELECT pg_temp.clear_requests();
SET ROLE pipeline_alice;
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'alice reads through the role she assumes with her own keys');
RESET ROLE;
SELECT results_eq($$SELECT action, key, status FROM pg_temp.sts_requests()$$,
  $$VALUES ('AssumeRole', 'alice', 200)$$, 'one AssumeRole, signed with alice''s key');
SELECT ok((SELECT bool_and(r->>'access_key_id' LIKE 'ASIA%') FROM pg_temp.requests() r WHERE r->>'service' = 's3'),
  'S3 requests are signed with the role''s temporary keys, not alice''s');
SELECT pg_temp.clear_requests();
SET ROLE pipeline_alice;
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'again');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.sts_requests()), 0::bigint, 'from the backend''s cache: no second AssumeRole');

-------------------------------------------------------------------------------
-- Attacks with role_arn
-------------------------------------------------------------------------------
-- bob names alice's role, in the session where alice's role credentials are cached
SET ROLE pipeline_bob;
CREATE USER MAPPING FOR pipeline_bob SERVER sts
  OPTIONS (access_key_id 'bob', secret_access_key 'bob-secret', role_arn 'arn:aws:iam::000000000000:role/reader');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  '42501 | could not assume role "arn:aws:iam::000000000000:role/reader": AccessDenied | STS said: User: %bob is not authorized%| Check the role''s trust policy%',
  'bob cannot use the role alice''s session assumed: STS refuses his keys, and the cache is not shared');
-- bob with alice's access key id but not her secret
SET ROLE pipeline_bob;
ALTER USER MAPPING FOR pipeline_bob SERVER sts OPTIONS (SET access_key_id 'alice', SET secret_access_key 'guessed-4711');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  '% | could not assume role "arn:aws:iam::000000000000:role/reader": SignatureDoesNotMatch | STS said: The request signature we calculated does not match the signature you provided.%| Check the access_key_id and secret_access_key%',
  'nor with alice''s key id and a guessed secret');
SELECT unalike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), '%Canonical%',
  'STS''s canonical request (which holds the session token) is cut from the detail');
-- carol has no keys: her role_arn is never assumed with the server's identity
SET ROLE pipeline_carol;
CREATE USER MAPPING FOR pipeline_carol SERVER sts OPTIONS (role_arn 'arn:aws:iam::000000000000:role/instance-only');
RESET ROLE;
SELECT pg_temp.clear_requests();
SET ROLE pipeline_carol;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV00J | user mapping for "pipeline_carol" on server "sts" has no S3 credentials | %a role_arn is assumed with the user mapping''s own keys.%',
  'an ordinary role''s role_arn without keys is refused');
SELECT is((SELECT count(*) FROM pg_temp.requests() r WHERE r->>'service' IN ('sts', 'imds', 'container')), 0::bigint,
  'without a single request to STS or the metadata service');
-- a role that trusts the server's identity, named by carol with her own keys: signed with hers
SET ROLE pipeline_carol;
ALTER USER MAPPING FOR pipeline_carol SERVER sts OPTIONS (ADD access_key_id 'bob', ADD secret_access_key 'bob-secret');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), '42501 | could not assume role %instance-only": AccessDenied%',
  'a role that trusts the server''s identity is assumed with carol''s keys, and refused');
SELECT results_eq($$SELECT key FROM pg_temp.sts_requests()$$, $$VALUES ('bob')$$, 'the refused call was signed with carol''s keys');

-------------------------------------------------------------------------------
-- External ids, session names, the superuser's own identity as the base
-------------------------------------------------------------------------------
SET ROLE pipeline_alice;
ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (SET role_arn 'arn:aws:iam::000000000000:role/partner');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), '42501 | could not assume role %partner": AccessDenied | % | %external_id%',
  'a role that requires an external id refuses a call without it');
SET ROLE pipeline_alice;
ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (ADD external_id 'ext-4711', ADD role_session_name 'alice-etl',
                                                          ADD duration_seconds '900');
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'and takes it with the right external id');
RESET ROLE;

-- a superuser's mapping without keys assumes the role with the server's own identity
-- (here AWS_ACCESS_KEY_ID=test in the server's environment)
CREATE USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (role_arn 'arn:aws:iam::000000000000:role/ops');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'a superuser''s role_arn is assumed with the server''s identity');
SELECT results_eq($$SELECT action, key FROM pg_temp.sts_requests()$$, $$VALUES ('AssumeRole', 'test')$$,
  'signed with the server''s environment keys');
-- keys S3 calls expired while this backend's cache still thinks them good (a clock
-- that is off, keys revoked early): renewed, and the request sent again
SELECT pg_temp.emulator('POST', '/_emulator/identity', '{"expire_all": true}') \g /dev/null
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'S3 answering ExpiredToken to cached keys: renewed, sent again');
SELECT results_eq($$SELECT r->>'service', (r->>'status')::int, r->>'error' FROM pg_temp.requests() r
                    WHERE r->>'service' = 'sts' OR r->>'status' <> '200' ORDER BY r->>'time'$$,
  $$VALUES ('s3', 400, 'ExpiredToken'), ('sts', 200, NULL)$$, 'one ExpiredToken, one AssumeRole');

-------------------------------------------------------------------------------
-- STS's faults: retried, bounded, surfaced with hints
-------------------------------------------------------------------------------
SET pipeline.sts_timeout = '500ms';
-- (a new session name: keys not in the cache yet)
ALTER USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (ADD role_session_name 'retry-1');
SELECT pg_temp.fault('{"service":"sts","action":"status","status":503,"code":"ServiceUnavailable","count":2}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'STS answering 503 twice: retried');
SELECT results_eq($$SELECT status FROM pg_temp.sts_requests()$$, $$VALUES (503), (503), (200)$$, 'three attempts');
ALTER USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (SET role_session_name 'retry-2');
SELECT pg_temp.fault('{"service":"sts","action":"status","status":500,"code":"InternalFailure","count":0}');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), 'HV000 | could not assume role %ops": InternalFailure | STS said: Injected fault: InternalFailure%',
  'an STS that keeps failing: its code and message');
SELECT pg_temp.clear_faults();
ALTER USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (SET role_session_name 'hang-1');
SELECT pg_temp.fault('{"service":"sts","action":"hang","count":0}');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV00N | could not assume role %ops": no answer from STS at http://127.0.0.1:% | no answer within 500 ms (3 attempts). | Check that STS is reachable%',
  'a hung STS: the statement ends after the attempts, with a clear error');
SELECT pg_temp.clear_faults();
ALTER USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (SET role_session_name 'expired-1');
SELECT pg_temp.fault('{"service":"sts","action":"expired","count":1}');
SELECT pg_temp.clear_requests();
SELECT is((SELECT sum(i) FROM ar), 6::bigint, 'credentials that had already expired once: asked for again');
SELECT results_eq($$SELECT action, status FROM pg_temp.sts_requests()$$, $$VALUES ('AssumeRole', 200), ('AssumeRole', 200)$$,
  'two AssumeRole calls');
SELECT pg_temp.clear_faults();
ALTER USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (SET role_session_name 'expired-2');
SELECT pg_temp.fault('{"service":"sts","action":"expired","count":0}');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV000 | role "arn:aws:iam::000000000000:role/ops" gave credentials that had already expired | They expired at % (2 attempts). | Check the clock%',
  'a source that only gives expired credentials: refused, with a hint');
SELECT pg_temp.clear_faults();
ALTER USER MAPPING FOR CURRENT_USER SERVER sts OPTIONS (SET role_session_name 'validated', ADD duration_seconds '43200');
SELECT pg_temp.fault('{"service":"sts","action":"status","status":400,"code":"ValidationError","message":"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.","count":1}');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM ar');
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV000 | could not assume role %ops": ValidationError | STS said: The requested DurationSeconds exceeds%| Check role_arn, role_session_name, external_id and duration_seconds.',
  'a ValidationError names the options to check');
RESET pipeline.sts_timeout;

-------------------------------------------------------------------------------
-- A report run by alice whose role cannot be assumed: the error in pipeline.runs
-------------------------------------------------------------------------------
CREATE SCHEMA assume_role_alice AUTHORIZATION pipeline_alice;
SET ROLE pipeline_alice;
ALTER USER MAPPING FOR pipeline_alice SERVER sts OPTIONS (SET role_arn 'arn:aws:iam::000000000000:role/ops');
SELECT pipeline.create_report(name => 'assume_role_report', query => 'SELECT sum(i) AS s FROM public.ar',
                              target => 'assume_role_alice.ar_sum');
SELECT pipeline.run_report('assume_role_report');
RESET ROLE;
SELECT alike((SELECT error FROM pipeline.runs WHERE report = 'assume_role_report' ORDER BY id DESC LIMIT 1),
  '%could not assume role "arn:aws:iam::000000000000:role/ops": AccessDenied%', 'the failed run says why');

-------------------------------------------------------------------------------
-- No secret anywhere: errors, runs, the server's view of mappings
-------------------------------------------------------------------------------
CREATE TEMP TABLE secrets AS
  SELECT s FROM unnest(ARRAY['alice-secret', 'bob-secret', 'guessed-4711', 'ext-4711']) s
  UNION ALL SELECT i->>'secret_access_key' FROM jsonb_array_elements(pg_temp.emulator('GET', '/_emulator/identity')->'issued') i
  UNION ALL SELECT i->>'session_token' FROM jsonb_array_elements(pg_temp.emulator('GET', '/_emulator/identity')->'issued') i;
SELECT cmp_ok((SELECT count(*) FROM secrets), '>', 8::bigint, 'the secrets looked for: the mappings'' and the role credentials STS issued');
SELECT is((SELECT count(*) FROM errors e, secrets s WHERE strpos(e.e, s.s) > 0), 0::bigint, 'no secret in any error');
SELECT is((SELECT count(*) FROM pipeline.runs r, secrets s WHERE strpos(coalesce(r.error, ''), s.s) > 0), 0::bigint,
  'nor in pipeline.runs');
SELECT is((SELECT count(*) FROM errors WHERE e LIKE '%x-amz-security-token%'), 0::bigint, 'nor any signed header');
SET ROLE pipeline_bob;
SELECT is((SELECT count(*) FROM pg_user_mappings WHERE usename = 'pipeline_alice' AND umoptions IS NOT NULL), 0::bigint,
  'bob does not see alice''s mapping options');
RESET ROLE;

SELECT pg_temp.clear_faults();
SELECT pg_temp.emulator('DELETE', '/_emulator/identity') \g /dev/null
SELECT * FROM finish();
ROLLBACK;
