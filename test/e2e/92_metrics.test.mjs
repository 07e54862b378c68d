// Metrics: tools/metrics/queries.yaml, the custom queries of Prometheus'
// postgres_exporter.  Against a database where a role's queue and reports
// hold every kind of state (runs that succeeded and failed, waiting work, dead
// letters, unmatched objects, exports pending and failed, webhooks waiting
// and given up on): every query of the file runs as the monitoring role the
// README describes (pg_monitor + BYPASSRLS, not a superuser), returns
// exactly the columns the file declares, with the right types and values; a
// role with pg_monitor alone sees none of another role's rows (row-level
// security: why BYPASSRLS); and Debian's postgres_exporter, given the file,
// exposes every series with those values.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import {
  sql, sqlAs, connectAs, waitFor, createBucket, createQueue, notifyQueue, put, queueUrl, queueDepth, endpoint,
  sendMessage,
} from "./lib.mjs";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const YAML = require("yaml");

const QUERIES = new URL("../../tools/metrics/queries.yaml", import.meta.url);
const EXPORTER = new URL("../../tools/metrics/.bin/postgres_exporter", import.meta.url).pathname;
const db = "e2e_metrics";
const owner = "metrics_owner";
const monitor = "metrics_monitor";      // what the README says to create
const plain = "metrics_plain";          // pg_monitor without BYPASSRLS
const bucket = `metrics-${process.pid}`;
const queue = "metrics-q";
const config = YAML.parse(readFileSync(QUERIES, "utf8"));

/** name -> { query, metrics: [{ column, usage, description }] } */
const queries = Object.entries(config).map(([name, q]) => ({
  name, query: q.query,
  metrics: q.metrics.map((m) => {
    const [column, spec] = Object.entries(m)[0];
    return { column, ...spec };
  }),
}));

async function dropAll() {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  for (const r of [owner, monitor, plain]) await sql("postgres", `DROP ROLE IF EXISTS ${r}`);
}

before(async () => {
  await dropAll();
  await sql("postgres", `CREATE ROLE ${owner} LOGIN`);
  // the README's monitoring role
  await sql("postgres", `CREATE ROLE ${monitor} LOGIN BYPASSRLS IN ROLE pg_monitor`);
  await sql("postgres", `CREATE ROLE ${plain} LOGIN IN ROLE pg_monitor`);
  await createBucket(bucket);
  await createQueue(queue);
  await notifyQueue(bucket, queue, "");
  await sql("postgres", `CREATE DATABASE ${db}`);
  await sql(db, `
    CREATE EXTENSION pipeline;
    CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
    GRANT USAGE ON FOREIGN SERVER lake TO ${owner};
    GRANT CREATE ON SCHEMA public TO ${owner};
    CREATE USER MAPPING FOR ${owner} SERVER lake OPTIONS (access_key_id 'alice', secret_access_key 'alice-secret');`);
  await sqlAs(owner, db, `
    CREATE FOREIGN TABLE objects (v int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://${bucket}/');
    SELECT pipeline.create_report(name => 'm_ok', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT v, src FROM objects WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.m_ok');
    SELECT pipeline.create_report(name => 'm_held', source => 's3://${bucket}/held/', mode => 'append',
      query => $$SELECT v, src FROM objects WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.m_held');
    SELECT pipeline.pause_report('m_held');
    SELECT pipeline.create_report(name => 'm_bad', source => 's3://${bucket}/bad/', max_attempts => 1,
      query => $$SELECT v / 0 AS boom FROM objects WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.m_bad');
    SELECT pipeline.add_queue('mq', '${queueUrl(queue)}', server => 'lake');`);

  await put(bucket, "in/a.json", [{ v: 1 }, { v: 2 }]);
  await put(bucket, "held/h.json", [{ v: 3 }]);
  await put(bucket, "bad/b.json", [{ v: 4 }]);
  await put(bucket, "other/u.json", [{ v: 5 }]);
  await sendMessage(queue, "not an S3 event");
  await waitFor("a success, a failure given up on, waiting work, an unmatched object, a bad message", async () => {
    const [r] = await sql(db, `SELECT
      (SELECT count(*) FROM pipeline.runs WHERE report = 'm_ok' AND status = 'succeeded')::int AS ok,
      (SELECT count(*) FROM pipeline.dead_letters WHERE report = 'm_bad')::int AS bad,
      (SELECT count(*) FROM pipeline.tasks WHERE report = 'm_held')::int AS held,
      (SELECT count(*) FROM pipeline.unmatched)::int AS unmatched,
      (SELECT count(*) FROM pipeline.dead_letters WHERE report IS NULL)::int AS invalid`);
    return r.ok === 1 && r.bad === 1 && r.held === 1 && r.unmatched === 1 && r.invalid === 1;
  }, 30000);
  await waitFor("the queue to be empty", async () => (await queueDepth(queue)) === 0, 30000);
  // exports and webhooks in every state (rows as the worker leaves them; due
  // in 2100, so that it leaves these alone)
  await sql(db, `
    INSERT INTO pipeline.exports (report, server, owner, bucket, key, upload_id, etags, rows, bytes, state, next_attempt, last_error)
    VALUES ('m_ok', 'lake', '${owner}', '${bucket}', 'out/p.json.gz', 'u1', '{}', 10, 1000, 'pending', '2100-01-01', NULL),
           ('m_ok', 'lake', '${owner}', '${bucket}', 'out/f.json.gz', 'u2', '{}', 5, 500, 'failed', '2100-01-01', 'NoSuchUpload');
    INSERT INTO pipeline.webhooks (report, run_id, url, payload, next_attempt, delivered_at, gave_up)
    VALUES ('m_ok', 1, 'http://127.0.0.1:9/hook', '{}', '2100-01-01', NULL, false),
           ('m_ok', 1, 'http://127.0.0.1:9/hook', '{}', '2100-01-01', NULL, true),
           ('m_ok', 1, 'http://127.0.0.1:9/hook', '{}', '2100-01-01', now(), false);`);
});

