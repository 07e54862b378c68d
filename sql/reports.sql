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

SELECT pipeline.drop_queue('iot-events');
DROP SERVER lake CASCADE;
