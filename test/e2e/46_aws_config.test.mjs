// The server's own identity from the AWS config file (issue 12), beside
// 19_env_credentials: AWS_CONFIG_FILE's "[profile name]" sections chosen by AWS_PROFILE,
// a role_arn assumed (STS AssumeRole, signature checked by the emulator) with its
// source_profile's keys, and credential_process, a program run as the server's OS user.
// The cluster is restarted with each environment (instance metadata disabled). Attacks:
// an ordinary role without use_server_identity never makes the server run the program;
// a program that hangs is killed when the query is cancelled, not left behind and not
// blocking the backend; a role_arn without a source_profile is an error naming the
// profile, not a fall back; the credentials file's keys win over the config file's
// program for the same profile; no secret reaches the error or the server log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { sql, sqlAs, createDatabase, createBucket, put, emulator, endpoint, waitFor } from "./lib.mjs";

const db = "e2e_aws_config";
const bucket = `aws-config-${process.pid}`;
const dir = process.env.TESTENV_DIR;
const DEFAULT_ENV = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
const config = `${dir}/aws-config`;
const creds = `${dir}/aws-config-credentials`;
const runs = `${dir}/credential-process.runs`;
const hangPid = `${dir}/credential-process.hang.pid`;
const ROLE = "arn:aws:iam::000000000000:role/lake-reader";
let identity;

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
const programRuns = () => (existsSync(runs) ? readFileSync(runs, "utf8").split("\n").filter(Boolean).length : 0);

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
  const r = await fetch(`${endpoint}/_emulator/identity`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ reset: true, roles: { [ROLE]: { trust: ["test"] } } }) });
  assert.equal(r.status, 200, await r.text());
  await createDatabase(db);
  await createBucket(bucket);
  for (let i = 1; i <= 5; i++) await put(bucket, `d/${i}.json`, `{"i":${i}}\n`);
  await sql(db, `
    CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (endpoint '${endpoint}', sts_endpoint '${identity}');
    CREATE FOREIGN TABLE t (i int) SERVER aws OPTIONS (uri 's3://${bucket}/d/');
    CREATE USER MAPPING FOR CURRENT_USER SERVER aws;
    DROP ROLE IF EXISTS ac_plain;
    CREATE ROLE ac_plain LOGIN;
    GRANT USAGE ON FOREIGN SERVER aws TO ac_plain;
    GRANT SELECT ON t TO ac_plain;
    CREATE USER MAPPING FOR ac_plain SERVER aws;`);
  writeFileSync(`${dir}/credential-process.sh`, [
    "#!/bin/sh", `echo run >> ${runs}`,
    `printf '%s' '{"Version": 1, "AccessKeyId": "bob", "SecretAccessKey": "bob-secret", "Expiration": "2099-01-01T00:00:00Z"}'`,
    ""].join("\n"));
  writeFileSync(`${dir}/credential-process-hang.sh`, ["#!/bin/sh", `echo $$ > ${hangPid}`, "exec sleep 600", ""].join("\n"));
  chmodSync(`${dir}/credential-process.sh`, 0o755);
  chmodSync(`${dir}/credential-process-hang.sh`, 0o755);
  writeFileSync(config, [
    "[default]", "region = us-east-1", "",
    "[profile proc]", `credential_process = ${dir}/credential-process.sh`, "",
    "[profile hang]", `credential_process = ${dir}/credential-process-hang.sh`, "",
    "[profile reader]", `role_arn = ${ROLE}`, "source_profile = base", "role_session_name = first-hour", "",
    "[profile base]", "aws_access_key_id = test", "aws_secret_access_key = test", "",
    "[profile orphan]", `role_arn = ${ROLE}`, "",
    "[profile both]", `credential_process = ${dir}/credential-process.sh`, "",
  ].join("\n"));
  writeFileSync(creds, ["[both]", "aws_access_key_id = alice", "aws_secret_access_key = alice-secret", ""].join("\n"));
  chmodSync(config, 0o644);
  chmodSync(creds, 0o644);
  writeFileSync(runs, "");
  chmodSync(runs, 0o666);
});

