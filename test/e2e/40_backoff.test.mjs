// SQS unreachable: the worker backs off, logs the change of state once (not
// every poll), and carries on by itself when SQS answers again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueDepth,
  queueUrl, emulator, serverLog,
} from "./lib.mjs";

const db = "e2e_backoff";
const bucket = `backoff-${process.pid}`;
const state = async () => (await sql(db, `SELECT state FROM pipeline.status WHERE queue = 'bq'`))[0]?.state;

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue("backoff-q");
  await notifyQueue(bucket, "backoff-q", "in/");
  await sql(db, `CREATE FOREIGN TABLE t (v int) SERVER lake OPTIONS (uri 's3://${bucket}/in/')`);
  await sql(db, `SELECT pipeline.create_report(name => 'total', source => 's3://${bucket}/in/',
                  query => 'SELECT sum(v) AS total FROM t', target => 'total')`);
  await sql(db, `SELECT pipeline.add_queue('bq', $1, 'lake')`, [queueUrl("backoff-q")]);
  await waitFor("the worker to poll", async () => (await state()) === "polling");
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("SQS failing: back off, log the state change once, resume when it answers", async () => {
  const failing = /cannot receive from queue "bq"/;
  const again = /receives from queue "bq" again/;
  const before = serverLog(failing).length;
  await emulator("DELETE", "/_emulator/requests");
  await emulator("POST", "/_emulator/faults",
    { service: "sqs", target: "ReceiveMessage", action: "status", status: 500, code: "InternalError", count: 0 });
  await waitFor("the worker to back off", async () => (await state()) === "backing off", 30000);
  // meanwhile an object arrives
  await put(bucket, "in/1.json", [{ v: 7 }]);
  // the failed polls, in order (the request log's arrival times)
  const failedPolls = async () => (await emulator("GET", "/_emulator/requests"))
    .filter((r) => r.target && r.target.endsWith("ReceiveMessage") && r.fault === "status")
    .map((r) => Date.parse(r.time));
  const polls = await waitFor("five failed polls", async () => {
    const p = await failedPolls();
    return p.length >= 5 && p;
  }, 60000, 250);
  assert.equal(serverLog(failing).length - before, 1, "one log line for the change of state, not one per poll");
  // the worker waits 500 ms x 2^k after the k-th failure before it polls
  // again: a lower bound on each gap (a busy machine only makes them longer)
  const gaps = polls.slice(1, 5).map((t, i) => t - polls[i]);
  gaps.forEach((gap, k) => assert.ok(gap >= 500 * 2 ** k - 5,
    `failed poll ${k + 2} came ${gap} ms after the one before, not after at least ${500 * 2 ** k} ms (gaps: ${gaps})`));
  const err = (await sql(db, `SELECT last_error FROM pipeline.status WHERE queue = 'bq'`))[0].last_error;
  assert.match(err, /InternalError/);

  await emulator("DELETE", "/_emulator/faults");
  await waitFor("the report, after SQS recovered", async () =>
    (await sql(db, `SELECT * FROM total`)).length > 0, 40000);
  assert.deepEqual(await sql(db, `SELECT total::int FROM total`), [{ total: 7 }]);
  assert.equal(await state(), "polling");
  assert.ok(serverLog(again).length >= 1, "and says so in the log");
  await waitFor("the queue to be empty", async () => (await queueDepth("backoff-q")) === 0);
});
