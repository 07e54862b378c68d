// Signed webhooks (Standard Webhooks): every delivery of a report with a
// secret carries webhook-id, webhook-timestamp and webhook-signature, which
// the receiver below verifies with its own HMAC (node:crypto), as the
// README's snippet does.  The id stays the same on a retry; a rotation keeps
// the previous secret signing for its grace period; an ordinary role can
// neither read a secret nor rotate another role's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { sql, sqlAs, waitFor, createDatabase } from "./lib.mjs";

const db = "e2e_signed_webhooks";
let server;
let url;
const got = [];
let failNext = 0;

/** The README's verification: true if one of the v1 signatures is ours. */
function verify(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest();
  return (headers["webhook-signature"] ?? "").split(" ").some((s) => {
    const [version, sig] = s.split(",");
    const given = Buffer.from(sig ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

before(async () => {
  await createDatabase(db);
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      if (failNext > 0) {
        failNext--;
        res.writeHead(503);
      } else {
        res.writeHead(204);
      }
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${server.address().port}/hook`;
  await sql(db, `
    DO $$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hook_mallory') THEN CREATE ROLE hook_mallory LOGIN; END IF;
    END$$;
    CREATE TABLE t AS SELECT 1 AS n;`);
  await sql(db, `SELECT pipeline.create_report(name => 'signed', query => 'SELECT n FROM t',
                   target => 'signed_out', webhook => $1)`, [url]);
});

after(async () => {
  server?.close();
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

/** Run the report and wait for "n" more requests at the receiver. */
async function runAndReceive(n = 1) {
  const before = got.length;
  const id = (await sql(db, `SELECT pipeline.run_report('signed') AS id`))[0].id;
  await waitFor("the webhook deliveries", async () => got.length >= before + n, 30000);
  await waitFor("the delivery recorded", async () =>
    (await sql(db, `SELECT delivered_at IS NOT NULL AS d FROM pipeline.webhooks WHERE run_id = $1`, [id]))[0]?.d === true, 30000);
  return { id, requests: got.slice(before) };
}

test("no secret: no signature headers", async () => {
  const { requests } = await runAndReceive();
  assert.equal(requests[0].headers["webhook-signature"], undefined);
});

test("a secret signs every delivery; the id is the same on a retry", async () => {
  const secret = (await sql(db, `SELECT pipeline.rotate_webhook_secret('signed') AS s`))[0].s;
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, "32 random bytes, base64");
  failNext = 1;
  const { id, requests } = await runAndReceive(2);
  assert.equal(requests.length, 2, "a 503, then the retry");
  for (const r of requests) {
    assert.ok(verify(secret, r.headers, r.body), `signature verifies: ${JSON.stringify(r.headers)}`);
    assert.equal(JSON.parse(r.body).id, Number(id));
    const ts = Number(r.headers["webhook-timestamp"]);
    assert.ok(Number.isInteger(ts) && Math.abs(ts - Date.now() / 1000) < 86400, "Unix seconds");
  }
  assert.equal(requests[0].headers["webhook-id"], requests[1].headers["webhook-id"], "one id for all attempts");
  // the check is not vacuous: another body, another secret or another id fail
  const r = requests[1];
  assert.equal(verify(secret, r.headers, r.body.replace('"succeeded"', '"failed"')), false);
  assert.equal(verify(`whsec_${Buffer.alloc(32, 7).toString("base64")}`, r.headers, r.body), false);
  assert.equal(verify(secret, { ...r.headers, "webhook-id": "other" }, r.body), false);
});

test("rotation: the previous secret signs too during its grace period", async () => {
  const old = (await sql(db, `SELECT pipeline.rotate_webhook_secret('signed') AS s`))[0].s;
  const fresh = (await sql(db, `SELECT pipeline.rotate_webhook_secret('signed') AS s`))[0].s;
  assert.notEqual(old, fresh);
  let { requests: [r] } = await runAndReceive();
  assert.equal(r.headers["webhook-signature"].split(" ").length, 2);
  assert.ok(verify(fresh, r.headers, r.body), "the new secret");
  assert.ok(verify(old, r.headers, r.body), "the previous one, within keep_previous");

  const newest = (await sql(db, `SELECT pipeline.rotate_webhook_secret('signed', keep_previous => '0') AS s`))[0].s;
  ({ requests: [r] } = await runAndReceive());
  assert.equal(r.headers["webhook-signature"].split(" ").length, 1);
  assert.ok(verify(newest, r.headers, r.body));
  assert.equal(verify(fresh, r.headers, r.body), false, "no grace: the previous secret no longer signs");
  await assert.rejects(sql(db, `SELECT pipeline.rotate_webhook_secret('signed', keep_previous => '-1 hour')`),
    /keep_previous must not be negative/);
});

test("an ordinary role cannot read, rotate or drop another role's secret", async () => {
  await assert.rejects(sqlAs("hook_mallory", db, `SELECT * FROM pipeline.webhook_secrets`),
    /permission denied for table webhook_secrets/);
  await assert.rejects(sqlAs("hook_mallory", db, `SELECT pipeline.rotate_webhook_secret('signed')`),
    /must be owner of report "signed"/);
  await assert.rejects(sqlAs("hook_mallory", db, `SELECT pipeline.drop_webhook_secret('signed')`),
    /must be owner of report "signed"/);
  // no secret anywhere an ordinary role can look
  const secret = (await sql(db, `SELECT secret FROM pipeline.webhook_secrets WHERE report = 'signed'`))[0].secret;
  const key = secret.replace(/^whsec_/, "");
  const visible = await sqlAs("hook_mallory", db, `
    SELECT (SELECT string_agg(w::text, '') FROM pipeline.webhooks w) AS w,
           (SELECT string_agg(r::text, '') FROM pipeline.reports r) AS r,
           (SELECT string_agg(s::text, '') FROM pipeline.report_status s) AS s`);
  assert.ok(!JSON.stringify(visible).includes(key));
});

test("drop_webhook_secret: unsigned again; dropping the report drops its secret", async () => {
  await sql(db, `SELECT pipeline.drop_webhook_secret('signed')`);
  const { requests: [r] } = await runAndReceive();
  assert.equal(r.headers["webhook-signature"], undefined);
  await sql(db, `SELECT pipeline.rotate_webhook_secret('signed')`);
  await sql(db, `SELECT pipeline.drop_report('signed')`);
  assert.deepEqual(await sql(db, `SELECT count(*)::int AS n FROM pipeline.webhook_secrets`), [{ n: 0 }]);
});
