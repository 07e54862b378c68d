// pg_dump / pg_restore: a database with the extension, holding a queue,
// reports, runs, processed versions, a waiting task, a dead letter, an
// unmatched object and a server with a user mapping holding keys, is dumped
// (pg_dump -Fc), dropped, and restored into a new database
// (pg_restore --single-transaction).  The registry comes back (the
// extension's tables are configuration tables: pg_extension_config_dump),
// the restored database's worker carries on (a new object runs once, at
// its first attempt: the id sequences came along too; a
// redelivered event of a version processed before the dump runs nothing,
// the waiting task runs once), and the keys appear in the dump only in the
// user mapping, as PostgreSQL dumps it, nowhere else.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  sql, waitFor, createBucket, createQueue, notifyQueue, put, queueUrl, queueDepth, endpoint,
  s3Event, sendMessage, workerPid,
} from "./lib.mjs";

const src = "e2e_dump_src";
const dst = "e2e_dump_dst";
const bucket = `dump-${process.pid}`;
const queue = "dump-q";
// a key pair the emulator knows, so that the restored worker can use it; the
// secret is what must not leak
const KEY = "alice";
const SECRET = "alice-secret";
const dir = mkdtempSync(join(tmpdir(), "pipeline-dump-"));
const dumpFile = join(dir, "src.dump");
const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();

// the serial sequences of the extension's tables (runs.id, ...), dumped
// with them (pg_extension_config_dump)
const SEQUENCES = ["runs_id_seq", "dead_letters_id_seq", "webhooks_id_seq", "tasks_id_seq",
  "unmatched_id_seq", "exports_id_seq"];
let sequencesRestored = null;

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await sql("postgres", `DROP DATABASE IF EXISTS ${src} WITH (FORCE)`);
  await sql("postgres", `DROP DATABASE IF EXISTS ${dst} WITH (FORCE)`);
});

/** What the registry holds, in a form to compare before and after. */
async function registry(db) {
  const q = (text) => sql(db, text);
  return {
    queues: await q(`SELECT name, url, server, owner::text FROM pipeline.queues ORDER BY name`),
    reports: await q(`SELECT name, source, query, target, mode, enabled, owner::text, search_path
                      FROM pipeline.reports ORDER BY name`),
    runs: await q(`SELECT id::int, report, trigger, status, trigger_uris, rows::int FROM pipeline.runs ORDER BY id`),
    processed: await q(`SELECT report, bucket, key, version, sequencer, etag, run_id::int
                        FROM pipeline.processed ORDER BY report, key, version`),
    tasks: await q(`SELECT report, trigger, bucket, key, version, attempts FROM pipeline.tasks ORDER BY id`),
    dead_letters: await q(`SELECT queue, body, reason FROM pipeline.dead_letters ORDER BY id`),
    unmatched: await q(`SELECT queue, bucket, key, reason FROM pipeline.unmatched ORDER BY id`),
    queue_counters: await q(`SELECT queue, messages::int, objects::int, unmatched::int, invalid::int
                             FROM pipeline.queue_counters ORDER BY queue`),
    servers: await q(`SELECT srvname, array(SELECT unnest(srvoptions) ORDER BY 1) AS options
                      FROM pg_foreign_server ORDER BY srvname`),
    mappings: await q(`SELECT srvname, usename, array(SELECT unnest(umoptions) ORDER BY 1) AS options
                       FROM pg_user_mappings ORDER BY srvname, usename`),
  };
}

let before;

test("a database with the extension and its history is dumped", async () => {
  await createBucket(bucket);
  await createQueue(queue);
  await notifyQueue(bucket, queue, "");   // the whole bucket: in/, held/ and other/
  await sql("postgres", `DROP DATABASE IF EXISTS ${src} WITH (FORCE)`);
  await sql("postgres", `DROP DATABASE IF EXISTS ${dst} WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE ${src}`);
  await sql(src, `
    CREATE EXTENSION pipeline;
    CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
    CREATE USER MAPPING FOR CURRENT_USER SERVER lake
      OPTIONS (access_key_id '${KEY}', secret_access_key '${SECRET}');
    CREATE FOREIGN TABLE incoming (v int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    CREATE FOREIGN TABLE heldback (v int, src text OPTIONS (metadata 'uri'))
      SERVER lake OPTIONS (uri 's3://${bucket}/held/');
    SELECT pipeline.create_report(name => 'seen', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT v, src FROM incoming WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.seen');
    SELECT pipeline.create_report(name => 'held', source => 's3://${bucket}/held/', mode => 'append',
      query => $$SELECT v, src FROM heldback WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.held');
    SELECT pipeline.pause_report('held');
    SELECT pipeline.add_queue('dq', '${queueUrl(queue)}', server => 'lake');`);

  // a run and its processed version, a task waiting for a paused report,
  // a dead letter and an unmatched object
  await put(bucket, "in/a.json", [{ v: 1 }]);
  await put(bucket, "held/h.json", [{ v: 2 }]);
  await sendMessage(queue, "not an S3 event");
  await put(bucket, "other/u.json", [{ v: 3 }]);
  await waitFor("the run, the task, the dead letter and the unmatched object", async () => {
    const [r] = await sql(src, `SELECT
      (SELECT count(*) FROM pipeline.runs WHERE report = 'seen' AND status = 'succeeded')::int AS runs,
      (SELECT count(*) FROM pipeline.tasks WHERE report = 'held')::int AS tasks,
      (SELECT count(*) FROM pipeline.dead_letters)::int AS dead,
      (SELECT count(*) FROM pipeline.unmatched)::int AS unmatched`);
    return r.runs === 1 && r.tasks === 1 && r.dead === 1 && r.unmatched === 1;
  }, 30000);
  // nothing in flight: every message taken, committed and deleted
  await waitFor("the queue to be empty", async () => (await queueDepth(queue)) === 0, 30000);
  before = await registry(src);
  assert.equal(before.processed.length, 1);
  assert.equal(before.mappings[0].options.includes(`secret_access_key=${SECRET}`), true);

  execFileSync(`${pgbin}/pg_dump`, ["-Fc", "-f", dumpFile, src], { stdio: ["ignore", "ignore", "pipe"] });
  // the old database is gone (a move to a new server): one queue, one database
  await sql("postgres", `DROP DATABASE ${src} WITH (FORCE)`);
});

