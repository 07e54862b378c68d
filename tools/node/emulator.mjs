// S3 + SQS + SNS emulator for pipeline's tests, benchmarks and demo.
//
// fauxqs (npm) does the storage and the protocols; this file wraps its Fastify app
// with what our tests need and fauxqs lacks: SigV4 verification, S3 event
// notifications, ListMultipartUploads, fault injection, a request log, and
// synthetic buckets (lib/synthetic.mjs: generated listings and bodies).
// Listens on 127.0.0.1 only.
//
//   tools/node/node tools/node/emulator.mjs --port 0 --port-file /tmp/emu.port
//
// Options: --port N (0 = any free port), --port-file PATH, --credentials
// KEY:SECRET[:TOKEN][,...] (default test:test), --region R (default us-east-1),
// --log-file PATH (one JSON line per request), --data-dir PATH (keep S3, SQS,
// SNS and notification configurations there, so a restarted emulator has them),
// --identity-port N (IMDS, container credentials and STS: lib/identity.mjs;
// default 0, any free port) and --identity-port-file PATH.
import { randomBytes } from 'node:crypto';
import { createWriteStream, renameSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { verify, sha256hex, EMPTY_SHA256 } from './lib/sigv4.mjs';
import { Notifier, ConfigError, parseNotificationConfiguration, notificationConfigurationXml, escapeXml } from './lib/notifications.mjs';
import { Faults, RequestLog, truncatedBody, throttledBody } from './lib/faults.mjs';
import { isSynthetic, handleSynthetic } from './lib/synthetic.mjs';
import { SQS_ACTIONS, queryToJson, successXml, errorXml, jsonErrorToXml } from './lib/sqs_query.mjs';
import { installConditionalWrites } from './lib/conditional.mjs';
import { openState } from './lib/persist.mjs';
import { Identity } from './lib/identity.mjs';

// fauxqs imports node:sqlite (for persistence we do not use), and Node 22 prints an
// ExperimentalWarning for it on every start: drop that one warning, keep the rest.
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) =>
  (/SQLite/.test(String(warning?.message ?? warning)) ? undefined : emitWarning.call(process, warning, ...rest));

// fauxqs's package entry exports only buildApp; the stores and the SNS fan-out we
// need to share live in dist modules beside app.js. Importing them by the same URL
// app.js uses gives the very same module instances.
const fauxqsModule = (path) => import(new URL(path, import.meta.resolve('fauxqs')));
const { buildApp } = await import('fauxqs');
const { SqsStore } = await fauxqsModule('./sqs/sqsStore.js');
const { SnsStore } = await fauxqsModule('./sns/snsStore.js');
const { S3Store } = await fauxqsModule('./s3/s3Store.js');
const { fanOutToSubscriptions } = await fauxqsModule('./sns/actions/publish.js');

const newRequestId = () => randomBytes(8).toString('hex').toUpperCase();
const safeDecode = (s) => { try { return decodeURIComponent(s); } catch { return s; } };
const isLoopback = (addr = '') => addr === '::1' || /^(::ffff:)?127\./.test(addr);
const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

/** "KEY:SECRET[:TOKEN],..." -> Map(key -> { secret, token? }). */
export function parseCredentials(spec) {
  const map = new Map();
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, secret, token] = item.split(':');
    if (!key || !secret) throw new Error(`bad credentials entry '${item}': want KEY:SECRET[:TOKEN]`);
    map.set(key, token ? { secret, token } : { secret });
  }
  if (!map.size) throw new Error('no credentials given');
  return map;
}

/**
 * What a request is addressed to, decided the way fauxqs's own router decides:
 * SQS (JSON protocol) and SNS (query protocol) are POSTs to "/", all else is S3.
 * A form-encoded POST to "/" signed for SQS is SQS's query protocol
 * ("sqs-query": older AWS CLIs and SDKs), which the emulator translates.
 * "admin" routes are unsigned: ours, fauxqs's inspection routes and /health.
 */
