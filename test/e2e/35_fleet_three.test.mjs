// The fleet of issue 11: three PostgreSQL clusters (the harness's and two
// started here) and one emulator; 2,000 objects arrive, their notifications
// to one SQS queue that the three servers long-poll.  One server is killed
// with kill -9 (postmaster and all its processes) in the middle of a run;
// the others take its claims over once their lease ran out.  At the end
// (the killed server restarted, so that what it committed is exported):
// every object's report ran exactly once across the three servers, every
// claim in S3 is done by the server whose ledger holds the run, and every
// object's rows are in exactly one exported object.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  sql, waitFor, createBucket, createQueue, notifyQueue, put, queueDepth, queueUrl, endpoint,
  s3, s3sdk, serverLog,
} from "./lib.mjs";
import { Cluster, stopAll, workerOn, pool } from "./fleet_lib.mjs";

const db = "e2e_fleet35";
const bucket = `fleet35-${process.pid}`;
const queue = "fleet35-q";
const lease = 10;
const N = Number(process.env.FLEET35_OBJECTS ?? 2000);
const SLOW_EVERY = 40;	// every 40th object's run sleeps a second: a run to kill a server in

const c2 = new Cluster("f35b");
const c3 = new Cluster("f35c");
const servers = [
  { id: "s1", sql },
  { id: "s2", sql: (d, t, p) => c2.sql(d, t, p) },
  { id: "s3", sql: (d, t, p) => c3.sql(d, t, p) },
];
const keys = [];
for (let i = 0; i < N; i++) keys.push(`in/${i % SLOW_EVERY === 7 ? "slow" : "obj"}-${String(i).padStart(5, "0")}.json`);

async function setUp(s) {
  await s.sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await s.sql("postgres", `CREATE DATABASE ${db}`);
  await s.sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet = 's3://${bucket}/fleet/'`);
  await s.sql("postgres", `ALTER DATABASE ${db} SET pipeline.server_id = '${s.id}'`);
  await s.sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_lease = ${lease}`);
  await s.sql(db, `CREATE EXTENSION pipeline`);
  await s.sql(db, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
                   OPTIONS (region 'us-east-1', endpoint '${endpoint}')`);
  await s.sql(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake
                   OPTIONS (access_key_id 'test', secret_access_key 'test')`);
  await s.sql(db, `
    CREATE FOREIGN TABLE ping (device_id text, n int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    CREATE FUNCTION pause(d text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN IF d LIKE 'slow%' THEN PERFORM pg_sleep(1); END IF; RETURN d; END $$;
    SELECT pipeline.create_report(name => 'r35', source => 's3://${bucket}/in/',
      query => $$SELECT pause(device_id) AS device_id, n, src FROM ping
                 WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'result35', mode => 'replace', export => 's3://${bucket}/out/')`);
  await s.sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl(queue)]);
}

const one = async (s, text, params = []) => (await s.sql(db, text, params))[0].n;

before(async () => {
  await createBucket(bucket);
  await createQueue(queue, { VisibilityTimeout: "5" });
  await c2.init();
  await c3.init();
  c2.start();
  c3.start();
  for (const s of servers) await setUp(s);
  for (const s of servers) await waitFor(`${s.id}'s worker`, () => workerOn(s.sql, db), 60000, 250);
  await notifyQueue(bucket, queue, "in/");
  await waitFor("the test event to be consumed", async () => (await queueDepth(queue)) === 0, 60000, 250);
});

after(async () => {
  if (!process.env.E2E_KEEP) {
    stopAll();
    await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
  }
});

