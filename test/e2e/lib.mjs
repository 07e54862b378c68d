// test/e2e/lib.mjs
//	What the end-to-end tests share: a PostgreSQL client for the
//	throw-away cluster of test/run, AWS SDK clients for the emulator, and
//	bounded waits.  The environment comes from tools/testenv.sh.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const pg = require("pg");
const s3sdk = require("@aws-sdk/client-s3");
const sqssdk = require("@aws-sdk/client-sqs");
const snssdk = require("@aws-sdk/client-sns");

export const endpoint = process.env.PIPELINE_S3_ENDPOINT;
export const port = new URL(endpoint).port;
if (!endpoint || !process.env.PGHOST) {
  throw new Error("run these tests through test/run (PIPELINE_S3_ENDPOINT and PGHOST are not set)");
}

const aws = {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};
export const s3 = new s3sdk.S3Client({ ...aws, forcePathStyle: true });
export const sqs = new sqssdk.SQSClient(aws);
export const sns = new snssdk.SNSClient(aws);
export { s3sdk, sqssdk, snssdk };

/** The URL a queue has inside the emulator (what add_queue is given). */
export function queueUrl(name) {
  return `http://sqs.us-east-1.localhost:${port}/000000000000/${name}`;
}

export async function connect(database = "postgres") {
  const c = new pg.Client({ database });
  await c.connect();
  c.on("error", () => {}); // a backend killed on purpose must not crash the test process
  return c;
}

/** A connection as another role (the test cluster trusts local connections). */
export async function connectAs(user, database = "postgres") {
  const c = new pg.Client({ database, user });
  await c.connect();
  c.on("error", () => {});
  return c;
}

/**
 * Run SQL as a role with a short-lived connection; searchPath, if given,
 * is set first (instead of whatever the database's settings say).
 */
