// bench/soak.mjs --events N [--records-per-object N] [--concurrency N] [--ahead N] [--out FILE]
//	The soak of issue 10: N events through the worker (objects PUT, their S3
//	ObjectCreated notifications through SQS, an incremental report matching
//	each of them, mode append), and what must stay flat while they go:
//	- the worker's resident anonymous memory (RssAnon from /proc, in kB),
//	- the size of every pipeline.* table (pg_total_relation_size),
//	- throughput: events processed per second over the first 10% of the
//	  events and over the last 10%.
//	Autovacuum is turned on for the run (bench/run's cluster has it off for
//	the scans' sake): whether the worker's tables stay bounded with the
//	statistics it reports is part of what is measured.
//	The PUTs stay at most --ahead events ahead of the runs, so the worker
//	always has work waiting (its throughput is measured, not the PUTs') and
//	the queue does not grow without bound.  Samples every few seconds go to
//	the results file with the load average; every record must reach the
//	target exactly once (checked at the end), or the run fails.
import { gzipSync } from "node:zlib";
import { readFileSync, writeFileSync } from "node:fs";
import { execSync } from "node:child_process";
import os from "node:os";
import {
  connect, s3, s3sdk, sqs, sqssdk, endpoint, now, sleep, record, table, options, fmtS, procStatus,
} from "./lib.mjs";

const o = options(process.argv.slice(2), {
  events: 20000, records_per_object: 10, concurrency: 16, ahead: 1000, sample_s: 5, db: "bench_soak",
  out: new URL("./soak-results.json", import.meta.url).pathname,
});
const bucket = "bench-soak";
const queue = "soak-events";
const port = new URL(endpoint).port;
const queueUrl = `http://sqs.us-east-1.localhost:${port}/000000000000/${queue}`;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

{
  const c = await connect("postgres");
  await c.query(`DROP DATABASE IF EXISTS ${o.db} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${o.db}`);
  await c.query(`ALTER SYSTEM SET autovacuum = on`);
  await c.query(`SELECT pg_reload_conf()`);
  await c.end();
}
await s3.send(new s3sdk.CreateBucketCommand({ Bucket: bucket })).catch((e) => {
  if (e.name !== "BucketAlreadyOwnedByYou" && e.name !== "BucketAlreadyExists") throw e;
});
await sqs.send(new sqssdk.CreateQueueCommand({ QueueName: queue }));
const arn = (await sqs.send(new sqssdk.GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes.QueueArn;
await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
  Bucket: bucket,
  NotificationConfiguration: {
    QueueConfigurations: [{ QueueArn: arn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "in/" }] } } }],
  },
}));

const db = await connect(o.db);
await db.query(`
  CREATE EXTENSION pipeline;
  CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
  CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
  CREATE FOREIGN TABLE soak_in (device_id text, seq bigint, battery float8, src text OPTIONS (metadata 'uri'))
    SERVER lake OPTIONS (uri 's3://${bucket}/in/');
  SELECT pipeline.create_report(name => 'soak', source => 's3://${bucket}/in/',
    query => $$SELECT device_id, seq, battery, src FROM soak_in WHERE src = ANY (pipeline.trigger_uris())$$,
    target => 'public.soak', mode => 'append');
  SELECT pipeline.add_queue('${queue}', '${queueUrl}', 'lake');`);
const settings = Object.fromEntries((await db.query(`SELECT name, setting FROM pg_settings WHERE name IN
  ('fsync','synchronous_commit','full_page_writes','autovacuum','pipeline.poll_wait','pipeline.history_retention')`)).rows
  .map((r) => [r.name, r.setting]));

