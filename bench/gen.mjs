// bench/gen.mjs DIR RECORDS OBJECTS
//	Writes the IoT heartbeat data set of shared/PERFORMANCE.md, deterministic
//	(seeded), into DIR:
//	  large.json.gz          all RECORDS, one per line, one gzip -6 stream
//	  small/NNNNN.json.gz    the same records as OBJECTS small objects, as
//	                         Firehose writes them: every 4th object has its
//	                         records back to back without newlines, every 5th
//	                         is two gzip members concatenated
//	  meta.json              sizes (JSON bytes = what MB/s figures are of)
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
  return `{"device_id":"${id}","ts":"${ts}","battery":${Math.floor(rnd() * 101)},` +
    `"voltage":${(3 + rnd() * 1.2).toFixed(2)},"temp_c":${temp},"rssi":${-30 - Math.floor(rnd() * 91)},` +
    `"firmware":"${fw}","status":"${status}","tags":["${d.tags[0]}","${d.tags[1]}"],` +
    `"loc":{"lat":${d.lat},"lon":${d.lon}},"seq":${i}}`;
}

const tmp = `${dir}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(`${tmp}/small`, { recursive: true });

const large = createGzip({ level: 6, chunk: 1 << 20 });
const out = createWriteStream(`${tmp}/large.json.gz`);
large.pipe(out);
let jsonBytes = 0, smallJsonBytes = 0, smallGzBytes = 0, concatenated = 0, multiMember = 0;
let i = 0;
for (let o = 0; o < nobj; o++) {
  const n = Math.floor((o + 1) * nrec / nobj) - Math.floor(o * nrec / nobj);
  const recs = [];
  for (let k = 0; k < n; k++) recs.push(record(i++));
  const lines = recs.join("\n") + "\n";
  jsonBytes += Buffer.byteLength(lines);
  if (!large.write(lines)) await once(large, "drain");

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
large.end();
await once(out, "finish");

const meta = {
  records: nrec, objects: nobj, devices: NDEV,
  json_bytes: jsonBytes, large_gz_bytes: out.bytesWritten,
  small_json_bytes: smallJsonBytes, small_gz_bytes: smallGzBytes,
  small_concatenated: concatenated, small_multi_member: multiMember,
  zlib_level: 6, zlib_version: process.versions.zlib, generator: 1,
};
writeFileSync(`${tmp}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
rmSync(dir, { recursive: true, force: true });
renameSync(tmp, dir);
console.log(`bench data: ${nrec} records, ${(jsonBytes / 1e6).toFixed(1)} MB JSON, ` +
  `${(out.bytesWritten / 1e6).toFixed(1)} MB gzip (large), ${nobj} small objects ` +
  `(${(smallGzBytes / 1e6).toFixed(1)} MB gzip, ${concatenated} concatenated, ${multiMember} multi-member)`);
