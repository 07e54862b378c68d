-- Templates in export URIs (issue 12): {date}, {year}, {month}, {day},
-- {hour}, {minute} in a report's export URI, filled from the run's start
-- time (UTC) when the run stages its export, so that the export task holds
-- the filled key (a repeated task writes the same object).  Checked at
-- create_report and alter_report: an unknown placeholder, a typed one, one
-- in the bucket, "..", "." and empty segments, unbalanced braces are
-- refused with a hint, and a refused alter_report changes nothing.  A
-- report stored with a literal '{' before templates existed keeps its key.
BEGIN;
\ir lib/helpers.psql
SELECT plan(22);

-- The error's message and hint (NULLs if none).
CREATE FUNCTION pg_temp.error_of(q text) RETURNS TABLE (msg text, hint text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN NEXT;
END $$;

SELECT pg_temp.s3('mb exptpl');
CREATE TABLE src_rows AS SELECT 1 AS x;

-- a prefix: one object per run under the filled directory
SELECT lives_ok($$SELECT pipeline.create_report(name => 'tpl_dir', query => 'SELECT x FROM public.src_rows',
  target => 'public.tpl_dir_out', export => 's3://exptpl/out/dt={date}/hour={hour}/')$$,
  'create_report takes an export URI with placeholders');
SELECT ok(pipeline.run_report('tpl_dir') IS NOT NULL, 'the report runs');
SELECT is((SELECT export_uri FROM pipeline.runs WHERE report = 'tpl_dir'),
  (SELECT format('s3://exptpl/out/dt=%s/hour=%s/tpl_dir-%s-run%s.json.gz',
                 to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), to_char(started_at AT TIME ZONE 'UTC', 'HH24'),
                 to_char(started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'), id)
   FROM pipeline.runs WHERE report = 'tpl_dir'),
  'the run''s export URI: the placeholders filled from the run''s start time in UTC');
SELECT is((SELECT format('s3://%s/%s', bucket, key) FROM pipeline.exports WHERE report = 'tpl_dir'),
  (SELECT export_uri FROM pipeline.runs WHERE report = 'tpl_dir'),
  'the export task holds the filled key, not the template: a repeated task writes the same object');
SELECT is((SELECT export FROM pipeline.reports WHERE name = 'tpl_dir'), 's3://exptpl/out/dt={date}/hour={hour}/',
  'the report keeps its template');

-- a key: every run of the same day writes the same object
SET TIME ZONE 'Pacific/Kiritimati';		-- +14: the date must still be UTC's
SELECT lives_ok($$SELECT pipeline.create_report(name => 'tpl_key', query => 'SELECT x FROM public.src_rows',
  target => 'public.tpl_key_out', export => 's3://exptpl/daily/{year}/{month}/{day}/{year}{month}{day}T{hour}{minute}.json.gz')$$,
  'placeholders side by side, in the object''s name too');
SELECT ok(pipeline.run_report('tpl_key') IS NOT NULL, 'the report runs');
SELECT is((SELECT export_uri FROM pipeline.runs WHERE report = 'tpl_key'),
  (SELECT format('s3://exptpl/daily/%s/%sT%s.json.gz', to_char(started_at AT TIME ZONE 'UTC', 'YYYY/MM/DD'),
                 to_char(started_at AT TIME ZONE 'UTC', 'YYYYMMDD'), to_char(started_at AT TIME ZONE 'UTC', 'HH24MI'))
   FROM pipeline.runs WHERE report = 'tpl_key'),
  'a key template is filled whole, in UTC whatever the session''s time zone');
RESET TIME ZONE;

-- refused, with a hint
SELECT results_eq($$SELECT * FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad1', query => 'SELECT 1 AS x',
    target => 'public.bad1', export => 's3://exptpl/out/{device}/')$q$)$$,
  $$VALUES ('unknown placeholder "{device}" in export URI "s3://exptpl/out/{device}/"'::text,
            'Placeholders of export URIs are {date}, {year}, {month}, {day}, {hour} and {minute}: the run''s time in UTC.'::text)$$,
  'an unknown placeholder, with the ones there are');
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad2', query => 'SELECT 1 AS x',
    target => 'public.bad2', export => 's3://exptpl/out/{date:text}/')$q$)),
  'placeholder "{date}" of export URI "s3://exptpl/out/{date:text}/" cannot have a type', 'a typed placeholder');
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad3', query => 'SELECT 1 AS x',
    target => 'public.bad3', export => 's3://exptpl-{year}/out/')$q$)),
  'invalid export URI "s3://exptpl-{year}/out/"', 'a placeholder in the bucket');
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad4', query => 'SELECT 1 AS x',
    target => 'public.bad4', export => 's3://exptpl/out/../secret/{date}/')$q$)),
  'invalid export URI "s3://exptpl/out/../secret/{date}/"', 'a ".." segment');
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad5', query => 'SELECT 1 AS x',
    target => 'public.bad5', export => 's3://exptpl/out//{date}/')$q$)),
  'invalid export URI "s3://exptpl/out//{date}/"', 'an empty segment');
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad6', query => 'SELECT 1 AS x',
    target => 'public.bad6', export => 's3://exptpl/out/./{date}/')$q$)),
  'invalid export URI "s3://exptpl/out/./{date}/"', 'a "." segment');
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.create_report(name => 'bad7', query => 'SELECT 1 AS x',
    target => 'public.bad7', export => 's3://exptpl/out/{date/')$q$)),
  'invalid export URI "s3://exptpl/out/{date/"', 'an unclosed brace');
SELECT is((SELECT count(*) FROM pipeline.reports WHERE name LIKE 'bad%'), 0::bigint, 'none of them was created');

-- alter_report checks the same, and a refused change changes nothing
SELECT is((SELECT msg FROM pg_temp.error_of($q$SELECT pipeline.alter_report('tpl_dir', export => 's3://exptpl/out/{key}/')$q$)),
  'unknown placeholder "{key}" in export URI "s3://exptpl/out/{key}/"', 'alter_report refuses an unknown placeholder');
SELECT is((SELECT export FROM pipeline.reports WHERE name = 'tpl_dir'), 's3://exptpl/out/dt={date}/hour={hour}/',
  'and the report keeps its export');
SELECT lives_ok($$SELECT pipeline.alter_report('tpl_dir', export => 's3://exptpl/monthly/{year}-{month}/')$$,
  'alter_report takes a valid template');
SELECT ok(pipeline.run_report('tpl_dir') IS NOT NULL, 'and the report runs with it');
SELECT matches((SELECT export_uri FROM pipeline.runs WHERE report = 'tpl_dir' ORDER BY id DESC LIMIT 1),
  '^s3://exptpl/monthly/[0-9]{4}-[0-9]{2}/tpl_dir-[0-9]{8}T[0-9]{6}Z-run[0-9]+\.json\.gz$', 'filled');

-- an export stored before templates existed, with a literal brace: its key as it is
UPDATE pipeline.reports SET export = 's3://exptpl/old/{not a placeholder}.json.gz' WHERE name = 'tpl_key';
SELECT pipeline.run_report('tpl_key') AS old_run \gset
SELECT is((SELECT export_uri FROM pipeline.runs WHERE id = :old_run),
  's3://exptpl/old/{not a placeholder}.json.gz',
  'a literal brace of an export defined before templates is kept as it was');

SELECT * FROM finish();
ROLLBACK;
