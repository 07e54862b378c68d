// Write back and chain: pipeline.export, report exports that trigger the
// next tier through S3, chaining inside PostgreSQL (after, only_if_changed),
// Athena-style CSV read back, webhooks, and PL/Python inside a report.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import {
  sql, connect, waitFor, createDatabase, createBucket, createQueue, put, queueDepth, queueUrl,
  queueArn, s3, s3sdk, emulator, exported,
} from "./lib.mjs";

const db = "e2e_write";
const bucket = `write-${process.pid}`;

async function getObject(key) {
  const r = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body.transformToByteArray());
}
async function listKeys(prefix) {
  const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key).sort();
}
const runs = (report) => sql(db, `SELECT * FROM pipeline.runs WHERE report = $1 ORDER BY id`, [report]);

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue("write-q");
  // raw data and the exports of the first tier both notify the queue
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: {
      QueueConfigurations: [
        { QueueArn: await queueArn("write-q"), Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "raw/" }] } } },
        { QueueArn: await queueArn("write-q"), Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "processed/" }] } } },
      ],
    },
  }));
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("pipeline.export writes gzip JSON lines with JSON types", async () => {
  const r = await sql(db, `SELECT * FROM pipeline.export(
    $$SELECT 1 AS i, 2.5::float8 AS f, 12345678901234567890.5::numeric AS n, true AS b, NULL::text AS z,
             'say "hi"'::text AS t, '{"a":[1,2]}'::jsonb AS j, ARRAY[1,2] AS a,
             '2026-11-25 10:00:00+00'::timestamptz AS ts
      UNION ALL SELECT 2, -1, 0, false, 'x', 'é', 'null', '{}', '2026-11-26 00:00:00+00'$$,
    's3://${bucket}/out/x.json.gz')`);
  assert.equal(r[0].object, `s3://${bucket}/out/x.json.gz`);
  assert.equal(Number(r[0].rows), 2);
  await exported(db, r[0].object);
  const body = await getObject("out/x.json.gz");
  assert.equal(Number(r[0].bytes), body.length, "bytes are the object's size");
  assert.equal(body[0], 0x1f, "gzip");
  const lines = gunzipSync(body).toString().trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], {
    i: 1, f: 2.5, n: 12345678901234567890.5, b: true, z: null, t: 'say "hi"', j: { a: [1, 2] },
    a: [1, 2], ts: "2026-11-25T10:00:00+00:00",
  });
  assert.equal(lines[1].t, "é");
});

test("CSV with a header and COPY-style quoting, uncompressed", async () => {
  await sql(db, `SELECT * FROM pipeline.export(
    $$SELECT * FROM (VALUES (1, 'plain', NULL), (2, 'with, comma', 'say "hi"'), (3, E'two\\nlines', '')) v(id, a, b)$$,
    's3://${bucket}/out/x.csv', format => 'csv', compression => 'none')`);
  await exported(db, `s3://${bucket}/out/x.csv`);
  const text = (await getObject("out/x.csv")).toString();
  assert.equal(text, 'id,a,b\n1,plain,\n2,"with, comma","say ""hi"""\n3,"two\nlines",""\n');
});

test("the CSV Athena writes is read back by a csv foreign table", async () => {
  await sql(db, `
    CREATE FOREIGN TABLE athena (id int, a text, b text) SERVER lake
      OPTIONS (uri 's3://${bucket}/out/x.csv', format 'csv');
    CREATE FOREIGN TABLE athena_semi (day date, "count" int, label text OPTIONS (field 'name')) SERVER lake
      OPTIONS (uri 's3://${bucket}/athena/', format 'csv', delimiter ';');`);
  assert.deepEqual(await sql(db, `SELECT id, a, b FROM athena ORDER BY id`), [
    { id: 1, a: "plain", b: null }, { id: 2, a: "with, comma", b: 'say "hi"' }, { id: 3, a: "two\nlines", b: "" },
  ]);
  await put(bucket, "athena/part-0.csv.gz", '"day";"count";"name"\r\n"2026-11-25";"3";"a;b"\r\n"2026-11-26";"4";""\r\n');
  assert.deepEqual(await sql(db, `SELECT day::text, "count", label FROM athena_semi ORDER BY day`), [
    { day: "2026-11-25", count: 3, label: "a;b" }, { day: "2026-11-26", count: 4, label: "" },
  ]);
});

