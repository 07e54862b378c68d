// A fleet's settings, views and signatures, with two databases of the
// harness's cluster as two servers of one fleet (their holders differ by
// database: a/e2e_f34a and b/e2e_f34b), polling one queue:
// - pipeline.fleet set by ALTER SYSTEM and pg_reload_conf() is taken up by
//   the running workers (the same processes start claiming);
// - pipeline.fleet (the view) says what each server ran, checked against
//   each database's own ledger and against the claims in S3;
// - with pipeline.fleet_secret, a claim forged in S3 (unsigned, or signed
//   with another secret) is not believed: the work runs here and the claim
//   is taken over, while a claim signed with the fleet's secret is honoured;
// - the at-least-once window: a server whose done mark cannot be written
//   (S3 answers 503 to it) and that is then away (SIGSTOP) longer than the
//   lease has its work run again by the other server; the export has the
//   same key (one object), and the first server, back, records the claim
//   as lost and says so in its log, as the README states.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import {
  sql, waitFor, createBucket, createQueue, notifyQueue, put, queueUrl, sendMessage, s3Event,
  s3, s3sdk, emulator, serverLog,
} from "./lib.mjs";

const dbA = "e2e_f34a";
const dbB = "e2e_f34b";
const bucket = `fleet34-${process.pid}`;
const queue = "fleet34-q";
const fleetUri = `s3://${bucket}/fleet/`;
const secret = "fleet-secret-34";
const lease = 8;
const report = "r34";
const stopped = new Set();	// worker pids SIGSTOPped (continued in after())

async function setUp(db, id) {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE ${db}`);
  // everything but pipeline.fleet itself, which the first test sets by ALTER SYSTEM
  await sql("postgres", `ALTER DATABASE ${db} SET pipeline.server_id = '${id}'`);
  await sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_lease = ${lease}`);
  await sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_secret = '${secret}'`);
  await sql("postgres", `ALTER DATABASE ${db} SET pipeline.fleet_max_receives = 1000`);
  await sql(db, `CREATE EXTENSION pipeline`);
  await sql(db, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
                 OPTIONS (region 'us-east-1', endpoint '${process.env.PIPELINE_S3_ENDPOINT}')`);
  await sql(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake
                 OPTIONS (access_key_id 'test', secret_access_key 'test')`);
  await sql(db, `
    CREATE FOREIGN TABLE ping (device_id text, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    -- slow enough for a fault to be set while a run is under way
    CREATE FUNCTION slow(x text) RETURNS text LANGUAGE sql AS $$ SELECT x FROM pg_sleep(0.5) $$;
    SELECT pipeline.create_report(name => '${report}', source => 's3://${bucket}/in/',
      query => $$SELECT slow(device_id) AS device_id, src FROM ping
                 WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'result34', mode => 'append', export => 's3://${bucket}/out/')`);
  await sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl(queue)]);
}

const workerOf = async (db) => (await sql("postgres", `SELECT pid FROM pg_stat_activity
  WHERE backend_type = 'pipeline worker' AND datname = $1`, [db]))[0]?.pid ?? null;

async function getJson(key) {
  const g = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await g.Body.transformToString());
}

async function exists(key) {
  try {
    await s3.send(new s3sdk.HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch { return false; }
}

async function listKeys(prefix) {
  const out = [];
  let token;
  do {
    const r = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out.push(o.Key);
    token = r.NextContinuationToken;
  } while (token);
  return out;
}

/** The claim's key, as src/report/fleet_claim.c names it. */
function claimKey(key, version) {
  const h = createHash("sha256").update(`${bucket}/${key}@${version}`).digest("hex").slice(0, 40);
  return `fleet/claims/${report}/${h}.json`;
}

/** A claim document, signed with "withSecret" (none: unsigned), as fleet_claim.c writes them. */
function claimDoc(key, version, holder, state, withSecret) {
  const c = {
    v: 1, claim: claimKey(key, version), report, object: `s3://${bucket}/${key}`, version, holder,
    state, lease, heartbeat: new Date().toISOString(), token: "f0rged0000000000000000aa", run: 7,
    previous: null,
  };
  if (withSecret) {
    const text = ["pipeline-claim-v1", c.claim, c.report, c.object, c.version, c.holder, c.state,
      String(c.lease), c.heartbeat, c.token, String(c.run), ""].join("\n");
    c.sig = createHmac("sha256", withSecret).update(text).digest("hex");
  }
  return c;
}

