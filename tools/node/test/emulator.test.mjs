// Tests for the emulator's additions to fauxqs. Run with the Node 22 wrapper:
//   tools/node/node --test tools/node/test/*.test.mjs
// Each test starts from the real CLI (a child process on a free port) and talks
// to it the way our code will: AWS SDK v3 clients, curl --aws-sigv4, plain HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, randomBytes } from 'node:crypto';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, CopyObjectCommand, DeleteObjectCommand, DeleteObjectsCommand,
  ListBucketsCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand, ListMultipartUploadsCommand, PutBucketNotificationConfigurationCommand, GetBucketNotificationConfigurationCommand,
  ListObjectsV2Command, HeadObjectCommand,
} from '@aws-sdk/client-s3';
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { SNSClient, CreateTopicCommand, SubscribeCommand, ListTopicsCommand } from '@aws-sdk/client-sns';
import { verify, computeSignature, headerValues, parseAuthorization } from '../lib/sigv4.mjs';
import { encodeEventKey } from '../lib/notifications.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const NODE = join(here, '..', 'node');
const EMULATOR = join(here, '..', 'emulator.mjs');
const S3CLI = join(here, '..', 's3.mjs');
const TRICKY_KEY = 'dir/a b+c=&é%.txt';
const REGION = 'us-east-1';

const tmp = mkdtempSync(join(tmpdir(), 'emulator-test-'));
let emu; // { proc, port, endpoint }

/** Start the CLI on a free port; resolves once the port file appears. */
async function startEmulator(extraArgs = []) {
  const portFile = join(tmp, `port-${randomBytes(4).toString('hex')}`);
  const proc = spawn(NODE, [EMULATOR, '--port', '0', '--port-file', portFile, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 200 && !existsSync(portFile); i++) {
    if (proc.exitCode !== null) throw new Error(`emulator exited early: ${stderr}`);
    await sleep(50);
  }
  const port = Number(readFileSync(portFile, 'utf8'));
  assert.ok(port > 0, `port file holds a port, stderr: ${stderr}`);
  return { proc, port, endpoint: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

function stopEmulator(e) {
  return new Promise((resolve) => {
    if (e.proc.exitCode !== null) return resolve(e.proc.exitCode);
    e.proc.once('exit', (code) => resolve(code));
    e.proc.kill('SIGTERM');
  });
}

const creds = (accessKeyId = 'test', secretAccessKey = 'test', sessionToken) => ({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
const s3 = (c = creds(), extra = {}) => new S3Client({ endpoint: emu.endpoint, region: REGION, forcePathStyle: true, credentials: c, maxAttempts: 1, ...extra });
const sqs = (c = creds()) => new SQSClient({ endpoint: emu.endpoint, region: REGION, credentials: c, maxAttempts: 1 });
const sns = (c = creds()) => new SNSClient({ endpoint: emu.endpoint, region: REGION, credentials: c, maxAttempts: 1 });
const unique = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** curl with SigV4 signing; resolves { code, stdout, stderr } even on failure. */
function curl(args, { user = 'test:test', service = 's3' } = {}) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--aws-sigv4', `aws:amz:${REGION}:${service}`, '--user', user, ...args],
      { encoding: 'buffer', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr: stderr.toString() }));
  });
}

async function expectError(promise, name, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `error name (${err.message})`);
    assert.equal(err.$metadata?.httpStatusCode, status);
    return true;
  });
}

async function newQueue(name = unique('q')) {
  const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl, arn: Attributes.QueueArn, name };
}

async function newBucket() {
  const bucket = unique('bkt');
  await s3().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Receive until `count` messages arrived (or the deadline passes); returns bodies. */
async function receive(url, count, timeoutMs = 5000) {
  const bodies = [];
  const deadline = Date.now() + timeoutMs;
  while (bodies.length < count && Date.now() < deadline) {
    const r = await sqs().send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of r.Messages ?? []) bodies.push(m.Body);
  }
  return bodies;
}

