// bench/fleet.mjs --objects N [--configs alone,fleet1,fleet2,fleet3] [--out bench/fleet-results.json]
//	A fleet of 1, 2 and 3 PostgreSQL servers on one queue (README, "Scaling
//	out"): N objects PUT as fast as possible (32 at a time), their events to
//	one SQS queue; time from the first PUT until every object's run committed
//	somewhere.  Configurations: "alone" (one server, no fleet: the baseline),
//	"fleetK" (K servers with pipeline.fleet: every object version claimed in
//	S3).  Server 1 is bench/run's cluster, servers 2 and 3 are clusters
//	started here (test/e2e/fleet_lib.mjs) with the same durability settings.
//	An emulator of its own (tools/node/emulator.mjs --log-file), each server
//	signing with its own access key, so that its request log says who sent
//	what: per object, the S3 requests of the claims (PUT/GET under
//	fleet/claims/), of the heartbeats (fleet/servers/), the object GETs and
//	the SQS requests; the coordination overhead is what a fleet sends per
//	object beyond what one server alone sends.  Figures go to
//	bench/fleet-results.json (committed: the README quotes it), not to
//	bench/results.json (whose runs the README's Speed section lists).
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync, statSync, openSync, readSync, closeSync } from "node:fs";
import os from "node:os";
import { connect, s3sdk, sqssdk, sleep, table, options, fmtRate } from "./lib.mjs";
import { Cluster, stopAll, pool } from "../test/e2e/fleet_lib.mjs";

const o = options(process.argv.slice(2), {
  objects: 1000, configs: "alone,fleet1,fleet2,fleet3", lease: 30, concurrency: 32,
  out: new URL("./fleet-results.json", import.meta.url).pathname,
});
const dir = process.env.TESTENV_DIR;
const top = new URL("..", import.meta.url).pathname;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const git = execFileSync("sh", ["-c", "git rev-parse --short HEAD; git status --porcelain src | wc -l"], { cwd: top })
  .toString().trim().split("\n");