test("a large result goes up as a multipart upload, memory flat", async () => {
  await emulator("DELETE", "/_emulator/requests");
  const r = await sql(db, `SELECT * FROM pipeline.export(
    $$SELECT i, md5(i::text) || repeat('x', 100) AS pad FROM generate_series(1, 150000) i$$,
    's3://${bucket}/out/big.csv', format => 'csv', compression => 'none')`);
  assert.equal(Number(r[0].rows), 150000);
  await exported(db, `s3://${bucket}/out/big.csv`);
  const log = await emulator("GET", "/_emulator/requests");
  const parts = log.filter((x) => x.method === "PUT" && (x.query ?? "").includes("partNumber"));
  assert.ok(parts.length >= 2, `${parts.length} parts`);
  assert.deepEqual(parts.map((x) => Number(/partNumber=(\d+)/.exec(x.query)[1])).sort((a, b) => a - b),
    parts.map((_, i) => i + 1), "parts numbered 1..n, each once");
  assert.ok(parts.every((x) => x.status === 200), "every part stored");
  assert.ok(log.some((x) => x.method === "POST" && (x.query ?? "").includes("uploadId")), "completed");
  const head = await s3.send(new s3sdk.HeadObjectCommand({ Bucket: bucket, Key: "out/big.csv" }));
  assert.equal(head.ContentLength, Number(r[0].bytes));
  assert.match(head.ETag, new RegExp(`-${parts.length}"$`), "a multipart ETag of as many parts");
  // the content, line by line: parts stored out of order, twice or not at all would show
  const lines = (await getObject("out/big.csv")).toString().split("\n");
  assert.equal(lines.length, 150002, "a header, 150000 rows and the final line end");
  assert.equal(lines[0], "i,pad");
  assert.equal(lines.at(-1), "");
  for (let i = 1; i <= 150000; i++) {
    const want = `${i},${createHash("md5").update(String(i)).digest("hex")}${"x".repeat(100)}`;
    if (lines[i] !== want) assert.fail(`line ${i + 1}: ${JSON.stringify(lines[i].slice(0, 60))}, not row ${i}`);
  }
});

test("CSV with gzip, JSON lines without compression", async () => {
  const q = `$$SELECT * FROM (VALUES (1, 'a,b', NULL), (2, 'say "hi"', 2.5)) v(id, t, f)$$`;
  await sql(db, `SELECT * FROM pipeline.export(${q}, 's3://${bucket}/out/gz.csv.gz', format => 'csv', compression => 'gzip')`);
  await sql(db, `SELECT * FROM pipeline.export(${q}, 's3://${bucket}/out/plain.json', format => 'json', compression => 'none')`);
  await exported(db, `s3://${bucket}/out/gz.csv.gz`);
  await exported(db, `s3://${bucket}/out/plain.json`);
  const gz = await getObject("out/gz.csv.gz");
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b], "gzip");
  assert.equal(gunzipSync(gz).toString(), 'id,t,f\n1,"a,b",\n2,"say ""hi""",2.5\n');
  const plain = await getObject("out/plain.json");
  assert.notEqual(plain[0], 0x1f, "not compressed");
  assert.deepEqual(plain.toString().trim().split("\n").map((l) => JSON.parse(l)),
    [{ id: 1, t: "a,b", f: null }, { id: 2, t: 'say "hi"', f: 2.5 }]);
});

