// HTTPS endpoints are verified: a server with a certificate nobody vouches
// for is refused, with the TLS error in the detail.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, createDatabase } from "./lib.mjs";

const db = "e2e_tls";
const dir = mkdtempSync(join(tmpdir(), "pipeline-tls-"));

after(async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
});

test("a self-signed HTTPS endpoint is refused: certificates are verified", async () => {
  await createDatabase(db);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  let requests = 0;
  const server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
    (req, res) => {
      requests++;
      res.writeHead(200, { "Content-Type": "application/xml" });
      res.end('<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>');
    });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    await sql(db, `CREATE SERVER selfsigned FOREIGN DATA WRAPPER pipeline_s3
                   OPTIONS (endpoint 'https://127.0.0.1:${server.address().port}')`);
    await sql(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER selfsigned OPTIONS (access_key_id 'a', secret_access_key 'b')`);
    await sql(db, `CREATE FOREIGN TABLE tls_t (v int) SERVER selfsigned OPTIONS (uri 's3://b/p/')`);
    const err = await sql(db, `SET pipeline.s3_max_retries = 0; SELECT * FROM tls_t`).then(() => null, (e) => e);
    assert.ok(err, "the query must fail");
    assert.match(err.message, /could not list objects in "s3:\/\/b\/p\/"/);
    assert.match(err.detail, /certificate/i, err.detail);
    assert.equal(requests, 0, "no request got through");
  } finally {
    server.close();
  }
});
