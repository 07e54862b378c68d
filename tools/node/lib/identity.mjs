// The AWS environment a server gets, for pipeline's credential tests: the EC2 instance
// metadata service (IMDSv2), an ECS/EKS container credentials endpoint, and STS
// (AssumeRole with checked SigV4 signatures, AssumeRoleWithWebIdentity), on a
// 127.0.0.1 port of their own. Point a server at it with
//   AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT
//   AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/container/creds
//   AWS_ENDPOINT_URL_STS=http://127.0.0.1:PORT   (or a server's sts_endpoint)
//
// Credentials it issues are temporary (an ASIA key, a secret, a session token and an
// Expiration) and go into the emulator's credential map, so S3/SQS accept requests
// signed with them until they expire (then: ExpiredToken).
//
// Paths:
//   PUT /latest/api/token                              (x-aws-ec2-metadata-token-ttl-seconds)
//   GET /latest/meta-data/iam/security-credentials/     the instance role (token required)
//   GET /latest/meta-data/iam/security-credentials/ROLE its credentials, IMDS JSON
//   GET /container/...  or  /v2/credentials/...         container credentials (Authorization
//                                                       checked when container_token is set)
//   POST /                                              STS query API: AssumeRole,
//                                                       AssumeRoleWithWebIdentity
// Faults (the emulator's /_emulator/faults) apply when they name the service: "imds",
// "container" or "sts"; besides the usual actions, "expired" answers credentials whose
// Expiration has passed. Configuration: see DEFAULTS and configure().
import { createServer } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { verify, sha256hex } from './sigv4.mjs';

const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const ACCOUNT = '000000000000';
const MAX_BODY = 64 * 1024;

export const DEFAULTS = Object.freeze({
  instance_role: 'pipeline-instance', // IMDS's role; null: the instance has none (404)
  ttl_seconds: 3600, // lifetime of every credential issued
  imds_v1: false, // true: IMDS answers without a session token too
  container_token: null, // the Authorization value the container endpoint wants; null: none
  web_identity_tokens: ['pipeline-web-identity-token'], // tokens STS takes for AssumeRoleWithWebIdentity
  // role ARN -> { trust: [principals], external_id?: 'required value' }. A principal is an
  // access key id, "instance" / "container" / "web-identity" (keys issued by that source), or
  // a role ARN (keys issued for that role).
  roles: {},
});