async function waitFor(what, fn, timeoutS = 60) {
  const end = now() + timeoutS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const workerPid = await waitFor("the worker", async () => (await db.query(
  `SELECT pid FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = $1`, [o.db])).rows[0]?.pid);

// what must stay flat
const processed = async () => Number((await db.query(
  `SELECT coalesce(sum(objects), 0) AS n FROM pipeline.runs WHERE report = 'soak' AND status = 'succeeded'`)).rows[0].n);
const tableSizes = async () => Object.fromEntries((await db.query(`
  SELECT c.relname, pg_total_relation_size(c.oid) AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'pipeline' AND c.relkind IN ('r', 'p') ORDER BY 1`)).rows.map((r) => [r.relname, Number(r.bytes)]));
const sample = async (done, t0) => ({
  t: now() - t0, processed: done, worker_rss_anon_kb: procStatus(workerPid, "RssAnon"),
  worker_rss_kb: procStatus(workerPid, "VmRSS"), loadavg: loadavg(), tables: await tableSizes(),
});

// deterministic bodies: records of 100 bytes or so
function body(n) {
  let s = "";
  for (let i = 0; i < o.records_per_object; i++) {
    s += `{"device_id":"therm-${String((n * 7 + i) % 10000).padStart(6, "0")}","seq":${n * 1000 + i},` +
      `"battery":${(n + i) % 101},"status":"ok"}\n`;
  }
  return gzipSync(s);
}

const n = o.events;
const samples = [];
const marks = {}; // processed count -> time it was first seen at or above it
const t0 = now();
let done = 0, put = 0, lastSample = -Infinity, failed = null;
const want = [Math.ceil(n * 0.1), Math.floor(n * 0.9), n];
console.error(`soak: ${n} events (objects of ${o.records_per_object} records), PUT ${o.concurrency} at a time, ` +
  `at most ${o.ahead} ahead of the runs; load ${loadavg()}`);
samples.push(await sample(0, t0));

const putter = Promise.all(Array.from({ length: o.concurrency }, async () => {
  while (put < n && !failed) {
    if (put - done >= o.ahead) { await sleep(50); continue; }
    const i = put++;
    await s3.send(new s3sdk.PutObjectCommand({
      Bucket: bucket, Key: `in/${String(Math.floor(i / 1000)).padStart(4, "0")}/${String(i).padStart(7, "0")}.json.gz`,
      Body: body(i), ContentType: "application/gzip",
    }));
  }
})).catch((e) => { failed = e; });

let lastProgress = now(), lastDone = 0;
while (done < n) {
  if (failed) throw failed;
  await sleep(200);
  done = await processed();
  const t = now();
  if (done > lastDone) { lastDone = done; lastProgress = t; }
  if (t - lastProgress > 120) throw new Error(`soak: no run for 120 s at ${done} of ${n} events`);
  for (const w of want) if (done >= w && marks[w] === undefined) marks[w] = t - t0;
  if (t - lastSample >= o.sample_s || done >= n) {
    lastSample = t;
    const s = await sample(done, t0);
    samples.push(s);
    console.error(`  ${s.t.toFixed(0)}s: ${done} events, worker RssAnon ${s.worker_rss_anon_kb} kB, ` +
      `pipeline.* ${(Object.values(s.tables).reduce((a, b) => a + b, 0) / 1048576).toFixed(1)} MB, load ${s.loadavg}`);
  }
}
await putter;
if (failed) throw failed;

// the answer: every record in the target exactly once
const check = (await db.query(`SELECT count(*) AS rows, count(DISTINCT seq) AS seqs, count(DISTINCT src) AS objects,
  (SELECT count(*) FROM pipeline.runs WHERE report = 'soak' AND status <> 'succeeded') AS failed_runs,
  (SELECT count(*) FROM pipeline.runs WHERE report = 'soak') AS runs FROM public.soak`)).rows[0];
const vacuum = Object.fromEntries((await db.query(`SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count
  FROM pg_stat_user_tables WHERE schemaname = 'pipeline' AND (n_live_tup > 0 OR n_dead_tup > 0 OR autovacuum_count > 0) ORDER BY 1`)).rows
  .map((r) => [r.relname, { live: Number(r.n_live_tup), dead: Number(r.n_dead_tup), autovacuums: Number(r.autovacuum_count),
    autoanalyzes: Number(r.autoanalyze_count) }]));
const expected = n * o.records_per_object;
const ok = Number(check.rows) === expected && Number(check.seqs) === expected && Number(check.objects) === n &&
  Number(check.failed_runs) === 0;

// first 10% and last 10% of the events; memory and table sizes at the same points
const at = (p) => samples.reduce((best, s) => (Math.abs(s.processed - p) < Math.abs(best.processed - p) ? s : best));
// (a rate over less than one poll of the runs is not one: null)
const rate = (events, secs) => (secs > 0.2 ? events / secs : null);
const first = { events: want[0], seconds: marks[want[0]], per_s: rate(want[0], marks[want[0]]) };
const last = { events: n - want[1], seconds: marks[n] - marks[want[1]], per_s: rate(n - want[1], marks[n] - marks[want[1]]) };
const s10 = at(want[0]), s100 = samples.at(-1);
const total = (s) => Object.values(s.tables).reduce((a, b) => a + b, 0);
const res = {
  events: n, records_per_object: o.records_per_object, seconds: marks[n], events_per_s: n / marks[n],
  throughput_first_10pct: first, throughput_last_10pct: last,
  worker_rss_anon_kb: { start: samples[0].worker_rss_anon_kb, at_10pct: s10.worker_rss_anon_kb, end: s100.worker_rss_anon_kb,
    max: Math.max(...samples.map((s) => s.worker_rss_anon_kb)) },
  pipeline_tables_bytes: { at_10pct: s10.tables, end: s100.tables, total_at_10pct: total(s10), total_end: total(s100) },
  answer: { rows: Number(check.rows), distinct_records: Number(check.seqs), objects: Number(check.objects), expected_rows: expected,
    runs: Number(check.runs), failed_runs: Number(check.failed_runs), ok },
  table_stats_end: vacuum, loadavg_start: samples[0].loadavg, loadavg_end: s100.loadavg, settings,
};
record("soak", "soak", res);
const git = execSync("git rev-parse --short HEAD; git status --porcelain src | wc -l").toString().trim().split("\n");
writeFileSync(o.out, JSON.stringify({
  host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30) },
  measured_at: new Date().toISOString(), git, options: o, result: res, samples,
}, null, 1) + "\n");