after(async () => {
  restartWith(DEFAULT_ENV);
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", "DROP ROLE IF EXISTS ac_plain");
});

test("credential_process: the program's keys sign every request", async () => {
  restartWith({ AWS_CONFIG_FILE: config, AWS_PROFILE: "proc" });
  await clearRequests();
  const before = programRuns();
  assert.equal(await total(), 15);
  const log = await requests();
  assert.ok(log.length > 0 && log.every((r) => r.access_key_id === "bob"), "signed with the program's keys");
  assert.ok(programRuns() > before, "the program ran");
});

test("an ordinary role never makes the server run the program", async () => {
  restartWith({ AWS_CONFIG_FILE: config, AWS_PROFILE: "proc" });
  await clearRequests();
  const before = programRuns();
  const e = await errorOf("ac_plain", "SELECT sum(i) FROM t");
  assert.match(e, /^HV00J \| user mapping for "ac_plain" on server "aws" has no S3 credentials/);
  assert.equal(programRuns(), before, "the program did not run");
  assert.deepEqual(await requests(), [], "no request at all");
});

test("a program that hangs is killed when the query is cancelled", async () => {
  restartWith({ AWS_CONFIG_FILE: config, AWS_PROFILE: "hang" });
  // (the server's OS user may not create files here: the file is made for it)
  writeFileSync(hangPid, "");
  chmodSync(hangPid, 0o666);
  const e = await errorOf("postgres", "SET statement_timeout = '3s'; SELECT sum(i) FROM t");
  assert.match(e, /^57014 \| canceling statement due to statement timeout/);
  const pid = readFileSync(hangPid, "utf8").trim();
  assert.match(pid, /^\d+$/, "the program had started");
  await waitFor("the program to be gone", async () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return / Z /.test(stat.slice(stat.lastIndexOf(")")));
    } catch {
      return true;
    }
  }, 10000);
  assert.equal(Number((await sql(db, "SELECT 1 AS one"))[0].one), 1, "the server works on");
});

test("role_arn with source_profile: the role is assumed with the source profile's keys", async () => {
  restartWith({ AWS_CONFIG_FILE: config, AWS_PROFILE: "reader" });
  await clearRequests();
  assert.equal(await total(), 15);
  const log = await requests();
  assert.ok(log.length > 0 && log.every((r) => /^ASIA/.test(r.access_key_id ?? "")),
    `signed with temporary keys of the role: ${[...new Set(log.map((r) => r.access_key_id))]}`);
  const issued = (await emulator("GET", "/_emulator/identity")).issued ?? [];
  assert.ok(issued.some((c) => c.role === ROLE || c.role_arn === ROLE || JSON.stringify(c).includes("lake-reader")),
    "STS issued keys for lake-reader");
});

test("a role_arn without a source_profile is an error naming the profile", async () => {
  restartWith({ AWS_CONFIG_FILE: config, AWS_PROFILE: "orphan" });
  await clearRequests();
  const e = await errorOf("postgres", "SELECT sum(i) FROM t");
  assert.match(e, /AWS profile "orphan" has a role_arn but no source_profile/);
  assert.deepEqual(await requests(), [], "nothing was sent");
});

test("the credentials file's keys win over the config file's program for the same profile", async () => {
  restartWith({ AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: creds, AWS_PROFILE: "both" });
  await clearRequests();
  const before = programRuns();
  assert.equal(await total(), 15);
  assert.ok((await requests()).every((r) => r.access_key_id === "alice"), "signed with the credentials file's keys");
  assert.equal(programRuns(), before, "the program did not run");
  const log = readFileSync(`${dir}/postgres.log`, "utf8");
  for (const secret of ["bob-secret", "alice-secret"])
    assert.ok(!log.includes(secret), `${secret} is not in the server log`);
});