async function admin(method, path, body) {
  const res = await fetch(`${emu.endpoint}${path}`, {
    method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

before(async () => {
  emu = await startEmulator(['--credentials', 'test:test,tokkey:toksecret:TOKEN1', '--log-file', join(tmp, 'requests.log')]);
});

after(async () => {
  if (emu) await stopEmulator(emu);
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- SigV4 --------

test('sigv4: AWS published examples verify, a changed byte does not', () => {
  // get-vanilla from AWS's SigV4 test suite (generic service rules).
  const auth = parseAuthorization('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  const sig = (path) => computeSignature({
    method: 'GET', rawPath: path, rawQuery: '', headers: headerValues(['Host', 'example.amazonaws.com', 'X-Amz-Date', '20150830T123600Z']),
    payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', service: 'service',
    amzDate: '20150830T123600Z', auth, secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  }).signature;
  assert.equal(sig('/'), auth.signature);
  assert.notEqual(sig('/x'), auth.signature);

  // GetObject example from the S3 SigV4 documentation.
  const request = (range) => ({
    method: 'GET', rawPath: '/test.txt', rawQuery: '', service: 's3', region: 'us-east-1', now: Date.UTC(2013, 4, 24),
    bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    credentials: new Map([['AKIAIOSFODNN7EXAMPLE', { secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }]]),
    rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com', 'Range', range,
      'x-amz-content-sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'x-amz-date', '20130524T000000Z',
      'Authorization', 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'],
  });
  assert.deepEqual(verify(request('bytes=0-9')), { ok: true, accessKeyId: 'AKIAIOSFODNN7EXAMPLE' });
  assert.equal(verify(request('bytes=0-8')).code, 'SignatureDoesNotMatch');
});

test('sigv4: signed SDK requests to S3, SQS and SNS pass', async () => {
  await s3().send(new ListBucketsCommand({}));
  const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: unique('ok') }));
  assert.match(QueueUrl, new RegExp(`^http://sqs\\.us-east-1\\.localhost:${emu.port}/000000000000/ok-`));
  await sqs().send(new ListQueuesCommand({}));
  await sns().send(new ListTopicsCommand({}));
});

test('sigv4: wrong secret -> 403 SignatureDoesNotMatch in each service\'s format', async () => {
  const bad = creds('test', 'wrong');
  await expectError(s3(bad).send(new ListBucketsCommand({})), 'SignatureDoesNotMatch', 403);
  await expectError(sqs(bad).send(new ListQueuesCommand({})), 'SignatureDoesNotMatch', 403);
  await expectError(sns(bad).send(new ListTopicsCommand({})), 'SignatureDoesNotMatch', 403);

  const s3raw = await curl(['-i', '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${emu.endpoint}/`], { user: 'test:wrong' });
  const s3text = s3raw.stdout.toString();
  assert.match(s3text, /^HTTP\/1.1 403/);
  assert.match(s3text, /<Error><Code>SignatureDoesNotMatch<\/Code><Message>[^<]+<\/Message>/);
  assert.match(s3text, /<CanonicalRequest>GET\n\/\n/);
  assert.match(s3text, /<RequestId>[0-9A-F]+<\/RequestId>/);

  const sqsraw = await curl(['-i', '-H', 'content-type: application/x-amz-json-1.0', '-H', 'x-amz-target: AmazonSQS.ListQueues', '-d', '{}', `${emu.endpoint}/`], { user: 'test:wrong', service: 'sqs' });
  const [head, body] = sqsraw.stdout.toString().split('\r\n\r\n');
  assert.match(head, /^HTTP\/1.1 403/);
  assert.match(head, /x-amzn-query-error: SignatureDoesNotMatch;Sender/i);
  const json = JSON.parse(body);
  assert.match(json.__type, /#SignatureDoesNotMatch$/);
  assert.ok(json.message);

  const snsraw = await curl(['-i', '-H', 'content-type: application/x-www-form-urlencoded', '-d', 'Action=ListTopics&Version=2010-03-31', `${emu.endpoint}/`], { user: 'test:wrong', service: 'sns' });
  assert.match(snsraw.stdout.toString(), /^HTTP\/1.1 403[\s\S]*<ErrorResponse [^>]*><Error><Type>Sender<\/Type><Code>SignatureDoesNotMatch<\/Code>/);
});

test('sigv4: unknown key, missing auth, wrong region, session tokens', async () => {
  await expectError(s3(creds('nobody', 'x')).send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
  await expectError(sqs(creds('nobody', 'x')).send(new ListQueuesCommand({})), 'InvalidClientTokenId', 403);

  const anon = await fetch(`${emu.endpoint}/`);
  assert.equal(anon.status, 403);
  assert.match(await anon.text(), /<Code>AccessDenied<\/Code>/);

  const other = new S3Client({ endpoint: emu.endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: creds(), maxAttempts: 1 });
  await expectError(other.send(new ListBucketsCommand({})), 'AuthorizationHeaderMalformed', 400);

  // tokkey is configured with token TOKEN1: it must come, signed, and match.
  await s3(creds('tokkey', 'toksecret', 'TOKEN1')).send(new ListBucketsCommand({}));
  await sqs(creds('tokkey', 'toksecret', 'TOKEN1')).send(new ListQueuesCommand({}));
  await expectError(s3(creds('tokkey', 'toksecret', 'TOKEN2')).send(new ListBucketsCommand({})), 'InvalidToken', 403);
  await expectError(s3(creds('tokkey', 'toksecret')).send(new ListBucketsCommand({})), 'InvalidToken', 403);
  // test has no configured token: any signed token is accepted.
  await s3(creds('test', 'test', 'whatever')).send(new ListBucketsCommand({}));
});

test('sigv4: body not matching x-amz-content-sha256 -> 400 XAmzContentSHA256Mismatch', async () => {
  const bucket = await newBucket();
  const url = `${emu.endpoint}/${bucket}/h.txt`;
  const wrong = createHash('sha256').update('something else').digest('hex');
  const right = createHash('sha256').update('abc').digest('hex');
  const bad = await curl(['-i', '-X', 'PUT', '-H', 'content-type: text/plain', '-H', `x-amz-content-sha256: ${wrong}`, '--data-binary', 'abc', url]);
  assert.match(bad.stdout.toString(), /^HTTP\/1.1 400[\s\S]*<Code>XAmzContentSHA256Mismatch<\/Code>/);
  const good = await curl(['-i', '-X', 'PUT', '-H', 'content-type: text/plain', '-H', `x-amz-content-sha256: ${right}`, '--data-binary', 'abc', url]);
  assert.match(good.stdout.toString(), /^HTTP\/1.1 200/);
});

test('sigv4: curl --aws-sigv4 is accepted for PUT, GET (odd key, query) and SQS', async () => {
  const bucket = await newBucket();
  const file = join(tmp, 'curl-body.txt');
  writeFileSync(file, 'from curl\n');
  const put = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
    '-H', 'content-type: text/plain', '-T', file, `${emu.endpoint}/${bucket}/a%20b%2Bc.txt`]);
  assert.equal(put.stdout.toString(), '200', put.stderr);
  const got = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'a b+c.txt' }));
  assert.equal(await got.Body.transformToString(), 'from curl\n');
  const get = await curl(['-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${emu.endpoint}/${bucket}/a%20b%2Bc.txt`]);
  assert.equal(get.stdout.toString(), 'from curl\n');
  const list = await curl(['-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${emu.endpoint}/${bucket}?list-type=2&prefix=a`]);
  assert.match(list.stdout.toString(), /<Key>a b\+c\.txt<\/Key>/);
  const q = await curl(['-H', 'content-type: application/x-amz-json-1.0', '-H', 'x-amz-target: AmazonSQS.ListQueues', '-d', '{}', `${emu.endpoint}/`], { service: 'sqs' });
  assert.ok(Array.isArray(JSON.parse(q.stdout.toString()).QueueUrls), q.stdout.toString());
});

// ------------------------------------------- SQS query protocol, AWS CLI -----

/** Debian 12's AWS CLI v2 (2.9: SQS over the query protocol); { code, stdout, stderr }. */
const AWS = '/usr/bin/aws';
function awsCli(args, { secret = 'test' } = {}) {
  return new Promise((resolve) => {
    execFile(AWS, ['--endpoint-url', emu.endpoint, '--output', 'json', ...args], {
      env: { PATH: process.env.PATH, HOME: tmp, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: secret,
        AWS_DEFAULT_REGION: REGION, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr, json: () => JSON.parse(stdout) }));
  });
}

test('sqs query protocol: form-encoded requests signed for sqs get XML answers in the query API\'s shapes', async () => {
  const { queryToJson, successXml, jsonErrorToXml } = await import('../lib/sqs_query.mjs');
  assert.deepEqual(queryToJson({
    Action: 'SendMessageBatch', Version: '2012-11-05', QueueUrl: 'http://q',
    'SendMessageBatchRequestEntry.2.Id': 'b', 'SendMessageBatchRequestEntry.2.MessageBody': 'two',
    'SendMessageBatchRequestEntry.1.Id': 'a', 'SendMessageBatchRequestEntry.1.MessageBody': 'one',
    'SendMessageBatchRequestEntry.1.DelaySeconds': '3',
    'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name': 'k',
    'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType': 'String',
    'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue': 'v',
  }), { action: 'SendMessageBatch', body: { QueueUrl: 'http://q', Entries: [
    { Id: 'a', MessageBody: 'one', DelaySeconds: 3, MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
    { Id: 'b', MessageBody: 'two' }] } });
  assert.deepEqual(queryToJson({ Action: 'CreateQueue', QueueName: 'x', 'Attribute.1.Name': 'VisibilityTimeout',
    'Attribute.1.Value': '7', 'Tag.1.Key': 't', 'Tag.1.Value': 'u' }).body,
  { QueueName: 'x', Attributes: { VisibilityTimeout: '7' }, tags: { t: 'u' } });
  assert.deepEqual(queryToJson({ Action: 'ReceiveMessage', QueueUrl: 'u', MaxNumberOfMessages: '10',
    'AttributeName.1': 'All', 'MessageAttributeName.1': 'All' }).body,
  { QueueUrl: 'u', MaxNumberOfMessages: 10, AttributeNames: ['All'], MessageAttributeNames: ['All'] });
  assert.equal(successXml('ListQueues', '{"QueueUrls":["a&b"]}').replace(/<RequestId>\w+</, '<RequestId>X<'),
    '<?xml version="1.0"?>\n<ListQueuesResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ListQueuesResult>' +
    '<QueueUrl>a&amp;b</QueueUrl></ListQueuesResult><ResponseMetadata><RequestId>X</RequestId></ResponseMetadata></ListQueuesResponse>');
  assert.match(successXml('DeleteMessage', '{}'), /^<\?xml version="1.0"\?>\n<DeleteMessageResponse [^>]+><ResponseMetadata>/);
  assert.match(jsonErrorToXml(400, '{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}',
    'AWS.SimpleQueueService.NonExistentQueue;Sender'),
  /<Error><Type>Sender<\/Type><Code>AWS\.SimpleQueueService\.NonExistentQueue<\/Code><Message>gone<\/Message>/);

  // over the wire, signed by curl: the form goes to SQS, not to SNS
  const name = unique('qq');
  const made = await curl(['-H', 'content-type: application/x-www-form-urlencoded', '-d', `Action=CreateQueue&QueueName=${name}&Version=2012-11-05`,
    `${emu.endpoint}/`], { service: 'sqs' });
  assert.match(made.stdout.toString(), new RegExp(`<CreateQueueResult><QueueUrl>http://sqs\\.${REGION}\\.localhost:\\d+/000000000000/${name}</QueueUrl>`));
  const bad = await curl(['-H', 'content-type: application/x-www-form-urlencoded', '-d', 'Action=Frobnicate', `${emu.endpoint}/`], { service: 'sqs' });
  assert.match(bad.stdout.toString(), /<Code>InvalidAction<\/Code>/);
  const wrong = await curl(['-H', 'content-type: application/x-www-form-urlencoded', '-d', 'Action=ListQueues', `${emu.endpoint}/`],
    { service: 'sqs', user: 'test:nope' });
  assert.match(wrong.stdout.toString(), /^<\?xml[^]*<ErrorResponse[^]*<Code>SignatureDoesNotMatch<\/Code>/);
});

test('aws cli: Debian\'s AWS CLI v2 works for S3, SQS and SNS', async () => {
  assert.ok(existsSync(AWS), `${AWS} (tools/install-deps installs Debian's awscli)`);
  const ok = async (args) => {
    const r = await awsCli(args);
    assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  // (independent commands at once: each CLI run costs a second of Python start-up)
  const bucket = unique('cli');
  const qname = unique('cliq');
  const file = join(tmp, 'cli-body.json');
  writeFileSync(file, '{"v":1}\n');
  const [, made, madeTopic] = await Promise.all([
    ok(['s3', 'mb', `s3://${bucket}`]),
    ok(['sqs', 'create-queue', '--queue-name', qname, '--attributes', 'VisibilityTimeout=7']),
    ok(['sns', 'create-topic', '--name', unique('clit')]),
  ]);
  const url = made.json().QueueUrl;
  const topic = madeTopic.json().TopicArn;

  // S3; SQS over the query protocol: attributes, send with attributes,
  // errors; wrong secrets in each service
  const [, byName, attrs, , missing, ...denied] = await Promise.all([
    ok(['s3', 'cp', file, `s3://${bucket}/in/a b+c.json`]),
    ok(['sqs', 'get-queue-url', '--queue-name', qname]),
    ok(['sqs', 'get-queue-attributes', '--queue-url', url, '--attribute-names', 'All']),
    ok(['sqs', 'send-message', '--queue-url', url, '--message-body', 'hello <&> "world"',
      '--message-attributes', '{"k":{"DataType":"String","StringValue":"v"}}']),
    awsCli(['sqs', 'get-queue-url', '--queue-name', unique('nope')]),
    ...[['s3', 'ls'], ['sqs', 'list-queues'], ['sns', 'list-topics']].map((args) => awsCli(args, { secret: 'wrong' })),
  ]);
  assert.equal(byName.json().QueueUrl, url);
  assert.equal(attrs.json().Attributes.VisibilityTimeout, '7');
  const arn = attrs.json().Attributes.QueueArn;
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /AWS\.SimpleQueueService\.NonExistentQueue/);
  for (const d of denied) {
    assert.notEqual(d.code, 0);
    assert.match(d.stderr, /SignatureDoesNotMatch/, d.stderr);
  }

  // receive (the CLI checks the MD5s of body and attributes), read back
  const [ls, back, received] = await Promise.all([
    ok(['s3', 'ls', `s3://${bucket}/in/`]),
    ok(['s3', 'cp', `s3://${bucket}/in/a b+c.json`, '-']),
    ok(['sqs', 'receive-message', '--queue-url', url, '--wait-time-seconds', '2',
      '--attribute-names', 'All', '--message-attribute-names', 'All']),
  ]);
  assert.match(ls.stdout, /a b\+c\.json/);
  assert.equal(back.stdout, '{"v":1}\n');
  const got = received.json().Messages;
  assert.equal(got.length, 1);
  assert.equal(got[0].Body, 'hello <&> "world"');
  assert.deepEqual(got[0].MessageAttributes, { k: { DataType: 'String', StringValue: 'v' } });
  assert.equal(got[0].Attributes.ApproximateReceiveCount, '1');

  // delete, batch, purge; SNS -> SQS, and S3 -> SNS notifications set with s3api
  const [, batch] = await Promise.all([
    ok(['sqs', 'delete-message', '--queue-url', url, '--receipt-handle', got[0].ReceiptHandle]),
    ok(['sqs', 'send-message-batch', '--queue-url', url, '--entries', 'Id=a,MessageBody=one', 'Id=b,MessageBody=two']),
    ok(['sns', 'subscribe', '--topic-arn', topic, '--protocol', 'sqs', '--notification-endpoint', arn,
      '--attributes', 'RawMessageDelivery=true']),
  ]);
  assert.deepEqual(batch.json().Successful.map((e) => e.Id).sort(), ['a', 'b']);
  await ok(['sqs', 'purge-queue', '--queue-url', url]);
  await ok(['sns', 'publish', '--topic-arn', topic, '--message', 'via sns']);
  await ok(['s3api', 'put-bucket-notification-configuration', '--bucket', bucket, '--notification-configuration',
    JSON.stringify({ TopicConfigurations: [{ TopicArn: topic, Events: ['s3:ObjectCreated:*'] }] })]);
  await ok(['s3', 'cp', file, `s3://${bucket}/in/b.json`]);
  const bodies = [];
  for (let i = 0; i < 10 && bodies.length < 3; i++) {
    const r = (await ok(['sqs', 'receive-message', '--queue-url', url, '--max-number-of-messages', '10',
      '--wait-time-seconds', '1'])).json();
    bodies.push(...(r.Messages ?? []).map((m) => m.Body));
  }
  assert.equal(bodies[0], 'via sns');
  assert.match(bodies[1], /"Event":"s3:TestEvent"/);
  assert.equal(JSON.parse(bodies[2]).Records[0].s3.object.key, 'in/b.json');
});

// ------------------------------------------------------- notifications ---------

test('notifications: test event, then AWS-shaped records with form-encoded keys to SQS', async () => {
  const bucket = await newBucket();
  const q = await newQueue();
  await s3().send(new PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: { QueueConfigurations: [{ Id: 'in-cfg', QueueArn: q.arn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'dir/' }] } } }] },
  }));
  const cfg = await s3().send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  assert.equal(cfg.QueueConfigurations[0].QueueArn, q.arn);
  assert.equal(cfg.QueueConfigurations[0].Id, 'in-cfg');
  assert.deepEqual(cfg.QueueConfigurations[0].Filter.Key.FilterRules, [{ Name: 'Prefix', Value: 'dir/' }]);

  const [testEvent] = await receive(q.url, 1);
  const t = JSON.parse(testEvent);
  assert.equal(t.Service, 'Amazon S3');
  assert.equal(t.Event, 's3:TestEvent');
  assert.equal(t.Bucket, bucket);
  assert.ok(t.Time && t.RequestId && t.HostId);

  const body = 'hello, events';
  const put1 = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: TRICKY_KEY, Body: body, ContentType: 'text/plain' }));
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'other/skipped.txt', Body: 'x', ContentType: 'text/plain' }));
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: TRICKY_KEY, Body: body + '!', ContentType: 'text/plain' }));
  const bodies = await receive(q.url, 2);
  assert.equal(bodies.length, 2, 'two events; the object outside the prefix raises none');
  const records = bodies.map((b) => JSON.parse(b)).map((e) => { assert.equal(e.Records.length, 1); return e.Records[0]; });
  records.sort((a, b) => (a.s3.object.sequencer < b.s3.object.sequencer ? -1 : 1));
  const [r1, r2] = records;
  assert.equal(r1.eventVersion, '2.1');
  assert.equal(r1.eventSource, 'aws:s3');
  assert.equal(r1.awsRegion, REGION);
  assert.equal(r1.eventName, 'ObjectCreated:Put');
  assert.ok(!Number.isNaN(Date.parse(r1.eventTime)));
  assert.equal(r1.requestParameters.sourceIPAddress, '127.0.0.1');
  assert.ok(r1.responseElements['x-amz-request-id']);
  assert.equal(r1.s3.s3SchemaVersion, '1.0');
  assert.equal(r1.s3.configurationId, 'in-cfg');
  assert.deepEqual(r1.s3.bucket.name, bucket);
  assert.equal(r1.s3.bucket.arn, `arn:aws:s3:::${bucket}`);
  assert.equal(r1.s3.object.key, 'dir/a+b%2Bc%3D%26%C3%A9%25.txt');
  assert.equal(r1.s3.object.size, Buffer.byteLength(body));
  assert.equal(r1.s3.object.eTag, put1.ETag.replaceAll('"', ''));
  assert.equal(r1.s3.object.eTag, createHash('md5').update(body).digest('hex'));
  assert.equal(r2.s3.object.size, Buffer.byteLength(body) + 1);
  assert.match(r1.s3.object.sequencer, /^[0-9A-F]+$/);
  assert.equal(r1.s3.object.sequencer.length, r2.s3.object.sequencer.length);
  assert.ok(r2.s3.object.sequencer > r1.s3.object.sequencer, 'sequencer increases');
  assert.ok(r2.eventTime >= r1.eventTime);
});