// ---- the emulator of this benchmark: its own request log
const emuLog = `${dir}/fleet-emulator.jsonl`;
const emuPortFile = `${dir}/fleet-emulator.port`;
const keys = ["s1", "s2", "s3"];
const emu = spawn(`${top}/tools/node/node`, [`${top}/tools/node/emulator.mjs`, "--port", "0", "--port-file", emuPortFile,
  "--credentials", ["test:test", ...keys.map((k) => `${k}:${k}secret`)].join(","), "--log-file", emuLog],
{ stdio: ["ignore", "ignore", "inherit"] });
for (let i = 0; i < 200 && !existsSync(emuPortFile); i++) await sleep(50);
const emuPort = Number(readFileSync(emuPortFile, "utf8"));
const endpoint = `http://127.0.0.1:${emuPort}`;
const aws = { endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
const s3 = new s3sdk.S3Client({ ...aws, forcePathStyle: true });
const sqs = new sqssdk.SQSClient(aws);
const queueUrlOf = (q) => `http://sqs.us-east-1.localhost:${emuPort}/000000000000/${q}`;

// ---- the servers: bench/run's cluster and two more, with its durability settings
const first = await connect("postgres");
const durability = Object.fromEntries((await first.query(`SELECT name, setting FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'autovacuum')`)).rows.map((r) => [r.name, r.setting]));
await first.end();
const conf = Object.entries(durability).map(([k, v]) => `${k} = ${v}`).join("\n");
const extra = [new Cluster("bench-fleet-2", { conf }), new Cluster("bench-fleet-3", { conf })];
const servers = [
  { id: "s1", sql: async (d, t, p) => { const c = await connect(d); try { return (await c.query(t, p)).rows; } finally { await c.end(); } } },
  ...extra.map((c, i) => ({ id: `s${i + 2}`, sql: (d, t, p) => c.sql(d, t, p) })),
];
const db = "bench_fleet";

function cleanup() {
  stopAll();
  try { emu.kill(); } catch { /* gone */ }
}
process.on("exit", cleanup);

/** Lines the emulator logged since byte offset "from". */
function logSince(from) {
  const size = statSync(emuLog).size;
  const buf = Buffer.alloc(size - from);
  const fd = openSync(emuLog, "r");
  readSync(fd, buf, 0, buf.length, from);
  closeSync(fd);
  return buf.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function setUp(s, { fleet, bucket, queue }) {
  await s.sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await s.sql("postgres", `CREATE DATABASE ${db}`);
  if (fleet) {
    await s.sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet = 's3://${bucket}/fleet/'`);
    await s.sql("postgres", `ALTER DATABASE ${db} SET pipeline.server_id = '${s.id}'`);
    await s.sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_lease = ${o.lease}`);
  }
  await s.sql(db, `CREATE EXTENSION pipeline`);
  await s.sql(db, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}')`);
  await s.sql(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id '${s.id}', secret_access_key '${s.id}secret')`);
  await s.sql(db, `
    CREATE FOREIGN TABLE deviceping (device_id text, ts timestamptz, battery float8, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    SELECT pipeline.create_report(name => 'incremental', source => 's3://${bucket}/in/',
      query => $$SELECT device_id, ts, battery, src FROM deviceping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'public.incremental', mode => 'append')`);
  await s.sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrlOf(queue)]);
}

async function waitFor(what, fn, ms, every = 250) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

const count = async (s, text) => Number((await s.sql(db, text))[0].n);
const body = (i) => Array.from({ length: 20 }, (_, j) => JSON.stringify({
  device_id: `d${(i * 20 + j) % 500}`, ts: new Date(1700000000000 + (i * 20 + j) * 1000).toISOString(), battery: (j % 100) / 100,
})).join("\n") + "\n";

async function measure(name) {
  const fleet = name !== "alone";
  const k = fleet ? Number(name.slice(5)) : 1;
  const on = servers.slice(0, k);
  const bucket = `bench-${name}-${process.pid}`;
  const queue = `bench-${name}`;
  await s3.send(new s3sdk.CreateBucketCommand({ Bucket: bucket }));
  await sqs.send(new sqssdk.CreateQueueCommand({ QueueName: queue }));
  const arn = (await sqs.send(new sqssdk.GetQueueAttributesCommand({ QueueUrl: queueUrlOf(queue), AttributeNames: ["QueueArn"] }))).Attributes.QueueArn;
  for (const s of on) await setUp(s, { fleet, bucket, queue });
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: {
    QueueConfigurations: [{ QueueArn: arn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "in/" }] } } }] } }));
  for (const s of on) {
    await waitFor(`${s.id}'s worker`, async () => (await s.sql("postgres", `SELECT 1 FROM pg_stat_activity
      WHERE backend_type = 'pipeline worker' AND datname = $1`, [db])).length > 0, 60000);
  }
  const depth = async () => {
    const a = (await sqs.send(new sqssdk.GetQueueAttributesCommand({ QueueUrl: queueUrlOf(queue),
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes;
    return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
  };
  await waitFor("the test event to be consumed", async () => (await depth()) === 0, 60000);
  const load0 = loadavg();
  const from = statSync(emuLog).size;
  const items = Array.from({ length: o.objects }, (_, i) => i);
  const t0 = performance.now();
  await pool(items, o.concurrency, (i) => s3.send(new s3sdk.PutObjectCommand({
    Bucket: bucket, Key: `in/${String(i).padStart(6, "0")}.json`, Body: body(i) })));
  const tPut = performance.now();
  let done = [];
  await waitFor("every object's run", async () => {
    done = [];
    for (const s of on) done.push(await count(s, `SELECT count(*) AS n FROM pipeline.processed WHERE report = 'incremental'`));
    return done.reduce((a, b) => a + b, 0) >= o.objects;
  }, 1800000, 200);
  const t1 = performance.now();
  const load1 = loadavg();
  // the marks after the last commits, and the queue empty, before the requests are counted
  if (fleet) {
    for (const s of on) {
      await waitFor(`${s.id}'s marks`, async () => (await count(s, `SELECT count(*) AS n FROM pipeline.fleet_claims WHERE NOT marked`)) === 0, 120000);
    }
  }
  await waitFor("the queue to drain", async () => (await depth()) === 0, 120000);
  const secs = (t1 - t0) / 1000;
  const reqs = logSince(from).filter((e) => keys.includes(e.access_key_id));
  const perObj = (f) => reqs.filter(f).length / o.objects;
  const isS3 = (e) => e.service === "s3";
  const r = {
    servers: k, fleet, objects: o.objects, records_per_object: 20, seconds: secs, put_seconds: (tPut - t0) / 1000,
    objects_per_s: o.objects / secs, split: Object.fromEntries(on.map((s, i) => [s.id, done[i]])),
    objects_per_s_per_server: Object.fromEntries(on.map((s, i) => [s.id, done[i] / secs])),
    requests_per_object: {
      total: reqs.length / o.objects,
      claim_put: perObj((e) => isS3(e) && e.method === "PUT" && e.path.includes("/fleet/claims/")),
      claim_get: perObj((e) => isS3(e) && e.method === "GET" && e.path.includes("/fleet/claims/")),
      claim_412: perObj((e) => isS3(e) && e.path.includes("/fleet/claims/") && e.status === 412),
      heartbeat: perObj((e) => isS3(e) && e.path.includes("/fleet/servers/")),
      object_get: perObj((e) => isS3(e) && e.method === "GET" && e.path.includes("/in/")),
      sqs: perObj((e) => e.service === "sqs"),
      sqs_receive: perObj((e) => e.service === "sqs" && /ReceiveMessage/.test(e.target ?? e.query ?? "")),
      sqs_visibility: perObj((e) => e.service === "sqs" && /ChangeMessageVisibility/.test(e.target ?? e.query ?? "")),
      sqs_delete: perObj((e) => e.service === "sqs" && /DeleteMessage/.test(e.target ?? e.query ?? "")),
    },
    loadavg_start: load0, loadavg_end: load1,
  };
  for (const s of on) await s.sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  return r;
}