/** An object put where no notification goes, announced by an event whose version we choose. */
let seq = 0x100;
async function quietObject(name) {
  const key = `in/quiet/${name}.json`;
  const etag = (await put(bucket, key, [{ device_id: name }])).replaceAll('"', "");
  const sequencer = `0066AAAABBBB${(seq++).toString(16).toUpperCase().padStart(6, "0")}`;
  return { key, etag, sequencer, version: sequencer.replace(/0+$/, "") };
}
const announce = (o) => sendMessage(queue, s3Event(bucket, o.key, { etag: o.etag, sequencer: o.sequencer }));

const rowsFor = async (db, key) =>
  (await sql(db, `SELECT count(*)::int AS n FROM result34 WHERE src = $1`, [`s3://${bucket}/${key}`]))[0].n;
const processedIn = async (db, key) =>
  (await sql(db, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = $1 AND key = $2`,
    [report, key]))[0].n;

before(async () => {
  await createBucket(bucket);
  await createQueue(queue, { VisibilityTimeout: "5" });
  await notifyQueue(bucket, queue, "in/n/");
  await setUp(dbA, "a");
  await setUp(dbB, "b");
  await waitFor("both workers", async () => (await workerOf(dbA)) && (await workerOf(dbB)), 60000, 250);
});

after(async () => {
  for (const pid of stopped) { try { process.kill(pid, "SIGCONT"); } catch { /* gone */ } }
  await emulator("DELETE", "/_emulator/faults");
  await sql("postgres", "ALTER SYSTEM RESET pipeline.fleet");
  await sql("postgres", "SELECT pg_reload_conf()");
  if (process.env.E2E_KEEP) return;
  for (const db of [dbA, dbB]) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("pipeline.fleet set by ALTER SYSTEM and a reload is taken up by the running workers", async () => {
  const pidA = await workerOf(dbA);
  const pidB = await workerOf(dbB);
  // not in a fleet yet: an object runs without any claim
  await put(bucket, "in/n/before.json", [{ device_id: "before" }]);
  await waitFor("the object before the fleet to be processed", async () =>
    (await processedIn(dbA, "in/n/before.json")) + (await processedIn(dbB, "in/n/before.json")) === 1, 60000, 250);
  assert.deepEqual(await listKeys("fleet/"), [], "no claim and no heartbeat outside a fleet");

  await sql("postgres", `ALTER SYSTEM SET pipeline.fleet = '${fleetUri}'`);
  await sql("postgres", "SELECT pg_reload_conf()");
  await waitFor("both workers' heartbeat objects", async () =>
    (await exists(`fleet/servers/a/${dbA}.json`)) && (await exists(`fleet/servers/b/${dbB}.json`)), 60000, 250);
  assert.equal(await workerOf(dbA), pidA, "server a's worker was not restarted");
  assert.equal(await workerOf(dbB), pidB, "server b's worker was not restarted");
  const hb = await getJson(`fleet/servers/a/${dbA}.json`);
  assert.equal(hb.lease, lease);
  assert.match(hb.sig ?? "", /^[0-9a-f]{64}$/, "the heartbeat is signed with pipeline.fleet_secret");

  // and the next object is claimed
  await put(bucket, "in/n/after.json", [{ device_id: "after" }]);
  await waitFor("the object after the reload to be processed", async () =>
    (await processedIn(dbA, "in/n/after.json")) + (await processedIn(dbB, "in/n/after.json")) === 1, 60000, 250);
  await waitFor("its claim to be done", async () => {
    const keys = await listKeys(`fleet/claims/${report}/`);
    return keys.length === 1 && (await getJson(keys[0])).state === "done";
  }, 60000, 250);
});

test("pipeline.fleet shows what each server ran, as the ledgers and S3 say", async () => {
  const keys = [];
  for (let i = 0; i < 6; i++) keys.push(`in/n/view-${i}.json`);
  for (const k of keys) await put(bucket, k, [{ device_id: k }]);
  await waitFor("the six objects to be processed once", async () => {
    let n = 0;
    for (const k of keys) n += (await processedIn(dbA, k)) + (await processedIn(dbB, k));
    return n === keys.length;
  }, 90000, 250);
  const ranA = (await sql(dbA, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = $1`, [report]))[0].n;
  const ranB = (await sql(dbB, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = $1`, [report]))[0].n;
  // "after" and the six ran in the fleet; "before" ran outside it (no claim): 7 claimed in all
  const inFleet = ranA + ranB - 1;
  let rows;
  await waitFor("the view to show every run of the fleet, nothing held", async () => {
    rows = await sql(dbA, `SELECT server, database, me, alive, valid, lease, report, held, ran::int, gave_up::int,
                                  claims::int, takeovers::int, heartbeat
                           FROM pipeline.fleet ORDER BY server`);
    const r = rows.filter((x) => x.report === report);
    return r.length === 2 && r.reduce((s, x) => s + x.ran, 0) === inFleet && r.every((x) => x.held.length === 0);
  }, 60000, 500);
  const [a, b] = rows.filter((x) => x.report === report);
  const [ca, cb] = rows.filter((x) => x.report === null);	// the servers' own rows: their counters
  assert.deepEqual([a.server, a.database, a.me, b.server, b.database, b.me], ["a", dbA, true, "b", dbB, false]);
  for (const x of [a, b]) {
    assert.equal(x.alive, true, `${x.server} is alive`);
    assert.equal(x.valid, true, `${x.server}'s heartbeat verifies`);
    assert.equal(x.lease, lease);
    assert.equal(x.gave_up, 0);
    assert.equal(x.claims, null, "counters are on the server's own row");
    assert.ok(Date.now() - x.heartbeat.getTime() < 10 * 60 * 1000, "a recent heartbeat");
  }
  assert.deepEqual([ca.server, cb.server, ca.takeovers, cb.takeovers], ["a", "b", 0, 0]);
  assert.ok(ca.claims >= a.ran && cb.claims >= b.ran, "each took a claim for each version it ran");
  // each server's count is its ledger's, less "before" (run outside the fleet)
  const beforeInA = await processedIn(dbA, "in/n/before.json");
  assert.equal(a.ran, ranA - beforeInA, "a's ran is what a's pipeline.processed holds");
  assert.equal(b.ran, ranB - (1 - beforeInA), "b's ran is what b's pipeline.processed holds");

  // one claim as S3 holds it: the holder is the server whose ledger has the run
  for (const k of keys.slice(0, 2)) {
    const db = (await processedIn(dbA, k)) ? dbA : dbB;
    const [ver] = await sql(db, `SELECT version, run_id FROM pipeline.processed WHERE report = $1 AND key = $2`, [report, k]);
    const [c] = await sql(dbB, `SELECT holder, state, valid, expired, run_id FROM pipeline.fleet_claim($1, $2, $3)`,
      [report, `s3://${bucket}/${k}`, ver.version]);
    assert.equal(c.holder, db === dbA ? `a/${dbA}` : `b/${dbB}`);
    assert.equal(c.state, "done");
    assert.equal(c.valid, true);
    assert.equal(String(c.run_id), String(ver.run_id), "the claim names the run of its holder");
  }

  // a heartbeat forged without the secret (a's, renamed and boasting) is listed, and not believed
  const forged = await getJson(`fleet/servers/a/${dbA}.json`);
  Object.assign(forged, { holder: "mallory/x", server: "mallory", database: "x", ran: [{ report, n: 999 }] });
  await s3.send(new s3sdk.PutObjectCommand({ Bucket: bucket, Key: "fleet/servers/mallory/x.json",
    Body: JSON.stringify(forged) }));
  const m = await sql(dbA, `SELECT valid, report, ran FROM pipeline.fleet WHERE server = 'mallory'`);
  assert.ok(m.length >= 1 && m.every((x) => x.valid === false), "the forged heartbeat is marked not valid");
  await s3.send(new s3sdk.DeleteObjectCommand({ Bucket: bucket, Key: "fleet/servers/mallory/x.json" }));
});