function classify(method, path, headers) {
  if (path.startsWith('/_emulator/')) return 'admin';
  if (method === 'GET' && (path === '/health' || path.startsWith('/_fauxqs/'))) return 'admin';
  const ct = headers['content-type'] ?? '';
  if (method === 'POST' && path === '/') {
    if (ct.includes('application/x-amz-json-1.0')) return 'sqs';
    if (ct.includes('application/x-www-form-urlencoded')) {
      const scope = /Credential=[^/\s,]+\/\d{8}\/[^/\s,]+\/([^/\s,]+)\//.exec(headers.authorization ?? '');
      return scope?.[1] === 'sqs' ? 'sqs-query' : 'sns';
    }
  }
  return 's3';
}

/** The service a request's signature and faults are for (sqs-query is SQS). */
const signedService = (service) => (service === 'sqs-query' ? 'sqs' : service);

/** An error in the wire format of the service the client talked to. */
function sendError(reply, service, status, code, message, extra = {}) {
  const requestId = newRequestId();
  if (service === 'sqs-query') {
    reply.code(status).header('content-type', 'text/xml').send(errorXml(status, code, message));
  } else if (service === 'sqs') {
    reply.code(status).header('content-type', 'application/x-amz-json-1.0')
      .header('x-amzn-requestid', requestId)
      .header('x-amzn-query-error', `${code};${status >= 500 ? 'Receiver' : 'Sender'}`)
      .send(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }));
  } else if (service === 'sns') {
    reply.code(status).header('content-type', 'text/xml')
      .send(`<ErrorResponse xmlns="${SNS_XMLNS}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
        `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
        `<RequestId>${requestId}</RequestId></ErrorResponse>`);
  } else {
    const fields = Object.entries(extra).map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join('');
    reply.code(status).header('content-type', 'application/xml').header('x-amz-request-id', requestId)
      .send(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code>` +
        `<Message>${escapeXml(message)}</Message>${fields}<RequestId>${requestId}</RequestId>` +
        `<HostId>${randomBytes(24).toString('base64')}</HostId></Error>`);
  }
}

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Which S3 event a successful request raises, or undefined. Mirrors fauxqs's S3 routing. */
function s3EventFor(method, query, headers, key) {
  if (!key) return undefined;
  if (method === 'PUT' && !('uploadId' in query) && !('partNumber' in query) && !('renameObject' in query)) {
    return headers['x-amz-copy-source'] ? 'ObjectCreated:Copy' : 'ObjectCreated:Put';
  }
  if (method === 'POST' && query.uploadId) return 'ObjectCreated:CompleteMultipartUpload';
  if (method === 'DELETE' && !('uploadId' in query)) return 'ObjectRemoved:Delete';
  return undefined;
}

/**
 * Build the fauxqs app with our hooks and admin routes; listen on 127.0.0.1.
 * Returns { app, port, close }.
 */
export async function startEmulator({ port = 0, region = 'us-east-1', credentials = parseCredentials('test:test'), logFile, dataDir, identityPort = 0 } = {}) {
  const sqsStore = new SqsStore();
  const snsStore = new SnsStore();
  const s3Store = new S3Store();
  // (loaded before the app exists: fauxqs wires persistence into the stores the same way)
  const state = dataDir ? await openState(dataDir, { sqsStore, snsStore, s3Store, fauxqsModule }) : undefined;
  // host "localhost" makes fauxqs build http://sqs.REGION.localhost:PORT/000000000000/NAME
  // from the port in the request's Host header.
  const app = buildApp({ logger: false, host: 'localhost', defaultRegion: region, stores: { sqsStore, snsStore, s3Store } });
  const notifier = new Notifier({ sqsStore, snsStore, SqsStore, fanOutToSubscriptions, region });
  if (state) state.attachNotifier(notifier);
  const faults = new Faults();
  const log = new RequestLog({ stream: logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined });
  const held = []; // requests a "hold" fault keeps waiting: their onRequest continuations
  const releaseHeld = () => { for (const done of held.splice(0)) done(); };
  app.decorateRequest('emu', null);
  // IMDS, container credentials and STS on a port of their own (lib/identity.mjs)
  const identity = new Identity({ credentials, region, faults, log });

  // 1. Classify, log, and fire request-level faults before anything else runs.
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.originalUrl;
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const service = classify(request.method, rawPath, request.headers);
    const emu = request.emu = { service, rawPath, rawQuery, start: Date.now() };
    // fauxqs parses any x-www-form-urlencoded body as SNS form fields, which breaks S3
    // object bodies (a 500) and our JSON admin bodies: take those as bytes instead.
    const ct = request.headers['content-type'];
    if (service !== 'sns' && service !== 'sqs-query' && ct?.includes('x-www-form-urlencoded')) {
      emu.contentType = ct;
      request.raw.headers['content-type'] = 'application/octet-stream';
    }
    if (service === 'admin') {
      if (!isLoopback(request.socket.remoteAddress)) return reply.code(403).send({ error: 'loopback only' });
      return done();
    }

    const entry = emu.entry = log.add({
      time: new Date().toISOString(), method: request.method, path: rawPath, query: rawQuery, service: signedService(service),
      access_key_id: /Credential=([^/\s,]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? null,
      status: null,
    });
    if (request.headers['x-amz-target']) entry.target = request.headers['x-amz-target'];
    if (request.headers.range) entry.range = request.headers.range;
    if (request.headers['if-match']) entry.if_match = request.headers['if-match'];
    entry.host = request.headers.host;
    reply.raw.once('close', () => {
      if (reply.raw.headersSent) entry.status = reply.raw.statusCode;
      if (!reply.raw.writableFinished) entry.aborted = true;
      entry.ms = Date.now() - emu.start;
      log.finish(entry);
    });

    if (service === 'sqs-query') entry.protocol = 'query';
    const fault = faults.take({ method: request.method, path: safeDecode(rawPath), service: signedService(service),
      target: entry.target, query: rawQuery, range: request.headers.range });
    if (!fault) return done();
    entry.fault = fault.action;
    switch (fault.action) {
      case 'status':
        entry.error = fault.code;
        return sendError(reply, service, fault.status, fault.code, fault.message);
      case 'reset':
        reply.hijack();
        return request.raw.socket.destroy();
      case 'hang':
        reply.hijack(); // no answer; the socket closes when the client gives up (or on shutdown)
        return undefined;
      case 'hold': // served as usual once the faults are cleared
        held.push(done);
        return undefined;
      default: // truncate, slow: applied to the real response in onSend
        emu.streamFault = fault;
        return done();
    }
  });

  // 2. SigV4. Reads the body only when its hash is part of the check, then hands
  //    Fastify a fresh stream of the same bytes. Replying without done() ends the request.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const emu = request.emu;
    if (emu.service === 'admin') return done(null, payload);
    const claimsHash = /^[0-9a-f]{64}$/.test(request.headers['x-amz-content-sha256'] ?? '');
    const needBody = emu.service !== 's3' || claimsHash;
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    const check = (body) => {
      const result = verify({
        method: request.method, rawPath: emu.rawPath, rawQuery: emu.rawQuery, rawHeaders: request.raw.rawHeaders,
        service: signedService(emu.service), bodySha256: needBody ? (body ? sha256hex(body) : EMPTY_SHA256) : undefined,
        credentials, region,
      });
      if (!result.ok) {
        emu.entry.error = result.code;
        if (result.extra?.CanonicalRequest) emu.entry.expected_canonical_request = result.extra.CanonicalRequest;
        return sendError(reply, emu.service, result.status, result.code, result.message, result.extra);
      }
      emu.accessKeyId = result.accessKeyId;
      if (!body) return done(null, payload);
      const stream = Readable.from([body], { objectMode: false });
      stream.receivedEncodedLength = body.length;
      return done(null, stream);
    };
    if (needBody && hasBody) readAll(payload).then(check, done);
    else check(null);
  });

  // 3. S3 notification configuration (which fauxqs would take for CreateBucket /
  //    ListObjects), and noting which S3 event a request will raise if it succeeds.
  app.addHook('preHandler', (request, reply, done) => {
    const emu = request.emu;
    if (emu.service === 'sns' && emu.entry) emu.entry.target = request.body?.Action;
    // what an SQS JSON request asked for, in the request log (the worker's settings show in them)
    if (emu.service === 'sqs' && emu.entry && request.body && typeof request.body === 'object') {
      const b = request.body;
      if (b.QueueUrl !== undefined) emu.entry.queue_url = b.QueueUrl;
      if (b.WaitTimeSeconds !== undefined) emu.entry.wait_time_seconds = b.WaitTimeSeconds;
      if (b.VisibilityTimeout !== undefined) emu.entry.visibility_timeout = b.VisibilityTimeout;
    }
    if (emu.service === 'sqs-query') return sqsQueryRequest(request, reply, done);
    if (emu.service !== 's3') return done();
    if (emu.contentType) request.raw.headers['content-type'] = emu.contentType; // store what the client sent
    const bucket = request.params?.bucket;
    const key = request.params?.['*'] ?? '';
    const query = request.query ?? {};
    if (!bucket) return done();
    if (isSynthetic(bucket)) {
      return handleSynthetic(request, reply, bucket, key,
        (status, code, message) => sendError(reply, 's3', status, code, message, bucket ? { BucketName: bucket } : {}));
    }
    if (!key && 'notification' in query && (request.method === 'PUT' || request.method === 'GET')) {
      return handleNotificationConfiguration(request, reply, bucket);
    }
    if (!key && 'uploads' in query && request.method === 'GET') {
      return listMultipartUploads(reply, bucket, query.prefix ?? '');
    }
    if (!key && request.method === 'DELETE' && Object.keys(query).length === 0) emu.deletesBucket = bucket;
    if (!notifier.hasConfig(bucket)) return done();
    const objects = s3Store.buckets.get(bucket);
    const event = s3EventFor(request.method, query, request.headers, key);
    if (event) {
      emu.event = { bucket, name: event, keys: [key], existed: [objects?.has(key)] };
    } else if (!key && request.method === 'POST' && 'delete' in query && Buffer.isBuffer(request.body)) {
      // DeleteObjects: one ObjectRemoved:Delete per object that was there.
      const keys = [...request.body.toString('utf8').matchAll(/<Key>([\s\S]*?)<\/Key>/g)]
        .map((m) => m[1].replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]));
      emu.event = { bucket, name: 'ObjectRemoved:Delete', keys, existed: keys.map((k) => objects?.has(k)) };
    }
    return done();
  });

  // Conditional writes (If-None-Match: *, If-Match): decided after the hook above,
  // just before fauxqs's handler writes.
  const conditional = installConditionalWrites(app, { s3Store, sendError, isSynthetic });

  // SQS's query protocol: the form's fields become the JSON request fauxqs's
  // SQS router takes (X-Amz-Target, JSON body); its answer becomes XML in onSend.
  function sqsQueryRequest(request, reply, done) {
    const emu = request.emu;
    const { action, body } = queryToJson(request.body ?? {});
    if (emu.entry) emu.entry.target = action;
    if (!SQS_ACTIONS.has(action)) {
      return sendError(reply, 'sqs-query', 400, 'InvalidAction', `The action ${action} is not valid for this endpoint.`);
    }
    emu.sqsAction = action;
    request.body = body;
    request.raw.headers['x-amz-target'] = `AmazonSQS.${action}`;
    request.raw.headers['content-type'] = 'application/x-amz-json-1.0';
    return done();
  }

  // ListMultipartUploads, which fauxqs answers empty: the uploads in progress
  // (one page; enough for tests that check what is left behind).
  function listMultipartUploads(reply, bucket, prefix) {
    if (!s3Store.hasBucket(bucket)) {
      return sendError(reply, 's3', 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    }
    const uploads = [...s3Store.multipartUploads.values()]
      .filter((u) => u.bucket === bucket && u.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const items = uploads.map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${escapeXml(u.uploadId)}</UploadId>` +
      `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`).join('');
    return reply.code(200).header('content-type', 'application/xml')
      .send(`<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Bucket>${escapeXml(bucket)}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>1000</MaxUploads>` +
        `<IsTruncated>false</IsTruncated>${items}</ListMultipartUploadsResult>`);
  }

  function handleNotificationConfiguration(request, reply, bucket) {
    if (!s3Store.hasBucket(bucket)) {
      return sendError(reply, 's3', 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    }
    if (request.method === 'GET') {
      return reply.code(200).header('content-type', 'application/xml')
        .send(notificationConfigurationXml(notifier.configs.get(bucket) ?? []));
    }
    let configs;
    try {
      const xml = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : String(request.body ?? '');
      const skipValidation = request.headers['x-amz-skip-destination-validation'] === 'true';
      configs = parseNotificationConfiguration(xml, skipValidation ? undefined : (t, arn) => notifier.destinationExists(t, arn));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return sendError(reply, 's3', err.status, err.code, err.message);
    }
    const requestId = newRequestId();
    notifier.configure(bucket, configs, requestId);
    return reply.code(200).header('x-amz-request-id', requestId).send();
  }

  // 4. Just before the bytes go out: note error codes, capture the object an event
  //    describes (as it is now, not after a later write), apply streaming faults.
  app.addHook('onSend', (request, reply, payload, done) => {
    const emu = request.emu;
    if (!emu || emu.service === 'admin') return done(null, payload);
    if (emu.sqsAction && typeof payload === 'string' && reply.getHeader('content-type')?.includes('x-amz-json-1.0')) {
      payload = reply.statusCode < 300 ? successXml(emu.sqsAction, payload)
        : jsonErrorToXml(reply.statusCode, payload, reply.getHeader('x-amzn-query-error'));
      reply.header('content-type', 'text/xml');
    }
    if (reply.statusCode >= 400 && typeof payload === 'string' && emu.entry && !emu.entry.error) {
      emu.entry.error = /<Code>([^<]+)<\/Code>/.exec(payload)?.[1] ?? /"__type":"(?:[^"#]*#)?([^"]+)"/.exec(payload)?.[1];
    }
    if (emu.event && reply.statusCode < 300) {
      const { bucket, name, keys, existed } = emu.event;
      const objects = s3Store.buckets.get(bucket);
      emu.records = [];
      keys.forEach((key, i) => {
        if (name.startsWith('ObjectRemoved')) {
          if (existed[i] && !objects?.has(key)) emu.records.push({ name, object: { key } });
        } else {
          const obj = objects?.get(key);
          if (obj) emu.records.push({ name, object: { key, size: obj.contentLength, etag: obj.etag } });
        }
      });
    }
    const fault = emu.streamFault;
    if (fault && payload != null && typeof payload.pipe !== 'function' && request.method !== 'HEAD') {
      const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload));
      // Headers go out now with the full length, so the client must notice the cut.
      // (Sending them here also keeps Fastify from answering a second time: fauxqs's
      // async handlers return without `return reply`, and Fastify re-sends an empty
      // reply when a handler resolves while no header has left yet.)
      reply.raw.writeHead(reply.statusCode, { ...reply.getHeaders(), 'content-length': String(buf.length) });
      reply.raw.flushHeaders();
      return done(null, fault.action === 'truncate' ? truncatedBody(buf, request.raw.socket) : throttledBody(buf, fault.bytes_per_second));
    }
    return done(null, payload);
  });

  // 5. Events leave only after the S3 response went out successfully, as with S3.
  app.addHook('onResponse', (request, reply, done) => {
    const emu = request.emu;
    if (emu?.records?.length && reply.statusCode < 300) {
      const context = {
        accessKeyId: emu.accessKeyId, sourceIp: request.ip,
        requestId: reply.getHeader('x-amz-request-id'), hostId: reply.getHeader('x-amz-id-2'),
      };
      for (const r of emu.records) notifier.emit(emu.event.bucket, r.name, r.object, context);
    }
    if (emu?.deletesBucket && reply.statusCode === 204) notifier.dropBucket(emu.deletesBucket);
    done();
  });

  app.addHook('onError', (request, reply, error, done) => {
    if (request.emu?.entry) request.emu.entry.error = error.message;
    done();
  });

  // Admin routes (unsigned, loopback only). Static paths win over fauxqs's /:bucket/*.
  const jsonBody = (request) => {
    const b = request.body;
    if (b == null || b.length === 0) return {};
    return JSON.parse(Buffer.isBuffer(b) ? b.toString('utf8') : String(b));
  };
  app.post('/_emulator/faults', async (request, reply) => {
    try {
      const specs = jsonBody(request);
      const added = (Array.isArray(specs) ? specs : [specs]).map((s) => faults.add(s));
      return reply.code(201).send(Array.isArray(specs) ? added : added[0]);
    } catch (err) {
      return reply.code(400).send({ error: err.message });
    }
  });
  app.get('/_emulator/faults', async () => faults.list);
  app.delete('/_emulator/faults', async () => { faults.clear(); releaseHeld(); return { cleared: true }; });
  app.get('/_emulator/identity', async () => identity.describe());
  app.post('/_emulator/identity', async (request, reply) => {
    try {
      const body = jsonBody(request);
      if (body.expire_all) identity.expireAll();
      const { expire_all: _, ...patch } = body;
      return identity.configure(patch);
    } catch (err) {
      return reply.code(400).send({ error: err.message });
    }
  });
  app.delete('/_emulator/identity', async () => identity.configure({ reset: true }));
  app.get('/_emulator/requests', async () => log.entries);
  app.get('/_emulator/conditional', async () => conditional.stats);
  app.delete('/_emulator/requests', async () => { log.clear(); return { cleared: true }; });

  await app.listen({ port, host: '127.0.0.1' });
  const actualPort = app.server.address().port;
  const actualIdentityPort = await identity.listen(identityPort);
  return {
    app,
    port: actualPort,
    identityPort: actualIdentityPort,
    async close() {
      await identity.close();
      await app.close();
      state?.close();
      await new Promise((resolve) => (log.stream ? log.stream.end(resolve) : resolve()));
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4566' },
      'port-file': { type: 'string' },
      credentials: { type: 'string', default: 'test:test' },
      region: { type: 'string', default: 'us-east-1' },
      'log-file': { type: 'string' },
      'data-dir': { type: 'string' },
      'identity-port': { type: 'string', default: '0' },
      'identity-port-file': { type: 'string' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${values.port}`);
  const identityPort = Number(values['identity-port']);
  if (!Number.isInteger(identityPort) || identityPort < 0 || identityPort > 65535) throw new Error(`bad --identity-port ${values['identity-port']}`);
  const emulator = await startEmulator({
    port, region: values.region, credentials: parseCredentials(values.credentials), logFile: values['log-file'], identityPort,
    dataDir: values['data-dir'],
  });
  // Write then rename, so a script polling for the file never reads half a number.
  // (the identity port first: once the port file is there, both are)
  for (const [file, p] of [[values['identity-port-file'], emulator.identityPort], [values['port-file'], emulator.port]]) {
    if (!file) continue;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${p}\n`);
    renameSync(tmp, file);
  }
  console.log(`emulator listening on http://127.0.0.1:${emulator.port} (region ${values.region}); ` +
    `IMDS, container credentials and STS on http://127.0.0.1:${emulator.identityPort}`);
  const stop = async () => {
    setTimeout(() => process.exit(1), 5000).unref(); // never linger if close stalls
    await emulator.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`emulator: ${err.message}`);
    process.exit(1);
  });
}
