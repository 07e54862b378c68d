// End to end: S3 -> SQS (directly or through SNS) -> the worker -> reports.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, connect, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put,
  sendMessage, queueDepth, queueUrl, queueArn, s3Event, s3, s3sdk, sns, snssdk, emulator,
} from "./lib.mjs";

const db = "e2e_events";
const bucket = `events-${process.pid}`;
const runs = (report) => sql(db, `SELECT * FROM pipeline.runs WHERE report = $1 ORDER BY id`, [report]);

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue("events-q");
  await createQueue("events-sns-q");
  await createQueue("events-raw-q");

  // direct S3 -> SQS for raw/, S3 -> SNS -> SQS (envelope) for sns/, raw delivery for rawsns/
  const topic = (await sns.send(new snssdk.CreateTopicCommand({ Name: "events-topic" }))).TopicArn;
  const topicRaw = (await sns.send(new snssdk.CreateTopicCommand({ Name: "events-topic-raw" }))).TopicArn;
  await sns.send(new snssdk.SubscribeCommand({ TopicArn: topic, Protocol: "sqs", Endpoint: await queueArn("events-sns-q") }));
  await sns.send(new snssdk.SubscribeCommand({
    TopicArn: topicRaw, Protocol: "sqs", Endpoint: await queueArn("events-raw-q"),
    Attributes: { RawMessageDelivery: "true" },
  }));
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: {
      QueueConfigurations: [{ QueueArn: await queueArn("events-q"), Events: ["s3:ObjectCreated:*"],
        Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "raw/" }] } } }],
      TopicConfigurations: [
        { TopicArn: topic, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "sns/" }] } } },
        { TopicArn: topicRaw, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "rawsns/" }] } } },
      ],
    },
  }));

  await sql(db, `
    CREATE FOREIGN TABLE deviceping (device_id text, battery float8, ts timestamptz,
                                     src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/');
    SELECT pipeline.create_report(
      name   => 'devicebattery',
      source => 's3://${bucket}/raw/v0/deviceping/',
      query  => $$SELECT DISTINCT ON (device_id) device_id, battery, ts
                  FROM deviceping WHERE src LIKE 's3://${bucket}/raw/v0/deviceping/%'
                  ORDER BY device_id, ts DESC$$,
      target => 'public.devicebattery');
    SELECT pipeline.create_report(name => 'viasns', source => 's3://${bucket}/sns/',
      query => $$SELECT count(*) AS n FROM deviceping WHERE src LIKE 's3://${bucket}/sns/%'$$, target => 'viasns');
    SELECT pipeline.create_report(name => 'viaraw', source => 's3://${bucket}/rawsns/',
      query => $$SELECT count(*) AS n FROM deviceping WHERE src LIKE 's3://${bucket}/rawsns/%'$$, target => 'viaraw');
    SELECT pipeline.create_report(name => 'incremental', source => 's3://${bucket}/raw/inc/',
      query => $$SELECT device_id, battery, src FROM deviceping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'incremental', mode => 'append');
    SELECT pipeline.create_report(name => 'failing', source => 's3://${bucket}/raw/fail/',
      query => $$SELECT 1 / (count(*) - count(*)) AS boom FROM deviceping$$, target => 'failing');`);
  for (const q of ["events-q", "events-sns-q", "events-raw-q"]) {
    await sql(db, `SELECT pipeline.add_queue($1, $2, 'lake')`, [q, queueUrl(q)]);
  }
});

