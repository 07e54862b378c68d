// bench/worker.mjs --latency-objects N --objects N --records-per-object N --concurrency N
//	The worker: S3 PUT -> S3 event -> SQS -> the database's pipeline worker
//	-> an incremental report (mode append, reading only the triggering
//	objects) -> committed run, announced by NOTIFY pipeline_runs.
//	  latency:    objects PUT one at a time, one every 50-100 ms; for each,
//	              time from the PUT's completion to the NOTIFY of the run
//	              that processed it (runs mapped to objects through
//	              pipeline.runs.trigger_uris)
//	  throughput: objects PUT as fast as possible (CONCURRENCY at a time),
//	              time from the first PUT until every object's run committed
import { gzipSync } from "node:zlib";
import {
  connect, s3, s3sdk, sqs, sqssdk, endpoint, now, sleep, quantile, record, table, options, fmtS, fmtRate,
} from "./lib.mjs";

const o = options(process.argv.slice(2), {
  latency_objects: 200, objects: 2000, records_per_object: 100, concurrency: 32, only: "latency,throughput",
  db: "bench_worker",
});
const only = new Set(String(o.only).split(","));
const bucket = "bench-worker";
const queue = "bench-events";
const port = new URL(endpoint).port;
const queueUrl = `http://sqs.us-east-1.localhost:${port}/000000000000/${queue}`;
const backlogQueue = "bench-backlog";
const backlogUrl = `http://sqs.us-east-1.localhost:${port}/000000000000/${backlogQueue}`;

