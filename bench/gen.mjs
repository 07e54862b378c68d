// bench/gen.mjs DIR RECORDS OBJECTS
//	Writes the IoT heartbeat data set of shared/PERFORMANCE.md, deterministic
//	(seeded), into DIR:
//	  large.json.gz          all RECORDS, one per line, one gzip -6 stream
//	  large-shuffled.json.gz the same records with their keys in a random
//	                         order (each record its own, loc's too): no
//	                         query finds its keys first
//	  large.csv.gz           the same records as CSV, the 12 columns of the
//	                         benchmark's typed table (loc flattened to lat,
//	                         lon; tags as an array literal; null temp_c an
//	                         empty field), for COPY ... (FORMAT csv)
//	  small/NNNNN.json.gz    the same records as OBJECTS small objects, as
//	                         Firehose writes them: every 4th object has its
//	                         records back to back without newlines, every 5th
//	                         is two gzip members concatenated
//	  meta.json              sizes (JSON bytes = what MB/s figures are of)
//	The ordered files are the same bytes as generator 1 wrote (the
//	shuffling has a random stream of its own).
//	Records (11 fields): device_id, ts, battery, voltage, temp_c (2% null),
//	rssi, firmware, status, tags[], loc{lat,lon}, seq; 5% of the records have
//	a string with escapes or non-ASCII.
import { createWriteStream, mkdirSync, writeFileSync, renameSync, rmSync } from "node:fs";
import { createGzip, gzipSync, constants } from "node:zlib";
import { once } from "node:events";

const [dir, nrecArg, nobjArg] = process.argv.slice(2);
const nrec = Number(nrecArg ?? 1000000);
const nobj = Number(nobjArg ?? 1000);
if (!dir || !(nrec > 0) || !(nobj > 0) || nrec < nobj) {
  console.error("usage: gen.mjs DIR RECORDS OBJECTS (RECORDS >= OBJECTS)");
  process.exit(2);
}

// xorshift32: deterministic across runs and machines
let seed = 0x9e3779b9;
function rnd() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
// the key order's own stream, so that the records' values stay those of generator 1
let seed2 = 0x85ebca6b;
function rnd2() {
  seed2 ^= seed2 << 13; seed2 >>>= 0;
  seed2 ^= seed2 >>> 17;
  seed2 ^= seed2 << 5; seed2 >>>= 0;
  return seed2 / 4294967296;
}
function shuffle(a) {
  for (let k = a.length - 1; k > 0; k--) {
    const j = Math.floor(rnd2() * (k + 1));
    [a[k], a[j]] = [a[j], a[k]];
  }
  return a;
}

const NDEV = 10000;
const devices = Array.from({ length: NDEV }, (_, i) => ({
  id: `therm-${String(i).padStart(6, "0")}`,
  lat: (rnd() * 140 - 70).toFixed(4),
  lon: (rnd() * 360 - 180).toFixed(4),
  fw: `v1.${Math.floor(rnd() * 3) + 3}.${Math.floor(rnd() * 10)}`,
  tags: [pick(["outdoor", "indoor"]), pick(["zone-1", "zone-2", "zone-3", "zone-4"])],
}));
const statuses = ["ok", "ok", "ok", "ok", "ok", "ok", "low_battery", "charging", "error"];
// JSON text of strings with escapes or non-ASCII (as they appear in the file)
const odd = [
  String.raw`caf\u00e9 \u2603`, String.raw`line\nbreak \"q\"`, "café ☃", String.raw`tab\there`,
  "日本", String.raw`back\\slash`, "Zürich-Ost", String.raw`\ud83d\udd0b low`,
];
const start = Date.parse("2026-11-01T00:00:00Z");
const span = 30 * 86400 * 1000;

/** One record as [JSON, JSON with shuffled keys, CSV line] (the same values). */
function record(i) {
  const d = devices[Math.floor(rnd() * NDEV)];
  let id = d.id, status = pick(statuses), fw = d.fw;
  if (rnd() < 0.05) {
    const which = Math.floor(rnd() * 3);
    if (which === 0) id = `${d.id} ${pick(odd)}`;
    else if (which === 1) status = pick(odd);
    else fw = `${d.fw} ${pick(odd)}`;
  }
  const ts = new Date(start + Math.floor(i * span / nrec) + Math.floor(rnd() * 1000)).toISOString();
  const temp = rnd() < 0.02 ? "null" : (rnd() * 65 - 20).toFixed(1);
  const battery = Math.floor(rnd() * 101);
  const voltage = (3 + rnd() * 1.2).toFixed(2);
  const rssi = -30 - Math.floor(rnd() * 91);
  // [key, JSON text of the value]: strings are JSON text already (escapes included)
  const kv = [["device_id", `"${id}"`], ["ts", `"${ts}"`], ["battery", battery], ["voltage", voltage],
    ["temp_c", temp], ["rssi", rssi], ["firmware", `"${fw}"`], ["status", `"${status}"`],
    ["tags", `["${d.tags[0]}","${d.tags[1]}"]`], ["loc", null], ["seq", i]];
  const loc = [["lat", d.lat], ["lon", d.lon]];
  const obj = (pairs) => "{" + pairs.map(([k, v]) => `"${k}":${v}`).join(",") + "}";
  kv[9][1] = obj(loc);
  const json = obj(kv);
  const sk = shuffle(kv.map((p) => [...p]));
  sk.find((p) => p[0] === "loc")[1] = obj(shuffle(loc.map((p) => [...p])));
  const csv = [csvText(id), ts, battery, voltage, temp === "null" ? "" : temp, rssi, csvText(fw), csvText(status),
    `"{${d.tags[0]},${d.tags[1]}}"`, d.lat, d.lon, i].join(",");
  return [json, obj(sk), csv];
}
/** A JSON string's text (between the quotes) as a quoted CSV field of its value. */
function csvText(t) {
  const v = t.includes("\\") ? JSON.parse(`"${t}"`) : t;
  return `"${v.replace(/"/g, '""')}"`;
}

