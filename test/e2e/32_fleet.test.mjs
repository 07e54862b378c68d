// A fleet: two PostgreSQL clusters (the harness's and one this file starts)
// poll the same queue with the same report; each object version's work is
// claimed in S3 (If-None-Match: *, If-Match over an expired claim), so it
// runs on one server only.  One server is killed with kill -9 in the middle
// of a run; the other takes over its claims once their lease ran out.  An
// event for a report only one server has is handed back by the other, not
// deleted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { mkdirSync, appendFileSync, readFileSync, chownSync, writeFileSync } from "node:fs";
import net from "node:net";
import {
  sql, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueDepth,
  queueUrl, endpoint, s3, s3sdk, emulator, serverLog,
} from "./lib.mjs";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const pg = require("pg");

const db = "e2e_fleet";
const bucket = `fleet-${process.pid}`;
const fleetPrefix = `s3://${bucket}/fleet/`;
const lease = 10;
const N = 30;

const dir = process.env.TESTENV_DIR;
const dataB = `${dir}/data-fleet-b`;
const sockB = `${dir}/sock-fleet-b`;
const logB = `${dir}/postgres-fleet-b.log`;
const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
let portB;

function runAsPg(args) {
  const cmd = [...asPg, ...args];
  // (from dir: PostgreSQL's programs cannot enter a checkout in a 0700 directory)
  return execFileSync(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: dir }).toString();
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function startB() {
  runAsPg(["env", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
    `${pgbin}/pg_ctl`, "-D", dataB, "-l", logB, "-w", "-t", "60", "start"]);
}

/** SQL on the second cluster (server b). */
async function sqlB(database, text, params = []) {
  const c = new pg.Client({ host: sockB, port: portB, user: "postgres", database });
  await c.connect();
  c.on("error", () => {});
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

async function workerPidB() {
  const r = await sqlB("postgres", `SELECT pid FROM pg_stat_activity
                                    WHERE backend_type = 'pipeline worker' AND datname = $1`, [db]);
  return r.length ? r[0].pid : null;
}

async function workerPidA() {
  const r = await sql("postgres", `SELECT pid FROM pg_stat_activity
                                   WHERE backend_type = 'pipeline worker' AND datname = $1`, [db]);
  return r.length ? r[0].pid : null;
}

/** The same database, report and queue on a server; sqlOn is sql or sqlB. */
async function setUp(sqlOn, id, extraReport) {
  await sqlOn("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sqlOn("postgres", `CREATE DATABASE ${db}`);
  // the fleet: before the worker starts, so that it starts in it
  await sqlOn("postgres", `ALTER DATABASE ${db} SET pipeline.fleet = '${fleetPrefix}'`);
  await sqlOn("postgres", `ALTER DATABASE ${db} SET pipeline.server_id = '${id}'`);
  await sqlOn("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_lease = ${lease}`);
  // (the first test hands messages back until server b polls again: not kept as unmatched meanwhile)
  await sqlOn("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_max_receives = 1000`);
  await sqlOn(db, `CREATE EXTENSION pipeline`);
  await sqlOn(db, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
                   OPTIONS (region 'us-east-1', endpoint '${endpoint}')`);
  await sqlOn(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake
                   OPTIONS (access_key_id 'test', secret_access_key 'test')`);
  await sqlOn(db, `
    CREATE FOREIGN TABLE ping (device_id text, battery float8, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    -- slow enough for a kill -9 to find a run under way
    CREATE FUNCTION slow(x float8) RETURNS float8 LANGUAGE sql AS $$ SELECT x FROM pg_sleep(0.5) $$;
    SELECT pipeline.create_report(name => 'fleetreport', source => 's3://${bucket}/in/work/',
      query => $$SELECT device_id, slow(battery) AS battery, src FROM ping
                 WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'fleetresult', mode => 'append', timeout => '30 seconds')`);
  if (extraReport) {
    await sqlOn(db, `SELECT pipeline.create_report(name => 'onlyhere', source => 's3://${bucket}/in/only/',
      query => $$SELECT device_id, src FROM ping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'onlyresult', mode => 'append')`);
  }
  await sqlOn(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("fleet-q")]);
  await sqlOn(db, "CHECKPOINT");
}

/** The claim documents under the fleet's prefix. */
async function claims() {
  const out = [];
  let token;
  do {
    const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: "fleet/claims/", ContinuationToken: token }));
    for (const o of r.Contents ?? []) {
      const g = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      out.push(JSON.parse(await g.Body.transformToString()));
    }
    token = r.NextContinuationToken;
  } while (token);
  return out;
}

