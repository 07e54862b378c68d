-- Security, part 2: no role reads, suppresses or uses what belongs to
-- another (issue 8, items 5, 6, 10, 11, 13, 22).  The attacker mallory and
-- the victim alice are ordinary LOGIN roles (lib/attacks.psql); each test
-- asserts that what mallory wanted did not happen.  Once the holes are
-- closed, an attack step may be refused or do nothing harmful: both pass.
-- What needs the worker or commits is in test/e2e/80_security.test.mjs.
BEGIN;
\ir lib/helpers.psql
\ir lib/attacks.psql
SELECT plan(12);

SELECT pg_temp.attacker('mallory');
SELECT pg_temp.victim('alice');

-------------------------------------------------------------------------------
-- Item 5: through handle_event, mallory reads alice's data.
-- alice has two reports on s3://sec-hr/hr/: one reading with on_error
-- 'skip', one with 'stop'.  A record holds a value only alice may see.
-- mallory hands in an event for the object: neither the result of
-- handle_event (the runs' errors) nor pipeline.rejects() may show it.
-- (The WARNINGs she would receive: test/e2e/80_security.test.mjs.)
-------------------------------------------------------------------------------
SELECT pg_temp.s3('mb sec-hr');
SELECT pg_temp.s3_put('s3://sec-hr/hr/a.json',
  E'{"device_id":"d1","battery":50}\n{"device_id":"d2","battery":"SECRET-VALUE-42","ssn":"999"}\n');
SET ROLE alice;
CREATE FOREIGN TABLE alice.hr_lenient (device_id text, battery float8)
  SERVER lake OPTIONS (uri 's3://sec-hr/hr/', on_error 'skip');
CREATE FOREIGN TABLE alice.hr_strict (device_id text, battery float8)
  SERVER lake OPTIONS (uri 's3://sec-hr/hr/');
SELECT pipeline.create_report(name => 'alice_hr', source => 's3://sec-hr/hr/',
  query => 'SELECT * FROM alice.hr_lenient', target => 'alice.hr_out');
SELECT pipeline.create_report(name => 'alice_hr_strict', source => 's3://sec-hr/hr/',
  query => 'SELECT * FROM alice.hr_strict', target => 'alice.hr_strict_out');
RESET ROLE;

SET ROLE mallory;
CREATE TEMP TABLE loot (channel text, what text);
SELECT pg_temp.attempt('handle_event for alice''s object',
  $$INSERT INTO loot SELECT 'handle_event', concat_ws(' | ', report, status, error)
    FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
      "s3":{"bucket":{"name":"sec-hr"},"object":{"key":"hr/a.json","eTag":"x1","sequencer":"0A"}}}]}')$$);
SELECT pg_temp.attempt('pipeline.rejects()',
  $$INSERT INTO loot SELECT 'rejects', concat_ws(' | ', uri, error, raw) FROM pipeline.rejects()$$);
RESET ROLE;
SELECT is((SELECT string_agg(what, E'\n') FROM loot WHERE channel = 'handle_event' AND what LIKE '%SECRET-VALUE-42%'),
          NULL, 'item 5: handle_event does not show another role''s run errors (with their values)');
SELECT is((SELECT string_agg(what, E'\n') FROM loot WHERE channel = 'rejects' AND what LIKE '%SECRET-VALUE-42%'),
          NULL, 'item 5: pipeline.rejects() does not show another role''s rejected records');

-------------------------------------------------------------------------------
-- Item 6: a forged event suppresses alice's later genuine events.
-- mallory hands in an event for a key under alice's source with the
-- highest possible sequencer (FFFF...).  Later alice's object is really
-- created there and its genuine event (real ETag, a real sequencer) comes
-- in the way the worker hands it in: alice's report must run on it.
-- (The same through a queue mallory owns: test/e2e/80_security.test.mjs.)
-------------------------------------------------------------------------------
SELECT pg_temp.s3('mb sec-inbox');
SELECT pg_temp.s3('rm s3://sec-inbox/in/a.json');
SET ROLE alice;
CREATE FOREIGN TABLE alice.inbox (v int, src text OPTIONS (metadata 'uri'))
  SERVER lake OPTIONS (uri 's3://sec-inbox/in/');
SELECT pipeline.create_report(name => 'alice_inbox', source => 's3://sec-inbox/in/', mode => 'append',
  query => $$SELECT v, src FROM alice.inbox WHERE src = ANY (pipeline.trigger_uris())$$, target => 'alice.seen');
RESET ROLE;

SET ROLE mallory;
SELECT pg_temp.attempt('forged event with sequencer FFFF...', $$SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
  "s3":{"bucket":{"name":"sec-inbox"},"object":{"key":"in/a.json","eTag":"forged","sequencer":"FFFFFFFFFFFFFFFFFFFFFFFF"}}}]}')$$);
RESET ROLE;

-- alice's object arrives; the worker (a superuser) hands in S3's event
SELECT pg_temp.s3_put('s3://sec-inbox/in/a.json', '{"v":42}');
SELECT results_eq(
  format($$SELECT report, status, rows FROM pipeline.handle_event(%L) WHERE report = 'alice_inbox'$$,
         jsonb_build_object('Records', jsonb_build_array(jsonb_build_object(
           'eventSource', 'aws:s3', 'eventName', 'ObjectCreated:Put',
           's3', jsonb_build_object('bucket', jsonb_build_object('name', 'sec-inbox'),
                                    'object', jsonb_build_object('key', 'in/a.json',
                                      'eTag', (SELECT etag FROM pg_temp.s3_ls('s3://sec-inbox/in/') WHERE key = 'in/a.json'),
                                      'sequencer', '0055AED6DCD90281E5')))))),
  $$VALUES ('alice_inbox'::text, 'succeeded'::text, 1::bigint)$$,
  'item 6: after a forged event, the genuine event for the key still runs the victim''s report');

