// bench/lib.mjs
//	What the benchmark scripts share: a PostgreSQL client for the cluster of
//	tools/testenv.sh, timing with best/median/spread, tables on stdout and
//	results appended to the run's JSON file ($BENCH_JSON, one object per
//	line; bench/run merges them).
import { createRequire } from "node:module";
import { appendFileSync, readFileSync, readdirSync } from "node:fs";

const require = createRequire(new URL("../tools/node/package.json", import.meta.url));
export const pg = require("pg");
export const s3sdk = require("@aws-sdk/client-s3");
export const sqssdk = require("@aws-sdk/client-sqs");

export const endpoint = process.env.PIPELINE_S3_ENDPOINT;
if (!endpoint || !process.env.PGHOST) {
  throw new Error("run the benchmarks through bench/run (PIPELINE_S3_ENDPOINT and PGHOST are not set)");
}
const aws = { endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
export const s3 = new s3sdk.S3Client({ ...aws, forcePathStyle: true });
export const sqs = new sqssdk.SQSClient(aws);

export async function connect(database = "postgres") {
  const c = new pg.Client({ database });
  await c.connect();
  return c;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now() / 1000; // seconds

export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** best, median, worst and spread ((worst - best) / median) of times in seconds */
export function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, best: s[0], median, worst: s.at(-1), spread: (s.at(-1) - s[0]) / median, times };
}

/**
 * Run fn `reps` times (setup, untimed, before each) and time it in seconds
 * from the client.  probe(), if given, is read just before and after each
 * run, outside the timing (CPU counters: a number or an object of numbers):
 * its deltas are returned as probes.  after(result, i), if given, runs after
 * each run, untimed (to check its answer).  Returns stats plus whatever the
 * last fn returned.
 */
export async function measure(reps, fn, setup, probe, after) {
  const times = [], probes = [];
  let result;
  const delta = (a, b) => typeof a === "number" ? b - a : Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));
  for (let i = 0; i < reps; i++) {
    if (setup) await setup(i);
    const p0 = probe ? await probe() : 0;
    const t0 = now();
    result = await fn(i);
    times.push(now() - t0);
    if (probe) probes.push(delta(p0, await probe()));
    if (after) await after(result, i);
  }
  return { ...stats(times), probes, result };
}

// ---- the machine: load, CPU time and memory of processes, from /proc
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
export const TICKS = 100; // USER_HZ
/** CPU seconds of a process: itself (user + system) and its reaped children. */
export function procCpu(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return { self: (Number(f[11]) + Number(f[12])) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS };
  } catch {
    return { self: NaN, children: NaN };
  }
}
export function procStatus(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}
export const postmasterPid = () => process.env.TESTENV_DIR
  ? Number(readFileSync(`${process.env.TESTENV_DIR}/data/postmaster.pid`, "utf8").split("\n")[0]) : NaN;
/** pids of the parallel workers a leader has now (from their process titles) */
export function parallelWorkers(leaderPid) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").startsWith(`postgres: parallel worker for PID ${leaderPid}`)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

// ---- answers: what each contender returned, in a form that compares across
// PostgreSQL (node-postgres values) and DuckDB (its JSON values)
const TS = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d(?::?\d\d)?)?$/;
/** A value as a number (counts, sums, epoch ms of timestamps), a string or null. */
export function canonValue(v) {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)) return Number(v);
    const m = TS.exec(v);
    if (m) {
      let z = m[3] ?? "Z";
      if (/^[+-]\d\d$/.test(z)) z += ":00";
      return Date.parse(`${m[1]}T${m[2]}${z}`);
    }
    return v;
  }
  return JSON.stringify(v);
}
function fnv(s, basis) {
  let h = basis;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}
/**
 * The answer of a query: one row -> its values, canonical; many rows -> their
 * count and two order-independent checksums (sums of 32-bit FNV-1a hashes of
 * each row's canonical values; exact in a double up to 2M rows).
 */
export function answerOf(rows) {
  if (rows.length === 1) return { rows: 1, values: Object.values(rows[0]).map(canonValue) };
  let a = 0, b = 0;
  for (const r of rows) {
    const t = Object.values(r).map((v) => String(canonValue(v))).join("\x1f");
    a += fnv(t, 2166136261);
    b += fnv(t, 0x9747b28c);
  }
  return { rows: rows.length, checksum: `${a.toString(16)}-${b.toString(16)}` };
}
/** Equal answers: numbers to 1e-9 relative (float sums in another order), the rest exactly. */
export function sameAnswer(x, y) {
  if (x.rows !== y.rows || (x.checksum ?? null) !== (y.checksum ?? null)) return false;
  const a = x.values ?? [], b = y.values ?? [];
  return a.length === b.length && a.every((v, i) => {
    const w = b[i];
    if (typeof v === "number" && typeof w === "number") return v === w || Math.abs(v - w) <= 1e-9 * Math.max(Math.abs(v), Math.abs(w));
    return v === w;
  });
}
export const fmtAnswer = (a) => a ? (a.values ? a.values.map((v) => typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(10) : String(v)).join(", ")
  : `${a.rows} rows, ${a.checksum}`) : "-";

export function record(section, name, data) {
  if (process.env.BENCH_JSON) appendFileSync(process.env.BENCH_JSON, JSON.stringify({ section, name, ...data }) + "\n");
}

// ---- formatting
export const fmtRate = (x) => !Number.isFinite(x) ? "-" : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(0)}k` : x.toFixed(1);
export const fmtS = (x) => !Number.isFinite(x) ? "-" : x < 0.01 ? `${(x * 1000).toFixed(2)}ms` : x < 10 ? `${x.toFixed(3)}s` : `${x.toFixed(1)}s`;
export const fmtPct = (x) => !Number.isFinite(x) ? "-" : `${(x * 100).toFixed(0)}%`;
export const fmtX = (x) => !Number.isFinite(x) ? "-" : `${x.toFixed(2)}x`;

/** Print rows (arrays of strings) under headers, columns padded; first column left-aligned. */
export function table(title, headers, rows) {
  const w = headers.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i] ?? "").length)));
  const line = (r) => r.map((c, i) => i === 0 ? String(c ?? "").padEnd(w[i]) : String(c ?? "").padStart(w[i])).join("  ");
  console.log(`\n${title}`);
  console.log(line(headers));
  console.log(w.map((n) => "-".repeat(n)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** Parse --name value options into an object (numbers where they look like numbers). */
export function options(argv, defaults) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const v = argv[++i];
    o[m[1].replace(/-/g, "_")] = v !== undefined && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return o;
}
