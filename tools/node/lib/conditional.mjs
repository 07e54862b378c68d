// Conditional writes, as S3 answers them (fauxqs ignores the headers on writes).
//
// PutObject, CopyObject and CompleteMultipartUpload take
//   If-None-Match: *      write only if no object has the key      (else 412 PreconditionFailed)
//   If-Match: <etag>      write only if the object has that ETag   (else 412; no object: 404 NoSuchKey)
// and DeleteObject takes If-Match.  If-None-Match with anything but "*" is
// 501 NotImplemented, as S3 answers.  A conditional write during which another
// write or delete of the same key completed (between the request's arrival and
// the moment its condition is decided: the body is still arriving, say) gets
// 409 ConditionalRequestConflict, which S3 documents for "a conflicting
// operation occurred during the upload": the client retries.
//
// The condition is decided in a preHandler hook, and the write happens in
// fauxqs's handler right after it, in the same turn of the event loop: no
// other request can come in between.

const PRECONDITION = 'At least one of the pre-conditions you specified did not hold';
const CONFLICT = 'A conflicting operation occurred. If using PutObject you can retry the request. ' +
  'If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.';

const unquote = (etag) => String(etag).trim().replace(/^W\//, '').replaceAll('"', '');

/** Which kind of write a request is, or undefined (mirrors fauxqs's S3 routing). */
export function writeKind(method, query, key) {
  if (!key) return undefined;
  if (method === 'PUT' && !('uploadId' in query) && !('partNumber' in query) && !('renameObject' in query)) return 'put';
  if (method === 'POST' && query.uploadId !== undefined && !('partNumber' in query)) return 'complete';
  if (method === 'DELETE' && !('uploadId' in query)) return 'delete';
  return undefined;
}

export class ConditionalWrites {
  constructor(s3Store) {
    this.store = s3Store;
    this.generations = new Map(); // "bucket\0key" -> writes and deletes completed
    this.stats = { preconditionFailed: 0, conflicts: 0 };
  }

  generation(bucket, key) { return this.generations.get(`${bucket}\0${key}`) ?? 0; }

  /** A write or delete of the key completed. */
  changed(bucket, key) {
    const k = `${bucket}\0${key}`;
    this.generations.set(k, (this.generations.get(k) ?? 0) + 1);
  }

  current(bucket, key) {
    try {
      return this.store.headObject(bucket, key);
    } catch {
      return undefined; // NoSuchKey (or NoSuchBucket: fauxqs answers that itself)
    }
  }

  /**
   * Decide the conditions of a write: undefined to go ahead, else
   * { status, code, message, extra } to answer instead.
   */
  decide({ kind, bucket, key, headers, startGeneration }) {
    const ifMatch = headers['if-match'];
    const ifNoneMatch = headers['if-none-match'];
    if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
    if (ifNoneMatch !== undefined && kind === 'delete') {
      return { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented', extra: { Header: 'If-None-Match' } };
    }
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
      return { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented', extra: { Header: 'If-None-Match' } };
    }
    if (startGeneration !== undefined && this.generation(bucket, key) !== startGeneration) {
      this.stats.conflicts++;
      return { status: 409, code: 'ConditionalRequestConflict', message: CONFLICT, extra: { Key: key } };
    }
    const obj = this.current(bucket, key);
    if (ifMatch !== undefined) {
      if (!obj) return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', extra: { Key: key } };
      const wanted = ifMatch.split(',').map(unquote);
      if (!wanted.includes('*') && !wanted.includes(unquote(obj.etag))) {
        this.stats.preconditionFailed++;
        return { status: 412, code: 'PreconditionFailed', message: PRECONDITION, extra: { Condition: 'If-Match' } };
      }
    }
    if (ifNoneMatch !== undefined && obj) {
      this.stats.preconditionFailed++;
      return { status: 412, code: 'PreconditionFailed', message: PRECONDITION, extra: { Condition: 'If-None-Match' } };
    }
    return undefined;
  }
}

/**
 * Install the hooks on the emulator's Fastify app.  sendError(reply, service,
 * status, code, message, extra) answers in S3's XML.  isSynthetic(bucket):
 * buckets that are generated, not stored (they refuse writes themselves).
 */
export function installConditionalWrites(app, { s3Store, sendError, isSynthetic }) {
  const cw = new ConditionalWrites(s3Store);

  app.addHook('onRequest', (request, reply, done) => {
    const emu = request.emu;
    if (!emu || emu.service !== 's3') return done();
    const bucket = request.params?.bucket;
    const key = request.params?.['*'] ?? '';
    const kind = writeKind(request.method, request.query ?? {}, key);
    if (!bucket || !kind || isSynthetic(bucket)) return done();
    emu.write = { kind, bucket, key, startGeneration: cw.generation(bucket, key) };
    return done();
  });

  app.addHook('preHandler', (request, reply, done) => {
    const w = request.emu?.write;
    if (!w) return done();
    const answer = cw.decide({ ...w, headers: request.headers });
    if (!answer) return done();
    if (request.emu.entry) request.emu.entry.condition = answer.code;
    return sendError(reply, 's3', answer.status, answer.code, answer.message, answer.extra);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const w = request.emu?.write;
    if (w && reply.statusCode < 300) cw.changed(w.bucket, w.key);
    done();
  });

  return cw;
}