test(`${N} objects, three servers, kill -9 of one mid-run: each report run once, each export once`, async () => {
  const t0 = Date.now();
  await pool(keys, 16, (k, i) => put(bucket, k, [{ device_id: k.slice(3, -5), n: i }]));
  const uploaded = Date.now();

  // a third of the work done, server s3 inside a run: kill -9 the whole cluster
  await waitFor("a third of the objects to be processed", async () => {
    let n = 0;
    for (const s of servers) n += await one(s, `SELECT count(*)::int AS n FROM pipeline.processed`);
    return n >= N / 3;
  }, 300000, 500);
  await waitFor("server s3 to be inside a run", async () =>
    (await c3.sql("postgres", `SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker'
                               AND datname = $1 AND wait_event = 'PgSleep'`, [db])).length > 0, 300000, 50);
  const held = (await c3.sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks`))[0].n;
  const postmaster = c3.kill9();
  const killedAt = Date.now();
  await waitFor("server s3 to be down", () => {
    try { process.kill(postmaster, 0); return false; } catch { return true; }
  }, 30000);

  // the others finish: s3's claims are taken over after the lease, the queue drains
  const tookOver = () => [...serverLog(/took over the claim of "r35" on .* from s3\//),
    ...c2.logLines(/took over the claim of "r35" on .* from s3\//)];
  try {
    await waitFor("s3's claims to be taken over", async () => tookOver().length > 0, 240000, 500);
  } catch (e) {
    // what the survivors were doing, for whoever reads the failure
    const state = { queue: await queueDepth(queue).catch((x) => x.message) };
    for (const s of servers.slice(0, 2)) {
      state[s.id] = {
        tasks: await one(s, `SELECT count(*)::int AS n FROM pipeline.tasks`).catch((x) => x.message),
        processed: await one(s, `SELECT count(*)::int AS n FROM pipeline.processed`).catch((x) => x.message),
        fleet: await s.sql(db, `SELECT * FROM pipeline.fleet`).catch((x) => x.message),
      };
    }
    const fleetLog = [...serverLog(/pipeline fleet/), ...c2.logLines(/pipeline fleet/)].slice(-40);
    throw new Error(`${e.message}\nheld by s3 at the kill: ${held}\n${JSON.stringify(state)}\n${fleetLog.join("\n")}`);
  }
  await waitFor("the queue to drain and s1, s2 to settle their tasks", async () =>
    (await queueDepth(queue)) === 0 &&
    (await one(servers[0], `SELECT count(*)::int AS n FROM pipeline.tasks`)) === 0 &&
    (await one(servers[1], `SELECT count(*)::int AS n FROM pipeline.tasks`)) === 0, 300000, 500);
  const settled = Date.now();

  // s3 comes back: what it committed before the kill is marked and exported
  c3.start();
  await waitFor("s3's worker", () => workerOn(servers[2].sql, db), 60000, 250);
  for (const s of servers) {
    await waitFor(`${s.id}'s marks and exports to be written, its tasks settled`, async () =>
      (await one(s, `SELECT count(*)::int AS n FROM pipeline.fleet_claims WHERE NOT marked`)) === 0 &&
      (await one(s, `SELECT count(*)::int AS n FROM pipeline.exports WHERE state <> 'completed'`)) === 0 &&
      (await one(s, `SELECT count(*)::int AS n FROM pipeline.tasks`)) === 0, 120000, 500);
  }

  // every object's report ran exactly once across the fleet
  const uri = (k) => `s3://${bucket}/${k}`;
  const want = keys.map(uri).sort();
  const ran = {};
  const rows = [];
  for (const s of servers) {
    const p = await s.sql(db, `SELECT 's3://' || bucket || '/' || key AS uri, run_id FROM pipeline.processed WHERE report = 'r35'`);
    ran[s.id] = new Map(p.map((r) => [r.uri, String(r.run_id)]));
    // (mode replace: a run's result, and so its export, holds the rows of its objects only)
    rows.push(await one(s, `SELECT coalesce(sum(rows), 0)::int AS n FROM pipeline.runs
                            WHERE report = 'r35' AND status = 'succeeded'`));
  }
  const processed = [...ran.s1.keys(), ...ran.s2.keys(), ...ran.s3.keys()].sort();
  assert.deepEqual(processed, want, "each object version processed on exactly one server");
  assert.equal(rows.reduce((a, b) => a + b, 0), N, "the committed runs made one row per object, none twice");
  for (const s of servers) {
    assert.equal(await one(s, `SELECT count(*)::int AS n FROM pipeline.fleet_claims WHERE lost`), 0,
      `${s.id} found none of its claims taken over after its run committed`);
  }
  assert.ok(ran.s1.size > 0 && ran.s2.size > 0 && ran.s3.size > 0, "each server did part of the work");

  // every claim in S3: done, by the server whose ledger has the run, naming that run
  const claimKeys = [];
  let token;
  do {
    const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: "fleet/claims/r35/", ContinuationToken: token }));
    for (const o of r.Contents ?? []) claimKeys.push(o.Key);
    token = r.NextContinuationToken;
  } while (token);
  assert.equal(claimKeys.length, N, "one claim per object version");
  const bad = [];
  const holders = new Map();
  await pool(claimKeys, 16, async (k) => {
    const g = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: k }));
    const c = JSON.parse(await g.Body.transformToString());
    const id = c.holder.split("/")[0];
    if (c.state !== "done" || ran[id]?.get(c.object) !== String(c.run)) bad.push(`${k}: ${c.holder} ${c.state} run ${c.run}`);
    holders.set(c.object, c.holder);
  });
  assert.deepEqual(bad, [], "every claim is done by the server that ran it");
  // the claims s3 held when it was killed: taken over by s1 or s2, which ran them
  const takenOver = new Set(tookOver().map((l) => /on (s3:\/\/\S+) from/.exec(l)[1]));
  assert.ok(takenOver.size > 0, "s1 or s2 took over claims of s3");
  for (const u of takenOver) {
    assert.match(holders.get(u), /^s[12]\//, `${u}, taken over from s3, is done by s1 or s2`);
    assert.ok(!ran.s3.has(u), `${u} did not commit on s3`);
  }

  // every object's rows in exactly one exported object
  const exportedKeys = [];
  token = undefined;
  do {
    const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: "out/", ContinuationToken: token }));
    for (const o of r.Contents ?? []) exportedKeys.push(o.Key);
    token = r.NextContinuationToken;
  } while (token);
  const seen = new Map();
  await pool(exportedKeys, 16, async (k) => {
    const g = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: k }));
    const text = gunzipSync(Buffer.from(await g.Body.transformToByteArray())).toString();
    for (const line of text.split("\n").filter(Boolean)) {
      const src = JSON.parse(line).src;
      seen.set(src, [...(seen.get(src) ?? []), k]);
    }
  });
  const missing = want.filter((u) => !seen.has(u));
  const doubled = [...seen].filter(([, ks]) => ks.length > 1).map(([u, ks]) => `${u} in ${ks.join(", ")}`);
  assert.deepEqual(missing.slice(0, 5), [], `no object's export is missing (${missing.length} are)`);
  assert.deepEqual(doubled.slice(0, 5), [], `no object's rows are exported twice (${doubled.length} are)`);
  assert.equal(seen.size, N);

  console.log(`# ${N} objects: uploaded in ${((uploaded - t0) / 1000).toFixed(1)} s; s3 killed holding ${held} tasks; ` +
    `the rest settled ${((settled - killedAt) / 1000).toFixed(1)} s after the kill (lease ${lease} s); ` +
    `ran s1 ${ran.s1.size}, s2 ${ran.s2.size}, s3 ${ran.s3.size}; ${takenOver.size} claims taken over from s3; ` +
    `${exportedKeys.length} exported objects; ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
});
