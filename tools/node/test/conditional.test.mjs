// Conditional writes (If-None-Match: *, If-Match) as S3 answers them, and
// --data-dir (state that survives a restart of the emulator).
//   tools/node/node --test tools/node/test/conditional.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand,
  PutBucketNotificationConfigurationCommand,
} from '@aws-sdk/client-s3';
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';

const here = dirname(fileURLToPath(import.meta.url));
const NODE = join(here, '..', 'node');
const EMULATOR = join(here, '..', 'emulator.mjs');
const REGION = 'us-east-1';
const tmp = mkdtempSync(join(tmpdir(), 'emulator-cond-'));
let emu;

async function startEmulator(args = []) {
  const portFile = join(tmp, `port-${randomBytes(4).toString('hex')}`);
  const proc = spawn(NODE, [EMULATOR, '--port-file', portFile, ...(args.includes('--port') ? [] : ['--port', '0']), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 400 && !existsSync(portFile); i++) {
    if (proc.exitCode !== null) throw new Error(`emulator exited early: ${stderr}`);
    await sleep(50);
  }
  const port = Number(readFileSync(portFile, 'utf8'));
  return { proc, port, endpoint: `http://127.0.0.1:${port}` };
}

function stop(e, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (e.proc.exitCode !== null || e.proc.signalCode !== null) return resolve();
    e.proc.once('exit', () => resolve());
    e.proc.kill(signal);
  });
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const s3 = (e = emu) => new S3Client({ endpoint: e.endpoint, region: REGION, forcePathStyle: true, credentials, maxAttempts: 1 });
const sqs = (e = emu) => new SQSClient({ endpoint: e.endpoint, region: REGION, credentials, maxAttempts: 1 });
const unique = (p) => `${p}-${randomBytes(4).toString('hex')}`;

async function newBucket(e = emu) {
  const bucket = unique('cond');
  await s3(e).send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** The S3 error of a failed call: status, code, and the raw XML fields. */
async function failure(promise) {
  try {
    await promise;
  } catch (err) {
    return { status: err.$metadata?.httpStatusCode, code: err.name ?? err.Code, err };
  }
  assert.fail('the request succeeded');
}

/** A PUT with raw headers through fetch, signed by curl's rules is not needed: UNSIGNED bodies use the SDK's signer. */
async function rawPut(e, bucket, key, body, headers) {
  const client = s3(e);
  client.middlewareStack.add((next) => async (args) => {
    Object.assign(args.request.headers, headers);
    return next(args);
  }, { step: 'build', name: 'extraHeaders' });
  return client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
}

before(async () => { emu = await startEmulator(); });
after(async () => {
  if (emu) await stop(emu);
  rmSync(tmp, { recursive: true, force: true });
});

test('If-None-Match: * creates once; the second writer gets 412 PreconditionFailed and the object is unchanged', async () => {
  const bucket = await newBucket();
  const first = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'claims/a', Body: 'one', IfNoneMatch: '*' }));
  assert.ok(first.ETag);
  const f = await failure(s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'claims/a', Body: 'two', IfNoneMatch: '*' })));
  assert.equal(f.status, 412);
  assert.equal(f.code, 'PreconditionFailed');
  assert.equal(f.err.Condition, 'If-None-Match', 'S3 names the condition that failed');
  const got = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'claims/a' }));
  assert.equal(await got.Body.transformToString(), 'one');
  assert.equal(got.ETag, first.ETag);
});

test('If-Match: the current ETag (quoted or not) writes, a stale one is 412, a missing object 404 NoSuchKey', async () => {
  const bucket = await newBucket();
  const v1 = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
  const v2 = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v2', IfMatch: v1.ETag }));
  assert.notEqual(v2.ETag, v1.ETag);
  const unquoted = v2.ETag.replaceAll('"', '');
  const v3 = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v3', IfMatch: unquoted }));
  const stale = await failure(s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v4', IfMatch: v1.ETag })));
  assert.equal(stale.status, 412);
  assert.equal(stale.err.Condition, 'If-Match');
  const head = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  assert.equal(head.ETag, v3.ETag, 'the stale write changed nothing');
  const missing = await failure(s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'nothing', Body: 'x', IfMatch: v1.ETag })));
  assert.equal(missing.status, 404);
  assert.equal(missing.code, 'NoSuchKey');
});

test('If-None-Match with an ETag is 501 NotImplemented, as S3 answers; conditional DELETE by If-Match', async () => {
  const bucket = await newBucket();
  const v1 = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
  const f = await failure(rawPut(emu, bucket, 'k', 'x', { 'if-none-match': v1.ETag }));
  assert.equal(f.status, 501);
  assert.equal(f.code, 'NotImplemented');
  const del = await failure(s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: '"0123"' })));
  assert.equal(del.status, 412);
  await s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: v1.ETag }));
  await assert.rejects(s3().send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })));
});

