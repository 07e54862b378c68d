// Backfill (issue 12): pipeline.backfill(report, since, until) runs a report
// over the objects already in S3, in batches, through the worker's task
// queue and the same exactly-once ledger as events.  Attacks and faults:
// an event for an object the backfill did (and a backfill over objects
// events did) must not run them again; the listing must be made with the
// report owner's keys, never the superuser's; kill -9 of the worker in the
// middle of a backfill must neither lose nor double an object.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, sqlAs, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueDepth,
  queueUrl, workerPid, emulator, killAndRecover, sendMessage, s3Event,
} from "./lib.mjs";

const db = "e2e_backfill";
const bucket = `backfill-${process.pid}`;
const OLD = 150;			// more than one batch (the worker runs up to 100 objects at a time)
const etags = {};

async function backfillDone(id, timeoutMs = 120000) {
  return waitFor(`backfill ${id} to be done`, async () => {
    const r = await sql(db, `SELECT state, last_error FROM pipeline.backfills WHERE id = $1`, [id]);
    if (r[0]?.state === "failed") throw new Error(`backfill failed: ${r[0].last_error}`);
    return r[0]?.state === "done" ? r[0] : null;
  }, timeoutMs, 200);
}

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  // objects written before there was any report: no event will ever come for them
  for (let i = 0; i < OLD; i++) {
    const key = `in/old/${String(i).padStart(4, "0")}.json`;
    etags[key] = await put(bucket, key, [{ device_id: `d${i}`, n: i }]);
  }
  await sql(db, `
    CREATE ROLE bf_owner LOGIN;
    CREATE SCHEMA bf_owner AUTHORIZATION bf_owner;
    GRANT USAGE ON FOREIGN SERVER lake TO bf_owner;
    CREATE USER MAPPING FOR bf_owner SERVER lake OPTIONS (access_key_id 'bob', secret_access_key 'bob-secret');`);
  // small pages, so that a backfill takes several (the worker takes it up at the reload)
  await sql("postgres", `ALTER SYSTEM SET pipeline.list_page_size = 40`);
  await sql("postgres", `SELECT pg_reload_conf()`);
  await sqlAs("bf_owner", db, `
    CREATE FOREIGN TABLE bf_owner.ping (device_id text, n int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    CREATE TABLE bf_owner.seen (device_id text, n int, src text);
    SELECT pipeline.create_report(name => 'bf', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT device_id, n, src FROM bf_owner.ping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'bf_owner.seen');
    -- synthetic-60-3: object n last modified at 2026-01-01 00:00:00Z + n seconds
    CREATE FOREIGN TABLE bf_owner.syn (i int, o int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://synthetic-60-3/');
    SELECT pipeline.create_report(name => 'bf_range', source => 's3://synthetic-60-3/', mode => 'append',
      query => $$SELECT i, o, src FROM bf_owner.syn WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'bf_owner.syn_seen');`);
  await createQueue("bf-q");
  await sql(db, `SELECT pipeline.add_queue('bf-q', $1, 'lake')`, [queueUrl("bf-q")]);
  await sql(db, "CHECKPOINT");
  await waitFor("the worker", () => workerPid(db));
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  await sql("postgres", `ALTER SYSTEM RESET pipeline.list_page_size`);
  await sql("postgres", `SELECT pg_reload_conf()`);
  if (!process.env.E2E_KEEP) {
    await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await sql("postgres", `DROP ROLE IF EXISTS bf_owner`).catch(() => {});
  }
});

test("a backfill runs every object already in S3 once, in batches, listing with the owner's keys", async () => {
  await emulator("DELETE", "/_emulator/requests");
  const [{ id }] = await sqlAs("bf_owner", db, `SELECT pipeline.backfill('bf') AS id`);
  const b = await backfillDone(id);
  assert.ok(b);
  const [row] = await sql(db, `SELECT objects_listed::int, objects_queued::int, objects_skipped::int,
                                      objects_done::int, objects_failed::int, list_requests::int,
                                      bytes_done > 0 AS bytes
                               FROM pipeline.backfills WHERE id = $1`, [id]);
  assert.deepEqual(row, { objects_listed: OLD, objects_queued: OLD, objects_skipped: 0, objects_done: OLD,
                          objects_failed: 0, list_requests: Math.ceil(OLD / 40), bytes: true });
  const [seen] = await sql(db, `SELECT count(*)::int AS n, count(DISTINCT src)::int AS objects FROM bf_owner.seen`);
  assert.deepEqual(seen, { n: OLD, objects: OLD }, "each object's rows once");
  const runs = await sql(db, `SELECT objects, status FROM pipeline.runs WHERE report = 'bf' AND trigger = 'backfill'`);
  assert.ok(runs.length >= 2, `in batches (${runs.length} runs)`);
  assert.ok(runs.every((r) => r.status === "succeeded" && r.objects <= 100));
  assert.equal(runs.reduce((s, r) => s + r.objects, 0), OLD);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.processed WHERE report = 'bf'`))[0].n, OLD,
    "in the ledger");
  // the LISTs of the backfill were signed with the owner's keys, never the superuser's
  const lists = (await emulator("GET", "/_emulator/requests"))
    .filter((r) => r.method === "GET" && /list-type=2/.test(r.query ?? r.path ?? "") && (r.path ?? "").startsWith(`/${bucket}`));
  assert.ok(lists.length >= Math.ceil(OLD / 40), `the listing's requests were logged (${lists.length})`);
  assert.deepEqual([...new Set(lists.map((r) => r.access_key_id))], ["bob"], "listed as the report's owner");
});

