// Tests of the emulator's AWS environment (lib/identity.mjs): IMDSv2, container
// credentials and STS, driven by the AWS SDK's own default credential provider chain
// (so the protocols are the ones the SDKs speak), curl --aws-sigv4 for signed STS calls,
// and plain HTTP for what the SDK never sends (no token, wrong methods).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3';
import { defaultProvider } from '@aws-sdk/credential-provider-node';

const here = dirname(fileURLToPath(import.meta.url));
const NODE = join(here, '..', 'node');
const EMULATOR = join(here, '..', 'emulator.mjs');
const REGION = 'us-east-1';
const ROLE = 'arn:aws:iam::000000000000:role/reader';
const WEB_ROLE = 'arn:aws:iam::000000000000:role/web';
const CHAINED = 'arn:aws:iam::000000000000:role/chained';

const tmp = mkdtempSync(join(tmpdir(), 'identity-test-'));
let emu; // { proc, endpoint, identity }

before(async () => {
  const portFile = join(tmp, 'port');
  const identityFile = join(tmp, 'identity-port');
  const proc = spawn(NODE, [EMULATOR, '--port', '0', '--port-file', portFile, '--identity-port-file', identityFile,
    '--credentials', 'test:test,alice:alice-secret,bob:bob-secret'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 400 && !existsSync(portFile); i++) {
    if (proc.exitCode !== null) throw new Error(`emulator exited early: ${stderr}`);
    await sleep(50);
  }
  emu = {
    proc,
    endpoint: `http://127.0.0.1:${Number(readFileSync(portFile, 'utf8'))}`,
    // the identity port file is written before the port file
    identity: `http://127.0.0.1:${Number(readFileSync(identityFile, 'utf8'))}`,
  };
});

after(async () => {
  if (emu?.proc.exitCode === null) {
    const exited = new Promise((resolve) => emu.proc.once('exit', resolve));
    emu.proc.kill('SIGTERM');
    await exited;
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function admin(method, path, body) {
  const res = await fetch(`${emu.endpoint}${path}`, {
    method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

beforeEach(async () => {
  await admin('DELETE', '/_emulator/faults');
  await admin('DELETE', '/_emulator/requests');
  await admin('POST', '/_emulator/identity', {
    reset: true,
    roles: {
      [ROLE]: { trust: ['alice', 'instance'] },
      [WEB_ROLE]: { trust: ['web-identity'] },
      [CHAINED]: { trust: [ROLE], external_id: 'x-4711' },
    },
  });
});

/**
 * The SDK's default chain with exactly the given AWS_* variables (no shared files):
 * what a server started with that environment would find.
 */
async function sdkCredentials(env) {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  Object.assign(process.env, {
    AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'none'), AWS_CONFIG_FILE: join(tmp, 'none'), AWS_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
  }, env);
  try {
    return await defaultProvider()();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** A signed S3 request with the given credentials: ListBuckets. */
function listBuckets(c) {
  return new S3Client({ endpoint: emu.endpoint, region: REGION, forcePathStyle: true, credentials: c, maxAttempts: 1 })
    .send(new ListBucketsCommand({}));
}

/** A signed STS call with curl; resolves { status, body }. */
function sts(form, { user = 'alice:alice-secret', token } = {}) {
  const args = ['-sS', '-w', '\n%{http_code}', '--aws-sigv4', `aws:amz:${REGION}:sts`, '--user', user,
    '-H', 'content-type: application/x-www-form-urlencoded', '--data', new URLSearchParams(form).toString()];
  if (token) args.push('-H', `x-amz-security-token: ${token}`);
  return new Promise((resolve) => {
    execFile('curl', [...args, `${emu.identity}/`], (err, stdout) => {
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}

const xml = (body, name) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
const assume = (extra = {}) => ({ Action: 'AssumeRole', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'pipeline-test', ...extra });

test('IMDSv2 through the SDK: token, role, credentials that S3 takes until they expire', async () => {
  const c = await sdkCredentials({ AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.identity });
  assert.match(c.accessKeyId, /^ASIA/);
  assert.ok(c.sessionToken && c.expiration > new Date(), 'temporary: a token and a future expiration');
  const log = (await admin('GET', '/_emulator/requests')).json.filter((e) => e.service === 'imds');
  assert.deepEqual(log.map((e) => [e.method, e.path, e.imds_token, e.status]), [
    ['PUT', '/latest/api/token', false, 200],
    ['GET', '/latest/meta-data/iam/security-credentials/', true, 200],
    ['GET', '/latest/meta-data/iam/security-credentials/pipeline-instance', true, 200],
  ]);
  await listBuckets(c);
  await admin('POST', '/_emulator/identity', { expire_all: true });
  await assert.rejects(listBuckets(c), (err) => err.name === 'ExpiredToken' && err.$metadata.httpStatusCode === 400);
});

test('IMDS: no session token is 401 (IMDSv2 only), a bad token too; a proxied or unbounded token request is refused', async () => {
  const path = '/latest/meta-data/iam/security-credentials/';
  assert.equal((await fetch(`${emu.identity}${path}`)).status, 401);
  assert.equal((await fetch(`${emu.identity}${path}`, { headers: { 'x-aws-ec2-metadata-token': 'forged' } })).status, 401);
  const put = (headers) => fetch(`${emu.identity}/latest/api/token`, { method: 'PUT', headers });
  assert.equal((await put({})).status, 400, 'no TTL');
  assert.equal((await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '99999' })).status, 400, 'TTL above 6 hours');
  assert.equal((await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '10.0.0.1' })).status, 403);
  const token = await (await put({ 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).text();
  const r = await fetch(`${emu.identity}${path}`, { headers: { 'x-aws-ec2-metadata-token': token } });
  assert.equal(await r.text(), 'pipeline-instance');
  assert.equal((await fetch(`${emu.identity}${path}other-role`, { headers: { 'x-aws-ec2-metadata-token': token } })).status, 404);
  await admin('POST', '/_emulator/identity', { imds_v1: true });
  assert.equal((await fetch(`${emu.identity}${path}`)).status, 200, 'imds_v1 answers without a token');
  await admin('POST', '/_emulator/identity', { instance_role: null });
  assert.equal((await fetch(`${emu.identity}${path}`)).status, 404, 'an instance without a role');
});

test('container credentials through the SDK, with the Authorization token checked', async () => {
  await admin('POST', '/_emulator/identity', { container_token: 'Bearer ecs-4711' });
  const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${emu.identity}/container/creds` };
  await assert.rejects(sdkCredentials(env), 'no token: refused');
  await assert.rejects(sdkCredentials({ ...env, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'Bearer wrong' }), 'wrong token: refused');
  const tokenFile = join(tmp, 'container-token');
  writeFileSync(tokenFile, 'Bearer ecs-4711');
  const c = await sdkCredentials({ ...env, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
  assert.match(c.accessKeyId, /^ASIA/);
  await listBuckets(c);
  const log = (await admin('GET', '/_emulator/requests')).json.filter((e) => e.service === 'container');
  assert.deepEqual(log.map((e) => [e.authorization, e.status]).slice(-1), [['given', 200]]);
});

test('web identity through the SDK (AWS_ENDPOINT_URL_STS): the token and the trust policy decide', async () => {
  const tokenFile = join(tmp, 'web-token');
  writeFileSync(tokenFile, 'pipeline-web-identity-token');
  const env = { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: WEB_ROLE, AWS_ENDPOINT_URL_STS: emu.identity };
  const c = await sdkCredentials(env);
  assert.match(c.accessKeyId, /^ASIA/);
  await listBuckets(c);
  await assert.rejects(sdkCredentials({ ...env, AWS_ROLE_ARN: ROLE }), (err) => err.name === 'AccessDenied');
  writeFileSync(tokenFile, 'forged');
  await assert.rejects(sdkCredentials(env), (err) => /InvalidIdentityToken/.test(err.name));
});

test('AssumeRole: signatures checked, trust policies, external ids, role chaining, expired callers', async () => {
  const ok = await sts(assume());
  assert.equal(ok.status, 200, ok.body);
  assert.match(xml(ok.body, 'AccessKeyId'), /^ASIA/);
  assert.ok(new Date(xml(ok.body, 'Expiration')) > new Date(), 'an Expiration in the future');

  const bob = await sts(assume(), { user: 'bob:bob-secret' });
  assert.equal(bob.status, 403);
  assert.equal(xml(bob.body, 'Code'), 'AccessDenied', 'bob is not trusted');
  const forged = await sts(assume(), { user: 'alice:not-her-secret' });
  assert.equal(xml(forged.body, 'Code'), 'SignatureDoesNotMatch', 'a wrong secret');
  const unknown = await sts(assume(), { user: 'mallory:x' });
  assert.equal(xml(unknown.body, 'Code'), 'InvalidClientTokenId');
  const invalid = await sts(assume({ DurationSeconds: '60' }));
  assert.equal(xml(invalid.body, 'Code'), 'ValidationError');

  // the role's keys may assume the chained role, with its external id only
  const user = `${xml(ok.body, 'AccessKeyId')}:${xml(ok.body, 'SecretAccessKey')}`;
  const token = xml(ok.body, 'SessionToken');
  const noId = await sts(assume({ RoleArn: CHAINED }), { user, token });
  assert.equal(xml(noId.body, 'Code'), 'AccessDenied', 'the external id is required');
  const chained = await sts(assume({ RoleArn: CHAINED, ExternalId: 'x-4711' }), { user, token });
  assert.equal(chained.status, 200, chained.body);
  const noToken = await sts(assume({ RoleArn: CHAINED, ExternalId: 'x-4711' }), { user });
  assert.equal(xml(noToken.body, 'Code'), 'InvalidClientTokenId', 'temporary keys need their token');

  await admin('POST', '/_emulator/identity', { expire_all: true });
  const late = await sts(assume({ RoleArn: CHAINED, ExternalId: 'x-4711' }), { user, token });
  assert.equal(xml(late.body, 'Code'), 'ExpiredToken');

  // the instance's keys are a principal of their own ("instance")
  const inst = await sdkCredentials({ AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.identity });
  const viaInstance = await sts(assume(), { user: `${inst.accessKeyId}:${inst.secretAccessKey}`, token: inst.sessionToken });
  assert.equal(viaInstance.status, 200, viaInstance.body);
});

test('faults: hang, 5xx in each service\'s format, expired credentials; S3 faults never reach the credential endpoints', async () => {
  await admin('POST', '/_emulator/faults', { action: 'status', status: 503, count: 1 }); // no service: S3's
  await admin('POST', '/_emulator/faults', { service: 'sts', action: 'status', status: 500, code: 'InternalFailure', count: 1 });
  const failed = await sts(assume());
  assert.equal(failed.status, 500);
  assert.equal(xml(failed.body, 'Code'), 'InternalFailure', 'STS\'s XML error');
  assert.equal((await admin('GET', '/_emulator/faults')).json.length, 1, 'the S3 fault is still waiting');
  await admin('DELETE', '/_emulator/faults');

  await admin('POST', '/_emulator/faults', { service: 'imds', action: 'expired', count: 1 });
  const env = { AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.identity };
  const token = await (await fetch(`${emu.identity}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })).text();
  const r = await fetch(`${emu.identity}/latest/meta-data/iam/security-credentials/pipeline-instance`, { headers: { 'x-aws-ec2-metadata-token': token } });
  const stale = await r.json();
  assert.ok(new Date(stale.Expiration) < new Date(), 'an Expiration in the past');
  await assert.rejects(listBuckets({ accessKeyId: stale.AccessKeyId, secretAccessKey: stale.SecretAccessKey, sessionToken: stale.Token }),
    (err) => err.name === 'ExpiredToken');

  await admin('POST', '/_emulator/faults', { service: 'imds', action: 'hang', count: 1 });
  const hung = await fetch(`${emu.identity}/latest/api/token`, {
    method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, signal: AbortSignal.timeout(500),
  }).then(() => 'answered', (err) => err.name);
  assert.equal(hung, 'TimeoutError', 'no answer');
  // the SDK gives up on a hung IMDS too (its own 1 s timeout), and the next attempt works
  const c = await sdkCredentials(env);
  assert.match(c.accessKeyId, /^ASIA/);
  const log = (await admin('GET', '/_emulator/requests')).json.filter((e) => e.service === 'imds');
  assert.ok(log.some((e) => e.fault === 'hang' && e.aborted), 'the hung request is logged as abandoned');
});

test('configuration is validated', async () => {
  assert.equal((await admin('POST', '/_emulator/identity', { ttl_seconds: 0 })).status, 400);
  assert.equal((await admin('POST', '/_emulator/identity', { no_such: 1 })).status, 400);
  const d = (await admin('GET', '/_emulator/identity')).json;
  assert.equal(d.endpoint, emu.identity);
  assert.equal(d.config.ttl_seconds, 3600);
});
