-- Security, part 1: no ordinary role becomes superuser (issue 8, items 1-4).
-- Each attacker is an ordinary LOGIN role (see lib/attacks.psql) that tries
-- to get a superuser to run its own <role>.escalate(); each test asserts
-- that the attacker is still not superuser afterwards.  Once the holes are
-- closed, an attack step may be refused or do nothing harmful: both pass.
BEGIN;
\ir lib/helpers.psql
\ir lib/attacks.psql
SELECT plan(12);

-------------------------------------------------------------------------------
-- Item 1: operator hijack through the caller's search_path.
-- mallory defines mallory.=(text,text) calling mallory.escalate(), puts her
-- schema before pg_catalog, and calls each registry function: the
-- extension's own statements ("WHERE name = $1", run with raised rights)
-- must not resolve "=" to her operator.
-------------------------------------------------------------------------------
SELECT pg_temp.attacker('mallory');
SET ROLE mallory;
CREATE FUNCTION mallory.texteq(text, text) RETURNS boolean LANGUAGE plpgsql
  SET search_path = pg_catalog AS $$
BEGIN
  PERFORM mallory.escalate();
  RETURN pg_catalog.texteq($1, $2);
END $$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.texteq);
-- what she needs for the calls below to get as far as they can (set up with
-- an ordinary search_path)
SELECT pipeline.add_queue('mallory_q1', 'http://sqs.us-east-1.localhost:1/000000000000/mallory-q1', 'lake');
SELECT pipeline.create_report(name => 'mallory_r1', source => 's3://sec-hijack/m/',
                              query => 'SELECT 1 AS x', target => 'mallory.r1_out');
SELECT pipeline.create_report(name => 'mallory_r2', query => 'SELECT 2 AS x', target => 'mallory.r2_out');
RESET ROLE;