// ---- setup: a database with the extension, S3 -> SQS notifications, the report
{
  const c = await connect("postgres");
  await c.query(`DROP DATABASE IF EXISTS ${o.db} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${o.db}`);
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
  CREATE FOREIGN TABLE deviceping (device_id text, ts timestamptz, battery float8, src text OPTIONS (metadata 'uri'))
    SERVER lake OPTIONS (uri 's3://${bucket}/in/');
  SELECT pipeline.create_report(name => 'incremental', source => 's3://${bucket}/in/',
    query => $$SELECT device_id, ts, battery, src FROM deviceping WHERE src = ANY (pipeline.trigger_uris())$$,
    target => 'public.incremental', mode => 'append');
  SELECT pipeline.add_queue('${queue}', '${queueUrl}', 'lake');`);
const settings = Object.fromEntries((await db.query(`SELECT name, setting FROM pg_settings WHERE name IN
  ('fsync','synchronous_commit','full_page_writes','pipeline.poll_wait','pipeline.visibility_timeout')`)).rows.map((r) => [r.name, r.setting]));

async function waitFor(what, fn, timeoutS = 60) {
  const end = now() + timeoutS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const depth = async (url = queueUrl) => {
  const a = (await sqs.send(new sqssdk.GetQueueAttributesCommand({ QueueUrl: url,
    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes;
  return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
};
await waitFor("the worker", async () => (await db.query(
  `SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = $1`, [o.db])).rowCount > 0);
await waitFor("the s3:TestEvent to be consumed", async () => (await depth()) === 0);

// deterministic bodies: 100 records of the benchmark's shape, gzip
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
function body(n, tag) {
  let s = "";
  for (let i = 0; i < o.records_per_object; i++) {
    s += `{"device_id":"therm-${String(Math.floor(rnd() * 10000)).padStart(6, "0")}",` +
      `"ts":"2026-11-25T${String(i % 24).padStart(2, "0")}:00:00.${String(n % 1000).padStart(3, "0")}Z",` +
      `"battery":${Math.floor(rnd() * 101)},"voltage":3.7,"temp_c":21.5,"rssi":-70,"firmware":"v1.4.2",` +
      `"status":"ok","tags":["${tag}","zone-1"],"loc":{"lat":52.52,"lon":13.40},"seq":${n * 1000 + i}}\n`;
  }
  return gzipSync(s);
}
const put = (key, b) => s3.send(new s3sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: b, ContentType: "application/gzip" }));

// NOTIFY pipeline_runs: the run's id; the rest from pipeline.runs
const listener = await connect(o.db);
const details = await connect(o.db);
const notes = [];
let onNote = () => {};
listener.on("notification", async (n) => {
  if (n.channel !== "pipeline_runs") return;
  const t = now();
  const r = (await details.query(`SELECT id, report, status, objects, rows FROM pipeline.runs WHERE id = $1`,
    [n.payload])).rows[0];
  notes.push({ t, ...r });
  onNote();
});
await listener.query("LISTEN pipeline_runs");
const summary = [];

if (only.has("latency")) {
  console.error(`worker latency: ${o.latency_objects} objects PUT one at a time, one every 50-100 ms`);
  const putDone = new Map(); // uri -> time the PUT completed
  const putStart = new Map();
  const first = notes.length;
  const bodies = Array.from({ length: o.latency_objects }, (_, i) => body(i, "latency"));
  for (let i = 0; i < o.latency_objects; i++) {
    const key = `in/lat/${String(i).padStart(5, "0")}.json.gz`;
    const t0 = now();
    await put(key, bodies[i]);
    putDone.set(`s3://${bucket}/${key}`, now());
    putStart.set(`s3://${bucket}/${key}`, t0);
    await sleep(Math.max(0, 50 + rnd() * 50 - (now() - t0) * 1000));
  }
  const runsOf = async () => (await db.query(
    `SELECT id, trigger_uris, status, extract(epoch FROM finished_at - started_at) AS run_s
       FROM pipeline.runs WHERE report = 'incremental' AND id = ANY ($1)`, [notes.slice(first).map((n) => n.id)])).rows;
  await waitFor("every latency object's run", async () =>
    (await runsOf()).reduce((k, r) => k + r.trigger_uris.filter((u) => putDone.has(u)).length, 0) >= putDone.size, 60);
  const noteAt = new Map(notes.slice(first).map((n) => [Number(n.id), n.t]));
  const lat = [], latStart = [], runS = [];
  let failed = 0;
  const runs = await runsOf();
  for (const r of runs) {
    if (r.status !== "succeeded") failed++;
    runS.push(Number(r.run_s));
    for (const u of r.trigger_uris) {
      if (!putDone.has(u)) continue;
      lat.push(noteAt.get(Number(r.id)) - putDone.get(u));
      latStart.push(noteAt.get(Number(r.id)) - putStart.get(u));
    }
  }
  lat.sort((a, b) => a - b);
  latStart.sort((a, b) => a - b);
  runS.sort((a, b) => a - b);
  const res = {
    objects: lat.length, runs: runs.length, failed_runs: failed,
    p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), max: lat.at(-1), min: lat[0],
    from_put_start: { p50: quantile(latStart, 0.5), p90: quantile(latStart, 0.9), p99: quantile(latStart, 0.99), max: latStart.at(-1) },
    run_duration_p50: quantile(runS, 0.5), run_duration_p99: quantile(runS, 0.99),
  };
  record("worker", "latency", { ...res, latencies: lat, settings });
  table(`Worker latency, PUT completed -> run committed (NOTIFY received): ${res.objects} objects, ${res.runs} runs` +
    (failed ? `, ${failed} FAILED` : ""),
    ["", "min", "p50", "p90", "p99", "max", "target"],
    [["PUT -> committed", fmtS(res.min), fmtS(res.p50), fmtS(res.p90), fmtS(res.p99), fmtS(res.max), "p99 < 1s"],
     ["PUT started -> committed", fmtS(latStart[0]), fmtS(res.from_put_start.p50), fmtS(res.from_put_start.p90), fmtS(res.from_put_start.p99), fmtS(res.from_put_start.max), ""],
     ["of which the run itself (finished_at - started_at)", "", fmtS(res.run_duration_p50), "", fmtS(res.run_duration_p99), "", ""]]);
  summary.push(res);
  if (failed || res.objects !== o.latency_objects) {
    console.error(`worker latency: ${failed} failed runs, ${res.objects} of ${o.latency_objects} objects processed`);
    process.exitCode = 1;
  }
}

/**
 * Time n objects through a report, from t0 until the runs announced on
 * NOTIFY have covered them all; start() does the PUTs or whatever starts
 * the flow and returns when it is done (the upload time).
 */
