// Synthetic buckets: listings and object bodies generated on request, so that
// tests and benchmarks can scan a million objects, or one 10 GB object, at no
// cost in memory (nothing is stored; every answer is computed from the bucket's
// name, deterministically).
//
// A bucket named
//
//   synthetic-<objects>-<records>[-<record bytes>][-<option>...]
//
// holds <objects> objects "part-<n>.json" (n zero-padded, so that key order is
// number order), each <records> newline-delimited JSON records of exactly
// <record bytes> bytes (default 100, at least 64), newline included:
//
//   {"i":      1234,"o":        17,"v":234,"s":"dev-1234","pad":"xxxx...xx"}
//
// i is the record's number in its object (0-based), o the object's, v = i % 1000,
// s = "dev-" + (i % 10000 zero-padded to 4). Numbers are right-aligned in fixed
// widths (JSON allows the spaces), so every record has the same length and any
// byte range is computed without generating what comes before it.
// Options: "csv" (objects "part-<n>.csv": the header "i,o,v,s,pad" then records
// "i,o,v,s,pad" of the same fixed length, numbers space-padded), "hive" (keys
// "dt=2026-01-DD/part-<n>.json", 10 objects a day, DD from 01 on).
// Object n was last modified at 2026-01-01T00:00:00Z plus n seconds; its ETag
// is derived from the bucket and n.
//
// What S3 requests are answered: ListObjectsV2 (prefix, delimiter, max-keys,
// start-after, continuation-token), GET (Range, If-Match), HEAD. Writes are
// refused (AccessDenied). The requests go through the emulator's SigV4 checks,
// faults and request log like any other.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const BASE_TIME = Date.UTC(2026, 0, 1);
const NUM_WIDTH = 10;		// digits of i and o in a record
const PER_DAY = 10;			// objects per dt= directory of "hive" buckets

export function isSynthetic(bucket) {
  return typeof bucket === 'string' && bucket.startsWith('synthetic-');
}

const parsed = new Map();

/** The bucket's parameters, or undefined if its name does not parse (kept: they hold the record template). */
export function parseSynthetic(bucket) {
  if (parsed.has(bucket)) return parsed.get(bucket);
  const p = parseName(bucket);
  if (parsed.size > 1000) parsed.clear();
  parsed.set(bucket, p);
  return p;
}

function parseName(bucket) {
  const parts = bucket.split('-').slice(1);
  const nums = [];
  while (parts.length && /^\d+$/.test(parts[0])) nums.push(Number(parts.shift()));
  if (nums.length < 2 || nums.length > 3) return undefined;
  const [objects, records, recordBytes = 100] = nums;
  const options = new Set(parts);
  for (const o of options) if (o !== 'csv' && o !== 'hive') return undefined;
  if (!Number.isSafeInteger(objects) || objects < 1 || !Number.isSafeInteger(records) || recordBytes < 64 || recordBytes > 65536) {
    return undefined;
  }
  const csv = options.has('csv');
  const header = csv ? 'i,o,v,s,pad\n' : '';
  const width = String(Math.max(objects - 1, 0)).length;
  return {
    bucket, objects, records, recordBytes, csv, hive: options.has('hive'), width, header,
    size: header.length + records * recordBytes,
  };
}

function day(p, n) {
  const d = new Date(BASE_TIME + Math.floor(n / PER_DAY) * 86400000);
  return d.toISOString().slice(0, 10);
}

/** Key of object n. Keys sort as their numbers do (also across days). */
export function keyOf(p, n) {
  const name = `part-${String(n).padStart(p.width, '0')}.${p.csv ? 'csv' : 'json'}`;
  return p.hive ? `dt=${day(p, n)}/${name}` : name;
}

/** Number of the object a key names, or -1. */
function indexOf(p, key) {
  const m = (p.hive ? /^dt=(\d{4}-\d\d-\d\d)\/part-(\d+)\.(json|csv)$/ : /^()part-(\d+)\.(json|csv)$/).exec(key);
  if (!m || m[2].length !== p.width || m[3] !== (p.csv ? 'csv' : 'json')) return -1;
  const n = Number(m[2]);
  if (n >= p.objects || (p.hive && m[1] !== day(p, n))) return -1;
  return n;
}

