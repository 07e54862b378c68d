// Security attacks that need the worker or committed transactions (issue 8,
// items 2, 5, 6, 7, 11, 12; the in-session ones are test/pgtap/09_security.sql
// and 10_security_isolation.sql).  Ordinary LOGIN roles attack a victim
// (sec_alice), a superuser's worker, or a database owner's worker; each test
// asserts that what the attacker wanted did not happen.  Once the holes are
// closed an attack step may be refused or be a harmless no-op: both pass.
// "The worker did not do X" is asserted only after a positive sign that the
// worker got past the point where it would have (a later run committed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, sqlAs, connectAs, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put,
  sendMessage, queueDepth, queueUrl, queueArn, s3Event, workerPid, s3, s3sdk,
} from "./lib.mjs";

const roles = ["sec_alice", "sec_mallory", "sec_eve", "sec_dbo"];
const databases = ["e2e_sec_path", "e2e_sec_forge", "e2e_sec_dbo", "e2e_sec_leaks"];
const bucket = (what) => `sec-${what}-${process.pid}`;

const rolsuper = async (role) =>
  (await sql("postgres", `SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [role]))[0].rolsuper;

/**
 * role.escalate(): harmless when the attacker runs it; run by a superuser,
 * it makes the attacker superuser.  Every attack tries to get a superuser
 * to call it.
 */
const escalate = (role, schema = role) => `
  CREATE FUNCTION ${schema}.escalate() RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS $$
  BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      ALTER ROLE ${role} SUPERUSER;
    END IF;
    RETURN true;
  END $$;`;

/** A role's footing in a database: a schema, USAGE on "lake", a user mapping with emulator keys. */
async function member(db, role, key) {
  await sql(db, `
    CREATE SCHEMA ${role} AUTHORIZATION ${role};
    GRANT USAGE ON FOREIGN SERVER lake TO ${role};
    CREATE USER MAPPING FOR ${role} SERVER lake OPTIONS (access_key_id '${key}', secret_access_key '${key}-secret');`);
}

/** What the worker has received from a queue of a database (null if it does not poll it). */
async function received(db, queue) {
  const r = await sql(db, `SELECT received FROM pipeline.queue_stats() WHERE queue = $1`, [queue]);
  return r.length ? Number(r[0].received) : null;
}

/** S3 -> SQS notifications of a bucket: { queue: prefix, ... }. */
async function notify(b, prefixes) {
  const configs = [];
  for (const [queue, prefix] of Object.entries(prefixes)) {
    configs.push({ QueueArn: await queueArn(queue), Events: ["s3:ObjectCreated:*"],
      Filter: { Key: { FilterRules: [{ Name: "prefix", Value: prefix }] } } });
  }
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: b, NotificationConfiguration: { QueueConfigurations: configs },
  }));
}

/**
 * A role adds a queue of its own (its user mapping's keys).  Returns false
 * if that was refused; otherwise waits until the worker polls it and has
 * handled what was there (the notification configuration's s3:TestEvent).
 */
async function addQueueAs(role, db, name, sqsName) {
  try {
    await sqlAs(role, db, `SELECT pipeline.add_queue($1, $2, 'lake')`, [name, queueUrl(sqsName)]);
  } catch (e) {
    return false;
  }
  await waitFor(`the worker to poll and drain queue ${name}`, async () =>
    (await received(db, name)) !== null && (await queueDepth(sqsName)) === 0, 30000);
  return true;
}

async function dropAll() {
  for (const db of databases) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  for (const r of roles) await sql("postgres", `DROP ROLE IF EXISTS ${r}`);
}

before(async () => {
  await dropAll();
  for (const r of roles) await sql("postgres", `CREATE ROLE ${r} LOGIN`);
});

after(async () => {
  await dropAll();
});

// Item 2, through the worker: sec_eve's report calls set_config('search_path',
// 'sec_eve, pg_catalog', false), and sec_eve has sec_eve.clock_timestamp(),
// which the worker calls unqualified with raised rights.  She polls a queue
// of her own for her prefix and uploads one object under her report's
// source.  Once the worker has handled that message, and again once it has
// run a superuser's report on a later object (its next steps), sec_eve must
// not be superuser.
test("item 2: a report's set_config(search_path) does not make its owner superuser through the worker", async () => {
  const db = "e2e_sec_path";
  const b = bucket("path");
  await createDatabase(db);
  await createBucket(b);
  await createQueue("sec-path-admin");
  await createQueue("sec-path-eve");
  await notify(b, { "sec-path-eve": "eve/", "sec-path-admin": "marker/" });
  await sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("sec-path-admin")]);
  await sql(db, `SELECT pipeline.create_report(name => 'marker', source => 's3://${b}/marker/',
                   query => 'SELECT 1 AS x', target => 'public.marker')`);
  await member(db, "sec_eve", "bob");
  await sqlAs("sec_eve", db, `
    ${escalate("sec_eve")}
    CREATE FUNCTION sec_eve.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
      PERFORM sec_eve.escalate();
      RETURN pg_catalog.clock_timestamp();
    END $$;
    CREATE TABLE sec_eve.src AS SELECT 1 AS x;
    SELECT pipeline.create_report(name => 'eve_sp', source => 's3://${b}/eve/',
      query => $q$SELECT x, set_config('search_path', 'sec_eve, pg_catalog', false) AS sp FROM sec_eve.src$q$,
      target => 'sec_eve.sp_out');`);
  assert.ok(await addQueueAs("sec_eve", db, "eve_q", "sec-path-eve"), "(sec_eve may poll a queue of her own)");

  const receivedBefore = await received(db, "eve_q");
  await put(b, "eve/1.json", [{ x: 1 }]);
  await waitFor("the worker to handle sec_eve's object", async () =>
    (await received(db, "eve_q")) > receivedBefore && (await queueDepth("sec-path-eve")) === 0, 30000);
  assert.equal(await rolsuper("sec_eve"), false, "sec_eve is not superuser after the worker handled her object");

  await put(b, "marker/1.json", [{ x: 1 }]);
  await waitFor("the worker's next run (the superuser's marker report)", async () =>
    (await sql(db, `SELECT 1 FROM pipeline.runs WHERE report = 'marker'`)).length > 0, 30000);
  assert.equal(await rolsuper("sec_eve"), false, "nor after the worker's next steps");
});

// Item 6, through a queue the attacker owns: sec_alice polls her own queue
// for her bucket; sec_mallory adds a queue of her own and sends it a forged
// S3 event for the key of alice's next object, with the highest possible
// sequencer (FFFF...).  Once the worker has taken the forged message, alice's
// object is really created: its genuine event must still run her report.
test("item 6: a forged event on an attacker's queue does not suppress the victim's genuine event", async () => {
  const db = "e2e_sec_forge";
  const b = bucket("forge");
  await createDatabase(db);
  await createBucket(b);
  await createQueue("sec-forge-alice");
  await createQueue("sec-forge-mallory");
  await notifyQueue(b, "sec-forge-alice", "in/");
  await member(db, "sec_alice", "alice");
  await member(db, "sec_mallory", "bob");
  await sqlAs("sec_alice", db, `
    CREATE FOREIGN TABLE sec_alice.inbox (v int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${b}/in/');
    SELECT pipeline.create_report(name => 'alice_inbox', source => 's3://${b}/in/', mode => 'append',
      query => $q$SELECT v, src FROM sec_alice.inbox WHERE src = ANY (pipeline.trigger_uris())$q$,
      target => 'sec_alice.seen');`);
  assert.ok(await addQueueAs("sec_alice", db, "alice_q", "sec-forge-alice"), "(alice may poll her queue)");

  // the attack
  const polled = await addQueueAs("sec_mallory", db, "mallory_q", "sec-forge-mallory");
  await sendMessage("sec-forge-mallory", s3Event(b, "in/a.json", { etag: "forged", sequencer: "FFFFFFFFFFFFFFFFFFFFFFFF" }));
  if (polled) {
    await waitFor("the worker to take the forged message", async () => (await received(db, "mallory_q")) >= 1, 30000);
  }

  // alice's genuine object
  const receivedBefore = await received(db, "alice_q");
  await put(b, "in/a.json", [{ v: 42 }]);
  await waitFor("the worker to handle the genuine event", async () =>
    (await received(db, "alice_q")) > receivedBefore && (await queueDepth("sec-forge-alice")) === 0, 30000);
  assert.deepEqual(await sql(db, `SELECT v FROM sec_alice.seen`), [{ v: 42 }],
    "alice's report ran on her genuine object");
});

// Item 7: sec_dbo owns a database (not superuser) where a superuser installed
// the extension.  sec_dbo sets the database's search_path to a schema of his
// holding now() and clock_timestamp() (both calling sec_dbo.escalate()), and
// makes a run so that pipeline.runs has a row.  When the worker starts again
// (it prunes history at start) and handles an object for a superuser's
// report (the positive sign), sec_dbo must not be superuser.
test("item 7: a database owner's search_path does not reach the worker", async () => {
  const db = "e2e_sec_dbo";
  const b = bucket("dbo");
  await createDatabase(db);
  await sql("postgres", `ALTER DATABASE ${db} OWNER TO sec_dbo`);
  await createBucket(b);
  await createQueue("sec-dbo-q");
  await notifyQueue(b, "sec-dbo-q", "");
  await sql(db, `SELECT pipeline.add_queue('q', $1, 'lake')`, [queueUrl("sec-dbo-q")]);
  await sql(db, `SELECT pipeline.create_report(name => 'marker', source => 's3://${b}/marker/',
                   query => 'SELECT 1 AS x', target => 'public.marker')`);
  // the worker is up (it read the database's settings as they were then)
  const old = await waitFor("the worker", () => workerPid(db));

  await sqlAs("sec_dbo", db, `
    CREATE SCHEMA dbo;
    ${escalate("sec_dbo", "dbo")}
    CREATE FUNCTION dbo.now() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
      PERFORM dbo.escalate();
      RETURN pg_catalog.now();
    END $$;
    CREATE FUNCTION dbo.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
      PERFORM dbo.escalate();
      RETURN pg_catalog.clock_timestamp();
    END $$;
    ALTER DATABASE ${db} SET search_path = dbo, pg_catalog;
    SET search_path = public;
    SELECT pipeline.create_report(name => 'dbo_r', query => 'SELECT 1 AS x', target => 'public.dbo_r_out');
    SELECT pipeline.run_report('dbo_r');`);
  // from here on, every new connection to the database has sec_dbo's path: ours set their own
  const safe = { searchPath: "pg_catalog, public" };
  assert.equal(await rolsuper("sec_dbo"), false, "(setting up did not make sec_dbo superuser)");

  // the worker starts again, as after a crash or a server restart
  await sql("postgres", `SELECT pg_terminate_backend($1)`, [old]);
  await waitFor("a new worker", async () => {
    const pid = await workerPid(db);
    return pid && pid !== old;
  }, 30000);
  await put(b, "marker/1.json", [{ x: 1 }]);
  await waitFor("the new worker to run the superuser's marker report", async () =>
    (await sqlAs("postgres", db, `SELECT 1 FROM pipeline.runs WHERE report = 'marker'`, [], safe)).length > 0, 30000);
  assert.equal(await rolsuper("sec_dbo"), false, "the database owner did not become superuser through the worker");
});

// Items 5, 11, 12: what sec_mallory can read of sec_alice's in one database.
test("items 5, 11, 12: another role's warnings, queue statistics and run notifications", async (t) => {
  const db = "e2e_sec_leaks";
  const b = bucket("leaks");
  await createDatabase(db);
  await createBucket(b);
  await member(db, "sec_alice", "alice");
  await member(db, "sec_mallory", "bob");
  await put(b, "hr/a.json", [
    { device_id: "d1", battery: 50 },
    { device_id: "d2", battery: "SECRET-VALUE-42", ssn: "999" },
  ]);
  await sqlAs("sec_alice", db, `
    CREATE FOREIGN TABLE sec_alice.hr_strict (device_id text, battery float8)
      SERVER lake OPTIONS (uri 's3://${b}/hr/');
    SELECT pipeline.create_report(name => 'alice_hr_strict', source => 's3://${b}/hr/',
      query => 'SELECT * FROM sec_alice.hr_strict', target => 'sec_alice.hr_strict_out');
    CREATE TABLE sec_alice.secrets AS SELECT 'SECRET-RUN-12'::text AS s;
    SELECT pipeline.create_report(name => 'alice_fails', query => 'SELECT s::int AS n FROM sec_alice.secrets',
      target => 'sec_alice.fails_out');`);

  // Item 5: sec_mallory hands in an event for alice's object and reads the
  // WARNINGs she gets: alice's run error (with the value) must not be among them.
  await t.test("item 5: handle_event sends no WARNING with another role's run error", async () => {
    const m = await connectAs("sec_mallory", db);
    const notices = [];
    m.on("notice", (n) => notices.push(`${n.severity}: ${n.message} ${n.detail ?? ""}`));
    try {
      await m.query(`SELECT * FROM pipeline.handle_event($1::jsonb)`,
        [JSON.stringify(s3Event(b, "hr/a.json", { etag: "x1", sequencer: "0A" }))]);
    } catch (e) {
      // refused: fine
    } finally {
      await m.end();
    }
    assert.deepEqual(notices.filter((n) => n.includes("SECRET-VALUE-42")), [],
      "no notice shows alice's value");
  });

  // Item 11: alice polls a queue that fails (it does not exist); once the
  // worker shows its error (to a superuser), sec_mallory must not see that
  // queue in pipeline.queue_stats() nor in pipeline.status.
  await t.test("item 11: pipeline.queue_stats() and pipeline.status do not show another role's queue", async () => {
    await sqlAs("sec_alice", db, `SELECT pipeline.add_queue('alice_private_q', $1, 'lake')`,
      [queueUrl("sec-alice-private-no-such-queue")]);
    await waitFor("the worker to report alice's queue failing", async () =>
      (await sql(db, `SELECT 1 FROM pipeline.queue_stats() WHERE queue = 'alice_private_q' AND last_error IS NOT NULL`)).length > 0,
      30000);
    let stats = [];
    let status = [];
    try {
      stats = await sqlAs("sec_mallory", db, `SELECT queue, last_error FROM pipeline.queue_stats()
                                              WHERE queue = 'alice_private_q'`);
    } catch (e) {
      // refused: fine
    }
    try {
      status = await sqlAs("sec_mallory", db, `SELECT queue, url, owner::text, last_error FROM pipeline.status
                                               WHERE queue = 'alice_private_q'`);
    } catch (e) {
      // refused: fine
    }
    assert.deepEqual(stats, [], "pipeline.queue_stats() hides alice's queue and its last error");
    assert.deepEqual(status, [], "pipeline.status hides alice's queue");
  });

  // Item 12: sec_mallory listens on pipeline_runs while alice's report fails
  // with a value in its error.  After alice's run has committed, a
  // notification on another channel (the positive sign: notifications arrive
  // in commit order) tells that everything before it has arrived.
  await t.test("item 12: LISTEN pipeline_runs does not receive another role's runs", async () => {
    const m = await connectAs("sec_mallory", db);
    const heard = [];
    m.on("notification", (n) => heard.push(n));
    try {
      await m.query(`LISTEN pipeline_runs`);
      await m.query(`LISTEN sec_marker`);
      await sqlAs("sec_alice", db, `SELECT pipeline.run_report('alice_fails')`);
      assert.equal((await sql(db, `SELECT status FROM pipeline.runs WHERE report = 'alice_fails'`))[0].status, "failed",
        "(alice's run failed and was recorded)");
      await sql(db, `NOTIFY sec_marker`);
      await waitFor("the marker notification", () => heard.some((n) => n.channel === "sec_marker"));
    } finally {
      await m.end();
    }
    assert.deepEqual(heard.filter((n) => n.channel !== "sec_marker").map((n) => n.payload)
      .filter((p) => /alice_fails|SECRET-RUN-12/.test(p)), [],
    "no notification about alice's run reached sec_mallory");
  });
});
