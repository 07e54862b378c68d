// Request forgery through URLs, at the moment the worker sends: a queue URL
// or a webhook URL with user information ("http://sqs.us-east-1.amazonaws.com:x@127.0.0.1/")
// that got into the tables before such URLs were refused by add_queue and
// create_report (see sql/urls.sql) is refused again by the worker, which
// never sends a request to it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { sql, waitFor, createDatabase, serverLog } from "./lib.mjs";

const db = "e2e_urls";
let listener;
const received = [];

before(async () => {
  await createDatabase(db);
  // the address a forged URL points at: it must never see a request
  listener = createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "Content-Type": "application/x-amz-json-1.0" });
    res.end("{}");
  });
  await new Promise((r) => listener.listen(0, "127.0.0.1", r));
  // a server without endpoint: SQS requests go to the queue URL's host
  await sql(db, `CREATE SERVER aws FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1');
                 CREATE USER MAPPING FOR CURRENT_USER SERVER aws
                   OPTIONS (access_key_id 'test', secret_access_key 'test')`);
});

after(async () => {
  listener.close();
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("a queue URL with user information is never polled", async () => {
  const port = listener.address().port;
  const before = serverLog(/invalid SQS queue URL or endpoint/).length;
  await sql(db, `WITH q AS (INSERT INTO pipeline.queues (name, url, server, owner)
                             VALUES ('forged', $1, 'aws', current_user::regrole) RETURNING 1)
                 SELECT pipeline._notify_worker() FROM q`,
  [`http://sqs.us-east-1.amazonaws.com:x@127.0.0.1:${port}/000000000000/q`]);
  await waitFor("the worker to refuse the queue URL", async () =>
    serverLog(/invalid SQS queue URL or endpoint/).length > before, 20000);
  assert.deepEqual(received, [], "no request reached 127.0.0.1");
  await sql(db, `DELETE FROM pipeline.queues WHERE name = 'forged'`);
});

test("a webhook URL with user information is never posted to", async () => {
  const port = listener.address().port;
  await sql(db, `WITH w AS (INSERT INTO pipeline.webhooks (report, run_id, url, payload)
                             VALUES ('r', 1, $1, '{}') RETURNING 1)
                 SELECT pipeline._notify_worker() FROM w`,
  [`http://hooks.example.com:x@127.0.0.1:${port}/ssrf-webhook`]);
  const row = await waitFor("the worker to try the delivery", async () =>
    (await sql(db, `SELECT attempts, last_error FROM pipeline.webhooks WHERE run_id = 1`))
      .find((r) => r.attempts > 0), 20000);
  assert.match(row.last_error, /refused URL: URLs with a user name or password are not accepted/);
  assert.deepEqual(received, [], "no request reached 127.0.0.1");
});
