// Credentials from the environment AWS gives a server, end to end: the cluster is
// restarted with the environment of an EC2 instance (IMDSv2), an ECS task (container
// credentials) and an EKS pod (web identity), each pointing at the emulator's identity
// port, and pipeline_s3 reads a bucket with what they hand out. Attacks and faults: an
// ordinary role without use_server_identity makes the server fetch nothing; the metadata
// service answering 500 or hanging ends the statement with an error and a hint; keys that
// live 30 seconds are renewed before they expire; an answer that had already expired is
// asked for again; a wrong container token; and no key, secret or token the emulator
// issued appears in the server log or in pg_dump.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { connect, connectAs, sql, sqlAs, waitFor, createDatabase, createBucket, put, emulator, endpoint } from "./lib.mjs";

const db = "e2e_instance_credentials";
const bucket = `instance-creds-${process.pid}`;
const dir = process.env.TESTENV_DIR;
const DEFAULT_ENV = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
let identity; // the emulator's IMDS / container / STS endpoint

/** Restart the cluster with this AWS environment (nothing else of AWS's is inherited). */
function restartWith(env) {
  const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
  const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const vars = Object.entries({ AWS_SHARED_CREDENTIALS_FILE: "/dev/null", AWS_CONFIG_FILE: "/dev/null", ...env })
    .map(([k, v]) => `${k}=${v}`);
  const cmd = [...asPg, "env", ...Object.keys(process.env).filter((k) => k.startsWith("AWS_")).map((k) => `--unset=${k}`),
    ...vars, `${pgbin}/pg_ctl`, "-D", `${dir}/data`, "-l", `${dir}/postgres.log`, "-w", "-t", "60", "restart", "-m", "fast"];
  execFileSync(cmd[0], cmd.slice(1), { stdio: "ignore", cwd: dir });
}

// (S3 requests: only this file's bucket; other databases' workers may be about)
const requests = async () => (await emulator("GET", "/_emulator/requests"))
  .filter((r) => r.service !== "s3" || (r.path ?? "").includes(bucket));
const clearRequests = () => emulator("DELETE", "/_emulator/requests");
const fault = (spec) => emulator("POST", "/_emulator/faults", spec);
const clearFaults = () => emulator("DELETE", "/_emulator/faults");
const configure = async (patch) => {
  const r = await fetch(`${endpoint}/_emulator/identity`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(patch),
  });
  assert.equal(r.status, 200, await r.text());
};
const issued = async () => (await emulator("GET", "/_emulator/identity")).issued;

/** The error a statement raises, as "SQLSTATE | message | detail | hint". */
async function errorOf(user, text) {
  try {
    await sqlAs(user, db, text);
  } catch (e) {
    return [e.code, e.message, e.detail, e.hint].filter(Boolean).join(" | ");
  }
  return "no error";
}
const total = async (user = "postgres") => Number((await sqlAs(user, db, "SELECT sum(i) AS s FROM t"))[0].s);

before(async () => {
  identity = (await emulator("GET", "/_emulator/identity")).endpoint;
  await configure({ reset: true });
  await createDatabase(db);
  await createBucket(bucket);
  for (let i = 1; i <= 5; i++) await put(bucket, `d/${i}.json`, `{"i":${i}}\n`);
  await sql(db, `
    CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint '${endpoint}', sts_endpoint '${identity}');
    CREATE FOREIGN TABLE t (i int) SERVER aws OPTIONS (uri 's3://${bucket}/d/');
    CREATE USER MAPPING FOR CURRENT_USER SERVER aws;
    DROP ROLE IF EXISTS ic_plain; DROP ROLE IF EXISTS ic_granted;
    CREATE ROLE ic_plain LOGIN; CREATE ROLE ic_granted LOGIN;
    GRANT USAGE ON FOREIGN SERVER aws TO ic_plain, ic_granted;
    GRANT SELECT ON t TO ic_plain, ic_granted;
    CREATE USER MAPPING FOR ic_plain SERVER aws;
    CREATE USER MAPPING FOR ic_granted SERVER aws OPTIONS (use_server_identity 'true');`);
  // an EC2 instance: IMDSv2 only (no keys in the environment)
  restartWith({ AWS_EC2_METADATA_SERVICE_ENDPOINT: identity });
});

after(async () => {
  await clearFaults();
  await configure({ reset: true });
  restartWith(DEFAULT_ENV);
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", "DROP ROLE IF EXISTS ic_plain; DROP ROLE IF EXISTS ic_granted");
});