before(async () => {
  await createBucket(bucket);
  await createQueue("fleet-q", { VisibilityTimeout: "5" });
  await notifyQueue(bucket, "fleet-q", "in/");

  // server b: a second cluster, its settings as test/run gives the first
  portB = await freePort();
  mkdirSync(dataB, { recursive: true });
  mkdirSync(sockB, { recursive: true });
  writeFileSync(logB, "");
  if (asPg.length) for (const p of [dataB, sockB, logB]) chownSync(p, Number(runAsPg(["id", "-u"]).trim()), Number(runAsPg(["id", "-g"]).trim()));
  runAsPg([`${pgbin}/initdb`, "-D", dataB, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
    "--locale=C.UTF-8", "--no-sync"]);
  appendFileSync(`${dataB}/postgresql.conf`, `
listen_addresses = '127.0.0.1'
port = ${portB}
unix_socket_directories = '${sockB}'
shared_preload_libraries = 'pipeline'
max_worker_processes = 32
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%a '
log_min_messages = info
pipeline.launcher_naptime = 1
pipeline.poll_wait = 2
pipeline.visibility_timeout = 5
pipeline.retry_delay = 1
pipeline.max_attempts = 3
`);
  startB();

  await setUp(sql, "a", false);
  await setUp(sqlB, "b", true);
  await waitFor("server a's worker", workerPidA, 30000);
  await waitFor("server b's worker", workerPidB, 30000);
  // the test event of each bucket notification is consumed (deleted: no report takes it)
  await waitFor("the queue to be empty", async () => (await queueDepth("fleet-q")) === 0, 30000);
});

after(async () => {
  if (process.env.E2E_KEEP) return;
  try {
    runAsPg([`${pgbin}/pg_ctl`, "-D", dataB, "-m", "immediate", "-w", "stop"]);
  } catch { /* already down */ }
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("an event for a report only server b has is handed back by server a, not deleted", async () => {
  // only server a polls while the events arrive: it must hand them back
  await sqlB(db, `SELECT pipeline.drop_queue('q')`);
  await emulator("DELETE", "/_emulator/requests");
  for (let i = 0; i < 6; i++) await put(bucket, `in/only/${i}.json`, [{ device_id: `o${i}`, battery: i }]);
  await waitFor("server a to hand the messages back", async () =>
    (await emulator("GET", "/_emulator/requests")).filter((r) =>
      r.target?.endsWith("ChangeMessageVisibilityBatch") && r.status === 200).length >= 3, 60000, 250);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.unmatched`))[0].n, 0,
    "server a keeps none of them as unmatched");
  assert.ok((await queueDepth("fleet-q")) > 0, "the messages are still in the queue");
  // server b polls again, and gets them
  await sqlB(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("fleet-q")]);
  await waitFor("server b to run all six", async () =>
    (await sqlB(db, `SELECT count(DISTINCT src)::int AS n FROM onlyresult`))[0].n === 6, 90000, 250);
  assert.equal((await sqlB(db, `SELECT count(*)::int AS n FROM onlyresult`))[0].n, 6, "each once");
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.unmatched`))[0].n, 0,
    "server a kept none of them as unmatched (it handed them back)");
  await waitFor("the queue to be empty", async () => (await queueDepth("fleet-q")) === 0, 30000);
});