test('notifications: key encoding matches S3 (space +, / kept, UTF-8 percent-encoded)', () => {
  assert.equal(encodeEventKey('dir/a b+c=&é%.txt'), 'dir/a+b%2Bc%3D%26%C3%A9%25.txt');
  assert.equal(encodeEventKey('in/x.json.gz'), 'in/x.json.gz');
  assert.equal(encodeEventKey('a~b_c-d(e)*'), 'a~b_c-d%28e%29%2A');
});

test('notifications: copy, multipart (-N ETag), delete and multi-delete events; suffix filter', async () => {
  const bucket = await newBucket();
  const q = await newQueue();
  await s3().send(new PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: { QueueConfigurations: [{ QueueArn: q.arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'], Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.gz' }] } } }] },
  }));
  assert.equal(JSON.parse((await receive(q.url, 1))[0]).Event, 's3:TestEvent');

  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'src.gz', Body: 'copy me', ContentType: 'application/gzip' }));
  await s3().send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy.gz', CopySource: `${bucket}/src.gz` }));
  const part1 = randomBytes(5 * 1024 * 1024);
  const part2 = randomBytes(1000);
  const { UploadId } = await s3().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi.gz', ContentType: 'application/gzip' }));
  const e1 = (await s3().send(new UploadPartCommand({ Bucket: bucket, Key: 'multi.gz', UploadId, PartNumber: 1, Body: part1 }))).ETag;
  const e2 = (await s3().send(new UploadPartCommand({ Bucket: bucket, Key: 'multi.gz', UploadId, PartNumber: 2, Body: part2 }))).ETag;
  const done = await s3().send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'multi.gz', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }] } }));
  await s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'src.gz' }));
  await s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never-existed.gz' }));
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'ignored.txt', Body: 'x', ContentType: 'text/plain' }));
  await s3().send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'copy.gz' }, { Key: 'nothing.gz' }] } }));

  const events = (await receive(q.url, 5)).map((b) => JSON.parse(b).Records[0]);
  assert.equal(events.length, 5);
  const removed = events.filter((r) => r.eventName === 'ObjectRemoved:Delete').map((r) => r.s3.object.key).sort();
  assert.deepEqual(removed, ['copy.gz', 'src.gz'], 'DeleteObject and DeleteObjects, only for objects that existed');
  const byName = Object.fromEntries(events.map((r) => [r.eventName, r.s3.object]));
  assert.deepEqual(Object.keys(byName).sort(), ['ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:Copy', 'ObjectCreated:Put', 'ObjectRemoved:Delete']);
  const mp = byName['ObjectCreated:CompleteMultipartUpload'];
  assert.equal(mp.key, 'multi.gz');
  assert.equal(mp.size, part1.length + part2.length);
  assert.match(mp.eTag, /^[0-9a-f]{32}-2$/);
  assert.equal(mp.eTag, done.ETag.replaceAll('"', ''));
  assert.equal(byName['ObjectCreated:Copy'].key, 'copy.gz');
  assert.equal(byName['ObjectCreated:Copy'].size, 7);
  assert.equal(byName['ObjectRemoved:Delete'].size, undefined);
  assert.match(byName['ObjectRemoved:Delete'].sequencer, /^[0-9A-F]+$/);
  // Events are delivered after the response: nothing more is pending.
  assert.deepEqual(await receive(q.url, 1, 1200), []);
});

