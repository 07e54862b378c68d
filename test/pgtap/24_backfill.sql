-- pipeline.backfill and pipeline.cancel_backfill (issue 12): who may start
-- and stop a backfill, what it records, and what another role sees of it.
-- The worker's part (listing, batches, exactly once with events, kill -9)
-- is test/e2e/47_backfill.test.mjs: a backfill begun here is never
-- committed, so the worker never sees it.
BEGIN;
\ir lib/helpers.psql
\ir lib/attacks.psql
SELECT plan(20);

SELECT pg_temp.victim('bf_vic');
SELECT pg_temp.attacker('bf_mal');

SET ROLE bf_vic;
SELECT pipeline.create_report(name => 'bf_vic_r', source => 's3://bf-bucket/raw/v0/', mode => 'append',
  query => 'SELECT 1 AS x', target => 'bf_vic.out');
SELECT pipeline.create_report(name => 'bf_vic_nosrc', query => 'SELECT 1 AS x', target => 'bf_vic.out2');
RESET ROLE;

-- the owner starts one
SET ROLE bf_vic;
SELECT ok(pipeline.backfill('bf_vic_r', since => '2026-11-01', until => '2026-11-02') > 0, 'the owner starts a backfill');
SELECT results_eq($$SELECT report, bucket, prefix, since, until, state, requested_by, objects_listed
                    FROM pipeline.backfills$$,
  $$VALUES ('bf_vic_r'::text, 'bf-bucket'::text, 'raw/v0/'::text, '2026-11-01'::timestamptz,
            '2026-11-02'::timestamptz, 'listing'::text, 'bf_vic'::text, 0::bigint)$$,
  'recorded: the source''s bucket and prefix, the range, who asked, nothing listed yet');
SELECT results_eq($$SELECT kind, what, usename::text, objects_total FROM pipeline.progress WHERE kind = 'backfill'$$,
  $$VALUES ('backfill'::text, 'bf_vic_r'::text, 'bf_vic'::text, NULL::bigint)$$,
  'in pipeline.progress while it lists (its total not known yet)');
RESET ROLE;

-- bad requests
SET ROLE bf_vic;
SELECT throws_ok($$SELECT pipeline.backfill('bf_vic_r', since => '2026-11-02', until => '2026-11-01')$$,
  '22023', '"since" must be earlier than "until"', 'an empty range is refused');
SELECT throws_ok($$SELECT pipeline.backfill('bf_vic_nosrc')$$,
  '55000', 'report "bf_vic_nosrc" has no source', 'a report without a source cannot be backfilled');
SELECT throws_ok($$SELECT pipeline.backfill('no_such_report')$$,
  '42704', 'report "no_such_report" does not exist', 'nor one that does not exist');
SELECT throws_ok($$SELECT pipeline.cancel_backfill(-1)$$,
  '42704', 'backfill -1 does not exist', 'cancelling what does not exist');
RESET ROLE;

-- another role: cannot start, stop or see the victim's backfills
SELECT max(id) AS vic_backfill FROM pipeline.backfills \gset
SET ROLE bf_mal;
SELECT throws_ok($$SELECT pipeline.backfill('bf_vic_r')$$,
  '42501', 'must be owner of report "bf_vic_r"', 'another role cannot backfill a report it does not own');
SELECT throws_ok('SELECT pipeline.cancel_backfill(' || :'vic_backfill' || ')',
  '42501', 'must be owner of report "bf_vic_r"', 'nor cancel the victim''s backfill');
SELECT is((SELECT count(*) FROM pipeline.backfills), 0::bigint, 'nor see it in pipeline.backfills');
SELECT is((SELECT count(*) FROM pipeline.progress WHERE kind = 'backfill'), 0::bigint, 'nor in pipeline.progress');
-- forging one directly (it would list and run as the report's owner)
SELECT throws_ok($$INSERT INTO pipeline.backfills (report, bucket, prefix, requested_by) VALUES ('bf_vic_r', 'x', '', 'bf_mal')$$,
  '42501', NULL, 'nor insert a backfill of its own making');
SELECT throws_ok($$UPDATE pipeline.backfills SET prefix = '' $$, '42501', NULL, 'nor widen one');
SELECT throws_ok($$INSERT INTO pipeline.tasks (report, trigger, bucket, key, version) VALUES ('bf_vic_r', 'backfill', 'x', 'y', 'z')$$,
  '42501', NULL, 'nor queue a backfill task');
RESET ROLE;

-- the attacker's own "=" in her search_path is not called with raised rights
SET ROLE bf_mal;
CREATE FUNCTION bf_mal.texteq(text, text) RETURNS boolean LANGUAGE plpgsql
  SET search_path = pg_catalog AS $$
BEGIN
  PERFORM bf_mal.escalate();
  RETURN pg_catalog.texteq($1, $2);
END $$;
CREATE OPERATOR bf_mal.= (LEFTARG = text, RIGHTARG = text, FUNCTION = bf_mal.texteq);
SELECT pipeline.create_report(name => 'bf_mal_r', source => 's3://bf-bucket/m/', query => 'SELECT 1 AS x',
  target => 'bf_mal.out');
SELECT pg_temp.attempt('backfill', $$SELECT pipeline.backfill('bf_mal_r')$$, 'bf_mal, pg_catalog');
SELECT pg_temp.attempt('cancel_backfill',
  format('SELECT pipeline.cancel_backfill(%s)', (SELECT max(id) FROM pipeline.backfills)), 'bf_mal, pg_catalog');
RESET ROLE;
SELECT is(pg_temp.rolsuper('bf_mal'), false, 'backfill and cancel_backfill do not run the caller''s "=" operator');

-- the owner's rights: without USAGE on the report's server, no backfill
REVOKE USAGE ON FOREIGN SERVER lake FROM bf_vic;
SET ROLE bf_vic;
SELECT throws_ok($$SELECT pipeline.backfill('bf_vic_r')$$,
  '42501', NULL, 'the owner must be able to use the report''s server');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER lake TO bf_vic;

-- cancelling: nothing more is listed, its waiting objects are dropped
SET ROLE bf_vic;
SELECT pipeline.cancel_backfill((SELECT max(id) FROM pipeline.backfills WHERE report = 'bf_vic_r'));
SELECT is((SELECT state FROM pipeline.backfills WHERE report = 'bf_vic_r'), 'cancelled', 'the owner cancels it');
SELECT ok((SELECT finished_at IS NOT NULL FROM pipeline.backfills WHERE report = 'bf_vic_r'), 'and it is finished');
SELECT is((SELECT count(*) FROM pipeline.progress WHERE kind = 'backfill' AND what = 'bf_vic_r'), 0::bigint,
  'and no longer in progress');
RESET ROLE;

-- dropping the report drops its backfills
SET ROLE bf_vic;
SELECT pipeline.drop_report('bf_vic_r');
RESET ROLE;
SELECT is((SELECT count(*) FROM pipeline.backfills WHERE report = 'bf_vic_r'), 0::bigint,
  'a dropped report''s backfills go with it');

SELECT * FROM finish();
ROLLBACK;
