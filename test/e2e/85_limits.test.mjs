// The worker is not held up by others: webhook receivers that never answer
// do not delay event processing, an SQS endpoint that answers at once is not
// polled in a tight loop, and an export's memory does not grow with its rows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import {
  sql, connect, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueUrl,
  emulator, exported, workerPid,
} from "./lib.mjs";

const db = "e2e_limits";
const bucket = `limits-${process.pid}`;

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue("limits-q");
  await notifyQueue(bucket, "limits-q", "in/");
  await sql(db, `CREATE FOREIGN TABLE t (v int, src text OPTIONS (metadata 'uri')) SERVER lake
                 OPTIONS (uri 's3://${bucket}/in/')`);
  await sql(db, `SELECT pipeline.create_report(name => 'seen', source => 's3://${bucket}/in/', mode => 'append',
                  query => $$SELECT v, src FROM t WHERE src = ANY (pipeline.trigger_uris())$$, target => 'seen')`);
  await sql(db, `SELECT pipeline.add_queue('lq', $1, 'lake')`, [queueUrl("limits-q")]);
});

after(async () => {
  await sql("postgres", `ALTER SYSTEM RESET pipeline.poll_wait`);
  await sql("postgres", `ALTER SYSTEM RESET pipeline.visibility_timeout`);
  await sql("postgres", `ALTER SYSTEM RESET pipeline.webhook_hosts`);
  await sql("postgres", `SELECT pg_reload_conf()`);
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", `DROP ROLE IF EXISTS limits_bob`);
});