test('notifications: through SNS with the envelope and with raw delivery', async () => {
  const bucket = await newBucket();
  const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: unique('t') }));
  const enveloped = await newQueue();
  const raw = await newQueue();
  await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: enveloped.arn }));
  await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: raw.arn, Attributes: { RawMessageDelivery: 'true' } }));
  await s3().send(new PutBucketNotificationConfigurationCommand({
    Bucket: bucket, NotificationConfiguration: { TopicConfigurations: [{ Id: 'via-sns', TopicArn, Events: ['s3:ObjectCreated:Put'] }] },
  }));
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: TRICKY_KEY, Body: 'sns!', ContentType: 'text/plain' }));

  const env = (await receive(enveloped.url, 2)).map((b) => JSON.parse(b));
  assert.equal(env.length, 2);
  for (const e of env) {
    assert.equal(e.Type, 'Notification');
    assert.equal(e.TopicArn, TopicArn);
    assert.equal(e.Subject, 'Amazon S3 Notification');
    assert.equal(typeof e.Message, 'string');
  }
  const inner = env.map((e) => JSON.parse(e.Message));
  assert.equal(inner[0].Event, 's3:TestEvent');
  assert.equal(inner[1].Records[0].s3.object.key, 'dir/a+b%2Bc%3D%26%C3%A9%25.txt');
  assert.equal(inner[1].Records[0].s3.configurationId, 'via-sns');

  const rawBodies = (await receive(raw.url, 2)).map((b) => JSON.parse(b));
  assert.equal(rawBodies[0].Event, 's3:TestEvent');
  assert.equal(rawBodies[1].Records[0].eventName, 'ObjectCreated:Put');
  assert.equal(rawBodies[1].Records[0].s3.object.size, 4);
});