const kb = (x) => `${(x / 1024).toFixed(1)} MB`;
const mb = (x) => `${(x / 1048576).toFixed(1)} MB`;
table(`Soak: ${n} events through the worker (${o.records_per_object} records each), ${fmtS(res.seconds)}, load ${res.loadavg_start} -> ${res.loadavg_end}`,
  ["", "first 10%", "last 10%"],
  [["events/s", first.per_s?.toFixed(1) ?? "-", last.per_s?.toFixed(1) ?? "-"],
   ["worker RssAnon", kb(s10.worker_rss_anon_kb), kb(s100.worker_rss_anon_kb)],
   ["pipeline.* tables", mb(total(s10)), mb(total(s100))],
   ...Object.keys(s100.tables).filter((k) => s100.tables[k] > 65536 || (s10.tables[k] ?? 0) > 65536)
     .map((k) => [`  pipeline.${k}`, mb(s10.tables[k] ?? 0), mb(s100.tables[k])])]);
console.log(`answer: ${check.rows} rows of ${expected}, ${check.seqs} distinct records, ${check.objects} objects, ` +
  `${check.runs} runs, ${check.failed_runs} failed: ${ok ? "ok" : "WRONG"}`);
await db.end();
{
  const c = await connect("postgres");
  await c.query(`ALTER SYSTEM RESET autovacuum`);
  await c.query(`SELECT pg_reload_conf()`);
  await c.end();
}
if (!ok) process.exitCode = 1;