-------------------------------------------------------------------------------
-- Item 10: mallory chains her report after alice's without owning it.
-- It would run inside alice's session whenever alice runs hers, and keep
-- alice from dropping her own report.
-------------------------------------------------------------------------------
SET ROLE alice;
SELECT pipeline.create_report(name => 'alice_up', query => 'SELECT 1 AS x', target => 'alice.up');
RESET ROLE;
SET ROLE mallory;
SELECT pg_temp.attempt('create_report after alice''s report',
  $$SELECT pipeline.create_report(name => 'mallory_after', query => 'SELECT 1 AS y',
                                  target => 'mallory.after_out', after => 'alice_up')$$);
RESET ROLE;
SET ROLE alice;
SELECT pipeline.run_report('alice_up') \g /dev/null
RESET ROLE;
SELECT is((SELECT count(*) FROM pipeline.runs WHERE report = 'mallory_after'), 0::bigint,
          'item 10: another role''s report does not run after the victim''s, in the victim''s session');
SET ROLE alice;
SELECT is(pg_temp.try($$SELECT pipeline.drop_report('alice_up')$$), NULL,
          'item 10: the victim can drop her report');
RESET ROLE;
SELECT is((SELECT count(*) FROM pipeline.reports WHERE name = 'alice_up'), 0::bigint, 'item 10: and it is gone');

-------------------------------------------------------------------------------
-- Item 11: pipeline.status shows other roles' queues.
-- alice polls a queue; mallory must not see its name, URL or owner.
-- (pipeline.queue_stats() and the last error, which need the worker:
-- test/e2e/80_security.test.mjs.)
-------------------------------------------------------------------------------
SET ROLE alice;
SELECT pipeline.add_queue('alice_private_q', 'http://sqs.us-east-1.localhost:1/000000000000/alice-private-queue', 'lake');
RESET ROLE;
SET ROLE mallory;
CREATE TEMP TABLE seen_status AS
  SELECT * FROM pipeline.status WHERE queue = 'alice_private_q' OR url LIKE '%alice-private%' OR owner::text = 'alice';
RESET ROLE;
SELECT is((SELECT count(*) FROM seen_status), 0::bigint, 'item 11: pipeline.status does not show another role''s queue');

-------------------------------------------------------------------------------
-- Item 13: writing to S3 through a server without USAGE on it.
-- A superuser made server lake_public with a mapping FOR PUBLIC; mallory
-- has no USAGE on it.  She must not write to S3 through it: with
-- pipeline.export(server => ...), with a report's server => ..., or by
-- naming it in pipeline.default_server.
-------------------------------------------------------------------------------
SELECT pg_temp.s3('mb sec-exports');
SELECT format('s3://sec-exports/%s/', md5(random()::text)) AS exports \gset
CREATE SERVER lake_public FOREIGN DATA WRAPPER pipeline_s3
  OPTIONS (region 'us-east-1', endpoint :'endpoint');
CREATE USER MAPPING FOR PUBLIC SERVER lake_public OPTIONS (access_key_id 'test', secret_access_key 'test');
SET ROLE mallory;
SELECT is(has_server_privilege('lake_public', 'USAGE'), false, 'item 13: mallory has no USAGE on lake_public');
SELECT pg_temp.attempt('export with server =>',
  format($$SELECT * FROM pipeline.export('SELECT 1 AS x', %L, server => 'lake_public')$$, :'exports' || 'export.json.gz'));
SELECT pg_temp.attempt('create_report with server =>',
  format($$SELECT pipeline.create_report(name => 'mallory_exp', query => 'SELECT 1 AS x', target => 'mallory.exp_out',
                                         export => %L, server => 'lake_public')$$, :'exports' || 'report.json.gz'));
SELECT pg_temp.attempt('run_report of it', $$SELECT pipeline.run_report('mallory_exp')$$);
SELECT pg_temp.attempt('export through pipeline.default_server',
  format($$SET pipeline.default_server = 'lake_public';
           SELECT * FROM pipeline.export('SELECT 1 AS x', %L)$$, :'exports' || 'default.json.gz'));
RESET pipeline.default_server;
RESET ROLE;
SELECT is((SELECT string_agg(key, ', ') FROM pg_temp.s3_ls(:'exports' || 'export')), NULL,
          'item 13: pipeline.export(server => ...) wrote nothing through a server without USAGE');
SELECT is((SELECT string_agg(key, ', ') FROM pg_temp.s3_ls(:'exports' || 'report')), NULL,
          'item 13: nor did a report created with server => ...');
SELECT is((SELECT string_agg(key, ', ') FROM pg_temp.s3_ls(:'exports' || 'default')), NULL,
          'item 13: nor did pipeline.export() through pipeline.default_server');

-------------------------------------------------------------------------------
-- Item 22: DROP ROLE of a report's owner leaves an orphan report (that a
-- new role given the same OID would own).  The drop must be refused, or the
-- role's reports go with it.
-------------------------------------------------------------------------------
SELECT pg_temp.victim('carol');
SET ROLE carol;
SELECT pipeline.create_report(name => 'carol_r', query => 'SELECT 1 AS x', target => 'carol.out');
RESET ROLE;
DROP OWNED BY carol;
SELECT pg_temp.attempt('DROP ROLE carol', 'DROP ROLE carol');
SELECT is((SELECT string_agg(name, ', ') FROM pipeline.reports r
           WHERE NOT EXISTS (SELECT 1 FROM pg_authid a WHERE a.oid = r.owner::oid)),
          NULL, 'item 22: no report is owned by a role that does not exist');

SELECT * FROM finish();
ROLLBACK;
