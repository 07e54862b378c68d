// test/chaos/chaos.mjs
//	The chaos test of issue 9: for a while, Firehose-like objects arrive in
//	batches under a prefix watched by reports while the reports fail at
//	random, the emulator injects faults into S3 and SQS, and the worker is
//	killed with kill -9 now and then.  Then everything stops, the pipeline
//	drains, and the result is checked: every object processed exactly once
//	by every report (or dead-lettered once, for the objects made bad), no
//	event lost, every export completed once, by a committed run, and taken
//	by the second tier once, and the worker's memory flat.  Prints the
//	figures; exits 1 on any violation.
//
//	tools/node/node test/chaos/chaos.mjs SECONDS    (run by test/chaos/run)
//
//	The pipeline under test:
//	  raw/n/...  objects announced by S3 (one event each)
//	  raw/b/...  objects announced by us, up to ten records in one message
//	  rows      (append)  every record of the new objects      -> rows_t
//	  summary   (replace) one line per new object, exported     -> processed/summary/
//	  tier2     (append)  the lines of each new export          -> tier2_t
//	  chained   (append, after rows) the row count of rows_t    -> chained_t
//	Every report calls flaky() once per run (an InitPlan), which raises with
//	probability chaos_knobs.p.
import { randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import {
  sql, waitFor, createDatabase, createBucket, createQueue, queueUrl, queueArn, queueDepth,
  s3, s3sdk, sqs, sqssdk, emulator,
} from "../e2e/lib.mjs";

const seconds = Number(process.argv[2] ?? process.env.CHAOS_SECONDS ?? 600);
if (!(seconds >= 20)) throw new Error(`chaos: a duration of at least 20 seconds, not ${process.argv[2]}`);
const db = "chaos";
const bucket = `chaos-${process.pid}`;
const queue = "chaos-q";
const reports = ["rows", "summary"];		// the reports of raw objects
const objectTarget = Math.round(seconds * 5);	// objects to put
// (to look into one cause at a time: CHAOS_KILLS=0, CHAOS_FAULTS=0, CHAOS_FAILURE_P=0)
const kills = Number(process.env.CHAOS_KILLS ?? (seconds >= 300 ? 4 : 2));
const injectFaults = process.env.CHAOS_FAULTS !== "0";
const failureProbability = Number(process.env.CHAOS_FAILURE_P ?? 0.1);
const drainLimit = 300;					// seconds
const t0 = Date.now();
const at = () => (Date.now() - t0) / 1000;
const log = (...a) => console.log(`[${at().toFixed(1).padStart(6)}s]`, ...a);
const pick = (xs) => xs[randomInt(xs.length)];
const uri = (key) => `s3://${bucket}/${key}`;

/** SQL that survives the crash restarts kill -9 causes: retried while the server comes back. */
async function q(text, params = [], { database = db, within = 120000 } = {}) {
  const end = Date.now() + within;
  for (;;) {
    try {
      return await sql(database, text, params);
    } catch (e) {
      const transient = /ECONNREFUSED|ECONNRESET|ENOENT|terminating connection|recovery mode|starting up|shutting down|Connection terminated|server closed the connection|the database system is/.test(String(e.message) + String(e.code));
      if (!transient || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function workerPid() {
  const r = await q(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'pipeline worker' AND datname = $1`,
    [db], { database: "postgres" });
  return r[0]?.pid ?? null;
}

// ----------------------------------------------------------------
// Set-up
// ----------------------------------------------------------------

async function setup() {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue(queue);
  const arn = await queueArn(queue);
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: {
      QueueConfigurations: ["raw/n/", "processed/summary/"].map((prefix) => ({
        QueueArn: arn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: prefix }] } },
      })),
    },
  }));
  const retries = `max_attempts => 8, retry_delay => '0.25 seconds'`;
  await q(`
    CREATE TABLE chaos_knobs (p float8 NOT NULL);
    INSERT INTO chaos_knobs VALUES (0);
    CREATE FUNCTION flaky(report text) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      IF random() < (SELECT p FROM chaos_knobs) THEN
        RAISE EXCEPTION 'chaos: report % failed at random', report;
      END IF;
      RETURN true;
    END $$;
    CREATE FOREIGN TABLE ping (device_id text, battery float8, ts timestamptz, seq bigint,
                               src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/raw/');
    CREATE FOREIGN TABLE summary_files (src text, records bigint, max_battery float8,
                                        export text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/processed/summary/');
    SELECT pipeline.create_report(name => 'rows', source => 's3://${bucket}/raw/',
      query => $$SELECT src, seq, device_id, battery, ts FROM ping
                 WHERE src = ANY (pipeline.trigger_uris()) AND (SELECT flaky('rows'))$$,
      target => 'rows_t', mode => 'append', ${retries});
    SELECT pipeline.create_report(name => 'summary', source => 's3://${bucket}/raw/',
      query => $$SELECT src, count(*) AS records, max(battery) AS max_battery FROM ping
                 WHERE src = ANY (pipeline.trigger_uris()) AND (SELECT flaky('summary')) GROUP BY src$$,
      target => 'summary_t', mode => 'replace', export => 's3://${bucket}/processed/summary/', ${retries});
    SELECT pipeline.create_report(name => 'tier2', source => 's3://${bucket}/processed/summary/',
      query => $$SELECT export, src, records FROM summary_files
                 WHERE export = ANY (pipeline.trigger_uris()) AND (SELECT flaky('tier2'))$$,
      target => 'tier2_t', mode => 'append', ${retries});
    SELECT pipeline.create_report(name => 'chained', after => 'rows',
      query => $$SELECT count(*) AS n, now() AS at FROM rows_t WHERE (SELECT flaky('chained'))$$,
      target => 'chained_t', mode => 'append', ${retries});`);
  await q(`SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl(queue)]);
  await waitFor("the worker to poll the queue and drain the test event", async () =>
    (await q(`SELECT state FROM pipeline.status WHERE queue = 'q'`))[0]?.state === "polling" &&
    (await queueDepth(queue)) === 0, 60000, 250);
  await q(`UPDATE chaos_knobs SET p = $1`, [failureProbability]);
  // the set-up survives the crashes to come (the test cluster commits asynchronously)
  await q(`CHECKPOINT`);
}

// ----------------------------------------------------------------
// Arrivals: Firehose-like gzip JSON objects, some made bad
// ----------------------------------------------------------------

const objects = [];	// { key, uri, bad, records: n, firstSeq }
let nextSeq = 1;
let objectNo = 0;

function makeObject(prefix) {
  const n = 5 + randomInt(36);
  const no = objectNo++;
  const roll = Math.random();
  // 3% carry a record whose battery is not a number, 1% are cut-off gzip
  const bad = roll < 0.03 ? "value" : roll < 0.04 ? "gzip" : null;
  const badAt = randomInt(n);
  const firstSeq = nextSeq;
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({
      device_id: `dev-${randomInt(50)}`,
      battery: bad === "value" && i === badAt ? "n/a" : Math.round(Math.random() * 1000) / 10,
      ts: new Date(Date.now() - randomInt(3600000)).toISOString(),
      seq: nextSeq++,
    }));
  }
  let body = gzipSync(Buffer.from(lines.join("\n") + "\n"));
  if (bad === "gzip") body = body.subarray(0, Math.floor(body.length / 2));
  const d = new Date();
  const key = `${prefix}${d.toISOString().slice(0, 13).replace(/[-T]/g, "/")}/chaos-${no}-${randomBytes(4).toString("hex")}.json.gz`;
  return { key, uri: uri(key), bad, records: n, firstSeq, body };
}

async function putObject(o) {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await s3.send(new s3sdk.PutObjectCommand({
        Bucket: bucket, Key: o.key, Body: o.body, ContentType: "application/octet-stream",
      }));
      o.etag = r.ETag.replace(/"/g, "");
      delete o.body;
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** One Firehose flush: a few objects; half the time S3 announces them, else one message of ours does. */
async function batch(size) {
  const announced = Math.random() < 0.5;
  const batchObjects = [];
  for (let i = 0; i < size; i++) batchObjects.push(makeObject(announced ? "raw/n/" : "raw/b/"));
  await Promise.all(batchObjects.map(putObject));
  objects.push(...batchObjects);
  if (!announced) {
    for (let i = 0; i < batchObjects.length; i += 10) {
      const records = batchObjects.slice(i, i + 10).map((o) => ({
        eventVersion: "2.1", eventSource: "aws:s3", awsRegion: "us-east-1",
        eventTime: new Date().toISOString(), eventName: "ObjectCreated:Put",
        s3: { s3SchemaVersion: "1.0", bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
              object: { key: o.key, size: 1, eTag: o.etag, sequencer: randomBytes(9).toString("hex").toUpperCase() } },
      }));
      await sqs.send(new sqssdk.SendMessageCommand({ QueueUrl: queueUrl(queue), MessageBody: JSON.stringify({ Records: records }) }));
    }
  }
}

async function arrivals(until) {
  const rate = objectTarget / (until - at());
  while (at() < until && objects.length < objectTarget) {
    const interval = 0.5 + Math.random() * 2;
    const size = Math.max(1, Math.min(objectTarget - objects.length, Math.round(rate * interval * (0.5 + Math.random()))));
    const started = Date.now();
    await batch(size);
    const wait = interval * 1000 - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

// ----------------------------------------------------------------
// Faults: the emulator's fault routes, scoped to the worker's requests
// ----------------------------------------------------------------

// (big: more than pipeline.s3_max_retries (5) in a row, so that the run fails)
const faultKinds = [
  { kind: "s3 GET 503", big: true, spec: { service: "s3", method: "GET", path_prefix: `/${bucket}/raw/`, action: "status", status: 503, code: "SlowDown" } },
  { kind: "s3 GET 500", big: true, spec: { service: "s3", method: "GET", path_prefix: `/${bucket}/`, action: "status", status: 500, code: "InternalError" } },
  { kind: "s3 GET reset", big: true, spec: { service: "s3", method: "GET", path_prefix: `/${bucket}/`, action: "reset" } },
  { kind: "s3 GET truncated", spec: { service: "s3", method: "GET", path_prefix: `/${bucket}/raw/`, action: "truncate" } },
  { kind: "s3 GET slow", spec: { service: "s3", method: "GET", path_prefix: `/${bucket}/raw/`, action: "slow", bytes_per_second: 2000 } },
  { kind: "s3 export PUT 500", big: true, spec: { service: "s3", method: "PUT", path_prefix: `/${bucket}/processed/`, action: "status", status: 500, code: "InternalError" } },
  { kind: "s3 export POST 503", big: true, spec: { service: "s3", method: "POST", path_prefix: `/${bucket}/processed/`, action: "status", status: 503, code: "SlowDown" } },
  { kind: "s3 export POST reset", spec: { service: "s3", method: "POST", path_prefix: `/${bucket}/processed/`, action: "reset" } },
  { kind: "sqs ReceiveMessage 500", spec: { service: "sqs", target: "ReceiveMessage", action: "status", status: 500, code: "InternalError" } },
  { kind: "sqs ReceiveMessage reset", spec: { service: "sqs", target: "ReceiveMessage", action: "reset" } },
  { kind: "sqs ReceiveMessage slow", spec: { service: "sqs", target: "ReceiveMessage", action: "slow", bytes_per_second: 4000 } },
  { kind: "sqs DeleteMessageBatch 500", spec: { service: "sqs", target: "DeleteMessageBatch", action: "status", status: 500, code: "InternalError" } },
  { kind: "sqs DeleteMessageBatch reset", spec: { service: "sqs", target: "DeleteMessageBatch", action: "reset" } },
];
const added = new Map();	// fault id -> { kind, count }
const fired = {};			// kind -> requests that got the fault

/** Count what the faults added so far did; returns the faults still waiting for requests. */
async function tallyFaults() {
  const list = await emulator("GET", "/_emulator/faults");
  const live = new Map(list.map((f) => [f.id, f.fired]));
  for (const [id, f] of added) {
    const n = live.has(id) ? live.get(id) : f.count;
    fired[f.kind] = (fired[f.kind] ?? 0) - (f.counted ?? 0) + n;
    f.counted = n;
    if (!live.has(id)) added.delete(id);
  }
  return list;
}

async function faults(until) {
  while (at() < until) {
    await new Promise((res) => setTimeout(res, 500 + randomInt(1500)));
    // a new fault once the worker has met the last ones: faults follow the traffic
    if ((await tallyFaults()).length >= 2) continue;
    const f = pick(faultKinds);
    // mostly what retries absorb; now and then more than they do
    const count = f.big && Math.random() < 0.2 ? 7 : 1 + randomInt(3);
    const r = await emulator("POST", "/_emulator/faults", { ...f.spec, count });
    added.set(r.id, { kind: f.kind, count });
  }
}

// ----------------------------------------------------------------
// kill -9, and the worker's memory
// ----------------------------------------------------------------

const killTimes = [];
const rss = [];		// { t, pid, vmRss, rssAnon } (kB)

async function killer(from) {
  // in the first half, so that the last worker lives long enough to have its memory watched
  const slots = Array.from({ length: kills }, (_, i) => from + seconds * (0.1 + (0.45 * (i + Math.random())) / kills));
  for (const when of slots) {
    while (at() < when) await new Promise((r) => setTimeout(r, 200));
    const pid = await workerPid();
    if (!pid) continue;
    process.kill(pid, "SIGKILL");
    killTimes.push(at());
    log(`kill -9 of the worker (pid ${pid})`);
    await waitFor("the server to take connections again", async () => (await q("SELECT 1")).length === 1, 120000, 250);
  }
}

let sampling = true;
async function sampler() {
  const every = seconds >= 300 ? 2000 : 1000;
  while (sampling) {
    try {
      const pid = await workerPid();
      if (pid) {
        const st = readFileSync(`/proc/${pid}/status`, "utf8");
        const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(st)?.[1]);
        rss.push({ t: at(), pid, vmRss: kb("VmRSS"), rssAnon: kb("RssAnon") });
      }
    } catch { /* between workers */ }
    await new Promise((r) => setTimeout(r, every));
  }
}

// ----------------------------------------------------------------
// Drain and check
// ----------------------------------------------------------------

async function drained() {
  const [s] = await q(`
    SELECT (SELECT count(*) FROM pipeline.tasks)::int AS tasks,
           (SELECT count(*) FROM pipeline.exports WHERE state = 'pending')::int AS exports,
           (SELECT count(DISTINCT (report, key)) FROM pipeline.processed
             WHERE report IN ('rows', 'summary'))::int AS processed,
           (SELECT count(DISTINCT (report, object)) FROM pipeline.dead_letters
             WHERE report IN ('rows', 'summary'))::int AS dead,
           (SELECT count(*) FROM pipeline.exports e WHERE e.report = 'summary' AND e.state = 'completed'
              AND NOT EXISTS (SELECT 1 FROM pipeline.processed p WHERE p.report = 'tier2'
                              AND p.bucket = e.bucket AND p.key = e.key))::int AS untaken`);
  const depth = await queueDepth(queue);
  const done = s.tasks === 0 && s.exports === 0 && depth === 0 && s.untaken === 0 &&
    s.processed + s.dead >= objects.length * reports.length;
  return done ? true : { ...s, depth };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

async function listAll(prefix) {
  const keys = [];
  let token;
  do {
    const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) keys.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function check(figures) {
  const violations = [];
  const fail = (what, examples = []) => violations.push(`${what}${examples.length ? `: ${examples.slice(0, 5).join("; ")}` : ""}`);
  const byUri = new Map(objects.map((o) => [o.uri, o]));
  const good = objects.filter((o) => !o.bad);
  const bad = objects.filter((o) => o.bad);

  const runs = await q(`SELECT id, report, trigger, status, trigger_uris, export_uri FROM pipeline.runs`);
  const succeeded = runs.filter((r) => r.status === "succeeded");
  const dead = await q(`SELECT report, object, body, reason FROM pipeline.dead_letters`);
  let lost = 0;
  let duplicated = 0;

  // every object and report: one successful run, or (bad objects) one dead letter
  for (const report of reports) {
    const covered = new Map();
    for (const r of succeeded.filter((x) => x.report === report)) {
      for (const u of r.trigger_uris) covered.set(u, (covered.get(u) ?? 0) + 1);
    }
    const deadOf = new Map();
    for (const d of dead.filter((x) => x.report === report)) deadOf.set(d.object, (deadOf.get(d.object) ?? 0) + 1);
    const missing = good.filter((o) => !covered.has(o.uri)).map((o) => o.uri);
    const twice = good.filter((o) => covered.get(o.uri) > 1).map((o) => `${o.uri} x${covered.get(o.uri)}`);
    const badRan = bad.filter((o) => covered.has(o.uri)).map((o) => o.uri);
    const badNotDead = bad.filter((o) => !deadOf.has(o.uri)).map((o) => o.uri);
    const badDeadTwice = bad.filter((o) => deadOf.get(o.uri) > 1).map((o) => `${o.uri} x${deadOf.get(o.uri)}`);
    const goodDead = good.filter((o) => deadOf.has(o.uri)).map((o) => o.uri);
    const strangers = [...covered.keys()].filter((u) => !byUri.has(u));
    if (missing.length) fail(`${report}: ${missing.length} good objects never processed (lost)`, missing);
    if (twice.length) fail(`${report}: ${twice.length} good objects processed more than once`, twice);
    if (badRan.length) fail(`${report}: ${badRan.length} bad objects had a successful run`, badRan);
    if (badNotDead.length) fail(`${report}: ${badNotDead.length} bad objects without a dead letter (lost)`, badNotDead);
    if (badDeadTwice.length) fail(`${report}: ${badDeadTwice.length} bad objects dead-lettered more than once`, badDeadTwice);
    if (goodDead.length) fail(`${report}: ${goodDead.length} good objects dead-lettered`, goodDead);
    if (strangers.length) fail(`${report}: runs of objects never put`, strangers);
    lost += missing.length + badNotDead.length;
    duplicated += twice.reduce((n, x) => n + Number(x.split(" x")[1]) - 1, 0) +
      badDeadTwice.reduce((n, x) => n + Number(x.split(" x")[1]) - 1, 0);
  }
  const otherDead = dead.filter((d) => !reports.includes(d.report));
  if (otherDead.length) fail(`${otherDead.length} unexpected dead letters`, otherDead.map((d) => `${d.report ?? d.body.slice(0, 60)}: ${d.reason}`));

  // rows_t: the records of each good object exactly once, nothing of bad ones
  const rowsT = await q(`SELECT src, count(*)::int AS n, count(DISTINCT seq)::int AS d, min(seq)::bigint AS lo FROM rows_t GROUP BY src`);
  const rowsBy = new Map(rowsT.map((r) => [r.src, r]));
  const wrongRows = good.filter((o) => { const r = rowsBy.get(o.uri); return !r || r.n !== o.records || r.d !== o.records || Number(r.lo) !== o.firstSeq; })
    .map((o) => `${o.uri}: ${JSON.stringify(rowsBy.get(o.uri) ?? null)} for ${o.records} records`);
  if (wrongRows.length) fail(`rows_t: ${wrongRows.length} objects without their records exactly once`, wrongRows);
  duplicated += rowsT.reduce((n, r) => n + Math.max(0, r.n - r.d), 0);
  const badRows = bad.filter((o) => rowsBy.has(o.uri)).map((o) => o.uri);
  if (badRows.length) fail(`rows_t: rows of bad objects`, badRows);

  // exports: each completed once, by a committed run; no object without one; no upload left
  const exports = await q(`SELECT id, run_id, key, state, rows::int, upload_id, created_at FROM pipeline.exports WHERE report = 'summary'`);
  const notCompleted = exports.filter((e) => e.state !== "completed").map((e) => `${e.key}: ${e.state}`);
  if (notCompleted.length) fail(`${notCompleted.length} exports not completed`, notCompleted);
  const runById = new Map(runs.map((r) => [String(r.id), r]));
  const uncommitted = exports.filter((e) => { const r = runById.get(String(e.run_id)); return !r || r.status !== "succeeded" || r.export_uri !== uri(e.key); })
    .map((e) => `${e.key} (run ${e.run_id})`);
  if (uncommitted.length) fail(`${uncommitted.length} exports of no committed run`, uncommitted);
  const keyCount = new Map();
  for (const e of exports) keyCount.set(e.key, (keyCount.get(e.key) ?? 0) + 1);
  const twiceExported = [...keyCount].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`);
  if (twiceExported.length) fail(`${twiceExported.length} export keys written more than once`, twiceExported);
  duplicated += [...keyCount.values()].reduce((n, c) => n + c - 1, 0);
  const exportKeys = new Set(exports.map((e) => e.key));
  const inS3 = await listAll("processed/summary/");
  const orphans = inS3.filter((k) => !exportKeys.has(k));
  if (orphans.length) fail(`${orphans.length} objects in processed/summary/ that no committed run exported (orphans)`, orphans);
  const absent = [...exportKeys].filter((k) => !inS3.includes(k));
  if (absent.length) fail(`${absent.length} completed exports not in S3`, absent);
  const uploads = (await s3.send(new s3sdk.ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
  // a run killed with the worker leaves its staged upload to S3's lifecycle rule (outbox.c):
  // expected only for an upload begun shortly before a kill
  const killedAt = killTimes.map((s) => t0 + s * 1000);
  const explained = (u) => killedAt.some((k) => u.Initiated.getTime() <= k + 1000 && u.Initiated.getTime() >= k - 60000);
  const leftUnexplained = uploads.filter((u) => !explained(u)).map((u) => `${u.Key} (${u.Initiated.toISOString()})`);
  if (leftUnexplained.length) fail(`${leftUnexplained.length} multipart uploads left, not begun by a killed run`, leftUnexplained);
  figures.uploadsLeftByKilledRuns = uploads.length - leftUnexplained.length;

  // the second tier: each export taken once, all its lines once
  const t2runs = succeeded.filter((r) => r.report === "tier2");
  const t2cover = new Map();
  for (const r of t2runs) for (const u of r.trigger_uris) t2cover.set(u, (t2cover.get(u) ?? 0) + 1);
  const t2missing = exports.filter((e) => !t2cover.has(uri(e.key))).map((e) => e.key);
  const t2twice = exports.filter((e) => t2cover.get(uri(e.key)) > 1).map((e) => `${e.key} x${t2cover.get(uri(e.key))}`);
  if (t2missing.length) fail(`tier2: ${t2missing.length} exports never taken`, t2missing);
  if (t2twice.length) fail(`tier2: ${t2twice.length} exports taken more than once`, t2twice);
  lost += t2missing.length;
  duplicated += t2twice.reduce((n, x) => n + Number(x.split(" x")[1]) - 1, 0);
  const tier2 = await q(`SELECT export, src, count(*)::int AS n, sum(records)::int AS records FROM tier2_t GROUP BY export, src`);
  const t2lines = new Map();
  for (const r of tier2) t2lines.set(r.export, (t2lines.get(r.export) ?? 0) + r.n);
  const wrongLines = exports.filter((e) => t2lines.get(uri(e.key)) !== e.rows).map((e) => `${e.key}: ${t2lines.get(uri(e.key))} lines of ${e.rows}`);
  if (wrongLines.length) fail(`tier2_t: ${wrongLines.length} exports whose lines are not there exactly once`, wrongLines);
  const perRaw = new Map();
  for (const r of tier2) perRaw.set(r.src, { n: (perRaw.get(r.src)?.n ?? 0) + r.n, records: r.records });
  const t2raw = good.filter((o) => perRaw.get(o.uri)?.n !== 1 || perRaw.get(o.uri)?.records !== o.records)
    .map((o) => `${o.uri}: ${JSON.stringify(perRaw.get(o.uri) ?? null)}`);
  if (t2raw.length) fail(`tier2_t: ${t2raw.length} good objects not summarized exactly once through the exports`, t2raw);

  // the chained report: its last run saw every row, nothing of it waits
  const lastChained = (await q(`SELECT n::int FROM chained_t ORDER BY at DESC, n DESC LIMIT 1`))[0];
  const totalRows = (await q(`SELECT count(*)::int AS n FROM rows_t`))[0].n;
  if (!lastChained || lastChained.n !== totalRows) fail(`chained: its last run saw ${lastChained?.n} rows of ${totalRows}`);
  const chainedRuns = runs.filter((r) => r.report === "chained");
  figures.chainedRuns = `${chainedRuns.filter((r) => r.status === "succeeded").length} succeeded, ${chainedRuns.filter((r) => r.status === "failed").length} failed`;

  const leftovers = (await q(`SELECT (SELECT count(*) FROM pipeline.tasks)::int AS tasks,
                                     (SELECT count(*) FROM pipeline.unmatched)::int AS unmatched`))[0];
  if (leftovers.tasks) fail(`${leftovers.tasks} tasks left`);
  if (leftovers.unmatched) fail(`${leftovers.unmatched} unmatched objects`);

  figures.lost = lost;
  figures.duplicated = duplicated;
  figures.runs = `${succeeded.length} succeeded, ${runs.filter((r) => r.status === "failed").length} failed`;
  figures.exports = exports.length;
  figures.deadLetters = dead.length;
  return violations;
}

// ----------------------------------------------------------------

async function main() {
  log(`chaos for ${seconds} s: ${objectTarget} objects, ${kills} kills, reports failing with p = ${failureProbability}`);
  await setup();
  const tChaos = at();
  const samplerDone = sampler();
  const chaosEnd = tChaos + seconds;
  const arriving = arrivals(chaosEnd);
  const faulting = injectFaults ? faults(chaosEnd) : Promise.resolve();
  const killing = killer(tChaos);
  await arriving;
  log(`${objects.length} objects put (${objects.filter((o) => o.bad).length} bad)`);
  await killing;
  await faulting;
  while (at() < chaosEnd) await new Promise((r) => setTimeout(r, 200));
  // everything stops: faults, random failures
  await tallyFaults();
  await emulator("DELETE", "/_emulator/faults");
  await q(`UPDATE chaos_knobs SET p = 0`);
  const lastFault = at();
  log("chaos over; draining");
  let state;
  const drainEnd = Date.now() + drainLimit * 1000;
  for (;;) {
    state = await drained();
    if (state === true || Date.now() > drainEnd) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const drainTime = at() - lastFault;
  sampling = false;
  await samplerDone;

  const figures = {};
  const violations = state === true ? [] : [`not drained after ${drainLimit} s: ${JSON.stringify(state)}`];
  violations.push(...await check(figures));

  // memory: the last worker (started after the last kill), after a warm-up, start window against end window
  const lastPid = rss.at(-1)?.pid;
  const mine = rss.filter((s) => s.pid === lastPid);
  const warm = mine.filter((s) => s.t >= mine[0].t + Math.min(30, (mine.at(-1).t - mine[0].t) / 4));
  const w = Math.max(3, Math.floor(warm.length / 5));
  const startW = warm.slice(0, w);
  const endW = warm.slice(-w);
  const mem = {
    vmStart: median(startW.map((s) => s.vmRss)), vmEnd: median(endW.map((s) => s.vmRss)),
    anonStart: median(startW.map((s) => s.rssAnon)), anonEnd: median(endW.map((s) => s.rssAnon)),
  };
  // VmRSS also counts the shared buffers the worker has touched so far (RssShmem), which
  // grows towards shared_buffers without any leak: the process's own memory is RssAnon
  const growth = mem.anonEnd - mem.anonStart;
  const flat = warm.length >= 6 && growth <= Math.max(8192, mem.anonStart * 0.2);
  if (!flat) violations.push(`worker memory not flat: RssAnon ${mem.anonStart} kB -> ${mem.anonEnd} kB over ${warm.length} samples`);

  const counters = (await q(`SELECT * FROM pipeline.status WHERE queue = 'q'`))[0];
  const totalFaults = Object.values(fired).reduce((a, b) => a + b, 0);
  console.log("");
  console.log("== chaos figures");
  console.log(`duration of the chaos          ${seconds} s`);
  console.log(`objects                        ${objects.length} (${objects.reduce((n, o) => n + o.records, 0)} records), ` +
    `${objects.filter((o) => o.key.startsWith("raw/n/")).length} announced by S3, ${objects.filter((o) => o.key.startsWith("raw/b/")).length} in messages of several records`);
  console.log(`bad objects                    ${objects.filter((o) => o.bad).length} (${objects.filter((o) => o.bad === "value").length} bad value, ${objects.filter((o) => o.bad === "gzip").length} cut-off gzip)`);
  console.log(`reports failing at random      p = ${failureProbability} per run`);
  console.log(`faults injected                ${totalFaults}`);
  for (const k of faultKinds.map((f) => f.kind)) if (fired[k]) console.log(`  ${k.padEnd(28)} ${fired[k]}`);
  console.log(`kill -9 of the worker          ${killTimes.length} (at ${killTimes.map((t) => `${(t - tChaos).toFixed(0)} s`).join(", ")})`);
  console.log(`messages                       ${counters.received} received, ${counters.redelivered} redelivered, ${counters.objects} objects`);
  console.log(`runs                           ${figures.runs}; chained: ${figures.chainedRuns}`);
  console.log(`exports                        ${figures.exports} completed; multipart uploads left by killed runs: ${figures.uploadsLeftByKilledRuns}`);
  console.log(`dead letters                   ${figures.deadLetters}`);
  console.log(`lost                           ${figures.lost}`);
  console.log(`duplicated                     ${figures.duplicated}`);
  console.log(`time to drain after the last fault  ${drainTime.toFixed(1)} s`);
  console.log(`worker RSS (pid ${lastPid}, ${warm.length} samples after warm-up)`);
  console.log(`  VmRSS   start ${mem.vmStart} kB, end ${mem.vmEnd} kB`);
  console.log(`  RssAnon start ${mem.anonStart} kB, end ${mem.anonEnd} kB (${growth >= 0 ? "+" : ""}${growth} kB): ${flat ? "flat" : "NOT FLAT"}`);
  if (violations.length) {
    console.log(`\n== ${violations.length} violations`);
    for (const v of violations) console.log(`- ${v}`);
    process.exit(1);
  }
  console.log("\n== chaos: no violation");
}

main().catch((e) => {
  console.error(`chaos: ${e.stack ?? e}`);
  process.exit(2);
});