test("with pipeline.fleet_secret, forged claims are taken over and run; a signed one is honoured", async () => {
  const unsigned = await quietObject("unsigned");
  const wrong = await quietObject("wrongsecret");
  const good = await quietObject("signed");
  // an attacker who may write the fleet's prefix says the first two are done elsewhere
  const forge = async (o, sec, holder) => s3.send(new s3sdk.PutObjectCommand({
    Bucket: bucket, Key: claimKey(o.key, o.version),
    Body: JSON.stringify(claimDoc(o.key, o.version, holder, "done", sec)) }));
  await forge(unsigned, null, "mallory/x");
  await forge(wrong, "another secret", "mallory/x");
  await forge(good, secret, "trusted/x");	// the control: made as a server of the fleet makes them

  for (const o of [unsigned, wrong, good]) await announce(o);
  for (const o of [unsigned, wrong]) {
    await waitFor(`${o.key} to run in the fleet`, async () =>
      (await rowsFor(dbA, o.key)) + (await rowsFor(dbB, o.key)) === 1, 60000, 250);
    await waitFor(`the claim of ${o.key} to be ours, done and signed`, async () => {
      const c = await getJson(claimKey(o.key, o.version));
      return c.state === "done" && /^(a\/e2e_f34a|b\/e2e_f34b)$/.test(c.holder);
    }, 60000, 250);
    const c = await getJson(claimKey(o.key, o.version));
    assert.match(c.sig, /^[0-9a-f]{64}$/, "rewritten signed with the fleet's secret");
  }
  // the signed claim ends the work: settled as done by its holder, not run
  await waitFor("the signed claim to settle its task", async () => {
    for (const db of [dbA, dbB]) {
      const r = await sql(db, `SELECT holder, state FROM pipeline.fleet_claims WHERE key = $1`, [good.key]);
      if (r.length && r[0].holder === "trusted/x" && r[0].state === "done") return true;
    }
    return false;
  }, 60000, 250);
  assert.equal((await rowsFor(dbA, good.key)) + (await rowsFor(dbB, good.key)), 0, "a claim signed with the secret is believed");
  assert.equal((await processedIn(dbA, good.key)) + (await processedIn(dbB, good.key)), 0);
  assert.equal((await getJson(claimKey(good.key, good.version))).holder, "trusted/x", "and left as it is");
  const warned = serverLog(/is not a valid claim of the fleet: taking it over/);
  const details = serverLog(/It is not believed: (it is not signed, and pipeline.fleet_secret is set|its signature does not verify with pipeline.fleet_secret)\./);
  assert.ok(warned.length >= 2, "the takeovers of forged claims are logged");
  assert.ok(details.some((l) => /not signed/.test(l)) && details.some((l) => /does not verify/.test(l)),
    "the log says why each forged claim was not believed");
});