test("an export that fails after parts were uploaded leaves no object behind", async () => {
  // the second part fails every time: the first is stored by then
  await emulator("DELETE", "/_emulator/requests");
  await emulator("POST", "/_emulator/faults", { method: "PUT", path_prefix: `/${bucket}/out/broken.csv`, query: "partNumber=2",
    action: "status", status: 500, code: "InternalError", count: 0 });
  await assert.rejects(sql(db, `SET pipeline.s3_max_retries = 1; SELECT * FROM pipeline.export(
    $$SELECT i, repeat('x', 200) AS pad FROM generate_series(1, 100000) i$$,
    's3://${bucket}/out/broken.csv', format => 'csv', compression => 'none')`), /could not upload a part of .*InternalError/);
  await emulator("DELETE", "/_emulator/faults");
  const log = (await emulator("GET", "/_emulator/requests")).filter((x) => x.path === `/${bucket}/out/broken.csv`);
  const part = (n) => log.filter((x) => x.method === "PUT" && new RegExp(`(^|&)partNumber=${n}(&|$)`).test(x.query ?? ""));
  assert.ok(part(1).some((x) => x.status === 200), "part 1 was stored");
  assert.ok(part(2).length >= 1 && part(2).every((x) => x.status === 500), "part 2 failed");
  assert.ok(log.some((x) => x.method === "DELETE" && (x.query ?? "").includes("uploadId")), "the multipart upload was aborted");
  assert.deepEqual(await listKeys("out/broken"), []);
  const uploads = await s3.send(new s3sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "out/broken" }));
  assert.deepEqual(uploads.Uploads ?? [], [], "no upload left open");
});

test("an empty result writes no object, unless asked", async () => {
  const r = await sql(db, `SELECT * FROM pipeline.export('SELECT 1 AS x WHERE false', 's3://${bucket}/out/empty.json.gz')`);
  assert.equal(r[0].object, null);
  assert.equal(Number(r[0].rows), 0);
  assert.deepEqual(await listKeys("out/empty"), []);
  await sql(db, `SELECT * FROM pipeline.export('SELECT 1 AS x WHERE false', 's3://${bucket}/out/empty.json.gz', allow_empty => true)`);
  await exported(db, `s3://${bucket}/out/empty.json.gz`);
  assert.deepEqual(await listKeys("out/empty"), ["out/empty.json.gz"]);
});

test("nothing reaches S3 before the transaction commits, nor after it rolls back", async () => {
  const c = await connect(db);
  try {
    // committed: the object appears only after COMMIT
    await c.query("BEGIN");
    await c.query(`SELECT * FROM pipeline.export('SELECT 1 AS x', 's3://${bucket}/tx/committed.json.gz')`);
    // the export is staged (its parts are uploaded) while the transaction is open
    await waitFor("the staged upload", async () =>
      ((await s3.send(new s3sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "tx/" }))).Uploads ?? []).length === 1);
    assert.deepEqual(await listKeys("tx/"), [], "no object while the transaction is open");
    await c.query("COMMIT");
    await exported(db, `s3://${bucket}/tx/committed.json.gz`);
    assert.deepEqual(await listKeys("tx/"), ["tx/committed.json.gz"]);

    // rolled back: no object ever, and the staged upload is aborted
    await c.query("BEGIN");
    await c.query(`SELECT * FROM pipeline.export('SELECT 1 AS x', 's3://${bucket}/tx/rolledback.json.gz')`);
    await c.query("ROLLBACK");
    await waitFor("the staged upload of the rolled-back transaction to be aborted", async () =>
      ((await s3.send(new s3sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "tx/" }))).Uploads ?? []).length === 0);
    assert.deepEqual(await listKeys("tx/"), ["tx/committed.json.gz"]);
  } finally {
    await c.end();
  }
});

