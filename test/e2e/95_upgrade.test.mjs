// Upgrades: a database made with version 1.0 of the extension, holding a
// queue, a report and processed versions, keeps working after ALTER
// EXTENSION pipeline UPDATE with the new library: its worker waits (and says
// so) until the update, versions recorded before it still count (in the
// normal form the new version compares them in), and events run exactly once
// across the upgrade.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  sql, waitFor, createBucket, createQueue, notifyQueue, put, queueUrl, endpoint, serverLog, s3Event,
  sendMessage,
} from "./lib.mjs";

const db = "e2e_upgrade";
const bucket = `upgrade-${process.pid}`;

after(async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("a 1.0 database upgrades to the current version and keeps its exactly-once history", async () => {
  await createBucket(bucket);
  await createQueue("upgrade-q");
  await notifyQueue(bucket, "upgrade-q", "in/");
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE ${db}`);
  await sql(db, `CREATE EXTENSION pipeline VERSION '1.0'`);
  assert.deepEqual(await sql(db, `SELECT extversion FROM pg_extension WHERE extname = 'pipeline'`),
    [{ extversion: "1.0" }]);
  // what 1.0 held: a queue, a report, a processed version written with a
  // sequencer in long form (1.0 compared versions as text)
  await sql(db, `
    CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
    CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
    CREATE FOREIGN TABLE t (v int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    CREATE TABLE seen (v int, src text);
    INSERT INTO pipeline.reports (name, source, query, target, mode, timeout, owner, search_path)
      VALUES ('seen', 's3://${bucket}/in/', 'SELECT v, src FROM t WHERE src = ANY (pipeline.trigger_uris())',
              'public.seen', 'append', '5 minutes', 'postgres', '"$user", public');
    INSERT INTO pipeline.queues (name, url, server, owner) VALUES ('uq', '${queueUrl("upgrade-q")}', 'lake', 'postgres');
    INSERT INTO pipeline.runs (report, trigger, status, started_at, finished_at, rows)
      VALUES ('seen', 'event', 'succeeded', now(), now(), 1);
    INSERT INTO pipeline.processed (report, bucket, key, version, sequencer, run_id)
      VALUES ('seen', '${bucket}', 'in/old.json', '001A22CB4E1AC00000', '001A22CB4E1AC00000', 1),
             ('seen', '${bucket}', 'in/old.json', '001A22CB4E1AC0', '001A22CB4E1AC0', 1);`);
  // the new library's worker waits for the update, and says why
  await waitFor("the worker to wait for the update", async () =>
    serverLog(/pipeline worker for database "e2e_upgrade" waits: the extension is at version 1\.0/).length > 0, 30000);

  await sql(db, `ALTER EXTENSION pipeline UPDATE`);
  assert.deepEqual(await sql(db, `SELECT extversion FROM pg_extension WHERE extname = 'pipeline'`),
    [{ extversion: "1.3" }]);
  // the two notations of one sequencer are one version now
  assert.deepEqual(await sql(db, `SELECT version FROM pipeline.processed WHERE key = 'in/old.json'`),
    [{ version: "001A22CB4E1AC" }]);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs`))[0].n, 1, "the history is kept");

  // a redelivered event of the version processed under 1.0 runs nothing, ...
  await sendMessage("upgrade-q", s3Event(bucket, "in/old.json", { sequencer: "001A22CB4E1AC000" }));
  // ... and new objects run once, through the worker that took up the new schema
  await put(bucket, "in/new.json", [{ v: 2 }]);
  await waitFor("the new object's run", async () =>
    (await sql(db, `SELECT count(*)::int AS n FROM seen WHERE src LIKE '%/in/new.json'`))[0].n === 1, 30000);
  await waitFor("both events to be taken", async () =>
    Number((await sql(db, `SELECT objects FROM pipeline.status WHERE queue = 'uq'`))[0]?.objects ?? 0) >= 2, 30000);
  await waitFor("no work left", async () =>
    (await sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks`))[0].n === 0);
  assert.deepEqual(await sql(db, `SELECT id FROM pipeline.runs WHERE trigger_uris @> ARRAY[$1]`,
    [`s3://${bucket}/in/old.json`]), [], "the version processed under 1.0 did not run again");
  // and the current functions work on it
  await sql(db, `SELECT pipeline.alter_report('seen', max_attempts => 3)`);
  assert.equal((await sql(db, `SELECT state FROM pipeline.report_status WHERE report = 'seen'`))[0].state, "active");
});
