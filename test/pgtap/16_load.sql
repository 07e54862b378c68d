-- Results written the way COPY writes (table_multi_insert, indexes and
-- constraints kept), by column name; the query run as a SELECT that may
-- use parallel workers; pipeline.load for loading without a report.
BEGIN;
\ir lib/helpers.psql
SELECT plan(12);

CREATE TABLE src AS SELECT i AS id, 'n' || i AS name, i % 7 AS grp FROM generate_series(1, 5000) i;
CREATE TABLE dst (name text, id int NOT NULL CHECK (id > 0), grp int);
CREATE UNIQUE INDEX ON dst (id);
CREATE INDEX ON dst (lower(name));

SELECT is(pipeline.load('src', 'dst'), 5000::bigint, 'load writes every row');
SELECT is((SELECT count(*) FROM dst WHERE name = 'n' || id), 5000::bigint, 'by column name');
SET LOCAL enable_seqscan = off;
SELECT is((SELECT id FROM dst WHERE lower(name) = 'n4242'), 4242, 'the indexes have every row');
RESET enable_seqscan;
SELECT throws_ok($$SELECT pipeline.load('src', 'dst')$$, '23505', NULL, 'a unique index is checked');
CREATE TABLE bad AS SELECT 0 AS id, 'zero' AS name;
SELECT throws_ok($$SELECT pipeline.load('bad', 'dst')$$, '23514', NULL, 'a CHECK constraint is checked');
CREATE TABLE bad2 AS SELECT NULL::int AS id, 'null' AS name;
SELECT throws_ok($$SELECT pipeline.load('bad2', 'dst')$$, '23502', NULL, 'NOT NULL is checked');

-- what the fast path cannot do goes through INSERT: a trigger, a default
CREATE TABLE seen (id int);
CREATE TABLE dst_trig (id int, name text, grp int, note text DEFAULT 'defaulted');
CREATE FUNCTION note_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO seen VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER t BEFORE INSERT ON dst_trig FOR EACH ROW EXECUTE FUNCTION note_row();
SELECT is(pipeline.load('src', 'dst_trig'), 5000::bigint, 'a table with a trigger is loaded too');
SELECT is((SELECT count(*) FROM seen), 5000::bigint, 'its trigger fired for every row');
SELECT is((SELECT count(*) FROM dst_trig WHERE note = 'defaulted'), 5000::bigint, 'and defaults filled');

-- a report's query may get parallel workers: a parallel-safe function sees a worker's pid
CREATE FUNCTION whose_pid(int) RETURNS int LANGUAGE sql PARALLEL SAFE AS 'SELECT pg_backend_pid()';
SELECT pipeline.create_report(name => 'par', query => 'SELECT DISTINCT whose_pid(id) AS pid FROM src',
                              target => 'par_out');
SET LOCAL force_parallel_mode = on;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SELECT ok(pipeline.run_report('par') > 0, 'the report runs');
SELECT ok((SELECT bool_and(pid <> pg_backend_pid()) FROM par_out), 'its query ran in parallel workers');
SELECT is((SELECT count(*) FROM pipeline.runs WHERE report = 'par' AND status = 'succeeded'), 1::bigint,
  'and its run is recorded');

SELECT * FROM finish();
ROLLBACK;