test("a report's export lands in S3 and triggers the second tier", async () => {
  await sql(db, `
    CREATE FOREIGN TABLE ping (device_id text, battery float8, ts timestamptz) SERVER lake
      OPTIONS (uri 's3://${bucket}/raw/ping/');
    SELECT pipeline.create_report(name => 'devicebattery', source => 's3://${bucket}/raw/ping/',
      query => $$SELECT DISTINCT ON (device_id) device_id, battery, ts FROM ping ORDER BY device_id, ts DESC$$,
      target => 'devicebattery', export => 's3://${bucket}/processed/devicebattery/');
    CREATE FOREIGN TABLE battery_history (device_id text, battery float8, ts timestamptz,
                                          src text OPTIONS (metadata 'uri')) SERVER lake
      OPTIONS (uri 's3://${bucket}/processed/devicebattery/');
    SELECT pipeline.create_report(name => 'tier2', source => 's3://${bucket}/processed/devicebattery/',
      query => $$SELECT device_id, count(*) AS snapshots, max(battery) AS max_battery
                 FROM battery_history GROUP BY device_id$$,
      target => 'tier2');`);
  await sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("write-q")]);
  await put(bucket, "raw/ping/1.json.gz", [
    { device_id: "d1", battery: 90, ts: "2026-11-25T10:00:00Z" },
    { device_id: "d2", battery: 50, ts: "2026-11-25T10:00:00Z" },
  ]);
  const t2 = await waitFor("the second tier to run on the export", async () => {
    const r = await runs("tier2");
    return r.length > 0 && r;
  }, 30000);
  const first = (await runs("devicebattery"))[0];
  assert.match(first.export_uri, new RegExp(`^s3://${bucket}/processed/devicebattery/devicebattery-[0-9a-f]{16}\\.json\\.gz$`));
  assert.equal(t2[0].trigger, "event");
  assert.deepEqual(t2[0].trigger_uris, [first.export_uri], "triggered by the exported object");
  assert.deepEqual(await sql(db, `SELECT device_id, snapshots::int FROM tier2 ORDER BY 1`),
    [{ device_id: "d1", snapshots: 1 }, { device_id: "d2", snapshots: 1 }]);
});