test("webhook receivers that never answer do not delay an unrelated event", async () => {
  // five receivers that take the request and never answer
  const open = new Set();
  const server = createServer((req) => { open.add(req); req.on("close", () => open.delete(req)); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/hang`;
  try {
    await sql(db, `SELECT pipeline.create_report(name => 'hooked', query => 'SELECT 1 AS one',
                    target => 'hooked', webhook => $1)`, [url]);
    for (let i = 0; i < 5; i++) await sql(db, `SELECT pipeline.run_report('hooked')`);
    await waitFor("the worker to be inside the five POSTs", async () => open.size === 5);
    // an object arrives meanwhile; its run must not wait for the receivers
    await put(bucket, "in/during-hang.json", [{ v: 1 }]);
    await waitFor("the event's run", async () =>
      (await sql(db, `SELECT count(*)::int AS n FROM seen WHERE src LIKE '%during-hang.json'`))[0].n === 1);
    // it ran while every one of the POSTs was still waiting for its answer
    assert.equal(open.size, 5, "the receivers still hold the five requests");
  } finally {
    for (const req of open) req.socket.destroy();
    server.close();
  }
});

// README: "Settings reload on SIGHUP."  The worker's ReceiveMessage carries
// pipeline.poll_wait and pipeline.visibility_timeout (the request log shows
// them): after pg_reload_conf the same worker polls with the new values.
test("settings reload on SIGHUP: the same worker polls with the new poll_wait and visibility_timeout", async () => {
  const pid = await waitFor("the worker", () => workerPid(db));
  const polls = async (wait, visibility) => (await emulator("GET", "/_emulator/requests")).filter((r) =>
    r.target === "AmazonSQS.ReceiveMessage" && r.queue_url === queueUrl("limits-q") &&
    r.wait_time_seconds === wait && r.visibility_timeout === visibility);
  await waitFor("a poll with the settings of the test cluster (poll_wait 2, visibility_timeout 5)",
    async () => (await polls(2, 5)).length > 0, 30000, 250);
  await sql("postgres", `ALTER SYSTEM SET pipeline.poll_wait = 3`);
  await sql("postgres", `ALTER SYSTEM SET pipeline.visibility_timeout = '13s'`);
  await sql("postgres", `SELECT pg_reload_conf()`);
  await waitFor("a poll with the reloaded settings", async () => (await polls(3, 13)).length > 0, 60000, 250);
  assert.equal(await workerPid(db), pid, "the same worker: reloaded, not restarted");
  await sql("postgres", `ALTER SYSTEM RESET pipeline.visibility_timeout`);
  await sql("postgres", `ALTER SYSTEM RESET pipeline.poll_wait`);
  await sql("postgres", `SELECT pg_reload_conf()`);
});

// README: webhook hosts are "checked again at every delivery, so a host taken
// off the list gets nothing more".  An ordinary role's report posts to a
// host on pipeline.webhook_hosts; the host is taken off (a reload the worker
// is seen to have made: it polls with the poll_wait set in the same
// reload); the next run's summary is refused at delivery.
test("a webhook host taken off pipeline.webhook_hosts gets nothing more", async () => {
  const got = [];
  const server = createServer((req, res) => { got.push(req.url); req.resume(); req.on("end", () => { res.writeHead(204); res.end(); }); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/bob`;
  const reloaded = async (wait, hosts) => {
    await sql("postgres", `ALTER SYSTEM SET pipeline.poll_wait = ${wait}`);
    if (hosts) await sql("postgres", `ALTER SYSTEM SET pipeline.webhook_hosts = '${hosts}'`);
    else await sql("postgres", `ALTER SYSTEM RESET pipeline.webhook_hosts`);
    await sql("postgres", `SELECT pg_reload_conf()`);
    await emulator("DELETE", "/_emulator/requests");
    await waitFor("the worker to reload", async () => (await emulator("GET", "/_emulator/requests")).some((r) =>
      r.target === "AmazonSQS.ReceiveMessage" && r.queue_url === queueUrl("limits-q") && r.wait_time_seconds === wait), 60000, 250);
    await waitFor("new sessions to see it", async () =>
      (await sql(db, `SELECT current_setting('pipeline.webhook_hosts') AS h`))[0].h === (hosts ?? ""));
  };
  try {
    await sql(db, `CREATE ROLE limits_bob; GRANT CREATE ON SCHEMA public TO limits_bob`);
    await reloaded(3, "127.0.0.1");
    await sql(db, `SET ROLE limits_bob; SELECT pipeline.create_report(name => 'bobs', query => 'SELECT 1 AS one',
                    target => 'bobs', webhook => '${url}')`);
    await sql(db, `SET ROLE limits_bob; SELECT pipeline.run_report('bobs')`);
    const first = (await sql(db, `SELECT max(id) AS id FROM pipeline.runs WHERE report = 'bobs'`))[0].id;
    await waitFor("the first summary", async () => got.length === 1);
    await reloaded(4, null);
    await sql(db, `SET ROLE limits_bob; SELECT pipeline.run_report('bobs')`);
    const second = (await sql(db, `SELECT max(id) AS id FROM pipeline.runs WHERE report = 'bobs'`))[0].id;
    assert.notEqual(String(second), String(first));
    const refused = await waitFor("the second delivery to be refused", async () => {
      const r = await sql(db, `SELECT last_error, gave_up, delivered_at FROM pipeline.webhooks WHERE run_id = $1`, [second]);
      return r[0]?.last_error && r[0];
    }, 30000, 250);
    assert.match(refused.last_error, /refused URL: its host is not in pipeline.webhook_hosts/);
    assert.equal(refused.delivered_at, null);
    assert.deepEqual(got, ["/bob"], "the receiver got the first summary only");
  } finally {
    server.close();
    await sql("postgres", `ALTER SYSTEM RESET pipeline.webhook_hosts`);
    await sql("postgres", `ALTER SYSTEM RESET pipeline.poll_wait`);
    await sql("postgres", `SELECT pg_reload_conf()`);
  }
});

test("an SQS endpoint that answers at once is not polled in a tight loop", async () => {
  // with poll_wait 0, every ReceiveMessage answers at once, empty
  await sql("postgres", `ALTER SYSTEM SET pipeline.poll_wait = 0`);
  await sql("postgres", `SELECT pg_reload_conf()`);
  await emulator("DELETE", "/_emulator/requests");
  const receives = async () => (await emulator("GET", "/_emulator/requests"))
    .filter((r) => r.target === "AmazonSQS.ReceiveMessage" && r.status === 200).length;
  const t0 = Date.now();
  // wait for a few answered polls, then count them against the time they took
  await waitFor("a few polls", async () => (await receives()) >= 4, 20000);
  const n = await receives();
  const seconds = (Date.now() - t0) / 1000;
  // at most one a second (one queue in this cluster now), plus the one in flight
  assert.ok(n <= Math.ceil(seconds) + 2, `${n} polls in ${seconds.toFixed(1)} s`);
  await sql("postgres", `ALTER SYSTEM RESET pipeline.poll_wait`);
  await sql("postgres", `SELECT pg_reload_conf()`);
});

test("an export's memory stays flat in the number of rows", async () => {
  const c = await connect(db);
  try {
    const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
    await c.query("SELECT count(*) FROM generate_series(1, 1000)"); // warm up the backend
    const before = hwm();
    const r = (await c.query(`SELECT * FROM pipeline.export(
      $$SELECT i, md5(i::text) AS h FROM generate_series(1, 1000000) i$$,
      's3://${bucket}/out/million.json.gz')`)).rows[0];
    assert.equal(Number(r.rows), 1000000);
    const grown = hwm() - before;
    // 266 bytes a row were kept until the end before: 260 MB for this export
    assert.ok(grown < 64 * 1024 * 1024, `the backend grew by ${(grown / 1048576).toFixed(1)} MB`);
  } finally {
    await c.end();
  }
  await exported(db, `s3://${bucket}/out/million.json.gz`, 60000);
});

test("pipeline.progress shows a report run while it goes on, to those who may see it", async () => {
  await sql(db, `
    CREATE FUNCTION slow_rows(n int) RETURNS SETOF int LANGUAGE plpgsql AS $$
    BEGIN FOR i IN 1..n LOOP PERFORM pg_advisory_xact_lock_shared(4711); RETURN NEXT i; END LOOP; END $$;
    SELECT pipeline.create_report(name => 'slowrun', query => 'SELECT i FROM slow_rows(3) i', target => 'slowrun');
    DROP ROLE IF EXISTS limits_peer;
    CREATE ROLE limits_peer;`);
  // hold the run inside its query
  const lock = await connect(db);
  await lock.query("SELECT pg_advisory_lock(4711)");
  const runner = await connect(db);
  const running = runner.query("SELECT pipeline.run_report('slowrun')");
  const peer = await connect(db);
  try {
    const p = await waitFor("the run in pipeline.progress", async () =>
      (await sql(db, `SELECT kind, what, within, usename::text, objects_total FROM pipeline.progress`))[0]);
    assert.deepEqual(p, { kind: "run", what: "slowrun", within: null, usename: "postgres", objects_total: "0" });
    // a role without the rights of the running backend's user sees nothing of it
    await peer.query("SET ROLE limits_peer");
    assert.deepEqual((await peer.query("SELECT count(*)::int AS n FROM pipeline.progress")).rows, [{ n: 0 }]);
  } finally {
    await lock.query("SELECT pg_advisory_unlock(4711)");
    await lock.end();
    await peer.end();
  }
  await running;
  await runner.end();
  assert.deepEqual(await sql(db, `SELECT * FROM pipeline.progress`), [], "nothing once it is over");
  await sql(db, `DROP ROLE limits_peer`);
});