let previous = {};
try { previous = JSON.parse(readFileSync(o.out, "utf8")).results ?? {}; } catch { previous = {}; }
const out = {
  host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30) },
  durability,
  results: previous,
};
try {
  for (const c of extra) { await c.init(); c.start(); }
  for (const name of String(o.configs).split(",")) {
    console.log(`== ${name}: ${o.objects} objects (load ${loadavg()})`);
    const r = await measure(name);
    out.results[name] = { measured_at: new Date().toISOString(), git, options: o, ...r };
    writeFileSync(o.out, JSON.stringify(out, null, 1) + "\n");
  }
} finally {
  cleanup();
}

const rows = Object.entries(out.results).map(([name, r]) => [
  name, String(r.servers), `${r.seconds.toFixed(1)}s`, fmtRate(r.objects_per_s),
  Object.values(r.objects_per_s_per_server).map((x) => x.toFixed(1)).join(" / "),
  Object.values(r.split).join(" / "),
  r.requests_per_object.total.toFixed(2),
  (r.requests_per_object.claim_put + r.requests_per_object.claim_get).toFixed(2),
  r.requests_per_object.heartbeat.toFixed(3),
  r.requests_per_object.sqs.toFixed(2),
  `${r.loadavg_start.split(" ")[0]}-${r.loadavg_end.split(" ")[0]}`,
]);
const alone = out.results.alone?.requests_per_object.total;
table(`The fleet: ${o.objects} objects of 20 records, one queue (2-core machine: servers share its cores)`,
  ["config", "servers", "time", "objects/s", "objects/s per server", "split", "requests/object",
    "claim requests/object", "heartbeats/object", "SQS/object", "load"], rows);
if (alone) {
  console.log(`coordination overhead (requests per object beyond "alone", ${alone.toFixed(2)}): ` +
    Object.entries(out.results).filter(([n]) => n !== "alone")
      .map(([n, r]) => `${n} +${(r.requests_per_object.total - alone).toFixed(2)}`).join(", "));
}
