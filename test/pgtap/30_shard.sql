-- The shard 'k/n' table option: a deterministic share of a prefix's objects
-- by key hash, so that n servers (or n partitions of a postgres_fdw
-- coordinator) scan disjoint parts of one prefix and together all of it.
-- Attacks: every malformed share is refused with a hint; the n shares are
-- checked to partition the objects (union = all, pairwise disjoint), also
-- when the objects are named by a filter rather than listed; another
-- share's objects are never fetched.
BEGIN;
\ir lib/helpers.psql
SELECT plan(22);

-- GETs of objects of a bucket, from the emulator's request log (not ranged samples)
CREATE FUNCTION pg_temp.gets(bucket text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_temp.requests() r
  WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/' || bucket || '/%' AND r->>'range' IS NULL
$$;

-- 1. Validation: the value is "k/n", 1 <= k <= n, with a hint that says so.
CREATE FUNCTION pg_temp.shard_error(v text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; hint text;
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE pg_temp.bad (k text OPTIONS (metadata %L)) SERVER lake OPTIONS (uri %L, shard %L)',
                 'key', 's3://synthetic-300-1/', v);
  DROP FOREIGN TABLE pg_temp.bad;
  RETURN 'accepted';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || ' / ' || hint;
END $$;
SELECT is(pg_temp.shard_error('0/3'),
  'HV024: invalid value for option "shard": "0/3" / Write the share and the number of shares, from 1/n to n/n, e.g. OPTIONS (shard ''2/3'').',
  'share 0 is refused, with a hint');
SELECT alike(pg_temp.shard_error('4/3'), 'HV024: invalid value for option "shard": "4/3"%', 'a share past n is refused');
SELECT alike(pg_temp.shard_error('1/0'), 'HV024: %', 'no shares at all is refused');
SELECT alike(pg_temp.shard_error('2'), 'HV024: %', 'a share without n is refused');
SELECT alike(pg_temp.shard_error('a/b'), 'HV024: %', 'letters are refused');
SELECT alike(pg_temp.shard_error('1/3x'), 'HV024: %', 'trailing text is refused');
SELECT alike(pg_temp.shard_error('-1/3'), 'HV024: %', 'a negative share is refused');
SELECT alike(pg_temp.shard_error(' 1/3'), 'HV024: %', 'leading blanks are refused');
SELECT alike(pg_temp.shard_error('1/99999999999999999999'), 'HV024: %', 'an overflowing n is refused');
SELECT is(pg_temp.shard_error('3/3'), 'accepted', 'the last share is accepted');

-- 2. The n shares partition the prefix: union = all objects, pairwise disjoint.
CREATE FOREIGN TABLE every (i int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-300-2/');
CREATE FOREIGN TABLE s1 (i int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-300-2/', shard '1/3');
CREATE FOREIGN TABLE s2 (i int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-300-2/', shard '2/3');
CREATE FOREIGN TABLE s3 (i int, k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-300-2/', shard '3/3');
CREATE TEMP TABLE got AS
  SELECT 1 AS share, k, count(*) AS records FROM s1 GROUP BY k
  UNION ALL SELECT 2, k, count(*) FROM s2 GROUP BY k
  UNION ALL SELECT 3, k, count(*) FROM s3 GROUP BY k;
CREATE TEMP TABLE whole AS SELECT k, count(*) AS records FROM every GROUP BY k;
SELECT is((SELECT count(*) FROM whole), 300::bigint, 'the prefix holds 300 objects');
SELECT is((SELECT count(*) FROM got), 300::bigint, 'the three shares hold 300 objects between them');
SELECT set_eq('SELECT k, records FROM got', 'SELECT k, records FROM whole',
  'their union is every object, with all its records');
SELECT is((SELECT count(*) FROM (SELECT k FROM got GROUP BY k HAVING count(*) > 1) x), 0::bigint,
  'no object is in two shares');
SELECT ok((SELECT bool_and(n BETWEEN 60 AND 140) FROM (SELECT count(*) AS n FROM got GROUP BY share) x),
  'each share holds about a third (between 60 and 140 of 300)');

-- 3. Deterministic: the same share twice, another table with the same option, the same objects.
CREATE FOREIGN TABLE s2_again (k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-300-2/', shard '2/3');
SELECT set_eq('SELECT DISTINCT k FROM s2_again', 'SELECT k FROM got WHERE share = 2',
  'another table with shard 2/3 reads the same objects');
SELECT is((SELECT count(DISTINCT k) FROM s1), (SELECT count(*) FROM got WHERE share = 1),
  'a second scan of share 1 reads the same objects');

-- 4. Objects named by a filter (not listed) keep to the share too.
SELECT set_eq($$SELECT DISTINCT k FROM s3 WHERE k = ANY (ARRAY(SELECT k FROM whole))$$,
  'SELECT k FROM got WHERE share = 3',
  'a filter naming every object still reads only the share''s');

-- 5. Another share's objects are never fetched.
SELECT pg_temp.clear_requests();
SELECT is((SELECT count(*) FROM s1), 2 * (SELECT count(*) FROM got WHERE share = 1), 'share 1''s records');
SELECT is(pg_temp.gets('synthetic-300-2'), (SELECT count(*) FROM got WHERE share = 1),
  'one GET per object of the share, none for the others');

-- 6. EXPLAIN says so; shard '1/1' is the whole prefix.
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT count(*) FROM s2') l),
  '%Shard: 2/3%', 'EXPLAIN shows the share');
CREATE FOREIGN TABLE s_one (k text OPTIONS (metadata 'key')) SERVER lake
  OPTIONS (uri 's3://synthetic-300-2/', shard '1/1');
SELECT is((SELECT count(DISTINCT k) FROM s_one), 300::bigint, 'shard 1/1 is every object');

SELECT * FROM finish();
ROLLBACK;