test('notifications: bad configurations are refused as S3 refuses them', async () => {
  const bucket = await newBucket();
  const put = (NotificationConfiguration, Bucket = bucket) => s3().send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration }));
  await expectError(put({ QueueConfigurations: [{ QueueArn: 'arn:aws:sqs:us-east-1:000000000000:missing', Events: ['s3:ObjectCreated:*'] }] }), 'InvalidArgument', 400);
  const q = await newQueue();
  await expectError(put({ QueueConfigurations: [{ QueueArn: q.arn, Events: ['s3:Nonsense'] }] }), 'InvalidArgument', 400);
  await expectError(put({ QueueConfigurations: [{ QueueArn: q.arn, Events: ['s3:ObjectCreated:*'] }] }, unique('nobucket')), 'NoSuchBucket', 404);
  // An empty configuration clears it (and is not taken for CreateBucket).
  await put({ QueueConfigurations: [{ QueueArn: q.arn, Events: ['s3:ObjectCreated:*'] }] });
  await put({});
  const cfg = await s3().send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  assert.equal(cfg.QueueConfigurations, undefined);
});

// ------------------------------------------------------ faults, log, range -----

test('faults: status answers count times in S3 XML, then normal service', async () => {
  const bucket = await newBucket();
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'ok', ContentType: 'text/plain' }));
  const added = await admin('POST', '/_emulator/faults', { method: 'GET', path_prefix: `/${bucket}/k`, action: 'status', status: 503, code: 'SlowDown', count: 2 });
  assert.equal(added.status, 201);
  const raw = await curl(['-i', '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${emu.endpoint}/${bucket}/k`]);
  assert.match(raw.stdout.toString(), /^HTTP\/1.1 503[\s\S]*<Error><Code>SlowDown<\/Code><Message>[^<]*<\/Message><RequestId>/);
  await expectError(s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })), 'SlowDown', 503);
  const ok = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
  assert.equal(await ok.Body.transformToString(), 'ok');
  // SQS faults come in SQS's JSON error shape.
  await admin('POST', '/_emulator/faults', { service: 'sqs', target: 'ListQueues', action: 'status', status: 500, code: 'InternalError' });
  await expectError(sqs().send(new ListQueuesCommand({})), 'InternalError', 500);
  await sqs().send(new ListQueuesCommand({}));
  assert.equal((await admin('POST', '/_emulator/faults', { action: 'explode' })).status, 400);
});