test("an event for an object the backfill ran runs nothing; a backfill over objects events ran queues nothing", async () => {
  const key = "in/old/0007.json";
  const before = (await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'bf'`))[0].n;
  // the genuine event for it, late (with S3's sequencer, which the listing never had)
  await sendMessage("bf-q", s3Event(bucket, key, { etag: etags[key].replaceAll('"', ""), sequencer: "0055AED6DCD90281E5" }));
  await waitFor("the event to be consumed", async () => (await queueDepth("bf-q")) === 0);
  // and one new object, by its event
  await notifyQueue(bucket, "bf-q", "in/new/");
  await put(bucket, "in/new/x.json", [{ device_id: "new", n: 1000 }]);
  await waitFor("the new object's run", async () =>
    (await sql(db, `SELECT count(*)::int AS n FROM bf_owner.seen WHERE device_id = 'new'`))[0].n === 1);
  await waitFor("the queue to drain", async () => (await queueDepth("bf-q")) === 0);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM bf_owner.seen WHERE src LIKE '%/0007.json'`))[0].n, 1,
    "the backfilled object was not run again by its event");
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'bf' AND trigger = 'event' AND status = 'succeeded'`))[0].n, 1,
    "one event run: the new object's");

  // a second backfill of everything: every object was processed, by the backfill or by its event
  const [{ id }] = await sqlAs("bf_owner", db, `SELECT pipeline.backfill('bf') AS id`);
  await backfillDone(id);
  const [row] = await sql(db, `SELECT objects_listed::int, objects_queued::int, objects_skipped::int
                               FROM pipeline.backfills WHERE id = $1`, [id]);
  assert.deepEqual(row, { objects_listed: OLD + 1, objects_queued: 0, objects_skipped: OLD + 1 });
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM bf_owner.seen`))[0].n, OLD + 1, "no object twice");
  assert.ok((await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'bf'`))[0].n >= before);
});

test("since and until select objects by their last modification", async () => {
  // objects 10..19 of synthetic-60-3
  const [{ id }] = await sqlAs("bf_owner", db,
    `SELECT pipeline.backfill('bf_range', since => '2026-01-01 00:00:10+00', until => '2026-01-01 00:00:20+00') AS id`);
  await backfillDone(id);
  const rows = await sql(db, `SELECT o, count(*)::int AS n FROM bf_owner.syn_seen GROUP BY o ORDER BY o`);
  assert.deepEqual(rows.map((r) => r.o), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.ok(rows.every((r) => r.n === 3), "each object's 3 records once");
  const [b] = await sql(db, `SELECT objects_listed::int, objects_queued::int FROM pipeline.backfills WHERE id = $1`, [id]);
  assert.deepEqual(b, { objects_listed: 10, objects_queued: 10 });
});

test("kill -9 of the worker in the middle of a backfill: it resumes, and every object runs exactly once", async () => {
  // a slow report: each record takes 0.2 s, so that the worker is caught in a run
  await sqlAs("bf_owner", db, `
    CREATE FUNCTION bf_owner.slow(x int) RETURNS int LANGUAGE sql AS $$ SELECT x FROM pg_sleep(0.2) $$;
    SELECT pipeline.create_report(name => 'bf_slow', source => 's3://${bucket}/in/old/', mode => 'append',
      query => $$SELECT device_id, bf_owner.slow(n) AS n, src FROM bf_owner.ping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'bf_owner.slow_seen', timeout => '2 minutes', retry_delay => '1 second');`);
  await sql(db, "CHECKPOINT");
  const [{ id }] = await sqlAs("bf_owner", db, `SELECT pipeline.backfill('bf_slow') AS id`);
  // its progress shows while it runs
  const progress = await waitFor("the backfill in pipeline.progress", async () => {
    const r = await sqlAs("bf_owner", db, `SELECT kind, what, objects_total::int AS total, usename::text AS usename
                                           FROM pipeline.progress WHERE kind = 'backfill'`);
    return r[0]?.total === OLD ? r[0] : null;
  }, 60000);
  assert.deepEqual(progress, { kind: "backfill", what: "bf_slow", total: OLD, usename: "bf_owner" });
  // the worker is inside the report's query
  const pid = await waitFor("a run under way", async () => {
    const r = await sql("postgres", `SELECT pid FROM pg_stat_activity WHERE backend_type = 'pipeline worker'
                                      AND datname = $1 AND wait_event = 'PgSleep'`, [db]);
    return r[0]?.pid;
  }, 60000);
  await killAndRecover(pid, db);
  const b = await backfillDone(id, 240000);
  assert.ok(b);
  const [seen] = await sql(db, `SELECT count(*)::int AS n, count(DISTINCT src)::int AS objects FROM bf_owner.slow_seen`);
  assert.deepEqual(seen, { n: OLD, objects: OLD }, "every object once: none lost, none twice");
  const [row] = await sql(db, `SELECT objects_listed::int, objects_done::int, objects_failed::int
                               FROM pipeline.backfills WHERE id = $1`, [id]);
  assert.deepEqual(row, { objects_listed: OLD, objects_done: OLD, objects_failed: 0 });
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.progress WHERE kind = 'backfill'`))[0].n, 0,
    "no longer in progress");
});
