// The AWS CLI against the emulator, as a user pokes at the demo: objects
// uploaded with `aws s3 cp` into a bucket without notifications announce
// nothing; tools/s3-event (head-object, then sqs send-message or sns
// publish, all through Debian's AWS CLI) sends their events by hand, and the
// worker runs the report once per object, however often the event is sent,
// also for a key S3 must encode (space, +, =, &, é, %) and through SNS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  sql, waitFor, createDatabase, createBucket, createQueue, queueUrl, queueArn, queueDepth, endpoint, sns, snssdk,
} from "./lib.mjs";

const AWS = "/usr/bin/aws";
const HELPER = fileURLToPath(new URL("../../tools/s3-event", import.meta.url));
const db = "e2e_aws_cli";
const bucket = `awscli-${process.pid}`;
const queue = "awscli-q";
const env = {
  PATH: process.env.PATH, HOME: process.env.TESTENV_DIR ?? "/tmp", AWS_CLI: AWS,
  AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_DEFAULT_REGION: "us-east-1",
  AWS_CONFIG_FILE: "/dev/null", AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
};

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env }, (err, stdout, stderr) =>
      (err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}
const aws = (...args) => run(AWS, ["--endpoint-url", endpoint, ...args]);
const s3Event = (...args) => run(HELPER, ["--endpoint-url", endpoint, ...args]);

const runsOf = async (uri) => (await sql(db, `SELECT count(*)::int AS n FROM pipeline.runs
                                                WHERE report = 'byhand' AND status = 'succeeded' AND $1 = ANY (trigger_uris)`, [uri]))[0].n;
const objectsTaken = async () => Number((await sql(db, `SELECT objects FROM pipeline.status WHERE queue = 'hq'`))[0]?.objects ?? 0);

before(async () => {
  assert.ok(existsSync(AWS), `${AWS} (tools/install-deps installs Debian's awscli)`);
  await createDatabase(db);
  await createBucket(bucket);
  await createQueue(queue);
  await sql(db, `
    CREATE FOREIGN TABLE incoming (v int, src text OPTIONS (metadata 'uri')) SERVER lake OPTIONS (uri 's3://${bucket}/in/');
    SELECT pipeline.create_report(name => 'byhand', source => 's3://${bucket}/in/', mode => 'append',
      query => $$SELECT v, src FROM incoming WHERE src = ANY (pipeline.trigger_uris())$$, target => 'public.byhand');
    SELECT pipeline.add_queue('hq', '${queueUrl(queue)}', server => 'lake');`);
});

after(async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("tools/s3-event sends an uploaded object's event; the report runs once however often it is sent", async () => {
  const key = "in/a b+c=&é%.json";
  const uri = `s3://${bucket}/${key}`;
  await run("bash", ["-c", `printf '{"v":1}\\n{"v":2}\\n' | "$0" --endpoint-url "$1" s3 cp - "$2"`, AWS, endpoint, uri]);
  assert.match(await aws("s3", "ls", `s3://${bucket}/in/`), /a b\+c=&é%\.json/);
  assert.equal(await queueDepth(queue), 0, "no notification: nothing announced the object");

  const printed = JSON.parse(await s3Event("--print", uri));
  assert.equal(printed.Records[0].s3.object.key, "in/a+b%2Bc%3D%26%C3%A9%25.json", "the key encoded as S3 encodes it");
  assert.equal(printed.Records[0].s3.object.size, 16);
  assert.match(printed.Records[0].s3.object.eTag, /^[0-9a-f]{32}$/);

  assert.match(await s3Event("--queue", queueUrl(queue), uri), /-> .*\(message [\w-]+\)/);
  await waitFor("the report's run", async () => (await runsOf(uri)) === 1, 30000);
  assert.deepEqual(await sql(db, `SELECT v FROM byhand WHERE src = $1 ORDER BY v`, [uri]), [{ v: 1 }, { v: 2 }]);

  // the same event again: taken, and nothing runs
  const taken = await objectsTaken();
  await s3Event("--queue", queueUrl(queue), uri);
  await waitFor("the second event to be taken", async () => (await objectsTaken()) > taken && (await queueDepth(queue)) === 0, 30000);
  await waitFor("no work left", async () => (await sql(db, `SELECT count(*)::int AS n FROM pipeline.tasks`))[0].n === 0);
  assert.equal(await runsOf(uri), 1, "one run for one object version");
});

test("tools/s3-event --topic: through SNS (the envelope) to the queue", async () => {
  const topic = (await sns.send(new snssdk.CreateTopicCommand({ Name: "awscli-topic" }))).TopicArn;
  await sns.send(new snssdk.SubscribeCommand({ TopicArn: topic, Protocol: "sqs", Endpoint: await queueArn(queue) }));
  const uri = `s3://${bucket}/in/sns.json`;
  await run("bash", ["-c", `printf '{"v":3}\\n' | "$0" --endpoint-url "$1" s3 cp - "$2"`, AWS, endpoint, uri]);
  await s3Event("--topic", topic, uri);
  await waitFor("the run from the SNS envelope", async () => (await runsOf(uri)) === 1, 30000);
  assert.deepEqual(await sql(db, `SELECT v FROM byhand WHERE src = $1`, [uri]), [{ v: 3 }]);
});

test("tools/s3-event refuses what is not an object", async () => {
  await assert.rejects(s3Event("--queue", queueUrl(queue), `s3://${bucket}/in/missing.json`), /no object/);
  await assert.rejects(s3Event("--queue", queueUrl(queue), `s3://${bucket}`), /not s3:\/\/BUCKET\/KEY/);
  await assert.rejects(s3Event("--print", "--event", "Bogus", `s3://${bucket}/in/sns.json`), /bad event name/);
});