test("a run that fails exports nothing", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'broken', query => 'SELECT 1 / (count(*) - count(*)) AS x FROM devicebattery',
                  target => 'broken', export => 's3://${bucket}/broken/')`);
  await sql(db, `SELECT pipeline.run_report('broken')`);
  assert.deepEqual((await runs("broken")).map((r) => [r.status, r.export_uri]), [["failed", null]]);
  assert.deepEqual(await listKeys("broken/"), []);
});

test("chained inside PostgreSQL: after, and only_if_changed", async () => {
  await sql(db, `
    SELECT pipeline.create_report(name => 'low', query => 'SELECT device_id FROM devicebattery WHERE battery < 60',
      target => 'low', after => 'devicebattery');
    SELECT pipeline.create_report(name => 'low_changed', query => 'SELECT device_id FROM devicebattery WHERE battery < 60',
      target => 'low_changed', after => 'devicebattery', only_if_changed => true);`);
  await sql(db, `SELECT pipeline.run_report('devicebattery')`);
  assert.deepEqual((await runs("low")).map((r) => [r.trigger, r.status]), [["after", "succeeded"]]);
  assert.deepEqual((await runs("low_changed")).map((r) => r.status), ["succeeded"]);
  // the same data again: the result does not change
  await sql(db, `SELECT pipeline.run_report('devicebattery')`);
  assert.deepEqual((await runs("low")).map((r) => r.status), ["succeeded", "succeeded"]);
  assert.deepEqual((await runs("low_changed")).map((r) => r.status), ["succeeded", "skipped"],
    "skipped when the upstream result did not change");
  // new data: it changes
  await put(bucket, "raw/ping/2.json.gz", [{ device_id: "d3", battery: 10, ts: "2026-11-25T11:00:00Z" }]);
  await waitFor("the event run and its chain", async () =>
    (await runs("low_changed")).map((r) => r.status).join() === "succeeded,skipped,succeeded", 30000);
  assert.deepEqual(await sql(db, `SELECT device_id FROM low_changed ORDER BY 1`), [{ device_id: "d2" }, { device_id: "d3" }]);
});

test("a webhook receives the run summary after commit, with retries", async () => {
  const got = [];
  let calls = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      calls++;
      if (calls === 1) { res.writeHead(503); res.end(); return; } // the first attempt fails
      got.push(JSON.parse(body));
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  try {
    await sql(db, `SELECT pipeline.create_report(name => 'hooked', query => 'SELECT count(*) AS n FROM devicebattery',
                    target => 'hooked', webhook => $1)`, [url]);
    const id = (await sql(db, `SELECT pipeline.run_report('hooked') AS id`))[0].id;
    await waitFor("the webhook", async () => got.length === 1, 20000);
    assert.equal(got[0].report, "hooked");
    assert.equal(got[0].status, "succeeded");
    assert.equal(String(got[0].id), String(id));
    assert.equal(calls, 2, "retried once after a 503");
    const rows = await sql(db, `SELECT attempts, delivered_at IS NOT NULL AS delivered FROM pipeline.webhooks WHERE run_id = $1`, [id]);
    assert.deepEqual(rows, [{ attempts: 2, delivered: true }]);
    // a rolled-back run sends nothing
    const c = await connect(db);
    let rolledBack;
    try {
      await c.query("BEGIN");
      rolledBack = (await c.query(`SELECT pipeline.run_report('hooked') AS id`)).rows[0].id;
      await c.query("ROLLBACK");
    } finally {
      await c.end();
    }
    // a run committed after it: once its webhook is in, the outbox has been
    // worked past the rolled-back run (and a webhook sent before the commit
    // would have come while run_report ran)
    const next = (await sql(db, `SELECT pipeline.run_report('hooked') AS id`))[0].id;
    await waitFor("the next run's webhook", async () => got.length === 2, 20000);
    assert.deepEqual(got.map((g) => String(g.id)), [String(id), String(next)], "nothing for a run that rolled back");
    assert.notEqual(String(rolledBack), String(next));
    assert.deepEqual(await sql(db, `SELECT count(*)::int AS n FROM pipeline.webhooks WHERE run_id = $1`, [rolledBack]), [{ n: 0 }]);
  } finally {
    server.close();
  }
});

test("a report can call PL/Python", async () => {
  await sql(db, `
    CREATE EXTENSION IF NOT EXISTS plpython3u;
    CREATE FUNCTION health(battery float8) RETURNS text LANGUAGE plpython3u AS $$
      return "ok" if battery >= 50 else "replace soon"
    $$;
    SELECT pipeline.create_report(name => 'py', query => 'SELECT device_id, health(battery) FROM devicebattery',
      target => 'py');`);
  await sql(db, `SELECT pipeline.run_report('py')`);
  assert.deepEqual(await sql(db, `SELECT device_id, health FROM py ORDER BY 1`), [
    { device_id: "d1", health: "ok" }, { device_id: "d2", health: "ok" }, { device_id: "d3", health: "replace soon" },
  ]);
});

// README, create_report mode: "replace: DELETE + INSERT in one transaction,
// readers see the old or the new rows, never an empty table, and are never
// blocked".  The run is held open in one session (its transaction not yet
// committed) while another reads: a TRUNCATE or a new relfilenode would
// block the reader (lock_timeout turns that into an error instead of a hang).
test("replace: a concurrent reader sees the old rows until the run commits, is not blocked, never sees an empty table", async () => {
  await sql(db, `CREATE TABLE rep_src (v int);
    INSERT INTO rep_src SELECT generate_series(1, 100);
    SELECT pipeline.create_report(name => 'rep', query => 'SELECT v FROM rep_src', target => 'rep_out', mode => 'replace');
    SELECT pipeline.run_report('rep');`);
  const seen = async (c) => (await c.query(`SELECT count(*)::int AS n, coalesce(sum(v), 0)::int AS s FROM rep_out`)).rows[0];
  const writer = await connect(db);
  const reader = await connect(db);
  try {
    await reader.query(`SET lock_timeout = '30s'`);
    assert.deepEqual(await seen(reader), { n: 100, s: 5050 });
    await sql(db, `DELETE FROM rep_src WHERE v > 60`);
    await writer.query("BEGIN");
    await writer.query(`SELECT pipeline.run_report('rep')`);
    assert.deepEqual(await seen(writer), { n: 60, s: 1830 }, "the run replaced the rows (in its transaction)");
    assert.deepEqual(await seen(reader), { n: 100, s: 5050 }, "meanwhile a reader sees the old rows, at once");
    await reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    assert.deepEqual(await seen(reader), { n: 100, s: 5050 });
    await writer.query("COMMIT");
    assert.deepEqual(await seen(reader), { n: 100, s: 5050 }, "a snapshot taken before the commit keeps the old rows");
    await reader.query("COMMIT");
    assert.deepEqual(await seen(reader), { n: 60, s: 1830 }, "after the commit, the new rows");
  } finally {
    await writer.end();
    await reader.end();
  }
});
