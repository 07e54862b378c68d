// Listing intake and schedules (issue 12), run by the worker.  A source
// polled by listing (list_every) for a bucket without notifications: each
// new object version once, however many polls see it, and once when its
// event races the listing; objects older than the listing are left to
// pipeline.backfill; the LISTs are signed with the owner's keys.  A
// schedule runs the report on its ticks, one run per tick, with the tick
// as pipeline.run_time().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, sqlAs, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueDepth,
  queueUrl, workerPid, emulator,
} from "./lib.mjs";

const db = "e2e_listing";
const bucket = `listing-${process.pid}`;

const count = async (q, params = []) => (await sql(db, q, params))[0].n;

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  // there before the listing began: not for the listing to find
  await put(bucket, "in/before.json", [{ device_id: "before", n: 0 }]);
  await sql(db, `
    CREATE ROLE li_owner LOGIN;
    CREATE SCHEMA li_owner AUTHORIZATION li_owner;
    GRANT USAGE ON FOREIGN SERVER lake TO li_owner;
    CREATE USER MAPPING FOR li_owner SERVER lake OPTIONS (access_key_id 'bob', secret_access_key 'bob-secret');`);
  await sqlAs("li_owner", db, `
    CREATE FOREIGN TABLE li_owner.ping (device_id text, n int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    CREATE TABLE li_owner.seen (device_id text, n int, src text);
    SELECT pipeline.create_report(name => 'li', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT device_id, n, src FROM li_owner.ping WHERE src = ANY (pipeline.trigger_uris())$$,
      target => 'li_owner.seen', list_every => '1 second');`);
  await createQueue("li-q");
  await sql(db, `SELECT pipeline.add_queue('li-q', $1, 'lake')`, [queueUrl("li-q")]);
  await waitFor("the worker", () => workerPid(db));
});

after(async () => {
  await emulator("DELETE", "/_emulator/faults");
  if (!process.env.E2E_KEEP) {
    await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await sql("postgres", `DROP ROLE IF EXISTS li_owner`).catch(() => {});
  }
});

test("a polled source: each new object once, however many polls see it, listed with the owner's keys", async () => {
  await emulator("DELETE", "/_emulator/requests");
  await put(bucket, "in/a.json", [{ device_id: "a", n: 1 }]);
  await put(bucket, "in/b.json", [{ device_id: "b", n: 2 }, { device_id: "b", n: 3 }]);
  await waitFor("both objects' rows", async () => (await count(`SELECT count(*)::int AS n FROM li_owner.seen`)) === 3, 30000);
  const polls = await count(`SELECT polls::int AS n FROM pipeline.listings WHERE report = 'li'`);
  await waitFor("three more polls", async () =>
    (await count(`SELECT polls::int AS n FROM pipeline.listings WHERE report = 'li'`)) >= polls + 3, 30000);
  assert.deepEqual(await sql(db, `SELECT device_id, count(*)::int AS n FROM li_owner.seen GROUP BY 1 ORDER BY 1`),
    [{ device_id: "a", n: 1 }, { device_id: "b", n: 2 }], "each object's rows once; the older object not at all");
  assert.equal(await count(`SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'li' AND trigger = 'listing' AND status = 'succeeded'`) >= 1, true);
  const lists = (await emulator("GET", "/_emulator/requests"))
    .filter((r) => r.method === "GET" && /list-type=2/.test(r.query ?? "") && (r.path ?? "").startsWith(`/${bucket}`));
  assert.ok(lists.length >= 3, `polls were made (${lists.length} LISTs)`);
  assert.deepEqual([...new Set(lists.map((r) => r.access_key_id))], ["bob"], "listed as the report's owner");
  assert.ok(await count(`SELECT coalesce(sum(list_requests), 0)::int AS n FROM pipeline.listing_usage WHERE report = 'li'`) >= lists.length,
    "the polls' LISTs are counted for pipeline.costs");
});

