-- IMPORT FOREIGN SCHEMA of CSV objects (issue 12): columns named by the
-- header line, types from the sampled rows (integers, numbers, booleans,
-- ISO-8601 times, codes with leading zeros kept as text, NULLs by the
-- null string), gzip or plain, Hive partitions; header 'false' and 'skip'
-- give positional columns c1, c2, ...; delimiter/quote/null/header go to
-- the tables made; an object whose header differs is not sampled; hostile
-- header names stay quoted; the options are checked.
BEGIN;
\ir lib/helpers.psql
SELECT plan(16);

CREATE FUNCTION pg_temp.cols(t regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(format('%s %s%s', attname, format_type(atttypid, atttypmod),
                           coalesce(' ' || array_to_string(attfdwoptions, ' '), '')), ', ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped
$$;

SELECT pg_temp.s3('mb impcsv');
SELECT pg_temp.s3_put('s3://impcsv/athena/dt=2026-11-24/a.csv.gz',
  E'"Device Id",battery,ok,seen_at,zip,note\n'
  || E'd1,97,true,2026-11-24T10:00:00Z,007,"hello, world"\n'
  || E'd2,3.5,false,2026-11-24T11:00:00Z,010,\n', 'gzip -c');
SELECT pg_temp.s3_put('s3://impcsv/athena/dt=2026-11-25/b.csv',
  E'"Device Id",battery,ok,seen_at,zip,note\n'
  || E'd3,50,true,2026-11-25T10:00:00Z,123,"say ""hi"""\n');
-- another layout: not sampled (its numbers as text would make battery text)
SELECT pg_temp.s3_put('s3://impcsv/athena/dt=2026-11-26/c.csv', E'battery,other\nnot a number,x\n');
-- no header, semicolons, NULL as \N
SELECT pg_temp.s3_put('s3://impcsv/raw/semi/a.csv', E'1;x;\\N\n2;y;2.5\n');
-- a header line to skip
SELECT pg_temp.s3_put('s3://impcsv/raw/skip/a.csv', E'Title of the report\n10,abc\n20,def\n');
-- hostile header names
SELECT pg_temp.s3_put('s3://impcsv/raw/hostile/a.csv', E'"a""); DROP TABLE canary; --",b\n1,2\n');
CREATE TABLE canary (x int);
CREATE SCHEMA csvimp;

IMPORT FOREIGN SCHEMA impcsv LIMIT TO (athena) FROM SERVER lake INTO csvimp OPTIONS (format 'csv');
SELECT is(pg_temp.cols('csvimp.athena'),
  'device_id text field=Device Id, battery double precision, ok boolean, seen_at timestamp with time zone, '
  'zip text, note text, dt date partition=dt',
  'CSV: columns named by the header, typed from the rows; codes with leading zeros stay text; Hive partitions');
SELECT is((SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'csvimp.athena'::regclass),
  '{uri=s3://impcsv/athena/,format=csv}'::text[], 'the table reads CSV');
SELECT is((SELECT string_agg(format('%s %s %s %s', device_id, battery, zip, coalesce(note, '-')), '; ' ORDER BY device_id)
           FROM csvimp.athena WHERE dt < '2026-11-26'),
  'd1 97 007 hello, world; d2 3.5 010 -; d3 50 123 say "hi"', 'and reads the objects it sampled (an empty unquoted field is NULL)');
SELECT is((SELECT sum(battery) FROM csvimp.athena WHERE dt = '2026-11-25'), 50::float8, 'partition pruning by dt');

-- positional layouts
IMPORT FOREIGN SCHEMA impcsv LIMIT TO (semi) FROM SERVER lake INTO csvimp
  OPTIONS (prefix 'raw/', format 'csv', header 'false', delimiter ';', null '\N');
SELECT is(pg_temp.cols('csvimp.semi'), 'c1 integer, c2 text, c3 double precision',
  'header ''false'': columns c1, c2, ... by position, typed; the null string is NULL');
SELECT is((SELECT array_to_string(ftoptions, ' ') FROM pg_foreign_table WHERE ftrelid = 'csvimp.semi'::regclass),
  'uri=s3://impcsv/raw/semi/ format=csv header=false delimiter=; null=\N',
  'the CSV options given go to the table');
SELECT is((SELECT string_agg(format('%s:%s:%s', c1, c2, coalesce(c3::text, 'NULL')), ' ' ORDER BY c1) FROM csvimp.semi),
  '1:x:NULL 2:y:2.5', 'and it reads the objects');
IMPORT FOREIGN SCHEMA impcsv LIMIT TO (skip) FROM SERVER lake INTO csvimp
  OPTIONS (prefix 'raw/', format 'csv', header 'skip');
SELECT is(pg_temp.cols('csvimp.skip'), 'c1 integer, c2 text',
  'header ''skip'': the first line is neither a name nor a row');
SELECT is((SELECT sum(c1) FROM csvimp.skip), 30::bigint, 'the table skips it too');

-- hostile names
IMPORT FOREIGN SCHEMA impcsv LIMIT TO (hostile) FROM SERVER lake INTO csvimp OPTIONS (prefix 'raw/', format 'csv');
SELECT ok(to_regclass('canary') IS NOT NULL, 'a hostile header ran no SQL');
SELECT is(pg_temp.cols('csvimp.hostile'), 'a_drop_table_canary integer field=a"); DROP TABLE canary; --, b integer',
  'its name is a quoted identifier, the header name a literal');
SELECT is((SELECT a_drop_table_canary + b FROM csvimp.hostile), 3, 'and the table reads it by that name');

-- options checked
SELECT throws_like($$IMPORT FOREIGN SCHEMA impcsv FROM SERVER lake INTO csvimp OPTIONS (format 'csv', header 'maybe')$$,
  'invalid value for option "header": "maybe"', 'a bad header value');
SELECT throws_like($$IMPORT FOREIGN SCHEMA impcsv FROM SERVER lake INTO csvimp OPTIONS (delimiter ';')$$,
  'option "delimiter" is only valid with format ''csv''', 'CSV options without format csv');
SELECT throws_like($$IMPORT FOREIGN SCHEMA impcsv FROM SERVER lake INTO csvimp OPTIONS (format 'csv', delimiter '"')$$,
  'options "delimiter" and "quote" must be different characters', 'a delimiter that is the quote');
SELECT throws_like($$IMPORT FOREIGN SCHEMA impcsv FROM SERVER lake INTO csvimp OPTIONS (format 'csv', case_insensitive 'true')$$,
  'option "case_insensitive" is only valid with format ''json''', 'case_insensitive is for JSON');

SELECT * FROM finish();
ROLLBACK;