test('CompleteMultipartUpload honours If-None-Match and If-Match', async () => {
  const bucket = await newBucket();
  async function upload(key, cond, fill = 'a') {
    const part = Buffer.alloc(1024, fill);
    const { UploadId } = await s3().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const p = await s3().send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part }));
    const complete = () => s3().send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] }, ...cond,
    }));
    return { UploadId, complete };
  }
  const a = await upload('m', { IfNoneMatch: '*' });
  const done = await a.complete();
  assert.match(done.ETag, /-1"?$/);
  const b = await upload('m', { IfNoneMatch: '*' });
  const f = await failure(b.complete());
  assert.equal(f.status, 412, 'the object exists now');
  await s3().send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'm', UploadId: b.UploadId }));
  const c = await upload('m', { IfMatch: done.ETag }, 'c');
  await c.complete();
  const d = await upload('m', { IfMatch: done.ETag }, 'd');
  assert.equal((await failure(d.complete())).status, 412, 'the ETag changed with the last completion');
});

test('a conditional write during which another write of the key completed gets 409 ConditionalRequestConflict', async () => {
  const bucket = await newBucket();
  // curl uploads from a pipe we hold open: the request has arrived, its body has not
  const curl = spawn('curl', ['-sS', '--aws-sigv4', `aws:amz:${REGION}:s3`, '--user', 'test:test',
    '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-H', 'content-type: application/octet-stream',
    '-H', 'If-None-Match: *', '-T', '-', '-o', '-', '-w', '\n%{http_code}', `${emu.endpoint}/${bucket}/race`],
  { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  curl.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => curl.on('exit', resolve));
  curl.stdin.write('first half ');
  // wait until the emulator has the request (its log entry exists, unanswered)
  for (let i = 0; ; i++) {
    const log = await (await fetch(`${emu.endpoint}/_emulator/requests`)).json();
    if (log.some((r) => r.method === 'PUT' && r.path === `/${bucket}/race`)) break;
    assert.ok(i < 400, 'the curl request reached the emulator');
    await sleep(25);
  }
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'the other writer' }));
  curl.stdin.end('second half');
  await exited;
  const status = out.trim().split('\n').pop();
  assert.equal(status, '409', out);
  assert.match(out, /<Code>ConditionalRequestConflict<\/Code>/);
  const got = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: 'race' }));
  assert.equal(await got.Body.transformToString(), 'the other writer');
  // retried, as S3 advises: now it is a plain 412 (the object exists)
  const f = await failure(s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'x', IfNoneMatch: '*' })));
  assert.equal(f.status, 412);
});

test('GET and HEAD answers carry Date and Last-Modified (leases are judged by S3\'s clock)', async () => {
  const bucket = await newBucket();
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
  const r = await fetch(`${emu.endpoint}/_emulator/requests`); // (unsigned admin route: just to get a Date)
  assert.ok(r.headers.get('date'));
  const head = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  assert.ok(head.LastModified instanceof Date);
  assert.ok(Math.abs(head.LastModified.getTime() - Date.now()) < 60000);
});

test('--data-dir: buckets, objects, queues, messages and notifications survive a kill -9 of the emulator', async () => {
  const dir = join(tmp, 'state');
  let e = await startEmulator(['--data-dir', dir]);
  const bucket = await newBucket(e);
  await s3(e).send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: 'still here' }));
  const q = unique('q');
  const { QueueUrl } = await sqs(e).send(new CreateQueueCommand({ QueueName: q }));
  const { Attributes } = await sqs(e).send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await s3(e).send(new PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: { QueueConfigurations: [{ QueueArn: Attributes.QueueArn, Events: ['s3:ObjectCreated:*'] }] },
  }));
  await sqs(e).send(new SendMessageCommand({ QueueUrl, MessageBody: 'waiting' }));
  const port = e.port;
  await stop(e, 'SIGKILL');
  e = await startEmulator(['--data-dir', dir, '--port', String(port)]);
  try {
    const got = await s3(e).send(new GetObjectCommand({ Bucket: bucket, Key: 'kept' }));
    assert.equal(await got.Body.transformToString(), 'still here');
    await s3(e).send(new PutObjectCommand({ Bucket: bucket, Key: 'after-restart', Body: 'new' }));
    const bodies = [];
    for (let i = 0; i < 20 && bodies.length < 3; i++) {
      const r = await sqs(e).send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) bodies.push(m.Body);
    }
    assert.ok(bodies.includes('waiting'), 'the message sent before the restart');
    assert.ok(bodies.some((b) => b.includes('after-restart')), 'the notification configuration came back');
  } finally {
    await stop(e);
  }
});