test("the at-least-once window: a server away longer than the lease between commit and mark", async () => {
  // only server a polls while the object runs
  await sql(dbB, `SELECT pipeline.drop_queue('q')`);
  const o = await quietObject("window");
  const ck = claimKey(o.key, o.version);
  await announce(o);
  await waitFor("server a to be inside the run", async () =>
    (await sql("postgres", `SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pipeline worker'
                            AND datname = $1 AND wait_event = 'PgSleep'`, [dbA])).length > 0, 60000, 50);
  // S3 refuses a's writes of the claim from now on: its done mark cannot be written
  await emulator("POST", "/_emulator/faults", { action: "status", status: 503, method: "PUT",
    path_prefix: `/${bucket}/${ck}`, count: 0 });
  await waitFor("a's run to commit and its mark to fail", async () => {
    const r = await sql(dbA, `SELECT marked, last_error FROM pipeline.fleet_claims WHERE key = $1`, [o.key]);
    return r.length === 1 && !r[0].marked && r[0].last_error !== null;
  }, 90000, 250);
  assert.equal(await processedIn(dbA, o.key), 1);
  // server a goes away (its worker stopped), longer than the lease
  const pidA = await workerOf(dbA);
  process.kill(pidA, "SIGSTOP");
  stopped.add(pidA);
  await emulator("DELETE", "/_emulator/faults");
  await waitFor("a's claim to expire by S3's clock", async () =>
    (await sql(dbB, `SELECT expired FROM pipeline.fleet_claim($1, $2, $3)`,
      [report, `s3://${bucket}/${o.key}`, o.version]))[0]?.expired === true, 60000, 500);
  assert.equal((await getJson(ck)).state, "running", "S3 still says a runs it");

  // the event again (SQS redelivers; here a duplicate), to server b
  await sql(dbB, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl(queue)]);
  await announce(o);
  await waitFor("server b to run it again", async () => (await processedIn(dbB, o.key)) === 1, 60000, 250);
  await waitFor("b's mark", async () => {
    const c = await getJson(ck);
    return c.state === "done" && c.holder === `b/${dbB}`;
  }, 60000, 250);
  assert.ok(serverLog(new RegExp(`took over the claim of "${report}" on s3://${bucket}/in/quiet/window\\.json from a/${dbA}`)).length === 1,
    "b took the claim over from a, whose lease had run out");

  // server a comes back: it finds its claim taken over and says so
  process.kill(pidA, "SIGCONT");
  stopped.delete(pidA);
  await waitFor("a to record the claim as lost", async () =>
    (await sql(dbA, `SELECT lost FROM pipeline.fleet_claims WHERE key = $1`, [o.key]))[0]?.lost === true, 90000, 250);
  const said = serverLog(new RegExp(`${o.key.replaceAll(".", "\\.")}.* of report "${report}" ran on this server and on b/${dbB}`));
  assert.ok(said.length >= 1, "a's log says the work ran on both servers");
  // ran twice: once on each server ...
  assert.equal((await rowsFor(dbA, o.key)) + (await rowsFor(dbB, o.key)), 2);
  // ... and the export is one object (the same deterministic key), holding the object's row
  const outs = [];
  for (const k of await listKeys("out/")) {
    const { Body } = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: k }));
    const { gunzipSync } = await import("node:zlib");
    const text = gunzipSync(Buffer.from(await Body.transformToByteArray())).toString();
    if (text.includes(`"window"`)) outs.push(k);
  }
  assert.equal(outs.length, 1, `one exported object for the version run twice (${outs.join(", ")})`);
  // the claim stays b's
  assert.equal((await getJson(ck)).holder, `b/${dbB}`);
});