export async function sqlAs(user, database, text, params = [], { searchPath } = {}) {
  const c = await connectAs(user, database);
  try {
    if (searchPath) await c.query(`SELECT pg_catalog.set_config('search_path', $1, false)`, [searchPath]);
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Run SQL in a database with a short-lived connection. */
export async function sql(database, text, params = []) {
  const c = await connect(database);
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Poll until fn() returns a truthy value; fail after timeoutMs. */
export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A new database with the extension, a server on the emulator and a mapping. */
export async function createDatabase(name) {
  await sql("postgres", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE ${name}`);
  await sql(name, `CREATE EXTENSION pipeline`);
  await sql(name, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
                   OPTIONS (region 'us-east-1', endpoint '${endpoint}')`);
  await sql(name, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake
                   OPTIONS (access_key_id 'test', secret_access_key 'test')`);
}

export async function createBucket(bucket) {
  try {
    await s3.send(new s3sdk.CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if (e.name !== "BucketAlreadyOwnedByYou" && e.name !== "BucketAlreadyExists") throw e;
  }
}

export async function createQueue(name, attributes = {}) {
  const r = await sqs.send(new sqssdk.CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return r.QueueUrl;
}

export async function queueArn(name) {
  const r = await sqs.send(new sqssdk.GetQueueAttributesCommand({
    QueueUrl: queueUrl(name), AttributeNames: ["QueueArn"],
  }));
  return r.Attributes.QueueArn;
}

/** S3 -> SQS notifications for every object created under prefix. */
export async function notifyQueue(bucket, queue, prefix) {
  await s3.send(new s3sdk.PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: {
      QueueConfigurations: [{
        QueueArn: await queueArn(queue),
        Events: ["s3:ObjectCreated:*"],
        Filter: { Key: { FilterRules: [{ Name: "prefix", Value: prefix }] } },
      }],
    },
  }));
}

/** Put an object; JSON records are written one per line, gzipped if the key ends in .gz. */
export async function put(bucket, key, body) {
  if (Array.isArray(body)) body = body.map((r) => JSON.stringify(r)).join("\n") + "\n";
  if (key.endsWith(".gz")) body = gzipSync(Buffer.from(body));
  const r = await s3.send(new s3sdk.PutObjectCommand({
    Bucket: bucket, Key: key, Body: body, ContentType: "application/octet-stream",
  }));
  return r.ETag;
}

export async function sendMessage(queue, body) {
  await sqs.send(new sqssdk.SendMessageCommand({
    QueueUrl: queueUrl(queue), MessageBody: typeof body === "string" ? body : JSON.stringify(body),
  }));
}

/** Messages visible + in flight in a queue. */
export async function queueDepth(queue) {
  const r = await sqs.send(new sqssdk.GetQueueAttributesCommand({
    QueueUrl: queueUrl(queue),
    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
  }));
  return Number(r.Attributes.ApproximateNumberOfMessages) +
    Number(r.Attributes.ApproximateNumberOfMessagesNotVisible);
}

/** An S3 event record as S3 sends it (key form-URL-encoded). */
export function s3Event(bucket, key, { etag = "0123456789abcdef", sequencer = "0055AED6DCD90281E5", size = 100, name = "ObjectCreated:Put" } = {}) {
  const enc = encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+");
  return {
    Records: [{
      eventVersion: "2.1", eventSource: "aws:s3", awsRegion: "us-east-1",
      eventTime: new Date().toISOString(), eventName: name,
      s3: { s3SchemaVersion: "1.0", bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
            object: { key: enc, size, eTag: etag, sequencer } },
    }],
  };
}

/** The emulator's admin routes: faults and the request log. */
export async function emulator(method, path, body) {
  const r = await fetch(endpoint + path, {
    method, headers: { "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

/**
 * Wait until the worker has completed the export to "uri" (exports become
 * objects after their transaction commits); fails if it gave up.
 */
export async function exported(database, uri, timeoutMs = 20000) {
  let failed = null;
  await waitFor(`the export to ${uri} to be completed`, async () => {
    const r = await sql(database, `SELECT state, last_error FROM pipeline.exports
                                   WHERE 's3://' || bucket || '/' || key = $1 ORDER BY id DESC LIMIT 1`, [uri]);
    if (r[0]?.state === "failed") failed = r[0].last_error;
    return r[0]?.state === "completed" || failed !== null;
  }, timeoutMs);
  if (failed) throw new Error(`the export to ${uri} failed: ${failed}`);
}

/** The pid of the pipeline worker of a database, or null. */
export async function workerPid(database) {
  const rows = await sql("postgres", `SELECT pid FROM pg_stat_activity
                                      WHERE backend_type = 'pipeline worker' AND datname = $1`, [database]);
  return rows.length ? rows[0].pid : null;
}

/**
 * kill -9 a backend (the worker, say) and wait until the crash is over: the
 * postmaster restarts every process after it, so wait for a new worker of
 * the database, which exists only once recovery has finished.
 */
export async function killAndRecover(pid, database) {
  process.kill(pid, "SIGKILL");
  await waitFor("the server to recover and start a new worker", async () => {
    const now = await workerPid(database);
    return now !== null && now !== pid;
  }, 90000, 250);
}

/** Restart the cluster (pg_ctl as the postgres OS user, as testenv does). */
export function restartServer() {
  const dir = process.env.TESTENV_DIR;
  const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
  const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const cmd = [...asPg, "env", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
    `${pgbin}/pg_ctl`, "-D", `${dir}/data`, "-l", `${dir}/postgres.log`, "-w", "-t", "60", "restart", "-m", "fast"];
  // (from dir: pg_ctl cannot enter a checkout in a 0700 directory)
  execFileSync(cmd[0], cmd.slice(1), { stdio: "ignore", cwd: dir });
}

/** Lines of the server log that match a pattern. */
export function serverLog(pattern) {
  const dir = process.env.TESTENV_DIR;
  // (not through a child process: its output is capped at 1 MB, which a long run's log outgrows)
  const text = readFileSync(`${dir}/postgres.log`, "utf8");
  return text.split("\n").filter((l) => pattern.test(l));
}
