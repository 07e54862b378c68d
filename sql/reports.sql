--
-- Defining queues and reports: validation and rights.  No network: nothing
-- is polled or run here.
--
\set VERBOSITY default
CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
  OPTIONS (region 'us-east-1', endpoint 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER lake
  OPTIONS (access_key_id 'AKIA', secret_access_key 'sekrit');
CREATE FOREIGN TABLE deviceping (device_id text, battery float8, ts timestamptz)
  SERVER lake OPTIONS (uri 's3://iot/raw/v0/deviceping/');

-- queues
SELECT pipeline.add_queue('iot-events', 'http://127.0.0.1:9/000000000000/iot-events', server => 'lake');
SELECT pipeline.add_queue('iot-events', 'http://127.0.0.1:9/000000000000/iot-events', server => 'lake');
SELECT pipeline.add_queue('other', 'ftp://x', server => 'lake');
SELECT pipeline.add_queue('other', 'http://127.0.0.1:9/0/other', server => 'nowhere');
SELECT pipeline.add_queue('', 'http://127.0.0.1:9/0/other', server => 'lake');
SELECT name, url, server, owner FROM pipeline.queues;

-- reports
SELECT pipeline.create_report(
  name   => 'devicebattery',
  source => 's3://iot/raw/v0/deviceping/',
  query  => $$SELECT DISTINCT ON (device_id) device_id, battery, ts
               FROM deviceping ORDER BY device_id, ts DESC$$,
  target => 'public.devicebattery');
SELECT pipeline.create_report(name => 'devicebattery', query => 'SELECT 1', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1', target => 'x', mode => 'upsert');
SELECT pipeline.create_report(name => 'r1', source => 'https://iot/raw/', query => 'SELECT 1', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT * FROM no_such_table', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT nope FROM deviceping', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'DELETE FROM deviceping', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1; SELECT 2', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1 INTO y', target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1 AS one', target => 'pg_class');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1 AS one', target => 'no_schema.x');
SELECT pipeline.create_report(name => 'r1', query => NULL, target => 'x');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1 AS one', target => 'x', export_format => 'xml');
SELECT pipeline.create_report(name => 'r1', query => 'SELECT 1 AS one', target => 'x', after => 'nope');
-- chains: after another report; no cycles
SELECT pipeline.create_report(name => 'weekly', query => 'SELECT * FROM devicebattery',
                              target => 'weekly', after => 'devicebattery');
SELECT pipeline.create_report(name => 'loop', query => 'SELECT 1 AS one', target => 'loop', after => 'loop');
SELECT name, source, target, mode, after, owner, timeout FROM pipeline.reports ORDER BY name;
-- the target exists from the start, empty
SELECT * FROM devicebattery;
SELECT pipeline.drop_report('devicebattery');

-- other roles: their own reports only
CREATE ROLE pipeline_mallory;
SET ROLE pipeline_mallory;
SELECT pipeline.drop_report('devicebattery');
SELECT pipeline.drop_queue('iot-events');
SELECT pipeline.run_report('devicebattery');
SELECT count(*) FROM pipeline.reports;
INSERT INTO pipeline.reports (name, query, target, timeout, owner)
  VALUES ('evil', 'SELECT 1', 'x', '1 min', 'postgres');
RESET ROLE;
DROP ROLE pipeline_mallory;
SELECT pipeline.drop_report('weekly');
SELECT pipeline.drop_report('devicebattery');
SELECT pipeline.drop_report('weekly');

-- events: what handle_event accepts and ignores (no report matches here)
SELECT * FROM pipeline.handle_event('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"iot"}');
SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"iot"},"object":{"key":"x"}}}]}');
SELECT * FROM pipeline.handle_event('{"hello":"world"}');
SELECT * FROM pipeline.handle_event('{"Type":"Notification","Message":"not json"}');
SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"iot"},"object":{"key":"elsewhere/a+b%2Bc.json","size":1}}}]}');
SELECT pipeline.trigger_uris();
SELECT pipeline.sequencer_cmp('0055AED6DCD90281E5', '0055AED6DCD90281E6'),
       pipeline.sequencer_cmp('0055AED6DCD90281E5', '0055AED6DCD9028'),
       pipeline.sequencer_cmp('00A', '00a');


-- the target is made from the query's columns, never by pasting the query
-- into DDL: a query ending in a comment does not run at creation
CREATE TABLE ran (at timestamptz);
CREATE FUNCTION note_run() RETURNS int LANGUAGE sql AS $$ INSERT INTO ran VALUES (now()) RETURNING 1 $$;
SELECT pipeline.create_report(name => 'commented', query => 'SELECT note_run() AS n -- trailing comment',
                              target => 'commented');
SELECT count(*) AS runs_at_creation FROM ran;
\d commented
SELECT pipeline.drop_report('commented');

