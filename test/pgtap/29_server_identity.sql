-- Who may use the database server's own AWS identity (its environment keys,
-- web identity, container or instance credentials): superusers, and roles
-- whose user mapping a superuser gave use_server_identity 'true', on servers
-- owned by a superuser. Default deny: every attack here is an ordinary role
-- trying to make the server sign for it with its own identity (a mapping
-- without keys, setting the option itself, changing the role_arn of a mapping
-- that has it, a server of its own, another role's cached role credentials).
-- The server's identity in this cluster is AWS_ACCESS_KEY_ID=test (the e2e
-- test 17 does the same with IMDS and container credentials): a request
-- signed with "test" is the server's identity at work.
BEGIN;
\ir lib/helpers.psql
SELECT plan(26);

-- s3://server-identity/d/, server si, table si_t, four ordinary roles
\ir lib/identity.psql
SELECT pg_temp.identity_fixture('{
    "arn:aws:iam::000000000000:role/ops":    {"trust": ["test"]},
    "arn:aws:iam::000000000000:role/other":  {"trust": ["test"]}
  }', 'server-identity', 4, 'si', 'si_t', 'pipeline_dave', 'pipeline_frank', 'pipeline_george', 'pipeline_harry');

-- what the emulator saw since the log was cleared: requests signed with the
-- server's identity, and requests to the credential endpoints
CREATE FUNCTION pg_temp.server_signed() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_temp.requests() r WHERE r->>'access_key_id' = 'test'
$$;
CREATE FUNCTION pg_temp.identity_calls() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_temp.requests() r WHERE r->>'service' IN ('sts', 'imds', 'container')
$$;

-------------------------------------------------------------------------------
-- Default deny
-------------------------------------------------------------------------------
SET ROLE pipeline_dave;
CREATE USER MAPPING FOR pipeline_dave SERVER si;
RESET ROLE;
SELECT pg_temp.clear_requests();
SET ROLE pipeline_dave;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM si_t');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV00J | user mapping for "pipeline_dave" on server "si" has no S3 credentials | Only a superuser, or a role whose user mapping a superuser gave use_server_identity ''true'', may use%| %ask a superuser for use_server_identity.',
  'an ordinary role''s mapping without keys does not use the server''s identity');
SELECT is(pg_temp.server_signed() + pg_temp.identity_calls(), 0::bigint,
  'and nothing was signed with it or fetched for it');

-- the option is a superuser's to set
SET ROLE pipeline_dave;
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_dave SERVER si OPTIONS (ADD use_server_identity 'true')$$,
  '42501', 'permission denied to set or change a user mapping with option "use_server_identity"',
  'an ordinary role cannot give itself the server''s identity');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_dave SERVER si OPTIONS (ADD use_server_identity 'on', ADD role_arn 'arn:aws:iam::000000000000:role/ops')$$,
  '42501', NULL, 'nor with a role to assume with it');
SELECT lives_ok($$ALTER USER MAPPING FOR pipeline_dave SERVER si OPTIONS (ADD use_server_identity 'false')$$,
  'declining it is anyone''s');
DROP USER MAPPING FOR pipeline_dave SERVER si;
RESET ROLE;
SELECT throws_ok($$CREATE USER MAPPING FOR pipeline_harry SERVER si OPTIONS (use_server_identity 'maybe')$$,
  '42601', 'use_server_identity requires a Boolean value', 'a boolean');
SELECT throws_ok($$CREATE USER MAPPING FOR pipeline_harry SERVER si OPTIONS (use_server_identity 'true', access_key_id 'alice', secret_access_key 'alice-secret')$$,
  'HV00D', 'options "use_server_identity" and "access_key_id" exclude each other', 'keys of its own, or the server''s identity');

-------------------------------------------------------------------------------
-- Granted by a superuser, for one role
-------------------------------------------------------------------------------
CREATE USER MAPPING FOR pipeline_dave SERVER si OPTIONS (use_server_identity 'true');
SELECT pg_temp.clear_requests();
SET ROLE pipeline_dave;
SELECT is((SELECT sum(i) FROM si_t), 10::bigint, 'the role a superuser allowed reads with the server''s identity');
RESET ROLE;
SELECT cmp_ok(pg_temp.server_signed(), '>', 0::bigint, 'signed with the server''s keys');
-- the mapping is now the superuser's to change: dave cannot swap a role in under it
SET ROLE pipeline_dave;
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_dave SERVER si OPTIONS (ADD role_arn 'arn:aws:iam::000000000000:role/ops')$$,
  '42501', NULL, 'the allowed role cannot add a role_arn to its mapping');
RESET ROLE;
-- nor can george, with a mapping of his own and no grant
SET ROLE pipeline_george;
CREATE USER MAPPING FOR pipeline_george SERVER si;
RESET ROLE;
SELECT pg_temp.clear_requests();
SET ROLE pipeline_george;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM si_t');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), 'HV00J | user mapping for "pipeline_george" on server "si" has no S3 credentials%',
  'another role in the same session, right after dave: still refused');
SELECT is(pg_temp.server_signed() + pg_temp.identity_calls(), 0::bigint, 'with no request');

-------------------------------------------------------------------------------
-- role_arn with the server's identity: one role's, never another's
-------------------------------------------------------------------------------
CREATE USER MAPPING FOR pipeline_frank SERVER si
  OPTIONS (use_server_identity 'true', role_arn 'arn:aws:iam::000000000000:role/ops');
