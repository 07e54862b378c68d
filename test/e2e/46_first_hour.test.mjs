// The README's "From an existing bucket, in the first hour", run as the README has it,
// so that the walk-through cannot rot: the SQL block is read from README.md and run
// statement by statement in a new database, with only these changes: the server gets
// the emulator's endpoint and region, the bucket "iot" is a bucket of this test's own, and the
// listing polls every second instead of every five minutes. The bucket holds gzip
// Firehose output (concatenated records) of three months under a templated layout;
// the server's identity is the cluster's environment (the test harness's keys), used
// for etl only because a superuser's mapping says so. Then: the imported table, the
// backfill's results (the latest battery per device, from every month), a new object
// taken up by the listing, and an ordinary role that is not etl gets nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { sql, sqlAs, connect, waitFor, createBucket, s3, s3sdk, endpoint } from "./lib.mjs";

const db = "e2e_first_hour";
const bucket = `iot-first-hour-${process.pid}`;

/** The SQL block of the README's walk-through, with the test's substitutions. */
function walkThrough() {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.split("### From an existing bucket, in the first hour")[1];
  assert.ok(section, "the README has the walk-through");
  const block = section.split("```sql\n")[1].split("```")[0];
  const subs = [
    // (the emulator signs for us-east-1)
    ["OPTIONS (region 'eu-west-1')", `OPTIONS (region 'us-east-1', endpoint '${endpoint}')`],
    ["s3://iot/", `s3://${bucket}/`],
    ["IMPORT FOREIGN SCHEMA iot ", `IMPORT FOREIGN SCHEMA "${bucket}" `],
    ["list_every => '5 minutes'", "list_every => '1 second'"],
  ];
  let text = block;
  for (const [from, to] of subs) {
    assert.ok(text.includes(from), `the walk-through still has ${from}`);
    text = text.split(from).join(to);
  }
  // statements end at a ";" at the end of a line; comments are lines of their own
  return text.split("\n").filter((l) => !l.trim().startsWith("--")).join("\n")
    .split(/;\s*\n/).map((s) => s.trim()).filter(Boolean);
}

async function putGz(key, records) {
  await s3.send(new s3sdk.PutObjectCommand({ Bucket: bucket, Key: key, ContentType: "application/octet-stream",
    Body: gzipSync(records.map((r) => JSON.stringify(r)).join("")) }));
}

before(async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", `DROP ROLE IF EXISTS etl`);
  await sql("postgres", `CREATE DATABASE ${db}`);
  await createBucket(bucket);
  // Firehose output: an object per hour, records back to back without newlines
  for (const [m, d, h] of [["09", "02", "10"], ["10", "15", "08"], ["11", "25", "13"], ["11", "25", "14"]]) {
    await putGz(`raw/v0/deviceping/2026/${m}/${d}/${h}/deviceping-1-2026-${m}-${d}-${h}-00-00-abc.gz`,
      ["d1", "d2", "d3"].map((id, i) => ({
        device_id: id, battery: Number(m) * 2 + Number(h) + i, ts: `2026-${m}-${d}T${h}:0${i}:00Z`,
      })));
  }
});

after(async () => {
  if (!process.env.E2E_KEEP) {
    await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await sql("postgres", `DROP ROLE IF EXISTS etl`);
  }
});

test("the README's first hour, as written, runs against the emulator", async () => {
  const statements = walkThrough();
  assert.ok(statements.length >= 10, `${statements.length} statements`);
  // one session: "SET ROLE etl" holds for what follows it, as in psql
  const c = await connect(db);
  try {
    for (const s of statements) {
      try {
        await c.query(s);
      } catch (e) {
        throw new Error(`README statement failed: ${s}\n${e.message}`);
      }
    }
  } finally {
    await c.end();
  }

  // the imported table: inferred columns and the template's parts
  const cols = await sql(db, `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS c
                              FROM pg_attribute WHERE attrelid = 'raw.deviceping'::regclass AND attnum > 0`);
  assert.equal(cols[0].c, "device_id text, battery integer, ts timestamp with time zone, "
    + "year integer, month integer, day integer, hour integer");
  assert.equal((await sql(db, `SELECT relowner::regrole::text AS o FROM pg_class WHERE oid = 'raw.deviceping'::regclass`))[0].o,
    "etl", "etl imported it");

  // the backfill read every month, as etl, in the ledger
  await waitFor("the backfill to be done", async () => {
    const r = await sql(db, `SELECT state, last_error FROM pipeline.backfills WHERE report = 'devicebattery'`);
    if (r[0]?.state === "failed") throw new Error(`backfill failed: ${r[0].last_error}`);
    return r[0]?.state === "done";
  }, 120000);
  await waitFor("the backfill's runs", async () =>
    Number((await sql(db, `SELECT count(*) AS n FROM pipeline.processed WHERE report = 'devicebattery'`))[0].n) === 4, 120000);
  const latest = await sql(db, `SELECT device_id, battery, ts FROM public.devicebattery ORDER BY device_id`);
  assert.deepEqual(latest.map((r) => [r.device_id, r.battery, r.ts.toISOString()]), [
    ["d1", 36, "2026-11-25T14:00:00.000Z"], ["d2", 37, "2026-11-25T14:01:00.000Z"], ["d3", 38, "2026-11-25T14:02:00.000Z"],
  ], "the latest battery of each device, from the newest hour");

  // the listing takes up a new object (no notifications configured)
  await putGz("raw/v0/deviceping/2026/11/30/09/deviceping-1-2026-11-30-09-00-00-def.gz",
    [{ device_id: "d2", battery: 5, ts: "2026-11-30T09:00:00Z" }]);
  await waitFor("the listing to take up the new object", async () =>
    (await sql(db, `SELECT battery FROM public.devicebattery WHERE device_id = 'd2'`))[0]?.battery === 5, 60000);
  const owners = await sql(db, `SELECT DISTINCT owner::regrole::text AS o FROM pipeline.reports WHERE name = 'devicebattery'`);
  assert.deepEqual(owners.map((r) => r.o), ["etl"], "the report is etl's");
});

test("the server's identity is etl's alone: another role gets none of it", async () => {
  await sql(db, `DROP ROLE IF EXISTS first_hour_other; CREATE ROLE first_hour_other LOGIN;
                 GRANT USAGE ON FOREIGN SERVER lake TO first_hour_other; GRANT USAGE ON SCHEMA raw TO first_hour_other;
                 GRANT SELECT ON raw.deviceping TO first_hour_other;
                 CREATE USER MAPPING FOR first_hour_other SERVER lake`);
  await assert.rejects(sqlAs("first_hour_other", db, `SELECT count(*) FROM raw.deviceping`),
    /user mapping for "first_hour_other" on server "lake" has no S3 credentials/);
  await sql(db, `DROP OWNED BY first_hour_other; DROP ROLE first_hour_other`);
});
