// One large gzip object read by two parallel workers (issue 10,
// src/fdw/gzsplit.c).  The first parallel scan reads the object whole and
// indexes it; then a
// parallel scan (the leader not reading, no prefetch) is held by the
// emulator on the first part GET that does not start at the object's
// start: the worker that sent it can do nothing else, so the other one must
// read the remaining parts while it waits.  The run then shows two part
// readers and exactly the serial read's answer.  A connection reset in the
// middle of a part is retried (pinned to the ETag) without a wrong row; a
// single-member and a multi-member object.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { sql, connect, waitFor, createDatabase, createBucket, emulator, s3, s3sdk } from "./lib.mjs";

const db = "e2e_gzip_split";
const bucket = `gzsplit-${process.pid}`;
const N = 40000;

function records(a, b) {
  let s = "";
  for (let i = a; i <= b; i++)
    s += JSON.stringify({ i, v: i % 1000, s: `dev-${String(i % 10000).padStart(4, "0")}`, r: (i * 2654435761) % 1000003 }) + "\n";
  return s;
}
const putRaw = (key, body) => s3.send(new s3sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: body,
  ContentType: "application/octet-stream" }));
const PARALLEL = [
  "SET pipeline.split_size = '256kB'", "SET max_parallel_workers_per_gather = 2", "SET parallel_setup_cost = 0",
  "SET parallel_tuple_cost = 0", "SET min_parallel_table_scan_size = 0",
];
const ANSWER = "SELECT count(*)::int AS n, sum(i)::text AS s, count(DISTINCT i)::int AS d, sum(v)::text AS sv, sum(r)::text AS sr FROM";

async function session(settings) {
  const c = await connect(db);
  for (const q of settings) await c.query(q);
  return c;
}

const serial = {};

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await putRaw("one.json.gz", gzipSync(records(1, N)));
  await putRaw("multi.json.gz", Buffer.concat([gzipSync(records(1, 15000), { level: 1 }),
    gzipSync(records(15001, 27000), { level: 9 }), gzipSync(""), gzipSync(records(27001, N))]));
  for (const t of ["one", "multi"])
    await sql(db, `CREATE FOREIGN TABLE ${t} (i int, v int, s text, r bigint) SERVER lake OPTIONS (uri 's3://${bucket}/${t}.json.gz')`);
  // the serial reads: the answers (a serial scan builds no index)
  const c = await session(["SET pipeline.split_size = '256kB'", "SET max_parallel_workers_per_gather = 0"]);
  for (const t of ["one", "multi"]) serial[t] = (await c.query(`${ANSWER} ${t}`)).rows[0];
  await c.end();
  // the first parallel scans: each object read whole by one participant, which indexes it
  const p = await session(PARALLEL);
  for (const t of ["one", "multi"]) assert.equal((await p.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, N);
  await p.end();
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("the whole reads are right and left an index each", async () => {
  for (const t of ["one", "multi"]) assert.deepEqual([serial[t].n, serial[t].d], [N, N], `${t}: every record`);
  const [{ n }] = await sql(db, `SELECT count(*)::int AS n FROM pg_ls_dir('pipeline_gzindex', true, false) f WHERE f LIKE '%.gzi'`);
  assert.ok(n >= 2, `indexes in the cache: ${n}`);
});

for (const t of ["one", "multi"]) {
  test(`${t}: one worker held on a part, the other reads the rest: two part readers, the serial answer`, async () => {
    const c = await session([...PARALLEL, "SET parallel_leader_participation = off", "SET pipeline.prefetch = 0"]);
    try {
      await emulator("DELETE", "/_emulator/faults");
      await emulator("DELETE", "/_emulator/requests");
      await emulator("POST", "/_emulator/faults", { service: "s3", method: "GET", path_prefix: `/${bucket}/${t}.json.gz`,
        range_not_prefix: "bytes=0-", action: "hold", count: 1 });
      const running = c.query(`EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) ${ANSWER} ${t}`);
      await waitFor("parts read by the other worker while one part's GET is held", async () => {
        const log = (await emulator("GET", "/_emulator/requests")) ?? [];
        const parts = log.filter((r) => r.path === `/${bucket}/${t}.json.gz` && r.range && !r.range.startsWith("bytes=0-"));
        return parts.some((r) => r.fault === "hold" && r.status === null) &&
          parts.filter((r) => r.fault !== "hold" && r.status >= 200 && r.status < 300).length >= 2;
      }, 60000);
      await emulator("DELETE", "/_emulator/faults");
      const plan = (await running).rows.map((r) => r["QUERY PLAN"]).join("\n");
      assert.match(plan, /Workers Launched: 2/, plan);
      assert.match(plan, /Part Readers: 2/, plan);
      assert.match(plan, new RegExp(`Records: ${N}\\b`), plan);
      const got = (await c.query(`${ANSWER} ${t}`)).rows[0];
      assert.deepEqual(got, serial[t], "the parallel answer is the serial one");
    } finally {
      await emulator("DELETE", "/_emulator/faults");
      await c.end();
    }
  });
}

test("a connection reset inside a part: retried, the serial answer", async () => {
  const c = await session(PARALLEL);
  try {
    await emulator("POST", "/_emulator/faults", { service: "s3", method: "GET", path_prefix: `/${bucket}/one.json.gz`,
      range_not_prefix: "bytes=0-", action: "reset", count: 2 });
    const plan = (await c.query(`EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) ${ANSWER} one`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
    assert.match(plan, /Object Parts Read: \d+/, plan);
    assert.match(plan, new RegExp(`Records: ${N}\\b`), plan);
    await emulator("POST", "/_emulator/faults", { service: "s3", method: "GET", path_prefix: `/${bucket}/one.json.gz`,
      range_not_prefix: "bytes=0-", action: "reset", count: 2 });
    assert.deepEqual((await c.query(`${ANSWER} one`)).rows[0], serial.one);
  } finally {
    await emulator("DELETE", "/_emulator/faults");
    await c.end();
  }
});

test("the object replaced while its index is kept: the new version is read whole, right", async () => {
  await putRaw("one.json.gz", gzipSync(records(1, N - 1000)));
  const c = await session(PARALLEL);
  try {
    const plan = (await c.query(`EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) ${ANSWER} one`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
    assert.doesNotMatch(plan, /Object Parts Read/, plan);
    assert.deepEqual([(await c.query(`${ANSWER} one`)).rows[0].n], [N - 1000]);
  } finally {
    await c.end();
  }
});