test('faults: reset, truncate, hang and clearing', async () => {
  const bucket = await newBucket();
  const body = randomBytes(300000);
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'blob', Body: body, ContentType: 'application/octet-stream' }));
  const url = `${emu.endpoint}/${bucket}/blob`;
  const get = (extra = []) => curl(['-o', '-', ...extra, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', url]);

  await admin('POST', '/_emulator/faults', { path_prefix: `/${bucket}/blob`, action: 'reset' });
  const reset = await get();
  assert.equal(reset.code, 52, `empty reply expected: ${reset.stderr}`); // curl: server closed without answering
  assert.equal(reset.stdout.length, 0);

  await admin('POST', '/_emulator/faults', { path_prefix: `/${bucket}/blob`, action: 'truncate' });
  const cut = await get(['-D', join(tmp, 'cut-headers')]);
  assert.equal(cut.code, 18, `partial transfer expected: ${cut.stderr}`);
  assert.equal(cut.stdout.length, body.length / 2);
  assert.ok(cut.stdout.equals(body.subarray(0, body.length / 2)));
  assert.match(readFileSync(join(tmp, 'cut-headers'), 'utf8'), new RegExp(`content-length: ${body.length}`, 'i'));

  await admin('POST', '/_emulator/faults', { path_prefix: `/${bucket}/blob`, action: 'hang' });
  const t0 = Date.now();
  const hung = await get(['--max-time', '1']);
  assert.equal(hung.code, 28, 'timed out');
  assert.ok(Date.now() - t0 >= 900);

  await admin('POST', '/_emulator/faults', { path_prefix: `/${bucket}/blob`, action: 'reset', count: 0 });
  assert.equal((await admin('GET', '/_emulator/faults')).json.length, 1);
  assert.equal((await admin('DELETE', '/_emulator/faults')).status, 200);
  assert.deepEqual((await admin('GET', '/_emulator/faults')).json, []);
  const fine = await get();
  assert.equal(fine.code, 0);
  assert.ok(fine.stdout.equals(body));
});

test('faults: slow streams the real body at the given rate', async () => {
  const bucket = await newBucket();
  const body = randomBytes(60000);
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'slow', Body: body, ContentType: 'application/octet-stream' }));
  await admin('POST', '/_emulator/faults', { method: 'GET', path_prefix: `/${bucket}/slow`, action: 'slow', bytes_per_second: 40000 });
  const t0 = Date.now();
  const r = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'slow' }));
  const got = Buffer.from(await r.Body.transformToByteArray());
  const elapsed = Date.now() - t0;
  assert.ok(got.equals(body));
  assert.ok(elapsed >= 1200, `60000 bytes at 40000 B/s took ${elapsed} ms`);

  // A client that gives up mid-transfer (query cancel) just drops the connection.
  await admin('POST', '/_emulator/faults', { method: 'GET', path_prefix: `/${bucket}/slow`, action: 'slow', bytes_per_second: 1000 });
  const partial = await curl(['-o', '-', '--max-time', '0.5', '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${emu.endpoint}/${bucket}/slow`]);
  assert.equal(partial.code, 28);
  assert.ok(partial.stdout.length > 0 && partial.stdout.length < 2000, `got ${partial.stdout.length} bytes`);
});

test('range: GET with Range bytes=N- resumes from N', async () => {
  const bucket = await newBucket();
  const body = randomBytes(100000);
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: body, ContentType: 'application/octet-stream' }));
  const r = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=40000-' }));
  assert.equal(r.$metadata.httpStatusCode, 206);
  assert.equal(r.ContentRange, `bytes 40000-99999/${body.length}`);
  assert.ok(Buffer.from(await r.Body.transformToByteArray()).equals(body.subarray(40000)));
  const c = await curl(['-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-H', 'Range: bytes=99990-', `${emu.endpoint}/${bucket}/r`]);
  assert.ok(c.stdout.equals(body.subarray(99990)));
});

test('request log: method, path, query, status, key id; never signatures; clearable', async () => {
  assert.equal((await admin('DELETE', '/_emulator/requests')).status, 200);
  const bucket = await newBucket();
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'logged.txt', Body: 'x', ContentType: 'text/plain' }));
  await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'logged.txt', Range: 'bytes=0-' }));
  const denied403 = await curl(['-v', '-o', '/dev/null', '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', `${emu.endpoint}/${bucket}/logged.txt`], { user: 'test:wrong' });
  const sentSignature = /Signature=([0-9a-f]{64})/.exec(denied403.stderr)[1];
  const { json: log } = await admin('GET', '/_emulator/requests');
  assert.equal(log.length, 4, JSON.stringify(log));
  const [mb, put, get, denied] = log;
  assert.deepEqual([mb.method, mb.path, mb.status], ['PUT', `/${bucket}/`, 200]);
  assert.deepEqual([put.method, put.path, put.query, put.status, put.access_key_id], ['PUT', `/${bucket}/logged.txt`, 'x-id=PutObject', 200, 'test']);
  assert.deepEqual([get.method, get.status, get.range], ['GET', 206, 'bytes=0-']);
  assert.deepEqual([denied.status, denied.error], [403, 'SignatureDoesNotMatch']);
  const logFile = readFileSync(join(tmp, 'requests.log'), 'utf8');
  assert.ok(logFile.includes(`/${bucket}/logged.txt`), 'log file written');
  for (const text of [JSON.stringify(log), logFile]) {
    assert.ok(!text.includes(sentSignature), 'the signature is never logged');
    assert.doesNotMatch(text, /Signature=|"wrong"|toksecret/);
  }
  await admin('DELETE', '/_emulator/requests');
  assert.deepEqual((await admin('GET', '/_emulator/requests')).json, []);
});

