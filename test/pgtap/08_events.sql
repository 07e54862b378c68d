-- pipeline.handle_event: what the worker does with one message, in this
-- session: S3 events, SNS envelopes, EventBridge; form-URL-decoded keys;
-- exactly once per object version.
BEGIN;
\ir lib/helpers.psql
SELECT plan(18);

SELECT pg_temp.s3('mb evts');
SELECT pg_temp.s3_put('s3://evts/in/a b+c=&é%.json', '{"v":1}');
SELECT pg_temp.s3_put('s3://evts/in/two.json', E'{"v":2}\n{"v":3}');
CREATE FOREIGN TABLE evt (v int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://evts/in/');
SELECT pipeline.create_report(name => 'seen', source => 's3://evts/in/', mode => 'append',
  query => $$SELECT v, src FROM evt WHERE src = ANY (pipeline.trigger_uris())$$, target => 'seen');

-- an S3 event notification, key form-URL-encoded as S3 sends it
SELECT results_eq($$SELECT report, status, objects, rows FROM pipeline.handle_event(
  '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
    "s3":{"bucket":{"name":"evts"},"object":{"key":"in/a+b%2Bc%3D%26%C3%A9%25.json","size":7,"eTag":"e1","sequencer":"0A"}}}]}')$$,
  $$VALUES ('seen'::text, 'succeeded'::text, 1, 1::bigint)$$, 'an S3 event runs the report');
SELECT is((SELECT src FROM seen), 's3://evts/in/a b+c=&é%.json', 'with the key decoded');
SELECT is((SELECT trigger_uris FROM pipeline.runs WHERE report = 'seen'), '{"s3://evts/in/a b+c=&é%.json"}',
  'and recorded in the run');

-- the same version again: nothing runs
SELECT is((SELECT count(*) FROM pipeline.handle_event(
  '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
    "s3":{"bucket":{"name":"evts"},"object":{"key":"in/a+b%2Bc%3D%26%C3%A9%25.json","eTag":"e1","sequencer":"0A"}}}]}')
  WHERE status = 'succeeded'), 0::bigint, 'a duplicate event runs nothing');
-- an older event for the same key (S3 delivers out of order): nothing either
SELECT is((SELECT count(*) FROM pipeline.handle_event(
  '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
    "s3":{"bucket":{"name":"evts"},"object":{"key":"in/a+b%2Bc%3D%26%C3%A9%25.json","eTag":"e0","sequencer":"09"}}}]}')
  WHERE status = 'succeeded'), 0::bigint, 'an event older than one processed runs nothing');

-- wrapped in an SNS envelope
SELECT results_eq($$SELECT status, rows FROM pipeline.handle_event(jsonb_build_object(
  'Type', 'Notification', 'TopicArn', 'arn:aws:sns:us-east-1:000000000000:t', 'Subject', 'Amazon S3 Notification',
  'Message', '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"in/two.json","eTag":"e2","sequencer":"0B"}}}]}'))$$,
  $$VALUES ('succeeded'::text, 2::bigint)$$, 'an SNS envelope');
-- EventBridge: keys are not encoded there
SELECT pg_temp.s3_put('s3://evts/in/eb file.json', '{"v":4}');
SELECT results_eq($$SELECT status, rows FROM pipeline.handle_event(
  '{"version":"0","detail-type":"Object Created","source":"aws.s3","account":"000000000000","region":"us-east-1",
    "detail":{"bucket":{"name":"evts"},"object":{"key":"in/eb file.json","size":7,"etag":"e4","sequencer":"0C"}}}')$$,
  $$VALUES ('succeeded'::text, 1::bigint)$$, 'an EventBridge Object Created event');
SELECT is((SELECT array_agg(v ORDER BY v) FROM seen), '{1,2,3,4}'::int[], 'each object once');

