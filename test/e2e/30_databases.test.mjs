// Workers and databases: one worker per database with the extension, its
// own queues; CREATE/DROP EXTENSION start and stop it without a restart;
// DROP DATABASE, RENAME and TEMPLATE are never blocked; reports run with
// their owner's rights; the worker prunes history; without
// shared_preload_libraries the FDW works and the worker's parts say why not.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, appendFileSync, chmodSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import {
  sql, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueDepth,
  queueUrl, workerPid, s3Event, serverLog, endpoint,
} from "./lib.mjs";

const bucket = `dbs-${process.pid}`;

after(async () => {
  for (const db of ["e2e_db_a", "e2e_db_b", "e2e_ext", "e2e_ext_later", "e2e_prune", "e2e_drop", "e2e_drop_renamed", "e2e_drop_copy", "e2e_owner"]) {
    await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
  await sql("postgres", `DROP ROLE IF EXISTS pipeline_alice`);
});

test("two databases, each with its own queue and reports", async () => {
  await createBucket(bucket);
  await createQueue("dbs-a");
  await createQueue("dbs-b");
  // one bucket, two prefixes, two queues
  const { s3, s3sdk, queueArn } = await import("./lib.mjs");
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: {
      QueueConfigurations: [
        { QueueArn: await queueArn("dbs-a"), Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "a/" }] } } },
        { QueueArn: await queueArn("dbs-b"), Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "b/" }] } } },
      ],
    },
  }));
  for (const [db, q, p] of [["e2e_db_a", "dbs-a", "a"], ["e2e_db_b", "dbs-b", "b"]]) {
    await createDatabase(db);
    await sql(db, `CREATE FOREIGN TABLE t (v int) SERVER lake OPTIONS (uri 's3://${bucket}/${p}/')`);
    await sql(db, `SELECT pipeline.create_report(name => 'total', source => 's3://${bucket}/${p}/',
                    query => 'SELECT sum(v) AS total FROM t', target => 'total')`);
    await sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl(q)]);
  }
  await put(bucket, "a/1.json", [{ v: 1 }, { v: 2 }]);
  await put(bucket, "b/1.json", [{ v: 10 }]);
  await waitFor("database a's report", async () => (await sql("e2e_db_a", `SELECT * FROM total`)).length > 0);
  await waitFor("database b's report", async () => (await sql("e2e_db_b", `SELECT * FROM total`)).length > 0);
  assert.deepEqual(await sql("e2e_db_a", `SELECT total::int FROM total`), [{ total: 3 }]);
  assert.deepEqual(await sql("e2e_db_b", `SELECT total::int FROM total`), [{ total: 10 }]);
  const pa = await workerPid("e2e_db_a");
  const pb = await workerPid("e2e_db_b");
  assert.ok(pa && pb && pa !== pb, "a worker per database");
});