test("the dump holds the keys only in the user mapping", () => {
  const text = execFileSync(`${pgbin}/pg_restore`, ["-f", "-", dumpFile]).toString();
  // pg_restore's SQL: one section per TOC entry, each headed by
  // "-- Name: ...; Type: ...; Schema: ...; Owner: ..."
  const sections = text.split(/\n(?=--\n-- (?:Data for )?Name: )/);
  const holding = sections.filter((s) => s.includes(SECRET))
    .map((s) => /Type: ([A-Z ]+);/.exec(s)?.[1] ?? s.slice(0, 80));
  assert.deepEqual(holding, ["USER MAPPING"], "the secret appears only in the user mapping's entry");
  // and the extension's tables are in the dump as data
  for (const t of ["queues", "reports", "runs", "processed", "tasks", "dead_letters", "unmatched", "queue_counters"]) {
    assert.match(text, new RegExp(`COPY pipeline\\.${t} \\(`), `pipeline.${t} is dumped`);
  }
});

test("pg_restore brings the registry back", async () => {
  await sql("postgres", `CREATE DATABASE ${dst}`);
  execFileSync(`${pgbin}/pg_restore`, ["--single-transaction", "--exit-on-error", "-d", dst, dumpFile],
    { stdio: ["ignore", "ignore", "pipe"] });
  assert.deepEqual(await registry(dst), before);
  // no secret in any table of the restored database (the extension's or not)
  const tables = await sql(dst, `SELECT format('%I.%I', n.nspname, c.relname) AS t
                                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`);
  assert.ok(tables.length >= 10);
  for (const { t } of tables) {
    const [r] = await sql(dst, `SELECT count(*)::int AS n FROM ${t} x WHERE x::text LIKE '%' || $1 || '%'`, [SECRET]);
    assert.equal(r.n, 0, `${t} holds no secret`);
  }
  // where the serial sequences of the extension's tables stand
  const behind = [];
  for (const s of SEQUENCES) {
    const table = s.replace(/_id_seq$/, "");
    const [r] = await sql(dst, `SELECT (SELECT coalesce(max(id), 0) FROM pipeline.${table}) AS max_id,
                                       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                                        FROM pipeline.${s}) AS seq`);
    if (Number(r.seq) < Number(r.max_id)) behind.push(s);
  }
  sequencesRestored = behind;
});

test("the extension's sequences come back with their tables", () => {
  // (else the restored worker's first runs take ids that exist, fail, and
  // succeed only on a retry)
  assert.deepEqual(sequencesRestored, [], "sequences behind their tables after the restore");
});

test("the restored database's worker runs new work exactly once, and nothing twice", async () => {
  await waitFor("the restored database's worker", () => workerPid(dst), 30000);
  const old = before.processed[0];
  const counted = Number((await sql(dst, `SELECT objects FROM pipeline.status WHERE queue = 'dq'`))[0].objects);
  // a redelivered event of the version processed before the dump ...
  await sendMessage(queue, s3Event(bucket, "in/a.json", { etag: old.etag ?? "x", sequencer: old.sequencer }));
  // ... a new object, and the task that waited for the paused report
  await put(bucket, "in/b.json", [{ v: 4 }]);
  await sql(dst, `SELECT pipeline.resume_report('held')`);
  await waitFor("both events taken and no work left", async () => {
    const [r] = await sql(dst, `SELECT (SELECT objects FROM pipeline.status WHERE queue = 'dq') AS objects,
                                       (SELECT count(*) FROM pipeline.tasks)::int AS tasks`);
    return Number(r.objects) >= counted + 2 && r.tasks === 0;
  }, 30000);
  await waitFor("the queue to be empty", async () => (await queueDepth(queue)) === 0, 30000);

  const runs = await sql(dst, `SELECT report, status, attempt, trigger_uris FROM pipeline.runs WHERE id > $1 ORDER BY id`,
    [before.runs.at(-1).id]);
  // (at the first attempt: a run that needs a retry after a restore, say for
  // a run id taken already, is a broken restore even if the retry succeeds)
  assert.deepEqual(runs.map((r) => [r.report, r.status, r.attempt, r.trigger_uris].flat()).sort(), [
    ["held", "succeeded", 1, `s3://${bucket}/held/h.json`],
    ["seen", "succeeded", 1, `s3://${bucket}/in/b.json`],
  ], "one run for the new object, one for the waiting task, none for the old version");
  assert.deepEqual(await sql(dst, `SELECT v, src FROM seen ORDER BY v`), [
    { v: 1, src: `s3://${bucket}/in/a.json` }, { v: 4, src: `s3://${bucket}/in/b.json` },
  ]);
  assert.deepEqual(await sql(dst, `SELECT v FROM held`), [{ v: 2 }]);
});