const tmp = `${dir}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(`${tmp}/small`, { recursive: true });

/** A gzip -6 file written as a stream; write() waits when the stream is full. */
function gzFile(path) {
  const z = createGzip({ level: 6, chunk: 1 << 20 });
  const out = createWriteStream(path);
  z.pipe(out);
  let bytes = 0;
  return {
    async write(s) { bytes += Buffer.byteLength(s); if (!z.write(s)) await once(z, "drain"); },
    async end() { z.end(); await once(out, "finish"); return { text_bytes: bytes, gz_bytes: out.bytesWritten }; },
  };
}
const large = gzFile(`${tmp}/large.json.gz`);
const shuffled = gzFile(`${tmp}/large-shuffled.json.gz`);
const csv = gzFile(`${tmp}/large.csv.gz`);
let smallJsonBytes = 0, smallGzBytes = 0, concatenated = 0, multiMember = 0;
let i = 0;
for (let o = 0; o < nobj; o++) {
  const n = Math.floor((o + 1) * nrec / nobj) - Math.floor(o * nrec / nobj);
  const recs = [], shuf = [], lines_csv = [];
  for (let k = 0; k < n; k++) {
    const [j, sj, c] = record(i++);
    recs.push(j); shuf.push(sj); lines_csv.push(c);
  }
  const lines = recs.join("\n") + "\n";
  await large.write(lines);
  await shuffled.write(shuf.join("\n") + "\n");
  await csv.write(lines_csv.join("\n") + "\n");

  let gz;
  const body = o % 4 === 3 ? recs.join("") : lines;
  if (o % 4 === 3) concatenated++;
  if (o % 5 === 4 && recs.length > 1) {
    const half = Math.floor(recs.length / 2);
    const sep = o % 4 === 3 ? "" : "\n";
    const a = recs.slice(0, half).join(sep) + sep, b = recs.slice(half).join(sep) + sep;
    gz = Buffer.concat([gzipSync(a, { level: 6 }), gzipSync(b, { level: 6 })]);
    multiMember++;
  } else {
    gz = gzipSync(body, { level: 6 });
  }
  smallJsonBytes += Buffer.byteLength(body);
  smallGzBytes += gz.length;
  writeFileSync(`${tmp}/small/${String(o).padStart(5, "0")}.json.gz`, gz);
}
const L = await large.end(), S = await shuffled.end(), C = await csv.end();

const meta = {
  records: nrec, objects: nobj, devices: NDEV,
  json_bytes: L.text_bytes, large_gz_bytes: L.gz_bytes,
  shuffled_json_bytes: S.text_bytes, shuffled_gz_bytes: S.gz_bytes,
  csv_bytes: C.text_bytes, csv_gz_bytes: C.gz_bytes,
  small_json_bytes: smallJsonBytes, small_gz_bytes: smallGzBytes,
  small_concatenated: concatenated, small_multi_member: multiMember,
  zlib_level: 6, zlib_version: process.versions.zlib, generator: 2,
};
writeFileSync(`${tmp}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
rmSync(dir, { recursive: true, force: true });
renameSync(tmp, dir);
console.log(`bench data: ${nrec} records, ${(L.text_bytes / 1e6).toFixed(1)} MB JSON, ` +
  `${(L.gz_bytes / 1e6).toFixed(1)} MB gzip (large; shuffled keys ${(S.gz_bytes / 1e6).toFixed(1)} MB, ` +
  `CSV ${(C.text_bytes / 1e6).toFixed(1)} MB, ${(C.gz_bytes / 1e6).toFixed(1)} MB gzip), ${nobj} small objects ` +
  `(${(smallGzBytes / 1e6).toFixed(1)} MB gzip, ${concatenated} concatenated, ${multiMember} multi-member)`);
