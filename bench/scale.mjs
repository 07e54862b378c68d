// bench/scale.mjs --reps N --only objects1m,small100k,large1g [--objects N] [--small-objects N] [--large-records N]
//	Scans at scale, over the emulator's synthetic buckets (nothing stored:
//	tools/node/README.md), each figure against the target of issue 10:
//	- objects1m: a million objects of one record in one prefix: the listing's
//	  throughput (a scan whose WHERE on size prunes every object before any
//	  GET), the time to the first row, count(*) over all of them, and the
//	  backend's peak memory growth (target: at most 64 MB); with
//	  "objects1m-parallel" in --only, count(*) with 2 workers too;
//	- small100k: 100,000 objects of 10 records against the same bytes as one
//	  object, serial and with 2 workers (target: 70% of the throughput);
//	- large1g: one object of 10M records of 100 bytes (1 GB), 2 workers against
//	  one process (target: 1.6x).
//	- large1g-gzip: the same gigabyte as one gzip object (gzip -6): its first
//	  read, which builds the restart index (src/fdw/gzsplit.c), then 2 workers
//	  reading it in parts against one process reading it whole; memory.
//	Every figure is also written to bench/scale-results.json (committed: the
//	README quotes it), with the load average before each measurement.
//	Peak memory is measured in sessions with jit = off: LLVM's library alone
//	adds 50 MB of resident pages to a backend that JIT-compiles (a scan of a
//	1 GB object is estimated costly enough to be), which is not the scan's.
import { writeFileSync, readFileSync } from "node:fs";
import { execSync } from "node:child_process";
import os from "node:os";
import { connect, measure, record, table, options, fmtRate, fmtS, fmtPct, fmtX, endpoint, now } from "./lib.mjs";

const o = options(process.argv.slice(2), {
  reps: 3, only: "objects1m,small100k,large1g", db: "bench", objects: 1000000, small_objects: 100000,
  small_records: 10, large_records: 10000000, out: new URL("./scale-results.json", import.meta.url).pathname,
});
const only = new Set(String(o.only).split(","));
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
// the figures of earlier runs of other parts are kept: each says when and under which load it was measured
let previous = {};
try {
  previous = JSON.parse(readFileSync(o.out, "utf8")).results ?? {};
} catch {
  previous = {};
}
const git = execSync("git rev-parse --short HEAD; git status --porcelain src | wc -l").toString().trim().split("\n");
const out = {
  host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30) },
  results: previous,
};
const save = (name, data) => {
  out.results[name] = { measured_at: new Date().toISOString(), git, options: o, ...data };
  record("scale", name, data);
  writeFileSync(o.out, JSON.stringify(out, null, 1) + "\n");
};

const setup = await connect(o.db);
await setup.query(`
  CREATE EXTENSION IF NOT EXISTS pipeline;
  DROP SERVER IF EXISTS lake CASCADE;
  CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
  CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');`);
const COLS = `i int, o int, v int, s text, k text OPTIONS (metadata 'key'), bytes bigint OPTIONS (metadata 'size')`;
await setup.end();

/*
 * CPU seconds (user + system) of the processes a scan keeps busy: the
 * session's backend, the parallel workers (reaped by the postmaster: its
 * children's times), and the S3 emulator.  From /proc, outside the timings.
 */
const TICKS = 100; // USER_HZ
function procTimes(pid, children = false) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return (children ? Number(f[13]) + Number(f[14]) : Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return NaN;
  }
}
const postmasterPid = process.env.TESTENV_DIR
  ? Number(readFileSync(`${process.env.TESTENV_DIR}/data/postmaster.pid`, "utf8").split("\n")[0]) : NaN;
const emulatorPid = Number(process.env.EMULATOR_PID ?? NaN);
async function cpuProbe(c) {
  const backend = (await c.query(`SELECT pg_read_file('/proc/' || pg_backend_pid() || '/stat') AS s`)).rows[0].s;
  const f = backend.slice(backend.lastIndexOf(")") + 2).split(" ");
  return { backend: (Number(f[11]) + Number(f[12])) / TICKS, workers: procTimes(postmasterPid, true),
    emulator: procTimes(emulatorPid) };
}
/** Time fn, reps times, with the CPU of backend, workers and emulator per run. */
async function measureCpu(reps, c, fn) {
  const cpu = [];
  const m = await measure(reps, fn, undefined, undefined);
  // a separate run for the CPU figures (the probes are queries of their own)
  const a = await cpuProbe(c);
  const t0 = now();
  await fn();
  const wall = now() - t0;
  const b = await cpuProbe(c);
  cpu.push({ wall, backend: b.backend - a.backend, workers: b.workers - a.workers, emulator: b.emulator - a.emulator });
  return { ...m, cpu: cpu[0] };
}
const fmtCpu = (x) => x ? `${x.backend.toFixed(1)}+${x.workers.toFixed(1)}+${Number.isFinite(x.emulator) ? x.emulator.toFixed(1) : "?"} s` : "-";

