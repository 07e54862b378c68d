// Fault injection and the request log behind the /_emulator admin routes.
import { Readable } from 'node:stream';

const ACTIONS = new Set(['status', 'reset', 'truncate', 'slow', 'hang', 'hold', 'expired']); // expired: lib/identity.mjs
const DEFAULT_CODES = { 400: 'BadRequest', 403: 'AccessDenied', 404: 'NotFound', 500: 'InternalError', 503: 'SlowDown' };

/**
 * Faults fire on the next `count` requests that match (count 0 = until cleared).
 * Matching: method, path_prefix (against the decoded path), service (s3|sqs|sns),
 * target (X-Amz-Target, with or without the "AmazonSQS." prefix), query (a
 * substring of the raw query string, e.g. "partNumber=3"), range_not_prefix (the
 * request has a Range header that does not start so: "bytes=0-" matches ranged GETs
 * of anything but an object's start); all optional.
 * "hold" keeps the request waiting, unanswered, until the faults are cleared;
 * then it is served as usual (against what the store holds by then).
 */
export class Faults {
  constructor() { this.list = []; this.nextId = 1; }

  add(spec) {
    if (!spec || typeof spec !== 'object') throw new Error('fault must be a JSON object');
    if (!ACTIONS.has(spec.action)) throw new Error(`action must be one of ${[...ACTIONS].join(', ')}`);
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 0) throw new Error('count must be a non-negative integer (0 = until cleared)');
    const fault = {
      id: this.nextId++,
      action: spec.action,
      method: spec.method ? String(spec.method).toUpperCase() : undefined,
      path_prefix: spec.path_prefix,
      service: spec.service,
      target: spec.target,
      query: spec.query,
      range_not_prefix: spec.range_not_prefix,
      count,
      fired: 0,
    };
    if (spec.action === 'status') {
      fault.status = Number(spec.status ?? 503);
      if (!(fault.status >= 400 && fault.status <= 599)) throw new Error('status must be 400..599');
      fault.code = spec.code ?? DEFAULT_CODES[fault.status] ?? 'InternalError';
      fault.message = spec.message ?? `Injected fault: ${fault.code}`;
    }
    if (spec.action === 'slow') {
      fault.bytes_per_second = Number(spec.bytes_per_second);
      if (!(fault.bytes_per_second > 0)) throw new Error('slow needs bytes_per_second > 0');
    }
    this.list.push(fault);
    return fault;
  }

  clear() { this.list = []; }

  /**
   * The first matching fault, consumed by one. requireService: only faults that name
   * the service (the credential endpoints of lib/identity.mjs take no S3 fault);
   * actions: only faults with one of these actions.
   */
  take({ method, path, service, target, query = '', range }, { requireService = false, actions } = {}) {
    const fault = this.list.find((f) =>
      (!requireService || f.service === service) &&
      (!actions || actions.includes(f.action)) &&
      (!f.method || f.method === method) &&
      (!f.path_prefix || path.startsWith(f.path_prefix)) &&
      (!f.query || query.includes(f.query)) &&
      (!f.range_not_prefix || (typeof range === 'string' && !range.startsWith(f.range_not_prefix))) &&
      (!f.service || f.service === service) &&
      (!f.target || (target ?? '') === f.target || (target ?? '').endsWith(`.${f.target}`)));
    if (!fault) return undefined;
    fault.fired++;
    if (fault.count > 0 && fault.fired >= fault.count) this.list.splice(this.list.indexOf(fault), 1);
    return fault;
  }
}

/**
 * Body stream for "truncate": half the bytes, then the socket is destroyed once they
 * have left the process, so the client sees a short read against a full Content-Length.
 */
export function truncatedBody(buf, socket) {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(buf.subarray(0, Math.floor(buf.length / 2)));
        return;
      }
      // Asked for more: the half was handed to the socket. Wait until it is flushed.
      const kill = () => socket.destroy();
      if (socket.writableLength === 0) setImmediate(kill);
      else socket.once('drain', kill);
    },
  });
}

/** Body stream for "slow": the real bytes, throttled to roughly bytes_per_second. */
export function throttledBody(buf, bytesPerSecond) {
  const tickMs = 50;
  const perTick = Math.max(1, Math.floor((bytesPerSecond * tickMs) / 1000));
  let offset = 0;
  let timer;
  return new Readable({
    read() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        const chunk = buf.subarray(offset, offset + perTick);
        offset += chunk.length;
        this.push(chunk.length ? chunk : null);
        if (chunk.length && offset >= buf.length) this.push(null);
      }, tickMs);
    },
    destroy(err, cb) { clearTimeout(timer); cb(err); },
  });
}

/** Recent requests, newest last; also appended to a JSON-lines file when asked. */
export class RequestLog {
  constructor({ limit = 10000, stream } = {}) { this.entries = []; this.limit = limit; this.stream = stream; }

  add(entry) {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.shift();
    return entry;
  }

  /** Called once the response is over (or the connection gone). */
  finish(entry) {
    this.stream?.write(JSON.stringify(entry) + '\n');
  }

  clear() { this.entries = []; }
}