after(async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("an object PUT under a report's source updates its table", async () => {
  await put(bucket, "raw/v0/deviceping/2026/11/25/a.json.gz", [
    { device_id: "d1", battery: 90, ts: "2026-11-25T10:00:00Z" },
    { device_id: "d1", battery: 80, ts: "2026-11-25T11:00:00Z" },
    { device_id: "d2", battery: 70, ts: "2026-11-25T10:30:00Z" },
  ]);
  const rows = await waitFor("the report's table", async () => {
    const r = await sql(db, `SELECT device_id, battery FROM devicebattery ORDER BY 1`);
    return r.length > 0 && r;
  });
  assert.deepEqual(rows, [{ device_id: "d1", battery: 80 }, { device_id: "d2", battery: 70 }]);
  const r = await runs("devicebattery");
  assert.equal(r.length, 1);
  assert.equal(r[0].status, "succeeded");
  assert.equal(r[0].trigger, "event");
  assert.deepEqual(r[0].trigger_uris, [`s3://${bucket}/raw/v0/deviceping/2026/11/25/a.json.gz`]);
  assert.equal(Number(r[0].rows), 2);
  assert.ok(Number(r[0].bytes) > 0, "bytes scanned are recorded");
  await waitFor("the queue to be empty", async () => (await queueDepth("events-q")) === 0);
});

test("the same through SNS, with the envelope and with raw delivery", async () => {
  await put(bucket, "sns/x.json", [{ device_id: "s1" }, { device_id: "s2" }]);
  await put(bucket, "rawsns/y.json", [{ device_id: "r1" }]);
  await waitFor("the SNS report", async () => (await runs("viasns")).length === 1);
  await waitFor("the raw-delivery report", async () => (await runs("viaraw")).length === 1);
  assert.deepEqual(await sql(db, `SELECT n FROM viasns`), [{ n: "2" }]);
  assert.deepEqual(await sql(db, `SELECT n FROM viaraw`), [{ n: "1" }]);
});

// EventBridge (an S3 bucket's events through a rule to SQS): the message is
// the EventBridge event itself, and its keys are not URL-encoded
test("an EventBridge Object Created event through a queue runs the report", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'viaeb', source => 's3://${bucket}/eb/',
    query => $$SELECT count(*) AS n, string_agg(src, ',') AS src FROM deviceping WHERE src = ANY (pipeline.trigger_uris())$$,
    target => 'viaeb')`);
  const key = "eb/a b+c.json"; // no notification for eb/: only the event below announces it
  const etag = (await put(bucket, key, [{ device_id: "e1" }, { device_id: "e2" }])).replace(/"/g, "");
  await sendMessage("events-q", {
    version: "0", id: "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created", source: "aws.s3",
    account: "000000000000", time: "2026-11-25T12:00:00Z", region: "us-east-1",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: "0", bucket: { name: bucket }, object: { key, size: 60, etag, sequencer: "0055AED6DCD90281E9" },
              "request-id": "N4N7GDK58NMKJ12R", requester: "123456789012", reason: "PutObject" },
  });
  await waitFor("the EventBridge run", async () => (await runs("viaeb")).length === 1, 30000);
  const [run] = await runs("viaeb");
  assert.equal(run.status, "succeeded");
  assert.deepEqual(run.trigger_uris, [`s3://${bucket}/${key}`], "the key as it is, not decoded again");
  assert.deepEqual(await sql(db, `SELECT n::int, src FROM viaeb`), [{ n: 2, src: `s3://${bucket}/${key},s3://${bucket}/${key}` }]);
  await waitFor("the message to be deleted", async () => (await queueDepth("events-q")) === 0);
});

test("s3:TestEvent messages are acknowledged and ignored", async () => {
  // configuring the notifications sent one to each queue
  await waitFor("the queues to be empty", async () =>
    (await queueDepth("events-q")) + (await queueDepth("events-sns-q")) + (await queueDepth("events-raw-q")) === 0);
  assert.deepEqual(await sql(db, `SELECT * FROM pipeline.dead_letters`), []);
});

