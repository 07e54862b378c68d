-- CSV table options (README, table (csv) options): columns matched to the
-- header by name (or field), by position with header 'false', the null
-- string, delimiter and quote.  Each case has data that would come out
-- differently if the option were ignored.
BEGIN;
\ir lib/helpers.psql
SELECT plan(13);

SELECT pg_temp.s3('mb csvopt');

-- header 'true' (the default): by name, in any order; field names the
-- header's column; a column the header lacks is an error that says how to map it
SELECT pg_temp.s3_put('s3://csvopt/named.csv', E'b,a,c d\n2,1,x\n4,3,y\n');
CREATE FOREIGN TABLE named (a int, b int, cd text OPTIONS (field 'c d'))
  SERVER lake OPTIONS (uri 's3://csvopt/named.csv', format 'csv');
SELECT results_eq('SELECT a, b, cd FROM named ORDER BY a',
  $$VALUES (1, 2, 'x'), (3, 4, 'y')$$,
  'header: columns by name, whatever their order; field names a header column');
CREATE FOREIGN TABLE named_missing (a int, missing text)
  SERVER lake OPTIONS (uri 's3://csvopt/named.csv', format 'csv');
SELECT throws_like('SELECT * FROM named_missing', 'column "missing" is not in the header of "s3://csvopt/named.csv"',
  'a column the header lacks is refused, by name');

-- header 'false': by position, and the first line is a record
SELECT pg_temp.s3_put('s3://csvopt/nohead.csv', E'b,a\n2,1\n4,3\n');
CREATE FOREIGN TABLE nohead (first text, second text)
  SERVER lake OPTIONS (uri 's3://csvopt/nohead.csv', format 'csv', header 'false');
SELECT results_eq('SELECT first, second FROM nohead',
  $$VALUES ('b', 'a'), ('2', '1'), ('4', '3')$$,
  'header ''false'': columns by position, the first line is data');
CREATE FOREIGN TABLE nohead_int (x int, y int)
  SERVER lake OPTIONS (uri 's3://csvopt/nohead.csv', format 'csv', header 'false', on_error 'skip');
SELECT results_eq('SELECT x, y FROM nohead_int', $$VALUES (2, 1), (4, 3)$$,
  'with on_error skip, only the first line (not numbers) is rejected');

-- null: the default '' makes an unquoted empty field NULL, a quoted one ''
SELECT pg_temp.s3_put('s3://csvopt/nulls.csv', E'id,s\n1,\n2,""\n3,NULL\n4,"NULL"\n5,null\n');
CREATE FOREIGN TABLE nulls_default (id int, s text) SERVER lake OPTIONS (uri 's3://csvopt/nulls.csv', format 'csv');
SELECT results_eq($$SELECT id, s IS NULL, s FROM nulls_default ORDER BY id$$,
  $$VALUES (1, true, NULL::text), (2, false, ''), (3, false, 'NULL'), (4, false, 'NULL'), (5, false, 'null')$$,
  'null '''' (the default): an unquoted empty field is NULL, a quoted one the empty string');
-- null 'NULL': that unquoted string is NULL; quoted, it is text; an empty field is ''
CREATE FOREIGN TABLE nulls_custom (id int, s text)
  SERVER lake OPTIONS (uri 's3://csvopt/nulls.csv', format 'csv', null 'NULL');
SELECT results_eq($$SELECT id, s IS NULL, s FROM nulls_custom ORDER BY id$$,
  $$VALUES (1, false, ''::text), (2, false, ''), (3, true, NULL), (4, false, 'NULL'), (5, false, 'null')$$,
  'null ''NULL'': the unquoted string NULL is NULL (case matters), quoted it is text, an empty field is ''''');
-- a custom null in a number column
SELECT pg_temp.s3_put('s3://csvopt/nullnum.csv', E'id,n\n1,\\N\n2,7\n');
CREATE FOREIGN TABLE nullnum (id int, n int)
  SERVER lake OPTIONS (uri 's3://csvopt/nullnum.csv', format 'csv', null '\N');
SELECT results_eq('SELECT id, n FROM nullnum ORDER BY id', $$VALUES (1, NULL::int), (2, 7)$$,
  'null ''\N'' (as PostgreSQL''s COPY writes it) in a number column');
CREATE FOREIGN TABLE nullnum_default (id int, n int)
  SERVER lake OPTIONS (uri 's3://csvopt/nullnum.csv', format 'csv');
SELECT throws_like('SELECT * FROM nullnum_default', 'invalid value for column "n" in record 1 of "s3://csvopt/nullnum.csv"',
  'without it, \N is a value, and not a number');

-- delimiter and quote
SELECT pg_temp.s3_put('s3://csvopt/pipes.csv', E'a|b\n''x|y''|1\n''it''''s''|2\n');
CREATE FOREIGN TABLE pipes (a text, b int)
  SERVER lake OPTIONS (uri 's3://csvopt/pipes.csv', format 'csv', delimiter '|', quote '''');
SELECT results_eq('SELECT a, b FROM pipes ORDER BY b', $$VALUES ('x|y', 1), ('it''s', 2)$$,
  'delimiter ''|'' and quote '''''''': the delimiter inside quotes, a doubled quote');
CREATE FOREIGN TABLE pipes_comma (a text)
  SERVER lake OPTIONS (uri 's3://csvopt/pipes.csv', format 'csv', header 'false');
SELECT results_eq('SELECT a FROM pipes_comma', $$VALUES ('a|b'), ('''x|y''|1'), ('''it''''s''|2')$$,
  'with the default delimiter and quote the same object is one column of raw lines');

-- the options are validated
SELECT throws_like($$CREATE FOREIGN TABLE bad1 (a text) SERVER lake OPTIONS (uri 's3://csvopt/x.csv', format 'csv', header 'maybe')$$,
  '%header%', 'header takes a boolean');
SELECT throws_like($$CREATE FOREIGN TABLE bad2 (a text) SERVER lake OPTIONS (uri 's3://csvopt/x.csv', format 'csv', delimiter '||')$$,
  '%delimiter%', 'delimiter is one character');
SELECT throws_like($$CREATE FOREIGN TABLE bad3 (a text) SERVER lake OPTIONS (uri 's3://csvopt/x.csv', format 'csv', delimiter ',', quote ',')$$,
  '%quote%', 'quote and delimiter differ');

SELECT * FROM finish();
ROLLBACK;