async function throughput(label, report, table_, start) {
  const n = o.objects;
  const first = notes.length;
  const before = Number((await db.query(`SELECT count(*) AS n FROM ${table_}`)).rows[0].n);
  let objects = 0, doneAt = null, timer;
  const allDone = new Promise((resolve, reject) => {
    onNote = () => {
      objects = notes.slice(first).filter((x) => x.report === report && x.status === "succeeded")
        .reduce((k, x) => k + Number(x.objects), 0);
      if (objects >= n && !doneAt) { doneAt = now(); resolve(); }
    };
    timer = setTimeout(() => reject(new Error(`${label}: only ${objects} of ${n} objects processed after 300 s`)), 300000);
  });
  const t0 = now();
  const started = await start();
  await allDone;
  clearTimeout(timer);
  const rows = Number((await db.query(`SELECT count(*) AS n FROM ${table_}`)).rows[0].n) - before;
  const mine = notes.slice(first).filter((x) => x.report === report);
  const res = {
    objects: n, records_per_object: o.records_per_object, rows_in_target: rows, expected_rows: n * o.records_per_object,
    seconds: doneAt - t0, start_seconds: started - t0, objects_per_s: n / (doneAt - t0), rows_per_s: rows / (doneAt - t0),
    runs: mine.length, failed_runs: mine.filter((x) => x.status !== "succeeded").length, objects_per_run: n / mine.length,
  };
  record("worker", `throughput_${label.split(" ")[0]}`, { label, ...res, settings });
  // the answer: every record in the target, once
  if (res.rows_in_target !== res.expected_rows || res.failed_runs) {
    console.error(`worker ${label}: ${res.rows_in_target} rows in the target, ${res.expected_rows} expected; ${res.failed_runs} failed runs`);
    process.exitCode = 1;
  }
  return res;
}

if (only.has("throughput")) {
  const n = o.objects;
  const bodies = Array.from({ length: n }, (_, i) => body(i, "throughput"));
  const putAll = async (prefix) => {
    let next = 0;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await put(`${prefix}${String(i).padStart(6, "0")}.json.gz`, bodies[i]);
      }
    }));
    return now();
  };

  console.error(`worker throughput, PUT-driven: ${n} objects of ${o.records_per_object} records, PUT ${o.concurrency} at a time`);
  const a = await throughput("put-driven", "incremental", "incremental", () => putAll("in/tput/"));

  // the worker alone: the same objects' events already waiting in a queue
  // the worker does not poll yet; the clock starts at add_queue
  console.error(`worker throughput, backlog: ${n} events waiting in a new queue, then add_queue`);
  await db.query(`
    CREATE FOREIGN TABLE deviceping_backlog (device_id text, ts timestamptz, battery float8, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/backlog/');
    SELECT pipeline.create_report(name => 'backlog', source => 's3://${bucket}/backlog/',
      query => $$SELECT device_id, ts, battery, src FROM deviceping_backlog WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'public.backlog', mode => 'append');`);
  await sqs.send(new sqssdk.CreateQueueCommand({ QueueName: backlogQueue }));
  const barn = (await sqs.send(new sqssdk.GetQueueAttributesCommand({ QueueUrl: backlogUrl, AttributeNames: ["QueueArn"] }))).Attributes.QueueArn;
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: { QueueConfigurations: [
      { QueueArn: arn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "in/" }] } } },
      { QueueArn: barn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "backlog/" }] } } },
    ] },
  }));
  await putAll("backlog/");
  await waitFor("the backlog's events", async () => (await depth(backlogUrl)) >= n + 1, 60); // + s3:TestEvent
  const b = await throughput("backlog", "backlog", "backlog", async () => {
    await db.query(`SELECT pipeline.add_queue('${backlogQueue}', '${backlogUrl}', 'lake')`);
    return now();
  });

  const row = (what, f) => [what, f(a), f(b)];
  table(`Worker throughput: ${n} objects x ${o.records_per_object} records through an incremental report (mode append)`,
    ["", `PUT-driven (${o.concurrency} PUTs at a time)`, "backlog (events queued, then add_queue)"],
    [row("objects/s, first PUT (add_queue) -> last run committed", (r) => r.objects_per_s.toFixed(0)),
     row("seconds", (r) => fmtS(r.seconds)),
     row("rows/s into the target", (r) => fmtRate(r.rows_per_s)),
     row("PUTs alone: seconds (objects/s)", (r) => r === a ? `${fmtS(r.start_seconds)} (${(n / r.start_seconds).toFixed(0)}/s)` : "-"),
     row("runs (objects per run)", (r) => `${r.runs} (${r.objects_per_run.toFixed(1)})`),
     row("failed runs", (r) => String(r.failed_runs)),
     row("rows in the target", (r) => `${r.rows_in_target} of ${r.expected_rows}`)]);
  console.log("target: >= 300 objects/s on one worker");
}
console.log(`\n(worker settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(", ")})`);
await listener.end();
await details.end();
await db.end();
