// pipeline.progress follows a pipeline_s3 scan: objects done, bytes and rows
// read, inside the report run that scans (within), and nothing once over.
// The scan is held on one object by a GET the emulator never answers, so
// what progress shows at that moment is exact.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sql, connect, waitFor, createDatabase, createBucket, put, emulator } from "./lib.mjs";

const db = "e2e_scan_progress";
const bucket = `progress-${process.pid}`;
const lines = (k) => Array.from({ length: 100 }, (_, i) => JSON.stringify({ v: k * 100 + i })).join("\n") + "\n";
const sizes = [];

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  for (let k = 0; k < 12; k++) {
    const body = lines(k);
    sizes.push(Buffer.byteLength(body));
    await put(bucket, `p/k${String(k).padStart(2, "0")}.json`, body);
  }
  await sql(db, `CREATE FOREIGN TABLE p (v int) SERVER lake OPTIONS (uri 's3://${bucket}/p/', format 'json')`);
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

/** Run "query" in a backend of its own, held at object k08 until cancelled. */
async function heldAtK08(query, check) {
  await emulator("DELETE", "/_emulator/faults");
  await emulator("POST", "/_emulator/faults",
    { service: "s3", method: "GET", path_prefix: `/${bucket}/p/k08`, action: "hang", count: 1 });
  const c = await connect(db);
  try {
    await c.query("SET max_parallel_workers_per_gather = 0");
    await c.query("SET pipeline.prefetch = 0");
    const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const running = c.query(query).then(() => null, (e) => e);
    const p = await waitFor("the scan held at k08", async () => {
      const [row] = await sql(db, `SELECT kind, what, within, objects_done::int, objects_total, bytes::int, rows::int
                                   FROM pipeline.progress WHERE pid = $1`, [pid]);
      return row?.objects_done === 8 ? row : null;
    }, 30000);
    await check(p);
    await sql(db, `SELECT pg_cancel_backend($1)`, [pid]);
    const err = await running;
    assert.match(String(err?.message), /canceling statement due to user request/);
    assert.deepEqual(await sql(db, `SELECT * FROM pipeline.progress WHERE pid = $1`, [pid]), [], "nothing once over");
  } finally {
    await c.end();
    await emulator("DELETE", "/_emulator/faults");
  }
}

test("a scan shows its objects, bytes and rows as it goes", async () => {
  await heldAtK08("SELECT count(*) FROM p", async (p) => {
    assert.deepEqual(p, {
      kind: "scan", what: "p", within: null, objects_done: 8, objects_total: null,
      bytes: sizes.slice(0, 8).reduce((a, b) => a + b), rows: 800,
    });
  });
});

test("a report run's scan shows within the run", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'counted', query => 'SELECT count(*) AS n FROM p',
                   target => 'counted')`);
  await heldAtK08("SELECT pipeline.run_report('counted')", async (p) => {
    assert.equal(p.kind, "scan");
    assert.equal(p.what, "p");
    assert.equal(p.within, "counted");
    assert.equal(p.rows, 800);
  });
  // the cancelled run was recorded failed; a run without the fault completes
  await sql(db, `SELECT pipeline.run_report('counted')`);
  assert.deepEqual(await sql(db, `SELECT n::int FROM counted`), [{ n: 1200 }]);
});