test("the same event delivered twice runs the report once", async () => {
  const key = "raw/v0/deviceping/dup.json";
  const etag = (await put(bucket, key, [{ device_id: "d9", battery: 9, ts: "2026-11-25T12:00:00Z" }])).replace(/"/g, "");
  await waitFor("the run of the PUT", async () => (await runs("devicebattery")).some((r) => r.trigger_uris.includes(`s3://${bucket}/${key}`)));
  const before = (await runs("devicebattery")).length;
  // S3 delivers at least once: the same record again, twice
  const ev = await sql(db, `SELECT version, sequencer FROM pipeline.processed WHERE key = $1`, [key]);
  const event = s3Event(bucket, key, { etag, sequencer: ev[0].sequencer });
  await sendMessage("events-q", event);
  await sendMessage("events-q", event);
  await waitFor("the duplicates to be consumed", async () => (await queueDepth("events-q")) === 0);
  assert.equal((await runs("devicebattery")).length, before, "no new run for a version already processed");
});

test("an overwritten object (a new version) runs again", async () => {
  const key = "raw/v0/deviceping/over.json";
  await put(bucket, key, [{ device_id: "o1", battery: 1, ts: "2026-11-25T12:00:00Z" }]);
  await waitFor("the first run", async () => (await sql(db, `SELECT battery FROM devicebattery WHERE device_id = 'o1'`))[0]?.battery === 1);
  await put(bucket, key, [{ device_id: "o1", battery: 2, ts: "2026-11-25T12:00:00Z" }]);
  await waitFor("the second run", async () => (await sql(db, `SELECT battery FROM devicebattery WHERE device_id = 'o1'`))[0]?.battery === 2);
  const n = await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE $1 = ANY (trigger_uris)`, [`s3://${bucket}/${key}`]);
  assert.equal(n[0].n, 2);
});

test("objects announced together are processed in one run", async () => {
  const keys = ["raw/v0/deviceping/t1.json", "raw/v0/deviceping/t2.json", "raw/v0/deviceping/t3.json"];
  // put them where no notification fires, then announce all three in one message
  for (const k of keys) {
    await s3.send(new s3sdk.PutObjectCommand({ Bucket: bucket, Key: k, Body: '{"device_id":"t"}\n', ContentType: "application/json" }));
  }
  // the PUT events' own runs settle first: a message leaves the queue once
  // its tasks are queued, before their runs commit
  await waitFor("the PUT events", async () => (await queueDepth("events-q")) === 0 &&
    (await sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks WHERE report = 'devicebattery'`))[0].n === 0);
  const before = (await runs("devicebattery")).length;
  const msg = { Records: keys.map((k, i) => s3Event(bucket, k, { etag: "feed" + i, sequencer: "00FF00" + i }).Records[0]) };
  await sendMessage("events-q", msg);
  await waitFor("one run for the three", async () => (await runs("devicebattery")).length === before + 1);
  const last = (await runs("devicebattery")).at(-1);
  assert.equal(last.objects, 3);
  assert.equal(last.trigger_uris.length, 3);
});

test("an incremental report reads only the new objects, without listing", async () => {
  await put(bucket, "raw/inc/1.json", [{ device_id: "i1", battery: 1 }, { device_id: "i2", battery: 2 }]);
  await waitFor("the first incremental run", async () => (await runs("incremental")).length === 1);
  await emulator("DELETE", "/_emulator/requests");
  await put(bucket, "raw/inc/2.json", [{ device_id: "i3", battery: 3 }]);
  await waitFor("the second incremental run", async () => (await runs("incremental")).length === 2);
  assert.deepEqual(await sql(db, `SELECT device_id FROM incremental ORDER BY 1`),
    [{ device_id: "i1" }, { device_id: "i2" }, { device_id: "i3" }]);
  const log = await emulator("GET", "/_emulator/requests");
  const s3gets = log.filter((r) => r.method === "GET" && r.path.startsWith(`/${bucket}`));
  assert.deepEqual(s3gets.map((r) => r.path), [`/${bucket}/raw/inc/2.json`], "only the new object was read, nothing listed");
});

test("a failing report is retried, then the object kept as a dead letter", async () => {
  await put(bucket, "raw/fail/x.json", [{ device_id: "f" }]);
  const dead = await waitFor("the dead letter", async () => {
    const r = await sql(db, `SELECT * FROM pipeline.dead_letters WHERE object = $1`, [`s3://${bucket}/raw/fail/x.json`]);
    return r.length ? r : null;
  }, 30000);
  assert.equal(dead.length, 1);
  assert.equal(dead[0].report, "failing");
  assert.equal(dead[0].queue, "events-q");
  assert.match(dead[0].reason, /gave up after 3 attempts: division by zero/);
  assert.match(dead[0].body, /"key":"raw\/fail\/x.json"/);
  const failed = await sql(db, `SELECT status, error, attempt FROM pipeline.runs WHERE report = 'failing' ORDER BY id`);
  assert.deepEqual(failed.map((r) => r.attempt), [1, 2, 3], "one failed run per attempt");
  assert.ok(failed.every((r) => r.status === "failed" && /division by zero/.test(r.error)));
  await waitFor("the message to leave the queue", async () => (await queueDepth("events-q")) === 0);
});

test("a message that is not an event is kept as a dead letter and deleted", async () => {
  await sendMessage("events-q", "this is not JSON");
  await sendMessage("events-q", { hello: "world" });
  const dead = await waitFor("the dead letters", async () => {
    const r = await sql(db, `SELECT body, reason FROM pipeline.dead_letters WHERE reason NOT LIKE 'gave up%' ORDER BY id`);
    return r.length === 2 ? r : null;
  });
  assert.match(dead[0].reason, /not JSON/);
  assert.match(dead[1].reason, /not an S3 event/);
  await waitFor("the queue to be empty", async () => (await queueDepth("events-q")) === 0);
});

test("every finished run is announced with NOTIFY pipeline_runs", async () => {
  const c = await connect(db);
  const seen = [];
  c.on("notification", (n) => seen.push(n));
  await c.query("LISTEN pipeline_runs");
  await put(bucket, "raw/v0/deviceping/notify.json", [{ device_id: "n1", battery: 5, ts: "2026-11-25T12:00:00Z" }]);
  // the payload is the run's id (any role may LISTEN): the rest is in pipeline.runs
  const run = await waitFor("a notification", async () => {
    for (const x of seen) {
      assert.match(x.payload, /^[0-9]+$/);
      const r = await sql(db, `SELECT * FROM pipeline.runs WHERE id = $1`, [x.payload]);
      if (r.length && r[0].report === "devicebattery") return r[0];
    }
    return null;
  });
  assert.equal(run.status, "succeeded");
  assert.equal(run.trigger, "event");
  await c.end();
});

test("pipeline.status shows each queue's worker and counters", async () => {
  const st = await sql(db, `SELECT * FROM pipeline.status WHERE queue = 'events-q'`);
  assert.equal(st.length, 1);
  assert.equal(st[0].state, "polling");
  assert.ok(st[0].worker_pid > 0);
  assert.ok(Number(st[0].received) >= 10);
  assert.ok(Number(st[0].runs_succeeded) >= 5);
  assert.ok(Number(st[0].runs_failed) >= 3);
  assert.ok(st[0].last_poll !== null);
  const act = await sql("postgres", `SELECT query FROM pg_stat_activity WHERE pid = $1`, [st[0].worker_pid]);
  assert.match(act[0].query, /waiting for messages on 3 queues|handling/);
});
