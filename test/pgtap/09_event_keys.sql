-- Event keys are form-URL-decoded: a key that decodes to a NUL byte or to
-- invalid UTF-8 makes the event invalid, with the reason, before anything
-- runs or is recorded in pipeline.processed (where such text could not be
-- restored from a pg_dump).
BEGIN;
\ir lib/helpers.psql
SELECT plan(8);

SELECT pipeline.create_report(name => 'keys', source => 's3://keys/in/', mode => 'append',
  query => $$SELECT pipeline.trigger_uris() AS uris$$, target => 'keys_out');

CREATE FUNCTION pg_temp.event(VARIADIC keys text[]) RETURNS text LANGUAGE sql AS $$
  SELECT format($f$SELECT * FROM pipeline.handle_event(%L)$f$, jsonb_build_object('Records',
    (SELECT jsonb_agg(jsonb_build_object('eventSource', 'aws:s3', 'eventName', 'ObjectCreated:Put',
       's3', jsonb_build_object('bucket', jsonb_build_object('name', 'keys'),
                                'object', jsonb_build_object('key', k, 'eTag', 'e' || n, 'sequencer', '0' || n))))
     FROM unnest(keys) WITH ORDINALITY AS u(k, n))))
$$;

SELECT throws_ok(pg_temp.event('in/a%00b.json'), '22023',
  'invalid event: the object key of record 1 decodes to a NUL byte (%00)', '%00 is refused');
SELECT throws_ok(pg_temp.event('in/a%FFb.json'), '22023',
  'invalid event: the object key of record 1 decodes to invalid UTF-8', '%FF is refused');
SELECT throws_ok(pg_temp.event('in/%C0%AF.json'), '22023',
  'invalid event: the object key of record 1 decodes to invalid UTF-8', 'an overlong encoding is refused');
SELECT throws_ok(pg_temp.event('in/%ED%A0%80.json'), '22023',
  'invalid event: the object key of record 1 decodes to invalid UTF-8', 'a UTF-16 surrogate is refused');
SELECT throws_ok(pg_temp.event('in/%C3.json'), '22023',
  'invalid event: the object key of record 1 decodes to invalid UTF-8', 'a cut multi-byte sequence is refused');
SELECT throws_ok(pg_temp.event('in/good.json', 'in/bad%00.json'), '22023',
  'invalid event: the object key of record 2 decodes to a NUL byte (%00)', 'one bad record makes the message invalid');
SELECT is((SELECT count(*) FROM pipeline.processed WHERE bucket = 'keys'), 0::bigint,
  'nothing was recorded as processed');

-- valid UTF-8, percent-encoded as S3 does it, still runs
SELECT results_eq(format('SELECT report, status FROM (%s) e', pg_temp.event('in/%C3%A9t%C3%A9+%E2%82%AC.json')),
  $$VALUES ('keys'::text, 'succeeded'::text)$$, 'a valid multi-byte key runs the report');

SELECT * FROM finish();
ROLLBACK;
