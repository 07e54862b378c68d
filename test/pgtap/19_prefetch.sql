-- pipeline.prefetch (README, Parallel scans): "While one object is decoded,
-- the next pipeline.prefetch objects are already being fetched."  The GET of
-- the first object is held by the emulator (fault "hold"); while the scan
-- waits for it, the GETs it has sent are exactly the first object's and the
-- next pipeline.prefetch ones.  A background watcher (node, polling the
-- request log with a bound, no fixed wait) writes down the GETs seen once
-- the prefetched ones have been answered and the first is held, then
-- releases it.
BEGIN;
\ir lib/helpers.psql
SELECT plan(6);

SELECT pg_temp.s3('mb prefetch');
SELECT pg_temp.s3_put(format('s3://prefetch/d/p%s.json', i), format('{"v":%s}', i)) FROM generate_series(1, 6) i;
CREATE FOREIGN TABLE pf (v int) SERVER lake OPTIONS (uri 's3://prefetch/d/');
SET max_parallel_workers_per_gather = 0;
-- planning reads a sample of an unanalyzed table once per session: done here
EXPLAIN SELECT * FROM pf;

-- Hold the GET of p1; in the background, once p1 is held and the GETs of
-- "answered" are answered, write the GETs of prefetch/d/ seen so far to
-- "out" and let p1 go.
CREATE FUNCTION pg_temp.hold_first(answered text[], outfile text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  js text := $js$
    const [ep, out, want] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
    const fs = await import("node:fs");
    let seen = null;
    for (let i = 0; i < 1200 && !seen; i++) {
      const gets = (await (await fetch(ep + "/_emulator/requests")).json())
        .filter((r) => r.method === "GET" && r.path.startsWith("/prefetch/d/"));
      const held = gets.some((r) => r.path === "/prefetch/d/p1.json" && r.fault === "hold");
      if (held && want.every((p) => gets.some((r) => r.path === p && r.status === 200)))
        seen = gets.map((r) => r.path.replace("/prefetch/d/", "")).sort();
      else
        await new Promise((r) => setTimeout(r, 100));
    }
    fs.writeFileSync(out, JSON.stringify(seen));
    await fetch(ep + "/_emulator/faults", { method: "DELETE" });
  $js$;
BEGIN
  PERFORM pg_temp.fault('{"method":"GET","path_prefix":"/prefetch/d/p1.json","action":"hold","count":1}');
  PERFORM pg_temp.clear_requests();
  PERFORM pg_temp.sh(format('(%s/tools/node/node --input-type=module -e %s %s %s %s) </dev/null >/dev/null 2>&1 &',
    current_setting('pipeline_test.top'), quote_literal(js), current_setting('pipeline_test.endpoint'),
    quote_literal(outfile), quote_literal(array_to_json(answered)::text)));
END $$;
CREATE FUNCTION pg_temp.seen(outfile text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT pg_temp.sh_output(format('cat %s && rm -f %s', quote_literal(outfile), quote_literal(outfile)))::jsonb
$$;
SELECT set_config('pipeline_test.out', format('/tmp/pipeline-prefetch-%s.json', pg_backend_pid()), false) \g /dev/null

SET pipeline.prefetch = 2;
SELECT pg_temp.hold_first('{/prefetch/d/p2.json,/prefetch/d/p3.json}', current_setting('pipeline_test.out'));
SELECT is((SELECT sum(v) FROM pf), 21::bigint, 'the scan reads every object once p1 is let go');
SELECT is(pg_temp.seen(current_setting('pipeline_test.out')), '["p1.json", "p2.json", "p3.json"]'::jsonb,
  'prefetch 2: while p1 was held, p2 and p3 were fetched already, and nothing further');

SET pipeline.prefetch = 4;
SELECT pg_temp.hold_first('{/prefetch/d/p2.json,/prefetch/d/p3.json,/prefetch/d/p4.json,/prefetch/d/p5.json}',
                          current_setting('pipeline_test.out'));
SELECT is((SELECT sum(v) FROM pf), 21::bigint, 'the same with prefetch 4');
SELECT is(pg_temp.seen(current_setting('pipeline_test.out')), '["p1.json", "p2.json", "p3.json", "p4.json", "p5.json"]'::jsonb,
  'prefetch 4: four ahead');

SET pipeline.prefetch = 0;
SELECT pg_temp.hold_first('{}', current_setting('pipeline_test.out'));
SELECT is((SELECT sum(v) FROM pf), 21::bigint, 'the same with prefetch 0');
SELECT is(pg_temp.seen(current_setting('pipeline_test.out')), '["p1.json"]'::jsonb,
  'prefetch 0: one object at a time');
RESET pipeline.prefetch;

SELECT * FROM finish();
ROLLBACK;