test('request log: an SQS request\'s queue URL, wait time and visibility timeout', async () => {
  const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: `logged-${randomBytes(4).toString('hex')}` }));
  await admin('DELETE', '/_emulator/requests');
  await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 0, VisibilityTimeout: 17 }));
  const { json: log } = await admin('GET', '/_emulator/requests');
  const r = log.find((x) => x.target === 'AmazonSQS.ReceiveMessage');
  assert.deepEqual([r.queue_url, r.wait_time_seconds, r.visibility_timeout], [QueueUrl, 0, 17]);
});

test('faults: a query matcher, and hold (served once the faults are cleared); the log has Host and If-Match', async () => {
  const bucket = await newBucket();
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'h', Body: 'first', ContentType: 'text/plain' }));
  const url = `${emu.endpoint}/${bucket}/h`;
  const get = (extra = []) => curl(['-o', '-', ...extra, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', url]);
  // only the request whose query holds the string
  await admin('POST', '/_emulator/faults', { path_prefix: `/${bucket}/h`, query: 'partNumber=3', action: 'status', status: 500 });
  assert.equal((await get()).code, 0, 'no query: no fault');
  assert.equal((await get(['-G', '-d', 'partNumber=2'])).code, 0);
  assert.match((await get(['-G', '-d', 'partNumber=3'])).stdout.toString(), /InternalError/);
  // held: no answer until the faults are cleared; then served from what the store holds by then
  await admin('DELETE', '/_emulator/requests');
  const { ETag: etag } = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: 'h' }));
  await admin('POST', '/_emulator/faults', { method: 'GET', path_prefix: `/${bucket}/h`, action: 'hold' });
  const pinned = get(['-H', `If-Match: ${etag}`, '-H', 'Range: bytes=1-', '-w', '%{http_code}']);
  let log;
  for (let i = 0; i < 200; i++) {
    log = (await admin('GET', '/_emulator/requests')).json;
    if (log.some((r) => r.fault === 'hold')) break;
    await sleep(50);
  }
  const held = log.find((r) => r.fault === 'hold');
  assert.ok(held, 'the GET is held');
  assert.equal(held.status, null, 'and not answered');
  assert.deepEqual([held.if_match, held.range, held.host], [etag, 'bytes=1-', `127.0.0.1:${emu.port}`]);
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'h', Body: 'second', ContentType: 'text/plain' }));
  await admin('DELETE', '/_emulator/faults');
  const r = await pinned;
  assert.match(r.stdout.toString(), /PreconditionFailed[\s\S]*412$/, 'the object changed while held: 412');
  // virtual-hosted style: the bucket in the Host header
  const vhost = await curl(['-o', '-', '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '--resolve', `${bucket}.localhost:${emu.port}:127.0.0.1`,
    `http://${bucket}.localhost:${emu.port}/h`]);
  assert.equal(vhost.stdout.toString(), 'second');
  log = (await admin('GET', '/_emulator/requests')).json;
  assert.deepEqual([log.at(-1).host, log.at(-1).path], [`${bucket}.localhost:${emu.port}`, '/h']);
});

test('faults: range_not_prefix matches ranged GETs that do not start so, only', async () => {
  const bucket = await newBucket();
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: 'abcdef', ContentType: 'text/plain' }));
  const url = `${emu.endpoint}/${bucket}/r`;
  const get = (extra = []) => curl(['-o', '-', ...extra, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', url]);
  await admin('POST', '/_emulator/faults', { path_prefix: `/${bucket}/r`, range_not_prefix: 'bytes=0-', action: 'status', status: 500 });
  assert.equal((await get()).stdout.toString(), 'abcdef', 'no Range: no fault');
  assert.equal((await get(['-H', 'Range: bytes=0-2'])).stdout.toString(), 'abc', 'from the start: no fault');
  assert.match((await get(['-H', 'Range: bytes=2-4'])).stdout.toString(), /InternalError/, 'from elsewhere: the fault');
  assert.equal((await get(['-H', 'Range: bytes=2-4'])).stdout.toString(), 'cde', 'once');
});

test('s3.mjs: put (multipart above 8 MiB), get, ls, notify, receive', async () => {
  const run = (args, input) => new Promise((resolve) => {
    const p = execFile(NODE, [S3CLI, '--endpoint', emu.endpoint, ...args], { encoding: 'buffer', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout: stdout.toString(), stderr: stderr.toString() }));
    if (input !== undefined) p.stdin.end(input); else p.stdin.end();
  });
  const bucket = unique('cli');
  assert.equal((await run(['mb', bucket])).code, 0);
  const qName = unique('cliq');
  assert.match((await run(['create-queue', qName, '--visibility-timeout', '5'])).stdout, /000000000000\/cliq-/);
  const n = await run(['notify', bucket, '--queue', qName, '--suffix', '.bin']);
  assert.equal(n.code, 0, n.stderr);
  const big = join(tmp, 'big.bin');
  const data = randomBytes(9 * 1024 * 1024 + 123);
  writeFileSync(big, data);
  const put = JSON.parse((await run(['put', `s3://${bucket}/big.bin`, big])).stdout);
  assert.equal(put.size, data.length);
  assert.match(put.etag, /-2"$/);
  const small = await run(['put', `s3://${bucket}/small.txt`, '-', '--content-type', 'text/plain'], 'tiny');
  assert.equal(small.code, 0, small.stderr);
  const out = join(tmp, 'big.out');
  assert.equal((await run(['get', `s3://${bucket}/big.bin`, out])).code, 0);
  assert.ok(readFileSync(out).equals(data));
  assert.equal((await run(['get', `s3://${bucket}/small.txt`])).stdout, 'tiny');
  assert.deepEqual((await run(['ls', `s3://${bucket}/`])).stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['big.bin', 'small.txt']);
  const msgs = JSON.parse((await run(['receive', qName, '--max', '10', '--wait', '1', '--delete'])).stdout);
  const names = msgs.map((m) => JSON.parse(m.Body)).map((b) => b.Event ?? b.Records[0].eventName).sort();
  assert.deepEqual(names, ['ObjectCreated:CompleteMultipartUpload', 's3:TestEvent']);
  const attrs = JSON.parse((await run(['queue-attrs', qName])).stdout);
  assert.equal(attrs.ApproximateNumberOfMessages, '0');
  const missing = await run(['get', `s3://${bucket}/nope`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NoSuchKey/);
});

test('s3: ListMultipartUploads shows the uploads in progress, by prefix', async () => {
  const bucket = await newBucket();
  const a = await s3().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'tx/a' }));
  const b = await s3().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'other/b' }));
  const list = async (Prefix) => ((await s3().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }))).Uploads ?? [])
    .map((u) => [u.Key, u.UploadId]);
  assert.deepEqual(await list('tx/'), [['tx/a', a.UploadId]]);
  assert.deepEqual(await list(undefined), [['other/b', b.UploadId], ['tx/a', a.UploadId]]);
  await s3().send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'tx/a', UploadId: a.UploadId }));
  assert.deepEqual(await list('tx/'), []);
});