after(dropAll);

const results = {};

test("every query runs as the monitoring role and returns the columns it declares", async () => {
  assert.ok(queries.length >= 7, "the file has the queries");
  const names = new Set();
  for (const q of queries) {
    assert.match(q.name, /^pipeline_[a-z_]+$/, `${q.name}: metric namespace`);
    for (const m of q.metrics) {
      assert.ok(["LABEL", "GAUGE", "COUNTER"].includes(m.usage), `${q.name}.${m.column}: usage ${m.usage}`);
      assert.ok(m.description?.length > 5, `${q.name}.${m.column}: a description`);
      if (m.usage !== "LABEL") {
        const metric = `${q.name}_${m.column}`;
        assert.ok(!names.has(metric), `${metric} is declared once`);
        names.add(metric);
        if (m.usage === "COUNTER") assert.match(metric, /_total$/, `${metric}: counters end in _total`);
      }
    }
    assert.equal(q.metrics[0].column, "datname", `${q.name}: labelled with the database first`);

    const c = await connectAs(monitor, db);
    let r;
    try {
      r = await c.query(q.query);
    } finally {
      await c.end();
    }
    assert.deepEqual(r.fields.map((f) => f.name), q.metrics.map((m) => m.column), `${q.name}: columns as declared`);
    for (const row of r.rows) {
      for (const m of q.metrics) {
        const v = row[m.column];
        if (m.usage === "LABEL") {
          assert.equal(typeof v, "string", `${q.name}.${m.column} is text`);
        } else {
          assert.ok(v !== null && Number.isFinite(Number(v)), `${q.name}.${m.column} is a number, not ${v}`);
          assert.ok(Number(v) >= 0, `${q.name}.${m.column} >= 0`);
        }
      }
    }
    results[q.name] = r.rows;
  }
});

