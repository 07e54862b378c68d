-- Case-insensitive JSON keys (table option case_insensitive, as Athena's
-- JSON SerDes): a column "userid" reads "UserId", every segment of a dotted
-- field path folds, keys that differ only in case in one object are
-- duplicates (the first counts), non-ASCII letters do not fold; without the
-- option (or with 'false') the same records give NULLs; bad values and CSV
-- refused with a hint; IMPORT FOREIGN SCHEMA makes one column of keys that
-- differ in case and gives its tables the option.
BEGIN;
\ir lib/helpers.psql
SELECT plan(24);

-- The hint of the error a statement raises (NULL if none).
CREATE FUNCTION pg_temp.error_hint(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
  EXECUTE stmt;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN h;
END $$;

SELECT pg_temp.s3('mb cikeys');
SELECT pg_temp.s3_put('s3://cikeys/ev/a.json.gz',
  '{"UserId":"u1","Event":{"Type":"click","Geo":{"Lat":1.5}},"SCORE":10}' || E'\n'
  || '{"userid":"u2","event":{"type":"view","geo":{"lat":2.5}},"score":20}' || E'\n'
  || '{"USERID":"u3","EVENT":{"TYPE":"buy","GEO":{"LAT":3.5}},"Score":30}' || E'\n',
  'gzip -c');
-- keys that differ only in case in one object; a non-ASCII key; an escaped key
SELECT pg_temp.s3_put('s3://cikeys/dup/a.json',
  '{"Url":"first","URL":"second","url":"third","\u00c9t\u00e9":"upper","n":1}' || E'\n'
  || '{"url":"only","\u00e9t\u00e9":"lower","n":2}' || E'\n'
  || '{"\u0055RL":"escaped","n":3}' || E'\n');

CREATE FOREIGN TABLE ev_ci (userid text, event_type text OPTIONS (field 'event.type'),
                            lat float8 OPTIONS (field 'Event.GEO.lat'), score int,
                            event jsonb)
  SERVER lake OPTIONS (uri 's3://cikeys/ev/', case_insensitive 'true');
CREATE FOREIGN TABLE ev_exact (userid text, event_type text OPTIONS (field 'event.type'),
                               lat float8 OPTIONS (field 'Event.GEO.lat'), score int)
  SERVER lake OPTIONS (uri 's3://cikeys/ev/');
CREATE FOREIGN TABLE ev_false (userid text, score int)
  SERVER lake OPTIONS (uri 's3://cikeys/ev/', case_insensitive 'false');

SELECT is((SELECT string_agg(format('%s %s %s %s', userid, event_type, lat, score), '; ' ORDER BY userid) FROM ev_ci),
  'u1 click 1.5 10; u2 view 2.5 20; u3 buy 3.5 30',
  'case_insensitive: keys in any case, and every segment of dotted paths');
SELECT is((SELECT event->>'Type' FROM ev_ci WHERE userid = 'u1'), 'click',
  'a jsonb column keeps the object as written');
SELECT is((SELECT count(*) FROM ev_ci WHERE userid = 'u3' AND score = 30), 1::bigint,
  'filters on folded columns');
SELECT is((SELECT sum(score) FROM ev_ci), 60::bigint, 'an aggregate over one folded column');
SELECT is((SELECT string_agg(format('%s %s %s %s', coalesce(userid, '-'), coalesce(event_type, '-'),
                                     coalesce(lat::text, '-'), coalesce(score::text, '-')), '; ' ORDER BY score NULLS FIRST)
           FROM ev_exact),
  '- - - -; - - - -; u2 view - 20',
  'without the option: only keys written as requested (the mixed-case field path matches nothing)');
SELECT is((SELECT string_agg(format('%s %s', coalesce(userid, '-'), coalesce(score::text, '-')), '; ' ORDER BY userid NULLS FIRST)
           FROM ev_false),
  '- -; - -; u2 20', 'case_insensitive ''false'' is the default');

-- the option can be added and dropped later
ALTER FOREIGN TABLE ev_exact OPTIONS (ADD case_insensitive 'on');
SELECT is((SELECT count(lat) FROM ev_exact), 3::bigint, 'added with ALTER FOREIGN TABLE (any boolean spelling)');
ALTER FOREIGN TABLE ev_exact OPTIONS (DROP case_insensitive);
SELECT is((SELECT count(userid) FROM ev_exact), 1::bigint, 'and dropped');

-- duplicates in another case: the first one counts
CREATE FOREIGN TABLE dup_ci (url text, "été" text, n int) SERVER lake
  OPTIONS (uri 's3://cikeys/dup/', case_insensitive 'true');
CREATE FOREIGN TABLE dup_exact (url text, "URL" text, n int) SERVER lake OPTIONS (uri 's3://cikeys/dup/');
SELECT is((SELECT string_agg(format('%s:%s', n, url), ' ' ORDER BY n) FROM dup_ci), '1:first 2:only 3:escaped',
  'keys that differ only in case: the first one in the object counts; escaped keys fold too');
SELECT is((SELECT string_agg(format('%s:%s', n, coalesce("été", '-')), ' ' ORDER BY n) FROM dup_ci), '1:- 2:lower 3:-',
  'non-ASCII letters are compared as they are');
SELECT is((SELECT string_agg(format('%s:%s:%s', n, coalesce(url, '-'), coalesce("URL", '-')), ' ' ORDER BY n) FROM dup_exact),
  '1:third:second 2:only:- 3:-:escaped', 'without the option they are different keys');
CREATE FOREIGN TABLE dup_two (a text OPTIONS (field 'url'), b text OPTIONS (field 'URL'), n int) SERVER lake
  OPTIONS (uri 's3://cikeys/dup/', case_insensitive 'true');
SELECT is((SELECT string_agg(format('%s:%s:%s', n, a, b), ' ' ORDER BY n) FROM dup_two),
  '1:first:first 2:only:only 3:escaped:escaped', 'with the option, fields that differ only in case are one key');

-- parallel scans and count(*) are unchanged by the option
SELECT is((SELECT count(*) FROM ev_ci), 3::bigint, 'count(*) with the option');

-- validation
SELECT throws_ok($$CREATE FOREIGN TABLE bad1 (a int) SERVER lake OPTIONS (uri 's3://cikeys/ev/', case_insensitive 'maybe')$$,
  'HV024', 'invalid value for option "case_insensitive": "maybe"', 'a value that is not a boolean');
SELECT is((SELECT pg_temp.error_hint($$CREATE FOREIGN TABLE bad1 (a int) SERVER lake OPTIONS (uri 's3://cikeys/ev/', case_insensitive 'maybe')$$)),
  'Valid values are: true (a column "userid" reads the key "UserId", as Athena''s JSON SerDe does), false (keys match as written, the default).',
  'the hint says what the values do');
SELECT throws_ok($$CREATE FOREIGN TABLE bad2 (a int) SERVER lake OPTIONS (uri 's3://cikeys/ev/', format 'csv', case_insensitive 'true')$$,
  'HV00D', 'option "case_insensitive" is only valid with format ''json''', 'refused with CSV');
SELECT throws_ok($$CREATE FOREIGN TABLE bad3 (a int OPTIONS (case_insensitive 'true')) SERVER lake OPTIONS (uri 's3://cikeys/ev/')$$,
  'HV00D', NULL, 'a table option, not a column option');

-- IMPORT FOREIGN SCHEMA
SELECT pg_temp.s3_put('s3://cikeys/imp/users/a.json',
  '{"UserId":"u1","Loc":{"Lat":1}}' || E'\n' || '{"userid":"u2","loc":{"LAT":2}}' || E'\n'
  || '{"USERID":"u3","LOC":{"lat":3}}' || E'\n');
CREATE SCHEMA imp_ci;
CREATE SCHEMA imp_exact;
IMPORT FOREIGN SCHEMA cikeys LIMIT TO (users) FROM SERVER lake INTO imp_ci
  OPTIONS (prefix 'imp/', case_insensitive 'true');
IMPORT FOREIGN SCHEMA cikeys LIMIT TO (users) FROM SERVER lake INTO imp_exact OPTIONS (prefix 'imp/');
CREATE FUNCTION pg_temp.cols(t regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(format('%s %s%s', attname, format_type(atttypid, atttypmod),
                           coalesce(' ' || array_to_string(attfdwoptions, ' '), '')), ', ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped
$$;
SELECT is(pg_temp.cols('imp_ci.users'), 'user_id text field=UserId, loc_lat integer field=Loc.Lat',
  'IMPORT with case_insensitive: one column per key whatever its case, named after the first spelling');
SELECT is((SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imp_ci.users'::regclass),
  '{uri=s3://cikeys/imp/users/,case_insensitive=true}'::text[], 'and the table it makes has the option');
SELECT is((SELECT string_agg(format('%s %s', user_id, loc_lat), '; ' ORDER BY user_id) FROM imp_ci.users),
  'u1 1; u2 2; u3 3', 'so it reads every spelling');
SELECT is((SELECT count(*) FROM pg_attribute WHERE attrelid = 'imp_exact.users'::regclass AND attnum > 0), 6::bigint,
  'IMPORT without it: each spelling is a column of its own');
SELECT is((SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imp_exact.users'::regclass),
  '{uri=s3://cikeys/imp/users/}'::text[], 'and no option');
SELECT throws_ok($$IMPORT FOREIGN SCHEMA cikeys FROM SERVER lake INTO imp_ci OPTIONS (case_insensitive 'yes please')$$,
  'HV024', 'invalid value for option "case_insensitive": "yes please"', 'IMPORT checks the value');
SELECT is((SELECT pg_temp.error_hint($$IMPORT FOREIGN SCHEMA cikeys FROM SERVER lake INTO imp_ci OPTIONS (case_insensitive 'yes please')$$)),
  'Valid values are: true (keys that differ only in case are one column, read whatever their case), false (the default).',
  'with a hint');

SELECT * FROM finish();
ROLLBACK;