test('synthetic: a million objects listed page by page, by prefix, after a token, without storing them', async () => {
  const Bucket = 'synthetic-1000000-3';
  const page = await s3().send(new ListObjectsV2Command({ Bucket }));
  assert.equal(page.Contents.length, 1000);
  assert.equal(page.IsTruncated, true);
  assert.deepEqual([page.Contents[0].Key, page.Contents[999].Key], ['part-000000.json', 'part-000999.json']);
  assert.equal(page.Contents[0].Size, 300);
  assert.equal(page.Contents[7].LastModified.toISOString(), '2026-01-01T00:00:07.000Z');
  const next = await s3().send(new ListObjectsV2Command({ Bucket, ContinuationToken: page.NextContinuationToken, MaxKeys: 2 }));
  assert.deepEqual(next.Contents.map((c) => c.Key), ['part-001000.json', 'part-001001.json']);
  const last = await s3().send(new ListObjectsV2Command({ Bucket, Prefix: 'part-99999' }));
  assert.deepEqual(last.Contents.map((c) => c.Key), ['part-999990.json', 'part-999991.json', 'part-999992.json',
    'part-999993.json', 'part-999994.json', 'part-999995.json', 'part-999996.json', 'part-999997.json',
    'part-999998.json', 'part-999999.json']);
  assert.equal(last.IsTruncated, false);
  const after = await s3().send(new ListObjectsV2Command({ Bucket, StartAfter: 'part-999998.json' }));
  assert.deepEqual(after.Contents.map((c) => c.Key), ['part-999999.json']);
  const none = await s3().send(new ListObjectsV2Command({ Bucket, Prefix: 'nothing/' }));
  assert.equal(none.KeyCount, 0);
});

test('synthetic: hive layout, directories with a delimiter', async () => {
  const Bucket = 'synthetic-25-1-hive';
  const dirs = await s3().send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
  assert.deepEqual(dirs.CommonPrefixes.map((c) => c.Prefix), ['dt=2026-01-01/', 'dt=2026-01-02/', 'dt=2026-01-03/']);
  assert.equal(dirs.Contents, undefined);
  const day = await s3().send(new ListObjectsV2Command({ Bucket, Prefix: 'dt=2026-01-03/' }));
  assert.deepEqual(day.Contents.map((c) => c.Key), ['dt=2026-01-03/part-20.json', 'dt=2026-01-03/part-21.json',
    'dt=2026-01-03/part-22.json', 'dt=2026-01-03/part-23.json', 'dt=2026-01-03/part-24.json']);
});

test('synthetic: bodies generated, fixed-length records, ranges, If-Match, HEAD; writes refused', async () => {
  const Bucket = 'synthetic-2-30000';
  const body = Buffer.from(await (await s3().send(new GetObjectCommand({ Bucket, Key: 'part-1.json' }))).Body.transformToByteArray());
  assert.equal(body.length, 30000 * 100);
  const lines = body.toString('latin1').split('\n');
  assert.equal(lines.pop(), '');
  lines.forEach((l, i) => {
    assert.equal(l.length, 99);
    const r = JSON.parse(l);
    assert.deepEqual([r.i, r.o, r.v, r.s], [i, 1, i % 1000, `dev-${String(i % 10000).padStart(4, '0')}`]);
  });
  const again = Buffer.from(await (await s3().send(new GetObjectCommand({ Bucket, Key: 'part-1.json' }))).Body.transformToByteArray());
  assert.ok(again.equals(body), 'deterministic');
  const r = await s3().send(new GetObjectCommand({ Bucket, Key: 'part-1.json', Range: 'bytes=999950-1000149' }));
  assert.equal(r.$metadata.httpStatusCode, 206);
  assert.equal(r.ContentRange, `bytes 999950-1000149/${body.length}`);
  assert.ok(Buffer.from(await r.Body.transformToByteArray()).equals(body.subarray(999950, 1000150)));
  const head = await s3().send(new HeadObjectCommand({ Bucket, Key: 'part-1.json' }));
  assert.equal(head.ContentLength, body.length);
  await s3().send(new GetObjectCommand({ Bucket, Key: 'part-1.json', IfMatch: head.ETag, Range: 'bytes=0-9' }));
  await expectError(s3().send(new GetObjectCommand({ Bucket, Key: 'part-1.json', IfMatch: '"other"' })), 'PreconditionFailed', 412);
  await expectError(s3().send(new GetObjectCommand({ Bucket, Key: 'part-2.json' })), 'NoSuchKey', 404);
  await expectError(s3().send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'x', ContentType: 'text/plain' })), 'AccessDenied', 403);
  const csv = Buffer.from(await (await s3().send(new GetObjectCommand({ Bucket: 'synthetic-1-3-80-csv', Key: 'part-0.csv' }))).Body.transformToByteArray()).toString();
  assert.match(csv, /^i,o,v,s,pad\n {9}0, {9}0, {2}0,dev-0000,x+\n/);
  assert.equal(csv.split('\n')[2].length, 79);
});

test('process: binds 127.0.0.1 only, stops cleanly on SIGTERM', async () => {
  const e = await startEmulator();
  const res = await fetch(`${e.endpoint}/health`);
  assert.equal(res.status, 200);
  const t0 = Date.now();
  const code = await stopEmulator(e);
  assert.equal(code, 0, e.stderr());
  assert.ok(Date.now() - t0 < 3000);
  // The main emulator is not reachable on another local address.
  const addrs = Object.values((await import('node:os')).networkInterfaces()).flat()
    .filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address);
  for (const addr of addrs.slice(0, 1)) {
    await assert.rejects(fetch(`http://${addr}:${emu.port}/health`, { signal: AbortSignal.timeout(2000) }));
  }
});
