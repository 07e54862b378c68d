// The worker on an EC2 instance: the cluster is restarted with IMDSv2 (the emulator's
// identity port) as its only AWS identity, and the keys the instance hands out live 30
// seconds. The worker's long-lived SQS client must renew them before each request once
// their time has come (it keeps polling for minutes with the keys of its first poll
// otherwise, and S3/SQS would answer ExpiredToken); events sent after the first keys
// expired are still taken and their reports run. A report of a role a superuser allowed
// (use_server_identity) runs with the instance's identity; a report of a role that was not
// allowed fails, with the reason in pipeline.runs, and never gets the instance's keys.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { sql, waitFor, createDatabase, createBucket, createQueue, notifyQueue, put, queueUrl, emulator, endpoint } from "./lib.mjs";

const db = "e2e_worker_credentials";
const bucket = `worker-creds-${process.pid}`;
const queue = "worker-creds-q";
const dir = process.env.TESTENV_DIR;
const TTL = 30;

/** Restart the cluster with this AWS environment (nothing else of AWS's is inherited). */
function restartWith(env) {
  const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
  const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const vars = Object.entries({ AWS_SHARED_CREDENTIALS_FILE: "/dev/null", AWS_CONFIG_FILE: "/dev/null", ...env })
    .map(([k, v]) => `${k}=${v}`);
  const cmd = [...asPg, "env", ...vars, `${pgbin}/pg_ctl`, "-D", `${dir}/data`, "-l", `${dir}/postgres.log`,
    "-w", "-t", "60", "restart", "-m", "fast"];
  execFileSync(cmd[0], cmd.slice(1), { stdio: "ignore", cwd: dir });
}

const configure = async (patch) => {
  const r = await fetch(`${endpoint}/_emulator/identity`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(patch),
  });
  assert.equal(r.status, 200, await r.text());
};
// (the instance keys issued since this file began: earlier files' are still listed)
const known = new Set();
const instanceKeys = async () => (await emulator("GET", "/_emulator/identity")).issued
  .filter((c) => c.source === "instance" && !known.has(c.access_key_id));
const runs = (report) => sql(db, `SELECT status, error FROM pipeline.runs WHERE report = $1 ORDER BY id`, [report]);

before(async () => {
  const identity = (await emulator("GET", "/_emulator/identity")).endpoint;
  await configure({ reset: true, ttl_seconds: TTL });
  for (const c of (await emulator("GET", "/_emulator/identity")).issued) known.add(c.access_key_id);
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue(queue);
  await notifyQueue(bucket, queue, "in/");
  await sql(db, `
    CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint '${endpoint}');
    CREATE USER MAPPING FOR CURRENT_USER SERVER aws;
    CREATE FOREIGN TABLE incoming (v int, src text OPTIONS (metadata 'uri')) SERVER aws OPTIONS (uri 's3://${bucket}/in/');
    DROP ROLE IF EXISTS wc_allowed; DROP ROLE IF EXISTS wc_plain;
    CREATE ROLE wc_allowed; CREATE ROLE wc_plain;
    GRANT USAGE ON FOREIGN SERVER aws TO wc_allowed, wc_plain;
    GRANT SELECT ON incoming TO wc_allowed, wc_plain;
    GRANT CREATE ON SCHEMA public TO wc_allowed, wc_plain;
    CREATE USER MAPPING FOR wc_allowed SERVER aws OPTIONS (use_server_identity 'true');
    CREATE USER MAPPING FOR wc_plain SERVER aws;
    SET ROLE wc_allowed;
    SELECT pipeline.create_report(name => 'wc_allowed_r', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT v, src FROM public.incoming WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.wc_allowed_t');
    SET ROLE wc_plain;
    SELECT pipeline.create_report(name => 'wc_plain_r', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT v, src FROM public.incoming WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.wc_plain_t');
    RESET ROLE;`);
  // an EC2 instance: the worker polls SQS with the instance's keys (the queue is the superuser's)
  restartWith({ AWS_EC2_METADATA_SERVICE_ENDPOINT: identity });
  await sql(db, `SELECT pipeline.add_queue('wcq', $1, 'aws')`, [queueUrl(queue)]);
});

after(async () => {
  await configure({ reset: true });
  restartWith({ AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" });
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", "DROP ROLE IF EXISTS wc_allowed; DROP ROLE IF EXISTS wc_plain");
});

test("the worker takes events with the instance's keys and renews them before they expire", async () => {
  await put(bucket, "in/1.json", '{"v":1}\n');
  await waitFor("the allowed role's report to run for the first object", async () =>
    (await sql(db, "SELECT count(*)::int AS n FROM wc_allowed_t"))[0].n === 1, 60000, 250);
  const first = (await instanceKeys())[0];
  assert.ok(first, "the instance's keys were fetched");

  // wait until the keys the worker began with have expired, then send another object
  await waitFor("the first keys to expire", async () => Date.parse(first.expires) < Date.now() - 1000,
    (TTL + 30) * 1000, 500);
  await emulator("DELETE", "/_emulator/requests");
  await put(bucket, "in/2.json", '{"v":2}\n');
  await waitFor("the allowed role's report to run for the second object", async () =>
    (await sql(db, "SELECT count(*)::int AS n FROM wc_allowed_t"))[0].n === 2, 60000, 250);

  const keys = await instanceKeys();
  assert.ok(keys.length >= 2, `the worker renewed its keys (${keys.length} sets fetched)`);
  const issuedAt = (k) => Date.parse(k.expires) - TTL * 1000;
  assert.ok(keys.slice(1).some((k) => issuedAt(k) < Date.parse(first.expires)),
    "new keys were fetched before the first ones expired");
  const log = await emulator("GET", "/_emulator/requests");
  const sqs = log.filter((r) => r.service === "sqs" && (r.target ?? "").includes("ReceiveMessage"));
  assert.ok(sqs.length > 0, "the worker polled");
  assert.ok(sqs.every((r) => r.access_key_id !== first.access_key_id), "never with the expired keys");
  assert.deepEqual(log.filter((r) => r.status === 403 || r.error === "ExpiredToken"), [], "nothing was refused");
});

test("the report of a role that was not allowed fails with the reason, without the instance's keys", async () => {
  const rs = await waitFor("the other role's runs", async () => {
    const r = await runs("wc_plain_r");
    return r.length >= 1 && r;
  }, 60000, 250);
  assert.equal(rs[0].status, "failed");
  assert.match(rs[0].error, /user mapping for "wc_plain" on server "aws" has no S3 credentials/);
  assert.equal((await sql(db, "SELECT count(*)::int AS n FROM wc_plain_t"))[0].n, 0);
  const allowed = await runs("wc_allowed_r");
  assert.ok(allowed.length >= 2 && allowed.every((r) => r.status === "succeeded"), JSON.stringify(allowed));
});