test("the queries count what the database holds", () => {
  const one = (name, labels) => {
    const rows = results[name].filter((r) => Object.entries(labels).every(([k, v]) => r[k] === v));
    assert.equal(rows.length, 1, `${name} ${JSON.stringify(labels)}: one row`);
    const num = {};
    for (const [k, v] of Object.entries(rows[0])) num[k] = typeof v === "string" && /^[\d.]+$/.test(v) ? Number(v) : v;
    return num;
  };
  assert.equal(one("pipeline_worker", { datname: db }).running, 1);
  const q = one("pipeline_queue", { queue: "mq" });
  assert.equal(q.pending_tasks, 1);                 // held/h.json waits for the paused report
  assert.ok(q.oldest_pending_seconds > 0);
  assert.equal(q.unmatched, 1);                     // other/u.json
  assert.ok(q.oldest_unmatched_seconds > 0);
  assert.equal(q.dead_letters, 2);                  // the bad message, and bad/b.json given up on
  assert.equal(q.invalid_total, 1);
  assert.equal(q.unmatched_total, 1);
  assert.ok(q.objects_total >= 4, `objects_total ${q.objects_total}`);
  assert.ok(q.messages_total >= 5, `messages_total ${q.messages_total}`);
  assert.equal(one("pipeline_report", { report: "m_held" }).state, "paused");
  assert.equal(one("pipeline_report", { report: "m_held" }).pending_tasks, 1);
  assert.equal(one("pipeline_report", { report: "m_bad" }).dead_letters, 1);
  assert.equal(one("pipeline_report", { report: "m_bad" }).consecutive_failures, 1);
  assert.ok(one("pipeline_report", { report: "m_ok" }).last_success_timestamp_seconds > 1.7e9);
  const ok = one("pipeline_runs", { report: "m_ok", status: "succeeded" });
  assert.deepEqual([ok.runs, ok.rows, ok.objects], [1, 2, 1]);
  assert.ok(ok.bytes_scanned > 0, "bytes scanned");
  assert.equal(one("pipeline_runs", { report: "m_bad", status: "failed" }).runs, 1);
  assert.equal(one("pipeline_dead_letters", { queue: "mq", report: "" }).count, 1);
  assert.equal(one("pipeline_dead_letters", { report: "m_bad" }).count, 1);
  assert.deepEqual([one("pipeline_exports", { state: "pending" }).count, one("pipeline_exports", { state: "pending" }).bytes], [1, 1000]);
  assert.equal(one("pipeline_exports", { state: "failed" }).count, 1);
  assert.equal(one("pipeline_exports", { state: "completed" }).count, 0);
  const w = one("pipeline_webhooks", { report: "m_ok" });
  assert.deepEqual([w.backlog, w.gave_up, w.delivered], [1, 1, 1]);
  assert.ok(w.oldest_backlog_seconds >= 0);
});

test("without BYPASSRLS, pg_monitor sees none of another role's queues and reports", async () => {
  for (const q of queries) {
    const rows = await sqlAs(plain, db, q.query);   // no permission error either
    if (q.name === "pipeline_queue" || q.name === "pipeline_report" || q.name === "pipeline_runs") {
      assert.deepEqual(rows, [], `${q.name}: row-level security hides ${owner}'s rows`);
    }
  }
});

/** A free port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test("Debian's postgres_exporter loads the file and exposes every series", async () => {
  assert.ok(existsSync(EXPORTER), `${EXPORTER} (tools/install-deps unpacks it)`);
  const port = await freePort();
  const dsn = `host=${process.env.PGHOST} port=${process.env.PGPORT} user=${monitor} dbname=${db} sslmode=disable`;
  const proc = spawn(EXPORTER, [
    `--extend.query-path=${QUERIES.pathname}`, `--web.listen-address=127.0.0.1:${port}`,
    "--disable-settings-metrics", "--log.level=warn",
  ], { env: { PATH: process.env.PATH, DATA_SOURCE_NAME: dsn }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => { stderr += d; });
  try {
    const text = await waitFor("the exporter's /metrics with pipeline's series", async () => {
      if (proc.exitCode !== null) throw new Error(`the exporter exited: ${stderr}`);
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      const t = await r.text();
      return /^pipeline_worker_running\{/m.test(t) && t;
    }, 30000, 200);
    assert.match(text, /^pg_exporter_user_queries_load_error\{[^}]*\} 0$/m, "the file loads");
    assert.match(text, /^pg_exporter_last_scrape_error 0$/m, `no scrape error (stderr: ${stderr})`);
    // every row of every query, as a series with its labels and value
    for (const q of queries) {
      const labels = q.metrics.filter((m) => m.usage === "LABEL").map((m) => m.column);
      for (const row of results[q.name]) {
        for (const m of q.metrics.filter((x) => x.usage !== "LABEL")) {
          const series = text.split("\n").filter((l) => l.startsWith(`${q.name}_${m.column}{`) &&
            labels.every((k) => l.includes(`${k}="${row[k]}"`)));
          assert.equal(series.length, 1, `${q.name}_${m.column} ${JSON.stringify(row)}: one series`);
          if (!/seconds$/.test(m.column)) {
            // (ages move between the query above and the scrape; counts here do not)
            assert.equal(Number(series[0].split(" ").at(-1)), Number(row[m.column]), series[0]);
          }
        }
      }
    }
    const help = text.split("\n").filter((l) => l.startsWith("# TYPE pipeline_"));
    assert.ok(help.some((l) => l === "# TYPE pipeline_queue_messages_total counter"), "counters are typed");
    assert.ok(help.some((l) => l === "# TYPE pipeline_queue_pending_tasks gauge"), "gauges are typed");
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
  }
});
