// One failed SQS control call (DeleteMessageBatch answered 400, or its
// connection reset) must not stop the worker: it is logged, the message
// comes back by itself (and changes nothing: its work is done), and the next
// events are handled.  (It used to leave a finished transfer
// in the worker's HTTP client, after which the worker spun at 100% CPU and
// never polled again.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put,
  queueUrl, emulator, serverLog,
} from "./lib.mjs";

const db = "e2e_sqs_errors";
const bucket = `sqserr-${process.pid}`;
const faultsHit = async (target) => (await emulator("GET", "/_emulator/requests"))
  .filter((r) => r.target && r.target.endsWith(target) && r.fault).length;

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue("sqserr-q");
  await notifyQueue(bucket, "sqserr-q", "in/");
  await emulator("DELETE", "/_emulator/faults");
  await sql(db, `CREATE FOREIGN TABLE t (v int, src text OPTIONS (metadata 'uri'))
                   SERVER lake OPTIONS (uri 's3://${bucket}/in/')`);
  // one row per object under in/ok/
  await sql(db, `SELECT pipeline.create_report(name => 'seen', source => 's3://${bucket}/in/ok/',
                  query => 'SELECT v, src FROM t WHERE src = ANY (pipeline.trigger_uris())',
                  target => 'seen', mode => 'append')`);
  await sql(db, `SELECT pipeline.add_queue('eq', $1, 'lake')`, [queueUrl("sqserr-q")]);
  await waitFor("the worker to poll", async () =>
    (await sql(db, `SELECT state FROM pipeline.status WHERE queue = 'eq'`))[0]?.state === "polling");
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

const seen = async (key) =>
  (await sql(db, `SELECT count(*)::int AS n FROM seen WHERE src = $1`, [`s3://${bucket}/${key}`]))[0].n;

test("a 400 on DeleteMessageBatch: the worker goes on polling and handles later events", async () => {
  await emulator("DELETE", "/_emulator/requests");
  await emulator("POST", "/_emulator/faults",
    { service: "sqs", target: "DeleteMessageBatch", action: "status", status: 400,
      code: "ReceiptHandleIsInvalid", count: 1 });
  await put(bucket, "in/ok/1.json", [{ v: 1 }]);
  await waitFor("the run of in/ok/1.json", async () => (await seen("in/ok/1.json")) === 1);
  await waitFor("the failed delete", async () => (await faultsHit("DeleteMessageBatch")) === 1);
  await waitFor("the failure to be logged", async () =>
    serverLog(/could not delete messages from queue "eq"/).length >= 1);

  // the worker must still poll: a later object is handled
  await put(bucket, "in/ok/2.json", [{ v: 2 }]);
  await waitFor("the run of in/ok/2.json, after the failed delete", async () => (await seen("in/ok/2.json")) === 1, 30000);
  // the first message comes back once its visibility timeout is over, and
  // its task finds the version processed: still one run
  await waitFor("the first message to come back and be taken again", async () =>
    (await emulator("GET", "/_emulator/requests"))
      .filter((r) => r.target?.endsWith("DeleteMessageBatch") && r.status === 200).length >= 2, 30000);
  assert.equal(await seen("in/ok/1.json"), 1, "in/ok/1.json ran once");
});

test("a connection reset on DeleteMessageBatch: the worker goes on", async () => {
  await emulator("DELETE", "/_emulator/requests");
  await emulator("POST", "/_emulator/faults",
    { service: "sqs", target: "DeleteMessageBatch", action: "reset", count: 1 });
  await put(bucket, "in/ok/3.json", [{ v: 3 }]);
  await waitFor("the reset delete", async () => (await faultsHit("DeleteMessageBatch")) === 1);
  await put(bucket, "in/ok/4.json", [{ v: 4 }]);
  await waitFor("the run of in/ok/4.json, after the reset", async () => (await seen("in/ok/4.json")) === 1, 30000);
  assert.equal(await seen("in/ok/3.json"), 1, "in/ok/3.json ran once");
});
