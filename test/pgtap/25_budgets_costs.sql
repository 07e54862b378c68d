-- Scan budgets and cost accounting (issue 12): a statement reads at most
-- pipeline.max_bytes_scanned, a report's run at most its max_bytes_scanned,
-- whoever reads (parallel workers included); pipeline.costs counts what
-- runs read and asked S3 for, failed runs too, and prices it.
-- synthetic-6-10-100 holds 6 objects of exactly 1000 bytes (10 records of 100).
BEGIN;
\ir lib/helpers.psql
\ir lib/attacks.psql
SELECT plan(21);

CREATE FOREIGN TABLE syn (i int, o int, src text OPTIONS (metadata 'uri'))
  SERVER lake OPTIONS (uri 's3://synthetic-6-10-100/');

-- The error and its hint, as a row (for the checks below).
CREATE FUNCTION pg_temp.error_of(q text) RETURNS TABLE (state text, msg text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT;
  RETURN NEXT;
END $$;

-------------------------------------------------------------------------------
-- A statement's budget
-------------------------------------------------------------------------------
SET pipeline.max_bytes_scanned = '3kB';
SELECT results_eq($$SELECT state, msg, hint FROM pg_temp.error_of('SELECT count(*) FROM syn')$$,
  $$VALUES ('53400'::text, 'the statement would read more than pipeline.max_bytes_scanned (3072 bytes)'::text,
            'Raise pipeline.max_bytes_scanned, or narrow the query so that fewer objects are read.'::text)$$,
  'a statement that would read more than pipeline.max_bytes_scanned stops, with a hint');
SELECT matches((SELECT detail FROM pg_temp.error_of('SELECT count(*) FROM syn')),
  '^It has read 3000 bytes, and "s3://synthetic-6-10-100/part-3.json" holds 1000 more\.$',
  'it says what it read and the object that would have gone past the limit');
-- (without GETs started ahead: those are cancelled by the error, their bodies unread)
SET pipeline.prefetch = 0;
SELECT pg_temp.clear_requests();
SELECT pg_temp.error_of('SELECT count(*) FROM syn');
SELECT results_eq($$SELECT r->>'path' FROM pg_temp.requests() r
                    WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/synthetic-6-10-100/part-%' ORDER BY 1$$,
  $$SELECT format('/synthetic-6-10-100/part-%s.json', n) FROM generate_series(0, 3) n$$,
  'it stopped at the object past the limit: those after it were never asked for');
RESET pipeline.prefetch;
SELECT is((SELECT count(*) FROM syn WHERE src IN ('s3://synthetic-6-10-100/part-0.json',
                                                   's3://synthetic-6-10-100/part-1.json',
                                                   's3://synthetic-6-10-100/part-2.json')),
  30::bigint, 'objects pruned before any GET are not charged: 3 of 6 fit');
SELECT is((SELECT count(*) FROM syn WHERE src IN ('s3://synthetic-6-10-100/part-3.json',
                                                   's3://synthetic-6-10-100/part-4.json',
                                                   's3://synthetic-6-10-100/part-5.json')),
  30::bigint, 'each statement has a budget of its own');
-- parallel workers charge the same budget: three participants do not get three budgets
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SELECT alike((SELECT string_agg(l, E'\n') FROM pg_temp.explain_lines('EXPLAIN SELECT count(*) FROM syn') l),
  '%Parallel Foreign Scan on syn%', 'a parallel plan');
SELECT is((SELECT state FROM pg_temp.error_of('SELECT count(*) FROM syn')), '53400',
  'a parallel scan stops at the limit too: its participants share one budget');
SET LOCAL max_parallel_workers_per_gather = 0;
RESET pipeline.max_bytes_scanned;
SELECT is((SELECT count(*) FROM syn), 60::bigint, 'without a limit, everything is read');

-------------------------------------------------------------------------------
-- A report's budget
-------------------------------------------------------------------------------
SELECT pipeline.create_report(name => 'bud', query => 'SELECT count(*) AS n FROM syn', target => 'bud_out',
  max_bytes_scanned => 2500);
SELECT is((SELECT max_bytes_scanned FROM pipeline.reports WHERE name = 'bud'), 2500::bigint, 'recorded');
SET pipeline.prefetch = 0;     -- (no GET read ahead and cancelled by the error: every GET reaches S3)
SELECT pg_temp.clear_requests();
SELECT pipeline.run_report('bud');
RESET pipeline.prefetch;
SELECT results_eq($$SELECT status, error LIKE 'report "bud" would read more than its max_bytes_scanned (2500 bytes)%'
                    FROM pipeline.runs WHERE report = 'bud'$$,
  $$VALUES ('failed'::text, true)$$,
  'a run that would read more than the report''s max_bytes_scanned fails');
SELECT ok((SELECT bytes BETWEEN 1 AND 2500 FROM pipeline.runs WHERE report = 'bud'),
  'it read no more than its limit, and what it read counts');
SELECT is((SELECT get_requests FROM pipeline.runs WHERE report = 'bud'),
  (SELECT count(*) FROM pg_temp.requests() r
   WHERE r->>'method' IN ('GET', 'HEAD') AND r->>'path' LIKE '/synthetic-6-10-100%'
     AND coalesce(r->>'query', '') NOT LIKE '%list-type%'),
  'the failed run''s GET requests, counted as the emulator saw them');
-- the report's own limit, not the caller's setting, governs its runs
SET pipeline.max_bytes_scanned = '1kB';
SELECT pipeline.alter_report('bud', max_bytes_scanned => 6000);
SELECT pg_temp.clear_requests();
SELECT pipeline.run_report('bud');
RESET pipeline.max_bytes_scanned;
SELECT is((SELECT n FROM bud_out), 60::bigint, 'a run within the report''s limit succeeds');
SELECT results_eq($$SELECT bytes, get_requests,
                           (SELECT count(*) FROM pg_temp.requests() r
                            WHERE r->>'method' IN ('GET', 'HEAD') AND r->>'path' LIKE '/synthetic-6-10-100%'
                              AND coalesce(r->>'query', '') NOT LIKE '%list-type%'),
                           list_requests,
                           (SELECT count(*) FROM pg_temp.requests() r
                            WHERE r->>'method' = 'GET' AND r->>'path' LIKE '/synthetic-6-10-100%'
                              AND r->>'query' LIKE '%list-type%')
                    FROM pipeline.runs WHERE report = 'bud' AND status = 'succeeded'$$,
  $$VALUES (6000::bigint, 6::bigint, 6::bigint, 1::bigint, 1::bigint)$$,
  'its bytes, GET and LIST requests, as the emulator saw them');
SELECT throws_ok($$SELECT pipeline.alter_report('bud', max_bytes_scanned => -1)$$,
  '22023', 'max_bytes_scanned must not be negative', 'a negative limit is refused');
SELECT pipeline.alter_report('bud', max_bytes_scanned => 0);
SELECT is((SELECT max_bytes_scanned FROM pipeline.reports WHERE name = 'bud'), NULL::bigint, '0 clears it');

-------------------------------------------------------------------------------
-- pipeline.costs
-------------------------------------------------------------------------------
SET pipeline.price_get_requests = 0.4;
SET pipeline.price_list_requests = 5;
SET pipeline.price_athena_tb = 5;
SELECT results_eq($$SELECT runs, failed_runs, bytes_scanned, get_requests, list_requests FROM pipeline.costs
                    WHERE report = 'bud'$$,
  $$SELECT 2::bigint, 1::bigint, sum(bytes)::bigint, sum(get_requests)::bigint, sum(list_requests)::bigint
    FROM pipeline.runs WHERE report = 'bud'$$,
  'per report and day: runs, failed runs, bytes and requests, the failed run''s included');
SELECT results_eq($$SELECT s3_request_cost, athena_cost FROM pipeline.costs WHERE report = 'bud'$$,
  $$SELECT round((sum(get_requests) * 0.4 + sum(list_requests + put_requests) * 5) / 1000, 8),
           round(2 * 10 * 1048576 / 1099511627776.0 * 5, 8)
    FROM pipeline.runs WHERE report = 'bud'$$,
  'priced at the pipeline.price_* settings; Athena bills at least 10 MB a query');
SELECT is((SELECT day FROM pipeline.costs WHERE report = 'bud'), (now() AT TIME ZONE 'UTC')::date, 'by UTC day');

-- another role sees nothing of it
SELECT pg_temp.attacker('cost_mal');
SET ROLE cost_mal;
SELECT is((SELECT count(*) FROM pipeline.costs WHERE report = 'bud'), 0::bigint,
  'another role does not see a report''s costs');
SELECT throws_ok($$UPDATE pipeline.reports SET max_bytes_scanned = NULL WHERE name = 'bud'$$, '42501', NULL,
  'nor lift its limit behind its back');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