test("an overwritten object is a new version: run again; an object its event ran is not run by the listing", async () => {
  await put(bucket, "in/a.json", [{ device_id: "a2", n: 10 }]);
  await waitFor("the new version's rows", async () =>
    (await count(`SELECT count(*)::int AS n FROM li_owner.seen WHERE device_id = 'a2'`)) === 1, 30000);
  // events and the listing both see in/ev/: whichever comes first runs it, the other nothing
  await notifyQueue(bucket, "li-q", "in/ev/");
  for (let i = 0; i < 5; i++) await put(bucket, `in/ev/${i}.json`, [{ device_id: `ev${i}`, n: i }]);
  await waitFor("the five objects' rows", async () =>
    (await count(`SELECT count(*)::int AS n FROM li_owner.seen WHERE device_id LIKE 'ev%'`)) >= 5, 30000);
  await waitFor("the queue to drain", async () => (await queueDepth("li-q")) === 0);
  const polls = await count(`SELECT polls::int AS n FROM pipeline.listings WHERE report = 'li'`);
  await waitFor("two more polls", async () =>
    (await count(`SELECT polls::int AS n FROM pipeline.listings WHERE report = 'li'`)) >= polls + 2, 30000);
  assert.equal(await count(`SELECT count(*)::int AS n FROM pipeline.tasks WHERE report = 'li'`), 0, "nothing waits");
  assert.deepEqual(await sql(db, `SELECT device_id, count(*)::int AS n FROM li_owner.seen WHERE device_id LIKE 'ev%'
                                  GROUP BY 1 ORDER BY 1`),
    [0, 1, 2, 3, 4].map((i) => ({ device_id: `ev${i}`, n: 1 })), "each once, by its event or the listing");
});

test("list_every '0' stops the polls; the report's older objects are a backfill's", async () => {
  await sqlAs("li_owner", db, `SELECT pipeline.alter_report('li', list_every => '0')`);
  assert.equal(await count(`SELECT count(*)::int AS n FROM pipeline.listings`), 0);
  await put(bucket, "in/after-stop.json", [{ device_id: "stopped", n: 1 }]);
  const [{ id }] = await sqlAs("li_owner", db, `SELECT pipeline.backfill('li') AS id`);
  await waitFor("the backfill", async () =>
    (await sql(db, `SELECT state FROM pipeline.backfills WHERE id = $1`, [id]))[0].state === "done", 60000);
  assert.deepEqual(await sql(db, `SELECT device_id FROM li_owner.seen WHERE device_id IN ('before', 'stopped') ORDER BY 1`),
    [{ device_id: "before" }, { device_id: "stopped" }], "the backfill ran what no poll had");
  assert.equal(await count(`SELECT count(*)::int AS n FROM li_owner.seen WHERE device_id LIKE 'ev%'`), 5, "and nothing twice");
});

test("a schedule runs the report on its ticks, with the tick as pipeline.run_time()", async () => {
  await sqlAs("li_owner", db, `
    SELECT pipeline.create_report(name => 'sched', mode => 'append',
      query => $$SELECT pipeline.run_time() AS t, count(*) AS objects FROM li_owner.ping$$,
      target => 'li_owner.sched_out', schedule => '2 seconds');`);
  await waitFor("three scheduled runs", async () =>
    (await count(`SELECT count(*)::int AS n FROM pipeline.runs WHERE report = 'sched' AND trigger = 'schedule' AND status = 'succeeded'`)) >= 3,
  60000, 250);
  const ticks = await sql(db, `SELECT scheduled_for FROM pipeline.runs WHERE report = 'sched' AND status = 'succeeded' ORDER BY id`);
  assert.equal(new Set(ticks.map((r) => r.scheduled_for.getTime())).size, ticks.length, "one run per tick");
  const outs = await sql(db, `SELECT t FROM li_owner.sched_out ORDER BY t`);
  assert.deepEqual(outs.map((r) => r.t.getTime()).slice(0, ticks.length), ticks.map((r) => r.scheduled_for.getTime()),
    "pipeline.run_time() is the tick the run stands for");
  // off again: no more runs
  await sqlAs("li_owner", db, `SELECT pipeline.alter_report('sched', schedule => '')`);
  assert.equal(await count(`SELECT count(*)::int AS n FROM pipeline.reports WHERE name = 'sched' AND schedule IS NULL AND next_run IS NULL`), 1);
});