-- now each call with her operator in the path
SET ROLE mallory;
SELECT pg_temp.attempt('add_queue', $$SELECT pipeline.add_queue('mallory_q2', 'http://sqs.us-east-1.localhost:1/000000000000/mallory-q2', 'lake')$$,
                       'mallory, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('mallory'), false, 'item 1: add_queue does not run the caller''s "=" operator as superuser');
ALTER ROLE mallory NOSUPERUSER;

SET ROLE mallory;
SELECT pg_temp.attempt('drop_queue', $$SELECT pipeline.drop_queue('mallory_q1')$$, 'mallory, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('mallory'), false, 'item 1: nor does drop_queue');
ALTER ROLE mallory NOSUPERUSER;

SET ROLE mallory;
SELECT pg_temp.attempt('create_report', $$SELECT pipeline.create_report(name => 'mallory_r3', query => 'SELECT 3 AS x', target => 'mallory.r3_out')$$,
                       'mallory, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('mallory'), false, 'item 1: nor does create_report');
ALTER ROLE mallory NOSUPERUSER;

SET ROLE mallory;
SELECT pg_temp.attempt('run_report', $$SELECT pipeline.run_report('mallory_r2')$$, 'mallory, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('mallory'), false, 'item 1: nor does run_report');
ALTER ROLE mallory NOSUPERUSER;

SET ROLE mallory;
SELECT pg_temp.attempt('handle_event', $$SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
  "s3":{"bucket":{"name":"sec-hijack"},"object":{"key":"m/1.json","eTag":"e1","sequencer":"0A"}}}]}')$$, 'mallory, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('mallory'), false, 'item 1: nor does handle_event');
ALTER ROLE mallory NOSUPERUSER;

SET ROLE mallory;
SELECT pg_temp.attempt('drop_report', $$SELECT pipeline.drop_report('mallory_r2')$$, 'mallory, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('mallory'), false, 'item 1: nor does drop_report');
ALTER ROLE mallory NOSUPERUSER;

-------------------------------------------------------------------------------
-- Item 2: a report's query changes the session's search_path for good.
-- eve's report calls set_config('search_path', 'eve, pg_catalog', false);
-- she has eve.clock_timestamp(), which the extension calls unqualified with
-- raised rights after the query (recording the run).  Nothing the query
-- SETs may survive the run, and eve must not become superuser.
-- (The same through the worker: test/e2e/80_security.test.mjs.)
-------------------------------------------------------------------------------
SELECT pg_temp.attacker('eve');
SET ROLE eve;
CREATE FUNCTION eve.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql
  SET search_path = pg_catalog AS $$
BEGIN
  PERFORM eve.escalate();
  RETURN pg_catalog.clock_timestamp();
END $$;
CREATE TABLE eve.src AS SELECT 1 AS x;
SELECT pipeline.create_report(name => 'eve_sp',
  query => $$SELECT x, set_config('search_path', 'eve, pg_catalog', false) AS sp FROM eve.src$$,
  target => 'eve.sp_out');
SELECT current_setting('search_path') AS eve_path_before \gset
SELECT pg_temp.attempt('run_report with set_config', $$SELECT pipeline.run_report('eve_sp')$$);
SELECT current_setting('search_path') AS eve_path_after \gset
RESET search_path;
RESET ROLE;
SELECT is(pg_temp.rolsuper('eve'), false, 'item 2: a report''s set_config(search_path) does not make its owner superuser');
SELECT is(:'eve_path_after'::text, :'eve_path_before'::text, 'item 2: and the search_path the query set does not survive the run');
ALTER ROLE eve NOSUPERUSER;

-------------------------------------------------------------------------------
-- Item 3: only_if_changed reads the upstream's target to fingerprint it.
-- trudy chains trudy_down after trudy_up (only_if_changed), then swaps
-- trudy_up's target table for an (auto-updatable) view calling
-- trudy.escalate(): running trudy_up must not read that view as superuser.
-------------------------------------------------------------------------------
SELECT pg_temp.attacker('trudy');
SET ROLE trudy;
CREATE TABLE trudy.real (x int);
SELECT pipeline.create_report(name => 'trudy_up', query => 'SELECT 1 AS x', target => 'trudy.up_out');
SELECT pipeline.create_report(name => 'trudy_down', query => 'SELECT 2 AS y', target => 'trudy.down_out',
                              after => 'trudy_up', only_if_changed => true);
DROP TABLE trudy.up_out;
CREATE VIEW trudy.up_out AS SELECT x FROM trudy.real WHERE trudy.escalate();
SELECT pg_temp.attempt('run_report of the upstream', $$SELECT pipeline.run_report('trudy_up')$$);
RESET ROLE;
SELECT is(pg_temp.rolsuper('trudy'), false, 'item 3: the only_if_changed fingerprint does not read the owner''s view as superuser');
ALTER ROLE trudy NOSUPERUSER;

-------------------------------------------------------------------------------
-- Item 4: handle_event runs other owners' reports in the caller's session.
-- The superuser's report admin_r reads the unqualified table "devices".
-- oscar (who may CREATE in his own schema) and nobody2 (no CREATE anywhere,
-- only the default TEMP privilege) each shadow it with a temporary view
-- calling their own function, then hand in an event for admin_r's source.
-- admin_r must never run their function as superuser.
-------------------------------------------------------------------------------
CREATE TABLE public.devices (id text);
SELECT pipeline.create_report(name => 'admin_r', source => 's3://sec-iot/admin/',
  query => 'SELECT count(*) AS n FROM devices', target => 'public.admin_r_out');

SELECT pg_temp.attacker('oscar');
SET ROLE oscar;
CREATE TEMP VIEW devices AS SELECT 'x'::text AS id WHERE oscar.escalate();
SELECT pg_temp.attempt('handle_event for the superuser''s report', $$SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
  "s3":{"bucket":{"name":"sec-iot"},"object":{"key":"admin/1.json","eTag":"e1"}}}]}')$$);
DROP VIEW pg_temp.devices;
RESET ROLE;
SELECT is(pg_temp.rolsuper('oscar'), false, 'item 4: a temporary view shadowing a superuser''s report''s table does not run as superuser');
ALTER ROLE oscar NOSUPERUSER;

CREATE ROLE nobody2 LOGIN;
SET ROLE nobody2;
SELECT is(has_schema_privilege('public', 'CREATE'), false, 'item 4: nobody2 may CREATE in no schema');
CREATE FUNCTION pg_temp.nobody2_escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
    ALTER ROLE nobody2 SUPERUSER;
  END IF;
  RETURN true;
END $$;
CREATE TEMP VIEW devices AS SELECT 'x'::text AS id WHERE pg_temp.nobody2_escalate();
SELECT pg_temp.attempt('handle_event for the superuser''s report, TEMP only', $$SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
  "s3":{"bucket":{"name":"sec-iot"},"object":{"key":"admin/2.json","eTag":"e2"}}}]}')$$);
DROP VIEW pg_temp.devices;
RESET ROLE;
SELECT is(pg_temp.rolsuper('nobody2'), false, 'item 4: nor does one made with only the TEMP privilege');

SELECT * FROM finish();
ROLLBACK;
