-- Schedules and listing intake, as create_report/alter_report take them
-- (issue 12): schedules are cron expressions (UTC) or intervals, checked
-- when given; list_every and list_keys likewise; who sees and changes a
-- report's listing.  The worker's side (polls, scheduled runs) is
-- test/e2e/48_listing_schedule.test.mjs.
BEGIN;
\ir lib/helpers.psql
\ir lib/attacks.psql
SELECT plan(24);

-------------------------------------------------------------------------------
-- pipeline.schedule_next
-------------------------------------------------------------------------------
SELECT is(pipeline.schedule_next('*/15 * * * *', '2026-11-30 10:07:30+00'), '2026-11-30 10:15:00+00'::timestamptz,
  'cron: the next quarter hour');
SELECT is(pipeline.schedule_next('*/15 * * * *', '2026-11-30 10:15:00+00'), '2026-11-30 10:30:00+00'::timestamptz,
  'cron: strictly after');
SELECT is(pipeline.schedule_next('0 3 * * mon', '2026-11-30 10:00:00+00'), '2026-12-07 03:00:00+00'::timestamptz,
  'cron: names of days (2026-11-30 is a Monday)');
SELECT is(pipeline.schedule_next('@daily', '2026-12-31 23:59:59+00'), '2027-01-01 00:00:00+00'::timestamptz,
  'cron: macros, across a year');
SELECT is(pipeline.schedule_next('15 minutes', '2026-11-30 10:07:30+00'), '2026-11-30 10:22:30+00'::timestamptz,
  'an interval: from "after"');
SELECT is(pipeline.schedule_next('0 * * * *', '2026-11-30 10:07:30+00'),
  pipeline.schedule_next('0 * * * *', '2026-11-30 11:07:30+01'), 'cron is in UTC, whatever the time zone');
SELECT throws_ok($$SELECT pipeline.schedule_next('61 * * * *')$$, '22023', 'invalid schedule "61 * * * *"',
  'a minute out of range');
SELECT throws_ok($$SELECT pipeline.schedule_next('0 0 30 2 *')$$, '22023', 'invalid schedule "0 0 30 2 *"',
  'a schedule that never fires (February 30th)');
SELECT throws_ok($$SELECT pipeline.schedule_next('every so often')$$, '22023', 'invalid schedule "every so often"',
  'neither cron nor an interval');
SELECT throws_ok($$SELECT pipeline.schedule_next('0.5 seconds')$$, '22023', 'invalid schedule "0.5 seconds"',
  'an interval under a second');
SELECT is(pipeline.run_time(), NULL, 'pipeline.run_time() outside a run is NULL');

-------------------------------------------------------------------------------
-- create_report / alter_report: schedule, list_every, list_keys
-------------------------------------------------------------------------------
SELECT pg_temp.victim('sl_vic');
SELECT pg_temp.attacker('sl_mal');
SET ROLE sl_vic;
SELECT pipeline.create_report(name => 'sl_r', source => 's3://sl-bucket/in/', query => 'SELECT 1 AS x',
  target => 'sl_vic.out', schedule => '*/5 * * * *', list_every => '30 seconds', list_keys => 'increasing');
SELECT results_eq($$SELECT schedule, next_run FROM pipeline.reports WHERE name = 'sl_r'$$,
  $$SELECT '*/5 * * * *'::text, pipeline.schedule_next('*/5 * * * *', now())$$, 'the schedule and its next tick');
SELECT results_eq($$SELECT every, keys, polls FROM pipeline.listings WHERE report = 'sl_r'$$,
  $$VALUES ('30 seconds'::interval, 'increasing'::text, 0::bigint)$$, 'the listing');
SELECT throws_ok($$SELECT pipeline.alter_report('sl_r', schedule => '* * *')$$, '22023', 'invalid schedule "* * *"',
  'a bad schedule is refused when given');
SELECT throws_ok($$SELECT pipeline.alter_report('sl_r', list_every => '100 milliseconds')$$, '22023',
  'list_every must be at least 1 second', 'polls at most every second');
SELECT throws_ok($$SELECT pipeline.alter_report('sl_r', list_keys => 'sorted')$$, '22023',
  'invalid list_keys "sorted"', 'list_keys is any or increasing');
SELECT pipeline.create_report(name => 'sl_nosrc', query => 'SELECT 1 AS x', target => 'sl_vic.out2');
SELECT throws_ok($$SELECT pipeline.alter_report('sl_nosrc', list_every => '1 minute')$$, '22023',
  'report "sl_nosrc" has no source to list', 'nothing to list without a source');
SELECT throws_ok($$SELECT pipeline.alter_report('sl_nosrc', list_keys => 'any')$$, '22023',
  'report "sl_nosrc" has no source to list', 'nor list_keys');
SELECT pipeline.alter_report('sl_r', schedule => '', list_every => '0');
SELECT results_eq($$SELECT schedule IS NULL AND next_run IS NULL,
                           NOT EXISTS (SELECT 1 FROM pipeline.listings WHERE report = 'sl_r')
                    FROM pipeline.reports WHERE name = 'sl_r'$$,
  $$VALUES (true, true)$$, '''''  and ''0'' turn them off');
SELECT pipeline.alter_report('sl_r', list_every => '1 minute');
RESET ROLE;

-- another role: does not see the victim's listing, cannot forge or move one
SET ROLE sl_mal;
SELECT is((SELECT count(*) FROM pipeline.listings), 0::bigint, 'another role does not see a report''s listing');
SELECT throws_ok($$INSERT INTO pipeline.listings (report, every) VALUES ('sl_r', '1 second')$$, '42501', NULL,
  'nor insert one (it would list as the report''s owner)');
SELECT throws_ok($$UPDATE pipeline.listings SET mark_key = 'zzz'$$, '42501', NULL,
  'nor move its marks (objects would be skipped)');
SELECT throws_ok($$SELECT pipeline.alter_report('sl_r', list_every => '1 second')$$, '42501', NULL,
  'nor change it');
RESET ROLE;

-- the owner's rights: without USAGE on the report's server, no listing
REVOKE USAGE ON FOREIGN SERVER lake FROM sl_vic;
SET ROLE sl_vic;
SELECT throws_ok($$SELECT pipeline.alter_report('sl_r', list_every => '5 minutes')$$, '42501', NULL,
  'the owner must be able to use the report''s server to list it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