test("N objects, two servers, kill -9 of one mid-run: each object processed exactly once", async () => {
  const keys = [];
  for (let i = 0; i < N; i++) keys.push(`in/work/${String(i).padStart(3, "0")}.json`);
  // first only server b polls, so that it surely holds work when it is killed ...
  await sql(db, `SELECT pipeline.drop_queue('q')`);
  for (const k of keys.slice(0, N / 2)) await put(bucket, k, [{ device_id: k, battery: 1 }]);
  await waitFor("server b to have processed some", async () =>
    (await sqlB(db, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = 'fleetreport'`))[0].n > 0,
  90000, 100);
  // ... then both compete for the rest
  await sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("fleet-q")]);
  for (const k of keys.slice(N / 2)) await put(bucket, k, [{ device_id: k, battery: 1 }]);

  // server b is inside a run (it holds claims): kill -9 the whole cluster
  await waitFor("server b to be inside a run", async () =>
    (await sqlB("postgres", `SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker'
                             AND datname = $1 AND wait_event = 'PgSleep'`, [db])).length > 0, 90000, 50);
  const postmaster = Number(readFileSync(`${dataB}/postmaster.pid`, "utf8").split("\n")[0]);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)]).toString()
    .split("\n").map((s) => Number(s.trim())).filter(Boolean);
  for (const p of [postmaster, ...children]) {
    try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
  }
  await waitFor("server b to be down", () => {
    try { process.kill(postmaster, 0); return false; } catch { return true; }
  }, 30000);

  // server a finishes the work: every claim done, some taken over from b after the lease
  await waitFor("every object's claim to be done", async () => {
    const cs = (await claims()).filter((c) => c.report === "fleetreport");
    return cs.length === N && cs.every((c) => c.state === "done");
  }, 180000, 500);
  const took = serverLog(new RegExp(`took over the claim of "fleetreport" on s3://${bucket}/in/work/\\d+\\.json from b/${db}`));
  assert.ok(took.length > 0, "server a took over claims server b held when it died");

  // server b comes back (its committed work is on its disk) and settles what it holds
  startB();
  await waitFor("server b's worker", workerPidB, 60000);
  await waitFor("server b's marks to be written", async () =>
    (await sqlB(db, `SELECT count(*)::int AS n FROM pipeline.fleet_claims WHERE NOT marked`))[0].n === 0, 60000, 250);
  await waitFor("the queue to be empty", async () => (await queueDepth("fleet-q")) === 0, 60000, 250);

  // count in both: every object once, none twice
  const ra = (await sql(db, `SELECT src FROM fleetresult`)).map((r) => r.src);
  const rb = (await sqlB(db, `SELECT src FROM fleetresult`)).map((r) => r.src);
  const all = [...ra, ...rb].sort();
  assert.deepEqual(all, keys.map((k) => `s3://${bucket}/${k}`).sort(),
    `each object's rows exactly once across the fleet (a ran ${ra.length}, b ran ${rb.length})`);
  assert.ok(ra.length > 0 && rb.length > 0, "both servers did part of the work");
  const pa = (await sql(db, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = 'fleetreport'`))[0].n;
  const pb = (await sqlB(db, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = 'fleetreport'`))[0].n;
  assert.equal(pa + pb, N, "each version processed on one server");
  assert.equal((await sqlB(db, `SELECT count(*)::int AS n FROM pipeline.fleet_claims WHERE lost`))[0].n, 0,
    "no claim of b was found taken over after its run committed");
  // b skips what a did: its tasks are gone, and so are a's
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks`))[0].n, 0);
  await waitFor("server b's tasks to be settled", async () =>
    (await sqlB(db, `SELECT count(*)::int AS n FROM pipeline.tasks`))[0].n === 0, 60000, 250);
});