const escapeXml = (s) => String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class Identity {
  /**
   * credentials: the emulator's Map(key -> { secret, token?, expires? }), shared with
   * its SigV4 checks; faults: its Faults; log: its RequestLog.
   */
  constructor({ credentials, region = 'us-east-1', faults, log }) {
    this.credentials = credentials;
    this.region = region;
    this.faults = faults;
    this.log = log;
    this.issued = [];
    this.imdsTokens = new Map(); // token -> expires (ms)
    this.config = structuredClone(DEFAULTS);
    this.sockets = new Set();
  }

  /** Merge a configuration patch ({ reset: true } first goes back to DEFAULTS). */
  configure(patch = {}) {
    if (typeof patch !== 'object' || patch === null) throw new Error('configuration must be a JSON object');
    const next = patch.reset ? structuredClone(DEFAULTS) : structuredClone(this.config);
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'reset') continue;
      if (!(k in DEFAULTS)) throw new Error(`unknown setting ${k}`);
      if (k === 'ttl_seconds' && !(Number.isFinite(v) && v > 0)) throw new Error('ttl_seconds must be > 0');
      next[k] = v;
    }
    this.config = next;
    return this.describe();
  }

  describe() {
    return {
      endpoint: `http://127.0.0.1:${this.port}`,
      config: this.config,
      // test-only: the secrets issued, so that tests can look for them where they must not be
      issued: this.issued.map(({ access_key_id, secret, token, source, role, expires }) =>
        ({ access_key_id, secret_access_key: secret, session_token: token, source, role, expires: new Date(expires).toISOString() })),
    };
  }

  /** Make every credential issued so far expire now (S3 answers ExpiredToken). */
  expireAll() {
    const now = Date.now();
    for (const c of this.issued) {
      c.expires = Math.min(c.expires, now);
      const entry = this.credentials.get(c.access_key_id);
      if (entry) entry.expires = c.expires;
    }
  }

  /** New temporary credentials for a source ("instance", "container", a role ARN). */
  issue(source, role, { expired = false } = {}) {
    const now = Date.now();
    // forget what expired long ago
    this.issued = this.issued.filter((c) => {
      if (c.expires > now - 600_000) return true;
      this.credentials.delete(c.access_key_id);
      return false;
    });
    const c = {
      access_key_id: 'ASIA' + randomBytes(8).toString('hex').toUpperCase(),
      secret: randomBytes(30).toString('base64'),
      token: randomBytes(60).toString('base64'),
      source, role,
      expires: expired ? now - 60_000 : now + this.config.ttl_seconds * 1000,
    };
    this.issued.push(c);
    this.credentials.set(c.access_key_id, { secret: c.secret, token: c.token, expires: c.expires, source, role });
    return c;
  }

  /** The principals a set of keys acts as (for trust policies). */
  principals(accessKeyId) {
    const cred = this.credentials.get(accessKeyId);
    const p = new Set([accessKeyId]);
    if (cred?.source) p.add(cred.source === 'role' ? cred.role : cred.source);
    return p;
  }

  async listen(port = 0) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err.message));
      });
    });
    this.server.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    await new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this.port;
  }

  async close() {
    if (!this.server) return;
    for (const s of this.sockets) s.destroy(); // hung requests included
    await new Promise((resolve) => this.server.close(resolve));
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const path = url.pathname;
    const service = path.startsWith('/latest/') ? 'imds'
      : path.startsWith('/container/') || path.startsWith('/v2/credentials/') ? 'container'
        : 'sts';
    const entry = this.log.add({
      time: new Date().toISOString(), method: req.method, path, query: url.search.slice(1), service,
      access_key_id: /Credential=([^/\s,]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? null, status: null,
    });
    const start = Date.now();
    res.once('close', () => {
      if (res.headersSent) entry.status = res.statusCode;
      if (!res.writableFinished) entry.aborted = true;
      entry.ms = Date.now() - start;
      this.log.finish(entry);
    });
    if (service === 'imds') entry.imds_token = req.headers['x-aws-ec2-metadata-token'] !== undefined;
    if (service === 'container') entry.authorization = req.headers.authorization === undefined ? 'none' : 'given';

    const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    const form = new URLSearchParams(body.toString('utf8'));
    if (service === 'sts') entry.target = form.get('Action') ?? undefined;

    const match = { method: req.method, path, service, target: entry.target };
    const fault = this.faults.take(match, { requireService: true, actions: ['hang', 'reset', 'status'] });
    if (fault) {
      entry.fault = fault.action;
      switch (fault.action) {
        case 'hang': return undefined; // no answer; the socket closes when the client gives up
        case 'reset': req.socket.destroy(); return undefined;
        default: return this.error(res, service, fault.status, fault.code, fault.message);
      }
    }
    // "expired" applies to the next answer that issues credentials
    const expired = () => {
      const f = this.faults.take(match, { requireService: true, actions: ['expired'] });
      if (f) entry.fault = f.action;
      return f !== undefined;
    };
    if (service === 'imds') return this.imds(req, res, path, expired);
    if (service === 'container') return this.container(req, res, expired);
    return this.sts(req, res, path, body, form, entry, expired);
  }

  error(res, service, status, code, message) {
    if (service === 'sts') {
      res.writeHead(status, { 'content-type': 'text/xml' });
      return res.end(`<ErrorResponse xmlns="${STS_XMLNS}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
        `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
        `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
    }
    if (service === 'container') {
      res.writeHead(status, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ code, message }));
    }
    // IMDS answers errors as HTML-ish text; the body does not matter
    res.writeHead(status, { 'content-type': 'text/plain' });
    return res.end(`${status} - ${code}`);
  }

  imdsCredentials(c) {
    return JSON.stringify({
      Code: 'Success', LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), Type: 'AWS-HMAC',
      AccessKeyId: c.access_key_id, SecretAccessKey: c.secret, Token: c.token,
      Expiration: new Date(c.expires).toISOString().replace(/\.\d+Z$/, 'Z'),
    });
  }

  imds(req, res, path, expired) {
    const now = Date.now();
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return this.error(res, 'imds', 405, 'MethodNotAllowed');
      if (req.headers['x-forwarded-for'] !== undefined) return this.error(res, 'imds', 403, 'Forbidden');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return this.error(res, 'imds', 400, 'BadRequest');
      const token = randomBytes(42).toString('base64');
      this.imdsTokens.set(token, now + ttl * 1000);
      for (const [t, exp] of this.imdsTokens) if (exp < now) this.imdsTokens.delete(t);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
      return res.end(token);
    }
    if (req.method !== 'GET') return this.error(res, 'imds', 405, 'MethodNotAllowed');
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (token === undefined ? !this.config.imds_v1 : !((this.imdsTokens.get(token) ?? 0) > now)) {
      return this.error(res, 'imds', 401, 'Unauthorized'); // IMDSv2: a valid session token is required
    }
    const prefix = '/latest/meta-data/iam/security-credentials/';
    const role = this.config.instance_role;
    if (path === prefix || path === prefix.slice(0, -1)) {
      if (!role) return this.error(res, 'imds', 404, 'NotFound');
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(role);
    }
    if (path.startsWith(prefix) && role && decodeURIComponent(path.slice(prefix.length)) === role) {
      const c = this.issue('instance', role, { expired: expired() });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(this.imdsCredentials(c));
    }
    return this.error(res, 'imds', 404, 'NotFound');
  }

  container(req, res, expired) {
    if (req.method !== 'GET') return this.error(res, 'container', 405, 'MethodNotAllowed', 'GET only');
    const want = this.config.container_token;
    if (want !== null && req.headers.authorization !== want) {
      return this.error(res, 'container', 401, 'AccessDenied',
        req.headers.authorization === undefined ? 'Authorization header missing' : 'Authorization header invalid');
    }
    const c = this.issue('container', 'pipeline-task', { expired: expired() });
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/pipeline-task`, AccessKeyId: c.access_key_id,
      SecretAccessKey: c.secret, Token: c.token, Expiration: new Date(c.expires).toISOString(),
    }));
  }

  sts(req, res, path, body, form, entry, expired) {
    const err = (status, code, message) => {
      entry.error = code;
      return this.error(res, 'sts', status, code, message);
    };
    if (req.method !== 'POST' || path !== '/') return err(404, 'NotFound', 'STS takes POST /');
    const action = form.get('Action');
    if (form.get('Version') !== '2011-06-15') return err(400, 'InvalidParameterValue', 'Version must be 2011-06-15');
    const roleArn = form.get('RoleArn') ?? '';
    const sessionName = form.get('RoleSessionName') ?? '';
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      return err(400, 'ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint`);
    }
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) {
      return err(400, 'ValidationError', `${roleArn} is invalid`);
    }
    const role = this.config.roles[roleArn];
    let caller;
    if (action === 'AssumeRole') {
      const check = verify({
        method: req.method, rawPath: path, rawQuery: '', rawHeaders: req.rawHeaders, service: 'sts',
        bodySha256: sha256hex(body), credentials: this.credentials, region: this.region,
      });
      if (!check.ok) return err(check.status, check.code, check.message);
      caller = check.accessKeyId;
      entry.access_key_id = caller;
      const duration = form.get('DurationSeconds');
      if (duration !== null && !(Number.isInteger(Number(duration)) && Number(duration) >= 900 && Number(duration) <= 43200)) {
        return err(400, 'ValidationError', `Value '${duration}' at 'durationSeconds' failed to satisfy constraint`);
      }
      const trusted = role && role.trust.some((p) => this.principals(caller).has(p));
      if (!trusted) {
        return err(403, 'AccessDenied', `User: arn:aws:iam::${ACCOUNT}:user/${caller} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      }
      if (role.external_id !== undefined && form.get('ExternalId') !== role.external_id) {
        return err(403, 'AccessDenied', `User: arn:aws:iam::${ACCOUNT}:user/${caller} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      }
    } else if (action === 'AssumeRoleWithWebIdentity') {
      const token = form.get('WebIdentityToken') ?? '';
      if (!this.config.web_identity_tokens.includes(token)) {
        return err(400, 'InvalidIdentityToken', 'Couldn\'t retrieve verification key from your identity provider');
      }
      if (!role || !role.trust.includes('web-identity')) {
        return err(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
      }
      caller = 'web-identity';
    } else {
      return err(400, 'InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
    }
    const c = this.issue('role', roleArn, { expired: expired() });
    const name = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    const extra = action === 'AssumeRoleWithWebIdentity'
      ? '<SubjectFromWebIdentityToken>system:serviceaccount:pipeline:pipeline</SubjectFromWebIdentityToken>' +
        '<Audience>sts.amazonaws.com</Audience><Provider>arn:aws:iam::000000000000:oidc-provider/emulator</Provider>'
      : '';
    res.writeHead(200, { 'content-type': 'text/xml' });
    return res.end(`<${action}Response xmlns="${STS_XMLNS}">\n  <${action}Result>\n` +
      `    <AssumedRoleUser><AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${escapeXml(sessionName)}</AssumedRoleId>` +
      `<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/${escapeXml(name)}/${escapeXml(sessionName)}</Arn></AssumedRoleUser>\n` +
      `    <Credentials>\n      <AccessKeyId>${c.access_key_id}</AccessKeyId>\n      <SecretAccessKey>${escapeXml(c.secret)}</SecretAccessKey>\n` +
      `      <SessionToken>${escapeXml(c.token)}</SessionToken>\n      <Expiration>${new Date(c.expires).toISOString()}</Expiration>\n    </Credentials>\n` +
      `    ${extra}\n  </${action}Result>\n  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>\n</${action}Response>\n`);
  }
}
