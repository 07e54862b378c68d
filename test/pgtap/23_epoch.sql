-- Epoch numbers into timestamp columns (column option format 'epoch_s',
-- 'epoch_ms', 'epoch_us', 'epoch_ns'), as Athena users keep them; what is not
-- an epoch number is a bad record (never a silent NULL); IMPORT FOREIGN
-- SCHEMA proposes the option for time-named epoch fields.
BEGIN;
\ir lib/helpers.psql
SELECT plan(14);

SELECT pg_temp.s3('mb epochs');
SELECT pg_temp.s3_put('s3://epochs/ok/a.json',
  '{"s":1764072000,"ms":1764072000123,"us":1764072000123456,"ns":1764072000123456789,"f":1764072000.5,"str":"1764072000","neg":-1}' || E'\n' ||
  '{"s":null,"ms":0,"us":0,"ns":0,"f":0,"str":"0","neg":0}');
SELECT pg_temp.s3_put('s3://epochs/bad/a.json', E'{"s":1764072000}\n{"s":"soon"}\n{"s":1e300}\n{"s":true}\n');
SELECT pg_temp.s3_put('s3://epochs/csv/a.csv', E'id,at\n1,1764072000123\n2,\n');

CREATE FOREIGN TABLE ep (
  s timestamptz OPTIONS (format 'epoch_s'), ms timestamptz OPTIONS (format 'epoch_ms'),
  us timestamptz OPTIONS (format 'epoch_us'), ns timestamptz OPTIONS (format 'epoch_ns'),
  f timestamptz OPTIONS (format 'epoch_s'), str timestamptz OPTIONS (format 'epoch_s'),
  neg timestamptz OPTIONS (format 'epoch_s'),
  wall timestamp OPTIONS (field 's', format 'epoch_s'), raw bigint OPTIONS (field 's')
) SERVER lake OPTIONS (uri 's3://epochs/ok/');

SELECT is((SELECT s FROM ep WHERE raw IS NOT NULL), to_timestamp(1764072000), 'seconds');
SELECT is((SELECT ms FROM ep WHERE raw IS NOT NULL), to_timestamp(1764072000.123), 'milliseconds');
SELECT is((SELECT us FROM ep WHERE raw IS NOT NULL), to_timestamp(1764072000.123456), 'microseconds');
SELECT is((SELECT ns FROM ep WHERE raw IS NOT NULL), to_timestamp(1764072000.123457), 'nanoseconds, rounded to the microsecond');
SELECT is((SELECT format('%s %s %s', f = to_timestamp(1764072000.5), str = s, neg = to_timestamp(-1)) FROM ep WHERE raw IS NOT NULL),
  't t t', 'fractions, numbers as text, before 1970');
SELECT is((SELECT wall FROM ep WHERE raw IS NOT NULL), (to_timestamp(1764072000) AT TIME ZONE 'UTC'),
  'timestamp without time zone: the UTC wall time');
SELECT is((SELECT format('%s %s', s IS NULL, ms = to_timestamp(0)) FROM ep WHERE raw IS NULL), 't t',
  'null is NULL, 0 is 1970-01-01');

-- not epoch numbers: errors, or rejects with on_error 'skip'
CREATE FOREIGN TABLE ep_bad (s timestamptz OPTIONS (format 'epoch_s')) SERVER lake OPTIONS (uri 's3://epochs/bad/');
CREATE FUNCTION pg_temp.error_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; m text; d text;
BEGIN
  EXECUTE stmt;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || m || ' / ' || d;
END $$;
SELECT is(pg_temp.error_of('SELECT * FROM ep_bad'),
  '22007: invalid value for column "s" in record 2 of "s3://epochs/bad/a.json" / Line 2: "soon" is not an epoch number in range for timestamp with time zone.',
  'text that is not a number is an error, not a NULL');
CREATE FOREIGN TABLE ep_skip (s timestamptz OPTIONS (format 'epoch_s')) SERVER lake OPTIONS (uri 's3://epochs/bad/', on_error 'skip');
SELECT is((SELECT array_agg(s) FROM ep_skip), ARRAY[to_timestamp(1764072000)],
  'with on_error ''skip'': a word, a number out of range and a boolean are rejected');

-- CSV
CREATE FOREIGN TABLE ep_csv (id int, at timestamptz OPTIONS (format 'epoch_ms')) SERVER lake
  OPTIONS (uri 's3://epochs/csv/a.csv', format 'csv');
SELECT is((SELECT array_agg(at ORDER BY id) FROM ep_csv), ARRAY[to_timestamp(1764072000.123), NULL],
  'CSV fields; an empty field is NULL');

-- validation
SELECT throws_like($$CREATE FOREIGN TABLE bad (t timestamptz OPTIONS (format 'epoch_days')) SERVER lake OPTIONS (uri 's3://epochs/')$$,
  'invalid value for option "format": "epoch_days"', 'an unknown unit');
CREATE FOREIGN TABLE ep_int (s bigint OPTIONS (format 'epoch_s')) SERVER lake OPTIONS (uri 's3://epochs/ok/');
SELECT throws_like('SELECT * FROM ep_int', 'option "format" of column "s" needs a timestamp or timestamptz column',
  'the option on a column that is not a timestamp');

-- IMPORT FOREIGN SCHEMA proposes it
SELECT pg_temp.s3_put('s3://epochs/imp/events/a.json',
  E'{"eventTime":1764072000123,"count":1764072000123}\n{"eventTime":1764072001000,"count":2}');
CREATE SCHEMA ep_imported;
IMPORT FOREIGN SCHEMA epochs FROM SERVER lake INTO ep_imported OPTIONS (prefix 'imp/');
SELECT is((SELECT string_agg(format('%s %s %s', attname, format_type(atttypid, atttypmod), coalesce(attfdwoptions::text, '-')), ', ' ORDER BY attnum)
           FROM pg_attribute WHERE attrelid = 'ep_imported.events'::regclass AND attnum > 0),
  'event_time timestamp with time zone {field=eventTime,format=epoch_ms}, count bigint -',
  'a time-named field of epoch milliseconds is timestamptz with format ''epoch_ms''; a counter is not');
SELECT is((SELECT min(event_time) FROM ep_imported.events), to_timestamp(1764072000.123), 'and reads as such');

SELECT * FROM finish();
ROLLBACK;