-- several records in one message: one run
SELECT pg_temp.s3_put('s3://evts/in/m1.json', '{"v":5}');
SELECT pg_temp.s3_put('s3://evts/in/m2.json', '{"v":6}');
SELECT results_eq($$SELECT objects, rows FROM pipeline.handle_event(
  '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"in/m1.json","eTag":"m1"}}},
               {"eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"evts"},"object":{"key":"in/m2.json","eTag":"m2-2"}}}]}')$$,
  $$VALUES (2, 2::bigint)$$, 'several records, one run');

-- ignored and invalid
SELECT is((SELECT count(*) FROM pipeline.handle_event('{"Service":"Amazon S3","Event":"s3:TestEvent"}')), 0::bigint,
  's3:TestEvent is ignored');
SELECT throws_like($$SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:sqs"}]}')$$,
  'invalid event: record 1 is not an S3 event record', 'a record from elsewhere is invalid');
SELECT throws_like($$SELECT * FROM pipeline.handle_event('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"bad%zz"}}}]}')$$,
  'invalid event: record 1 has no valid bucket name and object key', 'a malformed key is invalid');

-- versions compare by one rule: sequencers equal when right-padded with zeros
SELECT pg_temp.s3_put('s3://evts/in/norm.json', '{"v":7}');
SELECT is((SELECT count(*) FROM pipeline.handle_event(
  '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"in/norm.json","eTag":"n1","sequencer":"001A22CB4E1AC0"}}},
               {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"in/norm.json","eTag":"n1","sequencer":"001A22CB4E1AC00000"}}}]}')
  WHERE status = 'succeeded'), 1::bigint, 'one run for two notations of one sequencer');
SELECT is((SELECT count(*) FROM pipeline.handle_event(
  '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"in/norm.json","eTag":"n1","sequencer":"001a22cb4e1ac000"}}}]}')
  WHERE status = 'succeeded'), 0::bigint, 'and none for a third, later');
SELECT is((SELECT count(*) FROM seen WHERE v = 7), 1::bigint, 'the object''s rows once');

-- A sequencer is only what an event says.  A forged event with a sequencer
-- from the far future must not make every genuine later version look old:
-- an older event is skipped only if S3 still holds the version recorded as
-- newer (its ETag); if S3 holds exactly what the older event announced, it runs.
SELECT pg_temp.s3_put('s3://evts/in/forged.json', '{"v":8}');
SELECT is((SELECT status FROM pipeline.handle_event(
  '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"evts"},"object":{"key":"in/forged.json","eTag":"not-the-etag","sequencer":"FFFFFFFFFFFFFFFFFFFFFFFF"}}}]}')),
  'succeeded', 'a forged event runs the report (on what S3 holds)');
SELECT is((SELECT status FROM pipeline.handle_event(jsonb_build_object('Records', jsonb_build_array(jsonb_build_object(
  'eventSource', 'aws:s3', 'eventName', 'ObjectCreated:Put', 's3', jsonb_build_object(
    'bucket', jsonb_build_object('name', 'evts'),
    'object', jsonb_build_object('key', 'in/forged.json', 'eTag', md5('{"v":8}'), 'sequencer', '0D'))))))),
  'skipped', 'the genuine event for the bytes the forged event''s run read runs nothing: they were processed once');
-- and the forged sequencer does not make a genuine later version look old
SELECT pg_temp.s3_put('s3://evts/in/forged.json', '{"v":9}');
SELECT is((SELECT status FROM pipeline.handle_event(jsonb_build_object('Records', jsonb_build_array(jsonb_build_object(
  'eventSource', 'aws:s3', 'eventName', 'ObjectCreated:Put', 's3', jsonb_build_object(
    'bucket', jsonb_build_object('name', 'evts'),
    'object', jsonb_build_object('key', 'in/forged.json', 'eTag', md5('{"v":9}'), 'sequencer', '0E'))))))),
  'succeeded', 'the genuine event for a later version still runs');

SELECT * FROM finish();
ROLLBACK;
