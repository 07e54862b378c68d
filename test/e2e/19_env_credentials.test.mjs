// Credentials from the server's environment without any AWS service: keys in
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY with AWS_SESSION_TOKEN (temporary
// keys), and the shared credentials file with AWS_PROFILE. The cluster is restarted
// with each environment (the instance metadata service disabled, so nothing else
// could answer). Attacks: the same temporary keys without their token are refused
// by S3; a profile the file does not have is an error naming it, not a fall back to
// the default profile; an ordinary role without use_server_identity gets none of it;
// no secret reaches the error or the server log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { sql, sqlAs, createDatabase, createBucket, put, emulator, endpoint } from "./lib.mjs";

const db = "e2e_env_credentials";
const bucket = `env-creds-${process.pid}`;
const dir = process.env.TESTENV_DIR;
const DEFAULT_ENV = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
const file = `${dir}/aws-credentials`;

/** Restart the cluster with this AWS environment (nothing else of AWS's is inherited). */
function restartWith(env) {
  const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
  const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const vars = Object.entries({ AWS_SHARED_CREDENTIALS_FILE: "/dev/null", AWS_CONFIG_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true", ...env }).map(([k, v]) => `${k}=${v}`);
  const cmd = [...asPg, "env", ...Object.keys(process.env).filter((k) => k.startsWith("AWS_")).map((k) => `--unset=${k}`),
    ...vars, `${pgbin}/pg_ctl`, "-D", `${dir}/data`, "-l", `${dir}/postgres.log`, "-w", "-t", "60", "restart", "-m", "fast"];
  execFileSync(cmd[0], cmd.slice(1), { stdio: "ignore", cwd: dir });
}

const requests = async () => (await emulator("GET", "/_emulator/requests"))
  .filter((r) => r.service === "s3" && (r.path ?? "").includes(bucket));
const clearRequests = () => emulator("DELETE", "/_emulator/requests");

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
  await createDatabase(db);
  await createBucket(bucket);
  for (let i = 1; i <= 5; i++) await put(bucket, `d/${i}.json`, `{"i":${i}}\n`);
  await sql(db, `
    CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint '${endpoint}');
    CREATE FOREIGN TABLE t (i int) SERVER aws OPTIONS (uri 's3://${bucket}/d/');
    CREATE USER MAPPING FOR CURRENT_USER SERVER aws;
    DROP ROLE IF EXISTS ec_plain;
    CREATE ROLE ec_plain LOGIN;
    GRANT USAGE ON FOREIGN SERVER aws TO ec_plain;
    GRANT SELECT ON t TO ec_plain;
    CREATE USER MAPPING FOR ec_plain SERVER aws;`);
  writeFileSync(file, [
    "[default]", "aws_access_key_id = bob", "aws_secret_access_key = not-bobs-secret", "",
    "[ci]", "aws_access_key_id = alice", "aws_secret_access_key = alice-secret", ""].join("\n"));
  chmodSync(file, 0o644);
});

after(async () => {
  restartWith(DEFAULT_ENV);
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", "DROP ROLE IF EXISTS ec_plain");
});

test("temporary keys from the environment are signed with their session token", async () => {
  restartWith({ AWS_ACCESS_KEY_ID: "temp", AWS_SECRET_ACCESS_KEY: "temp-secret", AWS_SESSION_TOKEN: "temp-token" });
  await clearRequests();
  assert.equal(await total(), 15);
  const log = await requests();
  assert.ok(log.length > 0 && log.every((r) => r.access_key_id === "temp" && r.status < 400),
    "every S3 request signed with the environment's keys and accepted");
});

test("the same temporary keys without their token are refused, and the error holds no secret", async () => {
  restartWith({ AWS_ACCESS_KEY_ID: "temp", AWS_SECRET_ACCESS_KEY: "temp-secret" });
  const e = await errorOf("postgres", "SELECT sum(i) FROM t");
  assert.notEqual(e, "no error", "S3 refused keys that need a token");
  assert.ok(!e.includes("temp-secret") && !e.includes("temp-token"), e);
});

test("the shared credentials file: AWS_PROFILE chooses the profile", async () => {
  restartWith({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "ci" });
  await clearRequests();
  assert.equal(await total(), 15);
  const log = await requests();
  assert.ok(log.length > 0 && log.every((r) => r.access_key_id === "alice"), "signed with the ci profile's keys");
});

test("a profile the file does not have is an error naming it, not the default profile", async () => {
  restartWith({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "nightly" });
  await clearRequests();
  const e = await errorOf("postgres", "SELECT sum(i) FROM t");
  assert.match(e, /AWS_PROFILE is "nightly"/);
  assert.deepEqual(await requests(), [], "nothing was sent with another profile's keys");
});

test("an ordinary role gets none of the server's keys, and no secret reaches the log", async () => {
  restartWith({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "ci" });
  await clearRequests();
  const e = await errorOf("ec_plain", "SELECT sum(i) FROM t");
  assert.match(e, /^HV00J \| user mapping for "ec_plain" on server "aws" has no S3 credentials/);
  assert.deepEqual(await requests(), [], "no request at all");
  const log = readFileSync(`${dir}/postgres.log`, "utf8");
  for (const secret of ["alice-secret", "temp-secret", "temp-token", "not-bobs-secret"])
    assert.ok(!log.includes(secret), `${secret} is not in the server log`);
});
