// Exactly once across crashes: kill -9 the worker in the middle of a run,
// and between the commit and the deletion of the message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, connect, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueDepth,
  queueUrl, workerPid, emulator, killAndRecover,
} from "./lib.mjs";

const db = "e2e_crash";
const bucket = `crash-${process.pid}`;

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue("crash-q");
  await notifyQueue(bucket, "crash-q", "in/");
  await sql(db, `
    CREATE FOREIGN TABLE ping (device_id text, battery float8, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    -- a run that waits, in the middle, for as long as the test holds advisory
    -- lock 4711 (no sleep: the test decides when it may go on)
    CREATE FUNCTION gate(x float8) RETURNS float8 LANGUAGE sql AS $$ SELECT x FROM pg_advisory_xact_lock_shared(4711) $$;
    SELECT pipeline.create_report(name => 'slowreport', source => 's3://${bucket}/in/slow/',
      query => $$SELECT device_id, gate(battery) AS battery, src FROM ping
                 WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'slowresult', mode => 'append', timeout => '10 minutes');
    SELECT pipeline.create_report(name => 'longreport', source => 's3://${bucket}/in/long/',
      query => $$SELECT device_id, gate(battery) AS battery FROM ping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'longresult', mode => 'append', timeout => '10 minutes');
    SELECT pipeline.create_report(name => 'fastreport', source => 's3://${bucket}/in/fast/',
      query => $$SELECT device_id, battery, src FROM ping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'fastresult', mode => 'append', timeout => '5 seconds');`);
  await sql(db, `SELECT pipeline.add_queue('crash-q', $1, 'lake')`, [queueUrl("crash-q")]);
  // the test cluster commits asynchronously (synchronous_commit = off): make
  // the set-up durable before crashing the server on purpose
  await sql(db, "CHECKPOINT");
  await waitFor("the worker", () => workerPid(db));
  await waitFor("the test event to be consumed", async () => (await queueDepth("crash-q")) === 0);
});

/** Hold advisory lock 4711 on a connection of its own: gate() waits while it is held. */
async function holdGate() {
  const c = await connect(db);
  await c.query("SELECT pg_advisory_lock(4711)");
  return c;
}

/** The worker's pid while its run waits at the gate. */
const waitingAtGate = async () => (await sql("postgres", `SELECT pid FROM pg_stat_activity
  WHERE backend_type = 'pipeline worker' AND datname = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`, [db]))[0]?.pid;

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("kill -9 of the worker in the middle of a run: the event is processed exactly once", async () => {
  // the gate is closed; the crash ends the connection that holds it
  const gate = await holdGate();
  gate.on("error", () => {});
  await put(bucket, "in/slow/a.json", [{ device_id: "a", battery: 1 }, { device_id: "b", battery: 2 }]);
  // the worker is inside the report's query
  const pid = await waitFor("the run to be under way", waitingAtGate);
  await killAndRecover(pid, db);
  await gate.end().catch(() => {});
  // the task comes back after its back-off
  await waitFor("the report to have run", async () =>
    (await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'slowreport' AND status = 'succeeded'`))[0].n === 1,
  60000, 250);
  await waitFor("the message to be deleted", async () => (await queueDepth("crash-q")) === 0, 30000);
  assert.deepEqual(await sql(db, `SELECT device_id FROM slowresult ORDER BY 1`), [{ device_id: "a" }, { device_id: "b" }],
    "the rows once, not twice");
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'slowreport'`))[0].n, 1,
    "the killed run left no trace: it rolled back");
});

test("kill -9 after the commit, before the message is deleted: the redelivery runs nothing", async () => {
  // the worker will commit, then hang on DeleteMessageBatch
  await emulator("POST", "/_emulator/faults", { service: "sqs", target: "DeleteMessageBatch", action: "hang", count: 1 });
  await put(bucket, "in/fast/b.json", [{ device_id: "c", battery: 3 }]);
  await waitFor("the committed run", async () =>
    (await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'fastreport'`))[0].n === 1);
  const pid = await waitFor("the worker", () => workerPid(db));
  // the DeleteMessageBatch is in the emulator's hands, and will never be answered
  await waitFor("the worker's delete to hang", async () =>
    (await emulator("GET", "/_emulator/requests")).some((r) => r.target?.endsWith("DeleteMessageBatch") && r.fault === "hang"));
  await killAndRecover(pid, db);
  await waitFor("the redelivered message to be deleted", async () => (await queueDepth("crash-q")) === 0, 60000, 250);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'fastreport'`))[0].n, 1,
    "one run");
  assert.deepEqual(await sql(db, `SELECT device_id FROM fastresult`), [{ device_id: "c" }], "one copy of the rows");
});

test("a run longer than the visibility timeout does not hold its message: it was deleted when taken", async () => {
  const gate = await holdGate();
  try {
    await put(bucket, "in/long/c.json", [{ device_id: "l", battery: 1 }]);
    await waitFor("the long run to be under way", waitingAtGate);
    // the task is committed before the run starts, and the message deleted after that commit
    assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks WHERE report = 'longreport'`))[0].n, 1);
    // gone for good (the depth counts messages in flight too), while the run
    // waits: it can outlast the visibility timeout without a redelivery
    await waitFor("the message to be deleted while the run goes on", async () => (await queueDepth("crash-q")) === 0);
    assert.ok(await waitingAtGate(), "still running");
    assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'longreport'`))[0].n, 0);
  } finally {
    await gate.end();
  }
  await waitFor("the run", async () =>
    (await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'longreport'`))[0].n === 1, 30000);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks WHERE report = 'longreport'`))[0].n, 0,
    "its task ended with it");
});
