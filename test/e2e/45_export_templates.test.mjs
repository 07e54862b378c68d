// Templates in export URIs (issue 12): a report's export
// 's3://B/out/dt={date}/hour={hour}/' lands under the directory of the run's
// start time (UTC); a key template is overwritten by each run of the same
// hour, never written beside; an export whose completion fails is retried
// by the outbox and still lands at the key filled when the run staged it,
// once; a literal "..", a placeholder in the bucket or an unknown one never
// get as far as S3.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { sql, waitFor, createDatabase, createBucket, s3, s3sdk, emulator, exported } from "./lib.mjs";

const db = "e2e_export_tpl";
const bucket = `exptpl-${process.pid}`;

async function listKeys(prefix) {
  const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key).sort();
}
async function getObject(key) {
  const r = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body.transformToByteArray());
}
const pad = (n) => String(n).padStart(2, "0");
const utc = (d) => ({
  date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, hour: pad(d.getUTCHours()),
});

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await sql(db, `CREATE TABLE battery AS SELECT 'd' || i AS device_id, i AS level FROM generate_series(1, 3) i`);
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("a run's export lands under the directory its start time fills", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'by_day', query => 'SELECT * FROM battery ORDER BY level',
    target => 'public.by_day', export => 's3://${bucket}/out/dt={date}/hour={hour}/')`);
  const id = (await sql(db, `SELECT pipeline.run_report('by_day') AS id`))[0].id;
  const run = (await sql(db, `SELECT export_uri, started_at FROM pipeline.runs WHERE id = $1`, [id]))[0];
  const { date, hour } = utc(new Date(run.started_at));
  assert.ok(run.export_uri.startsWith(`s3://${bucket}/out/dt=${date}/hour=${hour}/by_day-`), run.export_uri);
  await exported(db, run.export_uri);
  const keys = await listKeys("out/");
  assert.deepEqual(keys, [run.export_uri.slice(`s3://${bucket}/`.length)], "one object, at the filled key");
  const rows = gunzipSync(await getObject(keys[0])).toString().trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.level), [1, 2, 3]);
});

test("a templated key is the same object for every run of the hour", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'hourly', query => 'SELECT * FROM battery',
    target => 'public.hourly', export => 's3://${bucket}/hourly/{year}/{month}/{day}/{hour}/battery.json.gz')`);
  // two runs in the same UTC hour (a third if the clock turned the hour between them)
  let uris = [];
  for (let n = 0; n < 3 && !(uris.length === 2 && uris[0] === uris[1]); n++) {
    await sql(db, `SELECT pipeline.run_report('hourly')`);
    uris = (await sql(db, `SELECT export_uri FROM pipeline.runs WHERE report = 'hourly' ORDER BY id DESC LIMIT 2`))
      .map((r) => r.export_uri);
  }
  assert.equal(uris[0], uris[1], "two runs of one hour, one key");
  assert.equal(uris.length, 2);
  assert.match(uris[0], new RegExp(`^s3://${bucket}/hourly/\\d{4}/\\d{2}/\\d{2}/\\d{2}/battery\\.json\\.gz$`));
  for (const u of new Set(uris)) await exported(db, u);
  const keys = await listKeys("hourly/");
  assert.equal(keys.length, new Set(uris).size, "each filled key holds one object, written over by later runs");
});

test("an export whose completion fails is retried to the key filled when the run staged it", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'retried', query => 'SELECT * FROM battery',
    target => 'public.retried', export => 's3://${bucket}/retried/dt={date}/')`);
  // CompleteMultipartUpload fails until the fault is cleared
  await emulator("POST", "/_emulator/faults", { method: "POST", path_prefix: `/${bucket}/retried/`, query: "uploadId",
    action: "status", status: 503, code: "SlowDown", count: 0 });
  const id = (await sql(db, `SELECT pipeline.run_report('retried') AS id`))[0].id;
  const uri = (await sql(db, `SELECT export_uri FROM pipeline.runs WHERE id = $1`, [id]))[0].export_uri;
  await waitFor("the export task to fail once and wait for its next attempt", async () => {
    const r = await sql(db, `SELECT attempts, state FROM pipeline.exports WHERE run_id = $1`, [id]);
    return r[0] && r[0].attempts >= 1 && r[0].state === "pending";
  }, 60000);
  assert.deepEqual(await listKeys("retried/"), [], "nothing landed while completion failed");
  const task = (await sql(db, `SELECT 's3://' || bucket || '/' || key AS uri FROM pipeline.exports WHERE run_id = $1`, [id]))[0];
  assert.equal(task.uri, uri, "the task holds the filled key");
  await emulator("DELETE", "/_emulator/faults");
  await exported(db, uri, 90000);
  assert.deepEqual(await listKeys("retried/"), [uri.slice(`s3://${bucket}/`.length)], "one object, at that key");
});

test("templates that would leave their prefix are refused before anything is written", async () => {
  const bad = [
    [`s3://${bucket}/safe/../escape/{date}/`, /invalid export URI/],
    [`s3://${bucket}/safe/{date}/../../escape/`, /invalid export URI/],
    [`s3://${bucket}/safe//{date}/`, /invalid export URI/],
    [`s3://${bucket}-{year}/safe/`, /invalid export URI/],
    [`s3://${bucket}/safe/{key}/`, /unknown placeholder "\{key\}"/],
    [`s3://${bucket}/safe/{date/`, /invalid export URI/],
  ];
  for (const [uri, re] of bad) {
    await assert.rejects(sql(db, `SELECT pipeline.create_report(name => 'bad', query => 'SELECT 1 AS x',
      target => 'public.bad', export => $1)`, [uri]), re, uri);
  }
  assert.equal(Number((await sql(db, `SELECT count(*) AS n FROM pipeline.reports WHERE name = 'bad'`))[0].n), 0);
  assert.deepEqual(await listKeys("escape/"), []);
  assert.deepEqual(await listKeys("safe/"), []);
});