/** A fresh connection (a fresh backend: its peak memory is the scan's). */
async function session(settings = {}) {
  const c = await connect(o.db);
  for (const [k, v] of Object.entries(settings)) await c.query(`SET ${k} = '${v}'`);
  const pid = (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p;
  c.peakKb = async () => Number(/VmHWM:\s+(\d+) kB/.exec((await c.query(`SELECT pg_read_file('/proc/${pid}/status') AS s`)).rows[0].s)[1]);
  c.rssKb = async () => Number(/VmRSS:\s+(\d+) kB/.exec((await c.query(`SELECT pg_read_file('/proc/${pid}/status') AS s`)).rows[0].s)[1]);
  return c;
}
const SERIAL = { max_parallel_workers_per_gather: 0 };
const PARALLEL = { max_parallel_workers_per_gather: 2, parallel_setup_cost: 0, parallel_tuple_cost: 0, min_parallel_table_scan_size: 0 };

async function table_(name, uri) {
  const c = await connect(o.db);
  await c.query(`DROP FOREIGN TABLE IF EXISTS ${name}; CREATE FOREIGN TABLE ${name} (${COLS}) SERVER lake OPTIONS (uri '${uri}')`);
  await c.end();
}

// ---- a million objects in one prefix
if (only.has("objects1m") || only.has("objects1m-parallel")) {
  const n = o.objects;
  await table_("million", `s3://synthetic-${n}-1/`);
  const rows = [];
  let c;
  if (only.has("objects1m")) {
    c = await session(SERIAL);
    const load0 = loadavg();
    const list = await measure(o.reps, () => c.query("SELECT count(*) FROM million WHERE bytes < 0"));
    rows.push(["listing (WHERE size < 0: no GET)", fmtS(list.median), `${fmtRate(n / list.median)} objects/s`, "", load0]);
    save("objects1m_listing", { objects: n, ...list, objects_per_s: n / list.median, loadavg: load0 });
    await c.end();

    const ttfr = [];
    const load1 = loadavg();
    for (let r = 0; r < Math.max(o.reps, 5); r++) {
      c = await session(SERIAL);
      const t0 = now();
      await c.query("SELECT k FROM million LIMIT 1");
      ttfr.push(now() - t0);
      await c.end();
    }
    ttfr.sort((a, b) => a - b);
    const ttfrMedian = ttfr[Math.floor(ttfr.length / 2)];
    rows.push(["time to first row (planning included)", fmtS(ttfrMedian), "", "", load1]);
    save("objects1m_first_row", { median: ttfrMedian, times: ttfr, loadavg: load1 });
  }

  for (const [mode, settings] of [["serial", SERIAL], ["2 workers", PARALLEL]]) {
    if (mode === "2 workers" ? !only.has("objects1m-parallel") : !only.has("objects1m")) continue;
    c = await session({ ...settings, jit: "off" });
    const idle = await c.peakKb();
    const load2 = loadavg();
    const t0 = now();
    const count = Number((await c.query("SELECT count(*) AS n FROM million")).rows[0].n);
    const secs = now() - t0;
    const growthMb = ((await c.peakKb()) - idle) / 1024;
    await c.end();
    rows.push([`count(*), ${mode}`, fmtS(secs), `${fmtRate(n / secs)} objects/s`,
      `peak +${growthMb.toFixed(1)} MB (target <= 64)`, load2]);
    save(`objects1m_count_${mode.replace(" ", "_")}`, { objects: n, rows: count, seconds: secs,
      objects_per_s: n / secs, peak_growth_mb: growthMb, target_mb: 64, loadavg: load2 });
  }
  table(`${n.toLocaleString()} objects in one prefix (s3://synthetic-${n}-1/)`,
    ["measure", "time", "rate", "memory", "load avg"], rows);
}

// ---- 100,000 small objects against the same bytes as one object
if (only.has("small100k")) {
  const n = o.small_objects;
  const per = o.small_records;
  await table_("small_objects", `s3://synthetic-${n}-${per}/`);
  await table_("one_object", `s3://synthetic-1-${n * per}/part-0.json`);
  const queries = [["count(*)", "SELECT count(*) FROM $T"], ["sum(v), count(s)", "SELECT sum(v), count(s) FROM $T"]];
  const rows = [];
  for (const [mode, settings] of [["serial", SERIAL], ["2 workers", PARALLEL]]) {
    for (const [qname, q] of queries) {
      const c = await session(settings);
      const load = loadavg();
      const small = await measureCpu(o.reps, c, () => c.query(q.replace("$T", "small_objects")));
      const large = await measureCpu(o.reps, c, () => c.query(q.replace("$T", "one_object")));
      await c.end();
      const ratio = large.median / small.median;
      rows.push([`${qname}, ${mode}`, fmtS(small.median), fmtS(large.median),
        `${fmtRate(n * per / small.median)} / ${fmtRate(n * per / large.median)}`, fmtPct(ratio),
        fmtCpu(small.cpu), fmtCpu(large.cpu), load]);
      save(`small${n}x${per}_${qname.replace(/\W+/g, "_")}_${mode.replace(" ", "_")}`, { objects: n, records: n * per,
        small, large, throughput_ratio: ratio, target: 0.7, loadavg: load });
    }
  }
  table(`${n.toLocaleString()} objects of ${per} records (100 bytes each) against one object of the same bytes`,
    ["query", `${n / 1000}k objects`, "1 object", "rows/s", "ratio (target 70%)", "CPU objects", "CPU 1 object", "load avg"], rows);
  console.log("(CPU: seconds of one run, backend + workers + S3 emulator, on 2 cores)");
}

// ---- one 1 GB object: 2 workers against one process
if (only.has("large1g")) {
  const r = o.large_records;
  await table_("gigabyte", `s3://synthetic-1-${r}/part-0.json`);
  const queries = [["count(*)", "SELECT count(*) FROM gigabyte"],
    ["s, sum(v), max(i) GROUP BY s", "SELECT s, sum(v), max(i) FROM gigabyte GROUP BY s"]];
  const rows = [];
  for (const [qname, q] of queries) {
    const c1 = await session(SERIAL);
    const load = loadavg();
    const one = await measureCpu(o.reps, c1, () => c1.query(q));
    await c1.end();
    const m = await session({ ...SERIAL, jit: "off" });
    const idle = await m.peakKb();
    await m.query(q);
    const growthMb = ((await m.peakKb()) - idle) / 1024;
    await m.end();
    const c2 = await session(PARALLEL);
    const plan = (await c2.query(`EXPLAIN ${q}`)).rows.map((x) => x["QUERY PLAN"]).join("\n");
    const two = await measureCpu(o.reps, c2, () => c2.query(q));
    await c2.end();
    const speedup = one.median / two.median;
    rows.push([qname, fmtS(one.median), fmtS(two.median), fmtX(speedup), `+${growthMb.toFixed(1)} MB`,
      /Gather/.test(plan) ? "yes" : "NO", fmtCpu(one.cpu), fmtCpu(two.cpu), load]);
    // the figures, not the answer's rows (10,000 of them for the GROUP BY)
    const { result: _r1, ...oneFig } = one;
    const { result: _r2, ...twoFig } = two;
    save(`large_${qname.replace(/\W+/g, "_")}`, { records: r, bytes: r * 100, one_process: oneFig, two_workers: twoFig,
      speedup, target: 1.6, peak_growth_mb_serial: growthMb, parallel_plan: /Gather/.test(plan), loadavg: load });
  }
  table(`one object of ${(r * 100 / 1e9).toFixed(1)} GB (${r.toLocaleString()} records of 100 bytes)`,
    ["query", "1 process", "2 workers", "speed-up (target 1.6x)", "peak memory (jit off)", "Gather",
      "CPU 1 process", "CPU 2 workers", "load avg"], rows);
  console.log("(CPU: seconds of one run, leader + workers + S3 emulator, on 2 cores)");
}

// ---- one 1 GB (decompressed) gzip object: indexed on its first read, then in parts
if (only.has("large1g-gzip")) {
  const r = o.large_records;
  const cli = `${new URL("../tools/node/node", import.meta.url).pathname} ${new URL("../tools/node/s3.mjs", import.meta.url).pathname}`;
  const uri = "s3://bench-gzip/large.json.gz";
  console.error(`large1g-gzip: ${r} records through gzip -6 into ${uri}`);
  execSync(`${cli} mb bench-gzip >/dev/null 2>&1 || true; ${cli} get s3://synthetic-1-${r}/part-0.json - | gzip -6 -c | ${cli} put ${uri} - >/dev/null`,
    { stdio: ["ignore", "inherit", "inherit"], shell: "/bin/bash" });
  await table_("gzbyte", uri);
  const clearCache = async (c) => c.query(`COPY (SELECT 1 WHERE false) TO PROGRAM 'rm -rf pipeline_gzindex'`);
  const queries = [["count(*)", "SELECT count(*) FROM gzbyte"],
    ["s, sum(v), max(i) GROUP BY s", "SELECT s, sum(v), max(i) FROM gzbyte GROUP BY s"]];
  const rows = [];
  // the first parallel scan: read whole by one participant, decoded by the index
  // builder (zlib), against a whole read with the index there (ISA-L)
  {
    const c = await session(PARALLEL);
    await clearCache(c);
    const load = loadavg();
    const t0 = now();
    await c.query(queries[0][1]);
    const first = now() - t0;
    const files = (await c.query(`SELECT count(*) AS n, sum((pg_stat_file('pipeline_gzindex/' || f)).size) AS bytes
      FROM pg_ls_dir('pipeline_gzindex', true, false) f WHERE f LIKE '%.gzi'`)).rows[0];
    await c.end();
    rows.push(["first read: count(*), whole, builds the index", fmtS(first), "", "", `index ${(Number(files.bytes) / 1048576).toFixed(1)} MB`, "", "", "", load]);
    save("large_gzip_first_read", { records: r, seconds: first, index_files: Number(files.n), index_bytes: Number(files.bytes), loadavg: load });
  }
  for (const [qname, q] of queries) {
    const c1 = await session(SERIAL);
    const load = loadavg();
    const one = await measureCpu(o.reps, c1, () => c1.query(q));
    const answer1 = JSON.stringify((await c1.query(q + " ORDER BY 1")).rows);
    await c1.end();
    const m = await session({ ...SERIAL, jit: "off" });
    const idle = await m.peakKb();
    await m.query(q);
    const growthMb = ((await m.peakKb()) - idle) / 1024;
    await m.end();
    const c2 = await session(PARALLEL);
    const plan = (await c2.query(`EXPLAIN ${q}`)).rows.map((x) => x["QUERY PLAN"]).join("\n");
    const two = await measureCpu(o.reps, c2, () => c2.query(q));
    const answer2 = JSON.stringify((await c2.query(q + " ORDER BY 1")).rows);
    const analyzed = (await c2.query(`EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) ${q}`)).rows.map((x) => x["QUERY PLAN"]).join("\n");
    await c2.end();
    const m2 = await session({ ...PARALLEL, jit: "off" });
    const idle2 = await m2.peakKb();
    await m2.query(q);
    const growth2Mb = ((await m2.peakKb()) - idle2) / 1024;
    await m2.end();
    const parts = Number(/Object Parts Read: (\d+)/.exec(analyzed)?.[1] ?? 0);
    const readers = Number(/Part Readers: (\d+)/.exec(analyzed)?.[1] ?? 0);
    if (answer1 !== answer2) {
      console.error(`large1g-gzip ${qname}: the answers of one process and 2 workers differ`);
      process.exitCode = 1;
    }
    const speedup = one.median / two.median;
    rows.push([qname, fmtS(one.median), fmtS(two.median), fmtX(speedup), `+${growthMb.toFixed(1)} / +${growth2Mb.toFixed(1)} MB`,
      /Gather/.test(plan) ? "yes" : "NO", `${parts} parts, ${readers} readers`, `${fmtCpu(one.cpu)} / ${fmtCpu(two.cpu)}`, load]);
    // (not the query's rows: a GROUP BY's 10,000 would bloat the file)
    const { result: _r1, ...oneFig } = one;
    const { result: _r2, ...twoFig } = two;
    save(`large_gzip_${qname.replace(/\W+/g, "_")}`, { records: r, bytes: r * 100, one_process: oneFig, two_workers: twoFig,
      speedup, target: 1.6, peak_growth_mb_serial: growthMb, peak_growth_mb_parallel_leader: growth2Mb,
      parallel_plan: /Gather/.test(plan), parts, part_readers: readers, same_answer: answer1 === answer2, loadavg: load });
  }
  table(`one gzip object of ${(r * 100 / 1e9).toFixed(1)} GB decompressed (${r.toLocaleString()} records of 100 bytes, gzip -6)`,
    ["query", "1 process", "2 workers", "speed-up (target 1.6x)", "peak memory (jit off) 1 / 2", "Gather",
      "parts", "CPU 1 / 2", "load avg"], rows);
  console.log("(CPU: seconds of one run, leader + workers + S3 emulator, on 2 cores; the first read decodes with zlib while it builds the index)");
}

writeFileSync(o.out, JSON.stringify(out, null, 1) + "\n");
console.log(`\n(results in ${o.out.replace(/^.*\/bench\//, "bench/")})`);