test("CREATE EXTENSION starts a worker without a restart, DROP EXTENSION stops it", async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS e2e_ext WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE e2e_ext`);
  // the launcher starts a worker for it, which finds no extension, says so
  // (at DEBUG1, asked for here) and leaves
  await sql("postgres", `ALTER DATABASE e2e_ext SET log_min_messages = debug1`);
  const leaves = /pipeline worker for database "e2e_ext" stops: the extension is not installed/;
  await waitFor("the worker to find no extension", () => serverLog(leaves).length >= 1, 30000, 250);
  await waitFor("it to leave", async () => (await workerPid("e2e_ext")) === null, 10000);
  // and it is not started again: the launcher has looked at the databases
  // again (it started the worker of one created since), e2e_ext it left alone
  await createDatabase("e2e_ext_later");
  await waitFor("a later database's worker", () => workerPid("e2e_ext_later"), 30000);
  assert.equal(await workerPid("e2e_ext"), null, "no extension, no worker");
  assert.equal(serverLog(leaves).length, 1, "it came once, not again at every look");
  await sql("postgres", `ALTER DATABASE e2e_ext RESET log_min_messages`);
  await sql("postgres", `DROP DATABASE e2e_ext_later WITH (FORCE)`);
  await sql("e2e_ext", `CREATE EXTENSION pipeline`);
  await waitFor("the worker to start", () => workerPid("e2e_ext"), 10000);
  await sql("e2e_ext", `DROP EXTENSION pipeline`);
  await waitFor("the worker to leave", async () => (await workerPid("e2e_ext")) === null, 10000);
});

// Without FORCE, PostgreSQL waits up to 5 s for other sessions of the
// database to end and then fails with "database is being accessed by other
// users": these succeed only because the worker leaves when asked.
test("DROP DATABASE, ALTER DATABASE RENAME and CREATE DATABASE ... TEMPLATE are not blocked by the worker", async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS e2e_drop_renamed WITH (FORCE)`);
  await sql("postgres", `DROP DATABASE IF EXISTS e2e_drop_copy WITH (FORCE)`);
  await createDatabase("e2e_drop");
  await sql("e2e_drop", `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("dbs-a")]);
  await sql("e2e_drop", `CREATE TABLE kept AS SELECT 42 AS answer`);

  const first = await waitFor("the worker", () => workerPid("e2e_drop"));
  await sql("postgres", `CREATE DATABASE e2e_drop_copy TEMPLATE e2e_drop`); // a copy needs the template to itself
  assert.deepEqual(await sql("e2e_drop_copy", `SELECT answer FROM kept`), [{ answer: 42 }], "the copy was made");
  const second = await waitFor("the worker to come back", () => workerPid("e2e_drop"), 30000);
  assert.notEqual(second, first, "a new worker: the old one had left for the copy");
  await waitFor("the copy's worker", () => workerPid("e2e_drop_copy"), 30000);

  await sql("postgres", `ALTER DATABASE e2e_drop RENAME TO e2e_drop_renamed`);
  await waitFor("the renamed database's worker", () => workerPid("e2e_drop_renamed"), 30000);

  await sql("postgres", `DROP DATABASE e2e_drop_renamed`); // no FORCE
  await sql("postgres", `DROP DATABASE e2e_drop_copy`);
  assert.deepEqual(await sql("postgres", `SELECT datname FROM pg_database WHERE datname LIKE 'e2e_drop%'`), []);
});

// README: the worker "prunes runs, rejects, processed versions, unmatched
// objects, completed exports and delivered webhooks older than
// pipeline.history_retention days" (30).  It prunes when it starts, then
// hourly: history is planted, then the worker is made to start again.
test("the worker prunes history older than pipeline.history_retention, and only that", async () => {
  const db = "e2e_prune";
  await createDatabase(db);
  const first = await waitFor("the worker", () => workerPid(db));
  await sql(db, `
    INSERT INTO pipeline.runs (id, report, trigger, status, started_at, finished_at) VALUES
      (1, 'r', 'manual', 'succeeded', now() - interval '40 days', now() - interval '40 days'),
      (2, 'r', 'manual', 'succeeded', now() - interval '20 days', now() - interval '20 days');
    INSERT INTO pipeline.processed (report, bucket, key, version, run_id, processed_at) VALUES
      ('r', 'b', 'old', 'v', 1, now() - interval '40 days'), ('r', 'b', 'recent', 'v', 2, now() - interval '20 days');
    -- (the pending one is not due, so that no delivery attempt changes it meanwhile)
    INSERT INTO pipeline.webhooks (report, run_id, url, payload, created_at, delivered_at, next_attempt) VALUES
      ('r', 1, 'http://127.0.0.1:9/old-delivered', '{}', now() - interval '40 days', now() - interval '40 days', now()),
      ('r', 1, 'http://127.0.0.1:9/old-pending', '{}', now() - interval '40 days', NULL, now() + interval '1 day'),
      ('r', 2, 'http://127.0.0.1:9/recent-delivered', '{}', now() - interval '20 days', now() - interval '20 days', now());`);
  const history = async () => ({
    runs: (await sql(db, `SELECT id::int FROM pipeline.runs ORDER BY id`)).map((r) => r.id),
    processed: (await sql(db, `SELECT key FROM pipeline.processed ORDER BY key`)).map((r) => r.key),
    webhooks: (await sql(db, `SELECT url FROM pipeline.webhooks ORDER BY url`)).map((r) => r.url.replace(/.*\//, "")),
  });
  await sql("postgres", `SELECT pg_terminate_backend($1)`, [first]);
  await waitFor("a new worker", async () => { const p = await workerPid(db); return p && p !== first; }, 60000, 250);
  await waitFor("the old history to be pruned", async () => (await history()).runs.length === 1, 30000, 250);
  assert.deepEqual(await history(), {
    runs: [2], processed: ["recent"], webhooks: ["old-pending", "recent-delivered"],
  }, "older than 30 days went (a webhook not yet delivered stays); younger stayed");
  await sql("postgres", `DROP DATABASE ${db} WITH (FORCE)`);
});

test("a report runs with its owner's rights: no reading a table through it", async () => {
  const db = "e2e_owner";
  await createDatabase(db);
  await sql(db, `
    CREATE ROLE pipeline_alice;
    GRANT USAGE ON FOREIGN SERVER lake TO pipeline_alice;
    GRANT CREATE ON SCHEMA public TO pipeline_alice;
    CREATE USER MAPPING FOR pipeline_alice SERVER lake
      OPTIONS (access_key_id 'alice', secret_access_key 'alice-secret');
    CREATE TABLE secret (s text);
    INSERT INTO secret VALUES ('the crown jewels');
    CREATE FOREIGN TABLE t (v int) SERVER lake OPTIONS (uri 's3://${bucket}/owner/');
    GRANT SELECT ON t TO pipeline_alice;`);
  // a query its owner may not run is refused at creation...
  await assert.rejects(sql(db, `SET ROLE pipeline_alice;
    SELECT pipeline.create_report(name => 'sneaky', source => 's3://${bucket}/owner/',
      query => 'SELECT s FROM secret', target => 'loot');`), /permission denied for table secret/);
  // ... and one whose owner lost the right fails when it runs
  await sql(db, `GRANT SELECT ON secret TO pipeline_alice`);
  await sql(db, `SET ROLE pipeline_alice;
    SELECT pipeline.create_report(name => 'sneaky', source => 's3://${bucket}/owner/',
      query => 'SELECT s FROM secret', target => 'loot');
    SELECT pipeline.create_report(name => 'honest', source => 's3://${bucket}/owner/',
      query => 'SELECT sum(v) AS total FROM t', target => 'mine');`);
  await sql(db, `REVOKE SELECT ON secret FROM pipeline_alice`);
  // what the worker (a superuser) does when the object arrives
  await put(bucket, "owner/1.json", [{ v: 5 }]);
  await sql(db, `SELECT * FROM pipeline.handle_event($1::jsonb)`,
    [JSON.stringify(s3Event(bucket, "owner/1.json"))]);
  const runs = await sql(db, `SELECT report, status, error FROM pipeline.runs ORDER BY report, id`);
  const sneaky = runs.filter((r) => r.report === "sneaky");
  assert.ok(sneaky.length >= 1 && sneaky.every((r) => r.status === "failed"), "the sneaky report failed");
  assert.match(sneaky[0].error, /permission denied for table secret/);
  const loot = await sql(db, `SELECT to_regclass('loot') AS t`);
  if (loot[0].t !== null) {
    assert.deepEqual(await sql(db, `SELECT count(*)::int AS n FROM loot`), [{ n: 0 }], "nothing was written");
  }
  const honest = runs.filter((r) => r.report === "honest");
  assert.ok(honest.some((r) => r.status === "succeeded"), "the honest report ran");
  assert.deepEqual(await sql(db, `SELECT tableowner FROM pg_tables WHERE tablename = 'mine'`),
    [{ tableowner: "pipeline_alice" }], "its table belongs to the report's owner");
});

// README: "The foreign data wrapper works without shared_preload_libraries;
// the worker does not."  A cluster of its own, without it.
test("without shared_preload_libraries: the FDW reads, exports and queues say they need the worker", async () => {
  const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
  const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const run = (cmd, args, opts = {}) => execFileSync(asPg[0] ?? cmd, asPg.length ? [...asPg.slice(1), cmd, ...args] : args,
    { stdio: "pipe", cwd: "/", ...opts });
  const dir = mkdtempSync("/tmp/pipeline-nopreload-");
  chmodSync(dir, 0o755);
  mkdirSync(`${dir}/sock`);
  mkdirSync(`${dir}/data`, { mode: 0o700 });
  if (asPg.length) execFileSync("chown", ["postgres:", `${dir}/data`, `${dir}/sock`]);
  const port = await new Promise((r) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });
  let started = false;
  try {
    run(`${pgbin}/initdb`, ["-D", `${dir}/data`, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
    appendFileSync(`${dir}/data/postgresql.conf`,
      `listen_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}/sock'\nfsync = off\n`);
    run(`${pgbin}/pg_ctl`, ["-D", `${dir}/data`, "-l", `${dir}/data/log`, "-w", "-t", "120", "start"]);
    started = true;
    const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
    const pg = require("pg");
    const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
    await c.connect();
    try {
      const q = async (text) => (await c.query(text)).rows;
      assert.deepEqual(await q(`SHOW shared_preload_libraries`), [{ shared_preload_libraries: "" }]);
      await put(bucket, "nopreload/a.json", [{ v: 1 }, { v: 2 }]);
      await q(`CREATE EXTENSION pipeline;
        CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
        CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
        CREATE FOREIGN TABLE t (v int) SERVER lake OPTIONS (uri 's3://${bucket}/nopreload/');`);
      assert.deepEqual(await q(`SELECT sum(v)::int AS s FROM t`), [{ s: 3 }], "the FDW reads");
      await assert.rejects(q(`SELECT * FROM pipeline.export('SELECT 1 AS x', 's3://${bucket}/nopreload/out.json')`),
        (e) => /exports need the pipeline worker/.test(e.message) && /shared_preload_libraries/.test(e.hint),
        "an export says it needs the worker, and how to get one");
      await q(`SELECT pipeline.add_queue('q', '${queueUrl("dbs-a")}', 'lake')`);
      assert.deepEqual(await q(`SELECT queue, state FROM pipeline.status`), [{ queue: "q", state: "not polled" }],
        "a queue is kept, and shown as not polled");
      assert.deepEqual(await q(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type LIKE 'pipeline%'`), [{ n: 0 }],
        "no launcher, no worker");
    } finally {
      await c.end();
    }
  } finally {
    if (started) run(`${pgbin}/pg_ctl`, ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"]);
    rmSync(dir, { recursive: true, force: true });
  }
});
