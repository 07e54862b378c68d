// AWS Signature Version 4 verification (header auth only), written from AWS's
// published algorithm: canonical request -> string to sign -> HMAC chain.
// The checks are strict on purpose: the emulator exists to catch signing bugs in
// our C client before real S3/SQS does.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_SKEW_MS = 15 * 60 * 1000; // AWS rejects requests more than 15 minutes off
const S3_PAYLOAD_MARKERS = new Set([
  'UNSIGNED-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER',
]);

export const sha256hex = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data, 'utf8').digest();

/** SigV4 URI encoding: every byte except A-Z a-z 0-9 - _ . ~ (and '/' when keepSlash) as %XX. */
export function uriEncode(str, keepSlash = false) {
  let out = '';
  for (const byte of Buffer.from(str, 'utf8')) {
    const unreserved = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) ||
      (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x5f || byte === 0x2e || byte === 0x7e;
    if (unreserved || (keepSlash && byte === 0x2f)) out += String.fromCharCode(byte);
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function safeDecode(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

/**
 * S3 signs the path encoded exactly once (decode what came on the wire, re-encode).
 * Every other service normalizes the path and encodes each segment of the wire form
 * again ("double encoding"), which is what the AWS SDKs do for them.
 */
export function canonicalUri(rawPath, service) {
  if (service === 's3') return uriEncode(safeDecode(rawPath || '/'), true) || '/';
  const out = [];
  for (const seg of (rawPath || '/').split('/').slice(1)) {
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.map((seg) => uriEncode(seg)).join('/');
}

/** Parameters decoded, re-encoded, sorted by encoded name then value; `?uploads` becomes `uploads=`. */
export function canonicalQuery(rawQuery) {
  if (!rawQuery) return '';
  return rawQuery.split('&').filter(Boolean).map((pair) => {
    const i = pair.indexOf('=');
    const name = i < 0 ? pair : pair.slice(0, i);
    const value = i < 0 ? '' : pair.slice(i + 1);
    return [uriEncode(safeDecode(name)), uriEncode(safeDecode(value))];
  }).sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`).join('&');
}

/** Header values as sent (rawHeaders keeps repeats apart), trimmed, whitespace runs collapsed. */
export function headerValues(rawHeaders) {
  const values = new Map();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (!values.has(name)) values.set(name, []);
    values.get(name).push(String(rawHeaders[i + 1]).trim().replace(/\s+/g, ' '));
  }
  return values;
}

/** `AWS4-HMAC-SHA256 Credential=K/D/R/S/aws4_request, SignedHeaders=a;b, Signature=hex` -> parts, or null. */
export function parseAuthorization(header) {
  const m = /^AWS4-HMAC-SHA256\s+(.+)$/s.exec(header ?? '');
  if (!m) return null;
  const fields = {};
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const scope = (fields.Credential ?? '').split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !fields.SignedHeaders ||
      !/^[0-9a-f]{64}$/i.test(fields.Signature ?? '')) return null;
  const [accessKeyId, date, region, service] = scope;
  return {
    accessKeyId, date, region, service,
    scope: scope.slice(1).join('/'),
    signedHeaders: fields.SignedHeaders.split(';'),
    signature: fields.Signature.toLowerCase(),
  };
}

export function signingKey(secret, date, region, service) {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

/**
 * The signature a correct client computes. `headers` is headerValues(rawHeaders),
 * `auth` the parsed Authorization header; `service` picks the path rules (s3 or not).
 */
export function computeSignature({ method, rawPath, rawQuery, headers, payloadHash, service, amzDate, auth, secret }) {
  const canonicalRequest = [
    method,
    canonicalUri(rawPath, service),
    canonicalQuery(rawQuery),
    auth.signedHeaders.map((h) => `${h}:${headers.get(h)?.join(',') ?? ''}\n`).join(''),
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, auth.scope, sha256hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', signingKey(secret, auth.date, auth.region, auth.service))
    .update(stringToSign, 'utf8').digest('hex');
  return { canonicalRequest, stringToSign, signature };
}

/**
 * Verify one request. `service` is what the request is (s3, sqs or sns) as the
 * router sees it; `bodySha256` is the hex hash of the body when the caller read it
 * (always for sqs/sns, for s3 only when x-amz-content-sha256 is a hash).
 * Returns { ok: true, accessKeyId } or { ok: false, status, code, message, extra }.
 * Error codes are those the real service uses for the same fault.
 */
export function verify({ method, rawPath, rawQuery, rawHeaders, service, bodySha256, credentials, region, now = Date.now() }) {
  const s3 = service === 's3';
  const fail = (status, code, message, extra) => ({ ok: false, status, code, message, extra });
  const headers = headerValues(rawHeaders);
  const header = (name) => headers.get(name)?.join(',');

  const authorization = header('authorization');
  if (!authorization) {
    if (/(^|&)X-Amz-Signature=/i.test(rawQuery ?? '')) {
      return fail(403, 'AccessDenied', 'Presigned URLs are not supported by this emulator');
    }
    return s3 ? fail(403, 'AccessDenied', 'Access Denied')
      : fail(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
  }
  const auth = parseAuthorization(authorization);
  if (!auth) {
    return s3 ? fail(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed; expected AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., Signature=...')
      : fail(400, 'IncompleteSignature', 'Authorization header requires Credential, SignedHeaders and Signature in AWS4-HMAC-SHA256 form');
  }
  const expectedServices = service === 'sns' ? ['sns', 'sts'] : [service];
  if (!expectedServices.includes(auth.service)) {
    return fail(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: '${service}'.`);
  }
  if (auth.region !== region) {
    return s3 ? fail(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; the region '${auth.region}' is wrong; expecting '${region}'`)
      : fail(403, 'SignatureDoesNotMatch', 'Credential should be scoped to a valid region.');
  }
  const cred = credentials.get(auth.accessKeyId);
  if (!cred) {
    return s3 ? fail(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: auth.accessKeyId })
      : fail(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  }

  const amzDate = header('x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return s3 ? fail(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
      : fail(400, 'IncompleteSignature', 'Authorization requires a valid x-amz-date header in ISO-8601 basic format');
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    return fail(403, 'SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}'`);
  }
  const requestTime = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
    +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(now - requestTime) > MAX_SKEW_MS) {
    return s3 ? fail(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', { RequestTime: amzDate })
      : fail(403, 'SignatureDoesNotMatch', `Signature expired: ${amzDate} is now earlier or later than the allowed 15 minutes.`);
  }

  const signed = new Set(auth.signedHeaders);
  if (!signed.has('host')) {
    return fail(403, 'SignatureDoesNotMatch', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (s3) {
    // S3 refuses x-amz-* headers that are not covered by the signature.
    const unsigned = [...headers.keys()].filter((h) => h.startsWith('x-amz-') && !signed.has(h));
    if (unsigned.length) {
      return fail(403, 'AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
    }
  }
  const token = header('x-amz-security-token');
  if (token !== undefined && !signed.has('x-amz-security-token')) {
    return fail(403, 'SignatureDoesNotMatch', 'x-amz-security-token must be a signed header');
  }
  if (cred.token !== undefined && token !== cred.token) {
    return s3 ? fail(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.')
      : fail(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  // temporary credentials (lib/identity.mjs) stop working when they expire
  if (cred.expires !== undefined && now >= cred.expires) {
    return s3 ? fail(400, 'ExpiredToken', 'The provided token has expired.')
      : fail(403, 'ExpiredToken', 'The security token included in the request is expired');
  }

  let payloadHash;
  if (s3) {
    payloadHash = header('x-amz-content-sha256');
    if (payloadHash === undefined) {
      return fail(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    }
    if (!S3_PAYLOAD_MARKERS.has(payloadHash) && !/^[0-9a-f]{64}$/.test(payloadHash)) {
      return fail(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.');
    }
  } else {
    payloadHash = bodySha256 ?? EMPTY_SHA256;
  }

  const { canonicalRequest, stringToSign, signature } = computeSignature({
    method, rawPath, rawQuery, headers, payloadHash, service, amzDate, auth, secret: cred.secret,
  });
  if (!timingSafeEqual(Buffer.from(signature, 'hex'), Buffer.from(auth.signature, 'hex'))) {
    const message = s3
      ? 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'
      : 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' +
        `\n\nThe Canonical String for this request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`;
    return fail(403, 'SignatureDoesNotMatch', message,
      { AWSAccessKeyId: auth.accessKeyId, StringToSign: stringToSign, CanonicalRequest: canonicalRequest });
  }
  // Only now does a body hash matter: the signature covered the claimed hash, not the bytes.
  if (s3 && /^[0-9a-f]{64}$/.test(payloadHash) && bodySha256 !== undefined && bodySha256 !== payloadHash) {
    return fail(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: payloadHash, S3ComputedContentSHA256: bodySha256 });
  }
  return { ok: true, accessKeyId: auth.accessKeyId };
}