/** First object number whose key is > s (or >= s when orEqual). Keys are sorted by number. */
function lowerBound(p, s, orEqual) {
  let lo = 0;
  let hi = p.objects;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const k = keyOf(p, mid);
    if (orEqual ? k < s : k <= s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function etagOf(p, n) {
  return createHash('md5').update(`${p.bucket}/${n}`).digest('hex');
}

export function lastModifiedOf(p, n) {
  return new Date(BASE_TIME + n * 1000);
}

const xmlEscape = (s) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

/** ListObjectsV2 of a synthetic bucket: XML text. */
export function listXml(p, query) {
  const prefix = query.prefix ?? '';
  const delimiter = query.delimiter || undefined;
  const maxKeys = Math.max(0, Math.min(Number(query['max-keys'] ?? 1000) || 1000, 1000));
  const token = query['continuation-token'];
  const after = token ? Buffer.from(token, 'base64').toString('utf8') : (query['start-after'] ?? '');
  let n = Math.max(lowerBound(p, prefix, true), after ? lowerBound(p, after, false) : 0);
  const contents = [];
  const common = [];
  let last;
  let truncated = false;
  while (n < p.objects) {
    const key = keyOf(p, n);
    if (!key.startsWith(prefix)) break;
    const rest = key.slice(prefix.length);
    const d = delimiter ? rest.indexOf(delimiter) : -1;
    if (contents.length + common.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (d >= 0) {
      const cp = prefix + rest.slice(0, d + delimiter.length);
      common.push(cp);
      last = cp;
      // skip every key under this common prefix: the first key after cp + U+FFFF
      n = lowerBound(p, `${cp}\uffff`, true);
      continue;
    }
    contents.push(n);
    last = key;
    n++;
  }
  const items = contents.map((i) => `<Contents><Key>${xmlEscape(keyOf(p, i))}</Key>` +
    `<LastModified>${lastModifiedOf(p, i).toISOString()}</LastModified><ETag>&quot;${etagOf(p, i)}&quot;</ETag>` +
    `<Size>${p.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join('');
  const prefixes = common.map((c) => `<CommonPrefixes><Prefix>${xmlEscape(c)}</Prefix></CommonPrefixes>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${xmlEscape(p.bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>` +
    `<KeyCount>${contents.length + common.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
    (delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : '') +
    `<IsTruncated>${truncated}</IsTruncated>` +
    (token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : '') +
    (truncated ? `<NextContinuationToken>${Buffer.from(last, 'utf8').toString('base64')}</NextContinuationToken>` : '') +
    `${items}${prefixes}</ListBucketResult>`;
}

/**
 * One block of records [first, first + count) of object o, as a Buffer.
 * The template of a record is laid out once per bucket; only the digits of
 * i, o, v and s change from record to record.
 */
function recordTemplate(p) {
  if (p.template) return p.template;
  const pad = () => `${' '.repeat(NUM_WIDTH - 1)}0`;
  let head;
  if (p.csv) head = `${pad()},${pad()},  0,dev-0000,`;
  else head = `{"i":${pad()},"o":${pad()},"v":  0,"s":"dev-0000","pad":"`;
  const tail = p.csv ? '\n' : '"}\n';
  const padLen = p.recordBytes - head.length - tail.length;
  if (padLen < 0) throw new Error('record too short');
  const text = head + 'x'.repeat(padLen) + tail;
  const buf = Buffer.from(text, 'latin1');
  const at = (needle, from = 0) => text.indexOf(needle, from);
  const iPos = p.csv ? 0 : at('"i":') + 4;
  const oPos = p.csv ? NUM_WIDTH + 1 : at('"o":') + 4;
  const vPos = p.csv ? 2 * NUM_WIDTH + 2 : at('"v":') + 4;
  const sPos = at('dev-') + 4;
  p.template = { buf, iPos, oPos, vPos, sPos };
  return p.template;
}

function writeRight(buf, pos, width, n) {
  // right-aligned decimal, space-padded
  let i = pos + width - 1;
  do {
    buf[i--] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0 && i >= pos);
  while (i >= pos) buf[i--] = 32;
}

const CYCLE = 10000;		// v and s repeat every CYCLE records, and so do i's low 4 digits

/*
 * Records are made from a cycle of CYCLE records laid out once per object:
 * o, v, s and the low four digits of i are the same in every cycle, so a
 * block of records is a copy of part of the cycle plus i's high digits
 * (the cycle's number q, the same for all its records).  Cycle 0 has its
 * own layout (no leading zeros in i).  Objects of very long records skip
 * the cycle and write each record (the bytes dominate then anyway).
 */
function cycleOf(p, o, zero) {
  const t = recordTemplate(p);
  const L = p.recordBytes;
  const out = Buffer.allocUnsafe(CYCLE * L);
  for (let r = 0; r < CYCLE; r++) {
    const base = r * L;
    t.buf.copy(out, base);
    if (zero) writeRight(out, base + t.iPos, NUM_WIDTH, r);
    else {
      out.fill(32, base + t.iPos, base + t.iPos + NUM_WIDTH - 4);
      out[base + t.iPos + NUM_WIDTH - 4] = 48 + Math.floor(r / 1000);
      out[base + t.iPos + NUM_WIDTH - 3] = 48 + (Math.floor(r / 100) % 10);
      out[base + t.iPos + NUM_WIDTH - 2] = 48 + (Math.floor(r / 10) % 10);
      out[base + t.iPos + NUM_WIDTH - 1] = 48 + (r % 10);
    }
    writeRight(out, base + t.oPos, NUM_WIDTH, o);
    writeRight(out, base + t.vPos, 3, r % 1000);
    out[base + t.sPos] = 48 + Math.floor(r / 1000);
    out[base + t.sPos + 1] = 48 + (Math.floor(r / 100) % 10);
    out[base + t.sPos + 2] = 48 + (Math.floor(r / 10) % 10);
    out[base + t.sPos + 3] = 48 + (r % 10);
  }
  return out;
}

function recordsBlock(p, cache, o, first, count) {
  const t = recordTemplate(p);
  const L = p.recordBytes;
  // a request for less than a cycle (small objects), or very long records: each record written out
  if (!cache.cycles || CYCLE * L > (8 << 20)) {
    const out = Buffer.allocUnsafe(count * L);
    for (let r = 0; r < count; r++) {
      const base = r * L;
      const i = first + r;
      t.buf.copy(out, base);
      writeRight(out, base + t.iPos, NUM_WIDTH, i);
      writeRight(out, base + t.oPos, NUM_WIDTH, o);
      writeRight(out, base + t.vPos, 3, i % 1000);
      const s = i % 10000;
      out[base + t.sPos] = 48 + Math.floor(s / 1000);
      out[base + t.sPos + 1] = 48 + (Math.floor(s / 100) % 10);
      out[base + t.sPos + 2] = 48 + (Math.floor(s / 10) % 10);
      out[base + t.sPos + 3] = 48 + (s % 10);
    }
    return out;
  }
  // within one cycle: the caller never asks across a cycle's end
  const q = Math.floor(first / CYCLE);
  const r0 = first % CYCLE;
  if (cache.q !== q) {
    // this cycle's records, laid out once: a fresh buffer, never changed
    // afterwards, so blocks are slices of it (no copy)
    const template = q === 0 ? (cache.zero ??= cycleOf(p, o, true)) : (cache.rest ??= cycleOf(p, o, false));
    const cycle = Buffer.allocUnsafe(template.length);
    template.copy(cycle);
    if (q > 0) {
      const digits = Buffer.alloc(NUM_WIDTH - 4);
      writeRight(digits, 0, NUM_WIDTH - 4, q);
      const d = Array.from(digits);
      for (let r = 0, at = t.iPos; r < CYCLE; r++, at += L) {
        for (let k = 0; k < d.length; k++) cycle[at + k] = d[k];
      }
    }
    cache.q = q;
    cache.cycle = cycle;
  }
  return cache.cycle.subarray(r0 * L, (r0 + count) * L);
}

function* chunksOf(p, o, start, end) {
  const L = p.recordBytes;
  const H = p.header.length;
  const BLOCK = Math.max(1, Math.floor((1024 * 1024) / L));
  // laying a cycle out pays off only for requests of a cycle or more
  const cache = { cycles: end - start + 1 >= CYCLE * L };
  let pos = start;
  while (pos <= end) {
    let chunk;
    if (pos < H) {
      chunk = Buffer.from(p.header.slice(pos, Math.min(H, end + 1)), 'latin1');
    } else {
      const first = Math.floor((pos - H) / L);
      const count = Math.min(BLOCK, Math.floor((end - H) / L) - first + 1, CYCLE - (first % CYCLE));
      const block = recordsBlock(p, cache, o, first, count);
      const from = pos - H - first * L;
      chunk = block.subarray(from, Math.min(block.length, end + 1 - H - first * L));
    }
    pos += chunk.length;
    yield chunk;
  }
}

/** The bytes [start, end] of object o as a stream (generated as it is read). */
export function bodyStream(p, o, start, end) {
  const chunks = chunksOf(p, o, start, end);
  return new Readable({
    read() {
      const { value, done } = chunks.next();
      this.push(done ? null : value);
    },
  });
}

/** The bytes [start, end] of object o at once: for small bodies, cheaper than a stream. */
function bodyBuffer(p, o, start, end) {
  return Buffer.concat([...chunksOf(p, o, start, end)]);
}

/** Parse a Range header against a size: { start, end } (inclusive), null if unsatisfiable, undefined if absent. */
function parseRange(header, size) {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start;
  let end;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return null;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return null;
  return { start, end };
}

/**
 * Answer an S3 request to a synthetic bucket. sendError(status, code, message)
 * answers errors in S3's format. Returns the reply.
 */
export function handleSynthetic(request, reply, bucket, key, sendError) {
  const p = parseSynthetic(bucket);
  if (!p) return sendError(404, 'NoSuchBucket', 'The specified bucket does not exist');
  const method = request.method;
  const query = request.query ?? {};
  if (!key) {
    if (method === 'GET' && query['list-type'] === '2') {
      return reply.code(200).header('content-type', 'application/xml').send(listXml(p, query));
    }
    if (method === 'HEAD') return reply.code(200).send();
    return sendError(method === 'GET' ? 501 : 403, method === 'GET' ? 'NotImplemented' : 'AccessDenied',
      'Synthetic buckets answer ListObjectsV2, GET and HEAD only');
  }
  if (method !== 'GET' && method !== 'HEAD') return sendError(403, 'AccessDenied', 'Synthetic buckets are read-only');
  const n = indexOf(p, key);
  if (n < 0) return sendError(404, 'NoSuchKey', 'The specified key does not exist.');
  const etag = `"${etagOf(p, n)}"`;
  const ifMatch = request.headers['if-match'];
  if (ifMatch && ifMatch !== etag && ifMatch !== '*') {
    return sendError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  reply.header('etag', etag).header('last-modified', lastModifiedOf(p, n).toUTCString())
    .header('content-type', p.csv ? 'text/csv' : 'application/x-ndjson').header('accept-ranges', 'bytes');
  if (method === 'HEAD') return reply.code(200).header('content-length', String(p.size)).send();
  const range = parseRange(request.headers.range, p.size);
  if (range === null) {
    reply.header('content-range', `bytes */${p.size}`);
    return sendError(416, 'InvalidRange', 'The requested range is not satisfiable');
  }
  const { start, end } = range ?? { start: 0, end: p.size - 1 };
  reply.header('content-length', String(end - start + 1));
  if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${p.size}`);
  else reply.code(200);
  if (p.size === 0) return reply.send(Buffer.alloc(0));
  if (end - start < (1 << 20)) return reply.send(bodyBuffer(p, n, start, end));
  return reply.send(bodyStream(p, n, start, end));
}