-- results go in by column name; a column the table lacks, or of a type it
-- cannot take, is refused at creation
CREATE TABLE ab (a int, b int, c text DEFAULT 'default');
SELECT pipeline.create_report(name => 'byname', query => 'SELECT 2 AS b, 1 AS a', target => 'ab');
SELECT pipeline.run_report('byname') > 0 AS ran;
SELECT * FROM ab;
SELECT pipeline.create_report(name => 'extra', query => 'SELECT 1 AS a, 2 AS z', target => 'ab');
SELECT pipeline.create_report(name => 'badtype', query => 'SELECT now() AS a', target => 'ab');
SELECT pipeline.create_report(name => 'twice', query => 'SELECT 1 AS a, 2 AS a', target => 'ab');

-- a query its owner may not run is refused at creation
CREATE TABLE secret (s text);
CREATE ROLE pipeline_eve;
GRANT CREATE ON SCHEMA public TO pipeline_eve;
SET ROLE pipeline_eve;
SELECT pipeline.create_report(name => 'peek', query => 'SELECT s FROM secret', target => 'peek');
SELECT pipeline.create_report(name => 'peek', query => 'SELECT s FROM (SELECT * FROM secret) x', target => 'peek');
SELECT pipeline.create_report(name => 'peek', query => 'SELECT 1 AS one WHERE EXISTS (SELECT FROM secret)', target => 'peek');
RESET ROLE;
-- nor one that calls a function its owner may not execute, nor into a table it may not write
CREATE FUNCTION secret_f() RETURNS int LANGUAGE sql AS 'SELECT 42';
REVOKE EXECUTE ON FUNCTION secret_f() FROM PUBLIC;
CREATE TABLE theirs (x int);
GRANT SELECT ON theirs TO pipeline_eve;
SET ROLE pipeline_eve;
SELECT pipeline.create_report(name => 'peek', query => 'SELECT secret_f() AS x', target => 'peek');
SELECT pipeline.create_report(name => 'peek', query => 'SELECT 1 AS x', target => 'theirs', mode => 'append');
RESET ROLE;
GRANT INSERT ON theirs TO pipeline_eve;
SET ROLE pipeline_eve;
SELECT pipeline.create_report(name => 'peek', query => 'SELECT 1 AS x', target => 'theirs');
SELECT pipeline.create_report(name => 'peek', query => 'SELECT 1 AS x', target => 'theirs', mode => 'append');
SELECT pipeline.alter_report('peek', mode => 'replace');
SELECT pipeline.drop_report('peek');
RESET ROLE;
DROP TABLE theirs;
DROP FUNCTION secret_f();

-- alter_report: change what is given, keep the rest and the history
SELECT pipeline.alter_report('byname', query => 'SELECT 3 AS a, 4 AS b', max_attempts => 7,
                             retry_delay => '30 seconds');
SELECT name, query, max_attempts, retry_delay FROM pipeline.reports WHERE name = 'byname';
SELECT pipeline.run_report('byname') > 0 AS ran;
SELECT count(*) AS runs_kept FROM pipeline.runs WHERE report = 'byname';
SELECT pipeline.alter_report('byname', query => 'SELECT 1 AS nope');
SELECT pipeline.alter_report('byname', mode => 'upsert');
SELECT pipeline.alter_report('byname', max_attempts => 0);
SELECT pipeline.alter_report('nosuch', query => 'SELECT 1');
-- pause and resume
SELECT pipeline.pause_report('byname');
SELECT report, state FROM pipeline.report_status WHERE report = 'byname';
SELECT pipeline.resume_report('byname');
SELECT report, state, consecutive_failures, pending FROM pipeline.report_status WHERE report = 'byname';
SET ROLE pipeline_eve;
SELECT pipeline.pause_report('byname');
SELECT pipeline.alter_report('byname', query => 'SELECT 1 AS a');
RESET ROLE;

-- a role that owns reports or queues cannot be dropped; DROP OWNED and
-- REASSIGN OWNED take them along, as with PostgreSQL's own objects
CREATE ROLE pipeline_owner;
GRANT CREATE ON SCHEMA public TO pipeline_owner;
SET ROLE pipeline_owner;
SELECT pipeline.create_report(name => 'owned1', query => 'SELECT 1 AS x', target => 'owned1');
SELECT pipeline.create_report(name => 'owned2', query => 'SELECT 1 AS x', target => 'owned2', after => 'owned1');
RESET ROLE;
DROP ROLE pipeline_owner;
REASSIGN OWNED BY pipeline_owner TO pipeline_eve;
SELECT name, owner FROM pipeline.reports WHERE name LIKE 'owned%' ORDER BY name;
DROP OWNED BY pipeline_eve;
SELECT count(*) AS left_over FROM pipeline.reports WHERE name LIKE 'owned%';
DROP OWNED BY pipeline_owner;
DROP ROLE pipeline_owner;
DROP ROLE pipeline_eve;
SELECT pipeline.drop_report('byname');
DROP TABLE ab, ran, secret;
DROP FUNCTION note_run();

SELECT pipeline.drop_queue('iot-events');
DROP SERVER lake CASCADE;