test("a superuser reads with the instance's credentials, fetched through IMDSv2", async () => {
  await clearRequests();
  assert.equal(await total(), 15);
  const log = await requests();
  const imds = log.filter((r) => r.service === "imds");
  assert.deepEqual(imds.map((r) => `${r.method} ${r.path} ${r.status}`), [
    "PUT /latest/api/token 200",
    "GET /latest/meta-data/iam/security-credentials/ 200",
    "GET /latest/meta-data/iam/security-credentials/pipeline-instance 200",
  ]);
  assert.ok(imds.slice(1).every((r) => r.imds_token), "IMDSv2: every GET carries the session token");
  const keys = new Set((await issued()).filter((c) => c.source === "instance").map((c) => c.access_key_id));
  const s3 = log.filter((r) => r.service === "s3");
  assert.ok(s3.length > 0 && s3.every((r) => keys.has(r.access_key_id)), "S3 requests are signed with the instance's keys");
});

test("an ordinary role without use_server_identity makes the server fetch nothing; a granted one reads", async () => {
  await clearRequests();
  const e = await errorOf("ic_plain", "SELECT sum(i) FROM t");
  assert.match(e, /^HV00J \| user mapping for "ic_plain" on server "aws" has no S3 credentials \| Only a superuser, or a role whose user mapping a superuser gave use_server_identity 'true'/);
  const log = await requests();
  assert.deepEqual(log.filter((r) => ["imds", "container", "sts", "s3"].includes(r.service)), [],
    "no request to the metadata service, nor one to S3");
  // nor can it give itself the option
  const set = await errorOf("ic_plain", "ALTER USER MAPPING FOR ic_plain SERVER aws OPTIONS (ADD use_server_identity 'true')");
  assert.match(set, /^42501 \| permission denied to set or change a user mapping with option "use_server_identity"/);
  assert.equal(await total("ic_granted"), 15, "the role a superuser allowed reads");
});

test("IMDS answering 500: a clear error with a hint, after its attempts", async () => {
  await fault({ service: "imds", action: "status", status: 500, code: "InternalError", count: 0 });
  try {
    await clearRequests();
    // (a new backend: its cache is empty)
    const e = await errorOf("postgres", "SET pipeline.metadata_timeout = '2s'; SELECT sum(i) FROM t");
    assert.match(e, /^HV000 \| could not get credentials from the EC2 instance metadata service at http:\/\/127\.0\.0\.1:\d+: HTTP 500 \| Check that the instance has an instance profile/);
    assert.equal((await requests()).filter((r) => r.service === "imds").length, 2, "two attempts");
  } finally {
    await clearFaults();
  }
});

test("IMDS that never answers: the statement ends after the attempts, not at statement_timeout", async () => {
  await fault({ service: "imds", action: "hang", count: 0 });
  try {
    // statement_timeout is only the guard: the error must be the metadata service's
    const e = await errorOf("postgres", "SET statement_timeout = '120s'; SET pipeline.metadata_timeout = '300ms'; SELECT sum(i) FROM t");
    assert.match(e, /^HV00N \| could not get credentials from the EC2 instance metadata service at http:\/\/127\.0\.0\.1:\d+ \| no answer within 300 ms \(2 attempts\)\. \| Check that the instance has an instance profile/);
  } finally {
    await clearFaults();
  }
});

test("keys that live 30 seconds are renewed before they expire, in a session that goes on reading", async () => {
  await configure({ ttl_seconds: 30 });
  const c = await connect(db);
  try {
    await clearRequests();
    const before = new Set((await issued()).map((k) => k.access_key_id));
    assert.equal(Number((await c.query("SELECT sum(i) AS s FROM t")).rows[0].s), 15);
    const first = (await issued()).filter((k) => !before.has(k.access_key_id));
    assert.equal(first.length, 1, "one set of keys fetched");
    // read until the session has fetched new keys (at half their life), then check they are used
    const renewed = await waitFor("the session to renew its keys", async () => {
      assert.equal(Number((await c.query("SELECT sum(i) AS s FROM t")).rows[0].s), 15);
      const now = (await issued()).filter((k) => !before.has(k.access_key_id));
      return now.length >= 2 ? now : null;
    }, 90000, 500);
    const issuedAt = (k) => Date.parse(k.expires) - 30000;
    assert.ok(issuedAt(renewed[1]) < Date.parse(first[0].expires), "the new keys were fetched before the old ones expired");
    await clearRequests();
    assert.equal(Number((await c.query("SELECT sum(i) AS s FROM t")).rows[0].s), 15);
    const s3 = (await requests()).filter((r) => r.service === "s3");
    const latest = renewed[renewed.length - 1].access_key_id;
    assert.ok(s3.length > 0 && s3.every((r) => r.access_key_id === latest), "the renewed keys sign the requests");
    assert.ok(s3.every((r) => r.status < 400), "and S3 took them");
  } finally {
    await c.end();
    await configure({ ttl_seconds: 3600 });
  }
});

