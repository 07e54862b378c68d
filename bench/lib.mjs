// bench/lib.mjs
//	What the benchmark scripts share: a PostgreSQL client for the cluster of
//	tools/testenv.sh, timing with best/median/spread, tables on stdout and
//	results appended to the run's JSON file ($BENCH_JSON, one object per
//	line; bench/run merges them).
import { createRequire } from "node:module";
import { appendFileSync } from "node:fs";

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
 * run, outside the timing (a CPU counter, say): its deltas are returned as
 * probes.  Returns stats plus whatever the last fn returned.
 */
export async function measure(reps, fn, setup, probe) {
  const times = [], probes = [];
  let result;
  for (let i = 0; i < reps; i++) {
    if (setup) await setup(i);
    const p0 = probe ? await probe() : 0;
    const t0 = now();
    result = await fn(i);
    times.push(now() - t0);
    if (probe) probes.push((await probe()) - p0);
  }
  return { ...stats(times), probes, result };
}

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