SELECT pg_temp.clear_requests();
SET ROLE pipeline_frank;
SELECT is((SELECT sum(i) FROM si_t), 10::bigint, 'frank reads through the role a superuser gave him');
RESET ROLE;
SELECT results_eq($$SELECT r->>'target', r->>'access_key_id' FROM pg_temp.requests() r WHERE r->>'service' = 'sts'$$,
  $$VALUES ('AssumeRole', 'test')$$, 'assumed with the server''s identity');
SELECT ok((SELECT bool_and(r->>'access_key_id' LIKE 'ASIA%') FROM pg_temp.requests() r WHERE r->>'service' = 's3'),
  'and his S3 requests signed with the role''s keys');
-- frank cannot retarget the role
SET ROLE pipeline_frank;
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_frank SERVER si OPTIONS (SET role_arn 'arn:aws:iam::000000000000:role/other')$$,
  '42501', NULL, 'frank cannot point his mapping at another role');
SELECT throws_ok($$ALTER USER MAPPING FOR pipeline_frank SERVER si OPTIONS (ADD role_session_name 'not-frank')$$,
  '42501', NULL, 'nor change its session name');
RESET ROLE;
-- george names frank's role, with no keys, in the session where frank's role keys are cached
SET ROLE pipeline_george;
INSERT INTO errors SELECT pg_temp.err($$ALTER USER MAPPING FOR pipeline_george SERVER si OPTIONS (ADD role_arn 'arn:aws:iam::000000000000:role/ops')$$);
RESET ROLE;
SELECT pg_temp.clear_requests();
SET ROLE pipeline_george;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM si_t');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV00J | user mapping for "pipeline_george" on server "si" has no S3 credentials | %a role_arn is assumed with the user mapping''s own keys.%',
  'george''s role_arn is not assumed with the server''s identity');
SELECT is(pg_temp.server_signed() + pg_temp.identity_calls()
          + (SELECT count(*) FROM pg_temp.requests() r WHERE r->>'access_key_id' LIKE 'ASIA%'), 0::bigint,
  'and frank''s cached role keys were not used for him');
-- george with keys of his own: STS decides, with his keys
SET ROLE pipeline_george;
ALTER USER MAPPING FOR pipeline_george SERVER si OPTIONS (ADD access_key_id 'bob', ADD secret_access_key 'bob-secret');
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM si_t');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), '42501 | could not assume role "arn:aws:iam::000000000000:role/ops": AccessDenied%',
  'with keys of his own, frank''s role refuses george''s principal');

-------------------------------------------------------------------------------
-- A server an ordinary role owns never gets the server's identity
-------------------------------------------------------------------------------
-- (the endpoint is a superuser's to set: a superuser makes the server and hands it over)
DO $$ BEGIN
  EXECUTE format('CREATE SERVER harrys FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint %L)',
                 current_setting('pipeline_test.endpoint'));
END $$;
GRANT USAGE ON FOREIGN DATA WRAPPER pipeline_s3 TO pipeline_harry;
ALTER SERVER harrys OWNER TO pipeline_harry;
CREATE FOREIGN TABLE harry_t (i int) SERVER harrys OPTIONS (uri 's3://server-identity/d/');
GRANT SELECT ON harry_t TO pipeline_harry;
-- (a superuser grants it on harry's server: still refused, harry could change the endpoint)
CREATE USER MAPPING FOR pipeline_harry SERVER harrys OPTIONS (use_server_identity 'true');
SELECT pg_temp.clear_requests();
SET ROLE pipeline_harry;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM harry_t');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV00J | user mapping for "pipeline_harry" on server "harrys" has no S3 credentials | The server is not owned by a superuser%',
  'a server owned by an ordinary role never uses the server''s identity, whatever the mapping says');
SELECT is(pg_temp.server_signed() + pg_temp.identity_calls(), 0::bigint, 'with no request');
-- even for a superuser
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM harry_t');
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), '42704 | user mapping not found%',
  'a superuser without a mapping on it gets none');
CREATE USER MAPPING FOR CURRENT_USER SERVER harrys;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM harry_t');
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1),
  'HV00J | user mapping for "%" on server "harrys" has no S3 credentials | The server is not owned by a superuser%',
  'nor does a superuser''s mapping on it');

-------------------------------------------------------------------------------
-- PUBLIC: a superuser may allow every role with USAGE; a role's own mapping wins
-------------------------------------------------------------------------------
CREATE USER MAPPING FOR PUBLIC SERVER si OPTIONS (use_server_identity 'true');
SET ROLE pipeline_harry;
SELECT is((SELECT sum(i) FROM si_t), 10::bigint, 'a PUBLIC mapping with use_server_identity allows every role with USAGE');
CREATE USER MAPPING FOR pipeline_harry SERVER si;
INSERT INTO errors SELECT pg_temp.err('SELECT sum(i) FROM si_t');
RESET ROLE;
SELECT alike((SELECT e FROM errors ORDER BY ctid DESC LIMIT 1), 'HV00J | user mapping for "pipeline_harry" on server "si" has no S3 credentials%',
  'the role''s own mapping without the option comes first');

SELECT pg_temp.emulator('DELETE', '/_emulator/identity') \g /dev/null
SELECT * FROM finish();
ROLLBACK;