test("IMDS handing out keys that had already expired: asked again; always: an error", async () => {
  await fault({ service: "imds", action: "expired", count: 1 });
  await clearRequests();
  assert.equal(await total(), 15, "read with the second answer's keys");
  assert.equal((await requests()).filter((r) => r.service === "imds" && r.path.endsWith("/pipeline-instance")).length, 2);
  await fault({ service: "imds", action: "expired", count: 0 });
  try {
    const e = await errorOf("postgres", "SELECT sum(i) FROM t");
    assert.match(e, /^HV000 \| the EC2 instance metadata service at \S+ gave credentials that had already expired \| They expired at .* \(2 attempts\)\. \| Check the clock/);
  } finally {
    await clearFaults();
  }
});

test("an ECS task: container credentials with an authorization token, before the instance's", async () => {
  const token = `container-auth-${process.pid}`;
  await configure({ container_token: token });
  // both set, as on ECS on EC2: the container's come first
  restartWith({
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${identity}/v2/credentials/task-1`,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: identity,
  });
  await clearRequests();
  assert.equal(await total(), 15);
  const log = await requests();
  assert.deepEqual(log.filter((r) => r.service === "container").map((r) => `${r.path} ${r.authorization} ${r.status}`),
    ["/v2/credentials/task-1 given 200"]);
  assert.equal(log.filter((r) => r.service === "imds").length, 0, "the instance's metadata service is not asked");
  const keys = new Set((await issued()).filter((c) => c.source === "container").map((c) => c.access_key_id));
  assert.ok(log.filter((r) => r.service === "s3").every((r) => keys.has(r.access_key_id)));

  // a wrong token: the endpoint's own message, and a hint at the variables
  await configure({ container_token: "another" });
  const e = await errorOf("postgres", "SELECT sum(i) FROM t");
  assert.match(e, /^HV000 \| could not get credentials from the container credentials endpoint http:\/\/127\.0\.0\.1:\d+\/v2\/credentials\/task-1: AccessDenied \| It said: Authorization header invalid \| Check AWS_CONTAINER_AUTHORIZATION_TOKEN/);
  assert.ok(!e.includes(token), "the token is not in the error");
  await configure({ container_token: null });
});

test("an EKS pod: web identity (IRSA), with the token read from its file", async () => {
  const tokenFile = `${dir}/web-identity-token`;
  writeFileSync(tokenFile, "pipeline-web-identity-token\n");
  chmodSync(tokenFile, 0o644);
  await configure({ roles: { "arn:aws:iam::000000000000:role/pod": { trust: ["web-identity"] } } });
  restartWith({
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_ARN: "arn:aws:iam::000000000000:role/pod",
    AWS_ROLE_SESSION_NAME: "pipeline-e2e",
    AWS_ENDPOINT_URL_STS: identity,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: identity,
  });
  await clearRequests();
  assert.equal(await total(), 15);
  const log = await requests();
  assert.deepEqual(log.filter((r) => r.service === "sts").map((r) => `${r.target} ${r.status}`), ["AssumeRoleWithWebIdentity 200"]);
  assert.equal(log.filter((r) => r.service === "imds").length, 0);
  // a token the provider does not know: STS's code and the hint
  writeFileSync(tokenFile, "forged-token\n");
  const e = await errorOf("postgres", "SELECT sum(i) FROM t");
  assert.match(e, /could not assume role "arn:aws:iam::000000000000:role\/pod" with a web identity token: InvalidIdentityToken/);
  assert.ok(!e.includes("forged-token"), "the token is not in the error");
});

test("no key, secret or token the emulator issued is in the server log or in pg_dump", async () => {
  const secrets = (await issued()).flatMap((c) => [c.secret_access_key, c.session_token]);
  assert.ok(secrets.length >= 10, `the secrets issued in this file (${secrets.length})`);
  const logText = readFileSync(`${dir}/postgres.log`, "utf8");
  for (const s of secrets) assert.ok(!logText.includes(s), "a secret in the server log");
  assert.ok(!logText.includes("container-auth-"), "the container authorization token in the server log");
  const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
  const dump = execFileSync(`${pgbin}/pg_dump`, [db], { maxBuffer: 64 * 1024 * 1024 }).toString();
  assert.match(dump, /CREATE USER MAPPING FOR ic_granted SERVER aws OPTIONS \(\s*use_server_identity 'true'\s*\)/, "the grant is dumped");
  for (const s of secrets) assert.ok(!dump.includes(s), "a secret in pg_dump");
  assert.ok(!/ASIA[0-9A-F]{16}/.test(dump), "no temporary key id in pg_dump");
});
