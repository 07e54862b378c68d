// bench/scan.mjs --data DIR --gz FILE --reps N --only large,small,parallel,baseline,duckdb,memory
//	Scan and ETL benchmarks of the pipeline_s3 FDW over the IoT data set
//	(one large gzip object and the same records as many small objects,
//	uploaded by bench/run), the PostgreSQL and DuckDB baselines on the same
//	gzip file (FILE: a copy the server's OS user can read), and the
//	backend's peak memory.  Times are wall times from this client.
import { readFileSync } from "node:fs";
import { connect, measure, record, table, options, fmtRate, fmtS, fmtPct, fmtX, endpoint, now, s3, s3sdk } from "./lib.mjs";

const o = options(process.argv.slice(2), { data: "", gz: "", reps: 3, only: "large,small,parallel,baseline,duckdb,memory", db: "bench" });
const only = new Set(String(o.only).split(","));
const meta = JSON.parse(readFileSync(`${o.data}/meta.json`, "utf8"));
const N = meta.records;
const WORK_MEM = "256MB"; // DISTINCT ON sorts every row: keep it in memory, as DuckDB does

const COLUMNS = `device_id text, ts timestamptz, battery float8, voltage float8, temp_c float8, rssi int,
  firmware text, status text, tags text[], lat float8, lon float8, seq bigint`;
const FT_COLUMNS = COLUMNS.replace("lat float8", "lat float8 OPTIONS (field 'loc.lat')")
  .replace("lon float8", "lon float8 OPTIONS (field 'loc.lon')");
// the query of issue 2's baseline: every field out of a jsonb document
const FROM_JSONB = `doc->>'device_id', (doc->>'ts')::timestamptz, (doc->>'battery')::float8,
  (doc->>'voltage')::float8, (doc->>'temp_c')::float8, (doc->>'rssi')::int, doc->>'firmware', doc->>'status',
  ARRAY(SELECT jsonb_array_elements_text(doc->'tags')), (doc->'loc'->>'lat')::float8,
  (doc->'loc'->>'lon')::float8, (doc->>'seq')::bigint`;
const RAW_CSV = `FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'`; // one line = one value, no unescaping

const c = await connect(o.db);
await c.query(`SET work_mem = '${WORK_MEM}'`);
const settings = Object.fromEntries((await c.query(`SELECT name, setting FROM pg_settings WHERE name IN
  ('work_mem','jit','fsync','synchronous_commit','full_page_writes','max_parallel_workers_per_gather','shared_buffers','server_version')`)).rows.map((r) => [r.name, r.setting]));

await c.query(`
  CREATE EXTENSION IF NOT EXISTS pipeline;
  DROP SERVER IF EXISTS lake CASCADE;
  CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
  CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
  CREATE FOREIGN TABLE ft_large (${FT_COLUMNS}) SERVER lake OPTIONS (uri 's3://bench/large/records.json.gz');
  CREATE FOREIGN TABLE ft_small (${FT_COLUMNS}) SERVER lake OPTIONS (uri 's3://bench/small/');
  CREATE EXTENSION IF NOT EXISTS file_fdw;
  DROP SERVER IF EXISTS files CASCADE;
  CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
  CREATE FOREIGN TABLE raw_fdw (doc text) SERVER files
    OPTIONS (program 'gzip -dc ${o.gz}', format 'csv', quote E'\\x01', delimiter E'\\x02');`);

// CPU seconds (user + system) of this connection's backend, from /proc
const backendPid = (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p;
const cpuSeconds = async () => {
  const stat = (await c.query(`SELECT pg_read_file('/proc/${backendPid}/stat') AS s`)).rows[0].s;
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
};

const results = {}; // name -> { ...stats, rows, bytes }
const rowsOut = [];

async function freshTable(logged) {
  await c.query(`DROP TABLE IF EXISTS typed, raw; CREATE ${logged ? "" : "UNLOGGED "}TABLE typed (${COLUMNS})`);
  await c.query("CHECKPOINT");
}

/** Time one case; rows = records it reads, bytes = JSON bytes behind them. */
async function bench(section, name, what, fn, setup, { rows = N, bytes = meta.json_bytes, check } = {}) {
  process.stderr.write(`  ${name} ...`);
  let r;
  try {
    r = await measure(o.reps, fn, setup, section === "duckdb" ? null : cpuSeconds);
  } catch (e) {
    process.stderr.write(` FAILED: ${e.message}\n`);
    results[name] = { error: e.message };
    record(section, name, { what, error: e.message });
    rowsOut.push([name, what, "FAILED", "", "", "", "", "", e.message.slice(0, 40)]);
    return null;
  }
  const checked = check ? await check(r.result) : undefined;
  const { result, probes, ...st } = r;
  const cpu = probes.length ? probes.reduce((a, b) => a + b, 0) / st.times.reduce((a, b) => a + b, 0) : NaN;
  const res = { ...st, rows, bytes, rows_per_s: rows / st.median, mb_per_s: bytes / st.median / 1e6, backend_cpu: cpu, check: checked };
  results[name] = res;
  record(section, name, { what, ...res });
  process.stderr.write(` ${fmtS(st.median)}\n`);
  rowsOut.push([name, what, fmtS(st.best), fmtS(st.median), fmtPct(st.spread), fmtRate(res.rows_per_s), res.mb_per_s.toFixed(0), fmtPct(cpu), checked ?? ""]);
  return res;
}

const one = async (sql) => (await c.query(sql)).rows[0];
const countTyped = async () => `${(await one("SELECT count(*)::bigint AS n FROM typed")).n} rows`;
const ALL_COLS = "count(device_id), count(ts), count(battery), count(voltage), count(temp_c), count(rssi), " +
  "count(firmware), count(status), count(tags), count(lat), count(lon), count(seq)";

async function ours(ft, suffix, rows, bytes) {
  const opt = { rows, bytes };
  await bench("scan", `etl_unlogged${suffix}`, "a. INSERT INTO unlogged SELECT * (12 cols)",
    () => c.query(`INSERT INTO typed SELECT * FROM ${ft}`), () => freshTable(false), { ...opt, check: countTyped });
  await bench("scan", `etl_logged${suffix}`, "a. INSERT INTO logged SELECT * (12 cols)",
    () => c.query(`INSERT INTO typed SELECT * FROM ${ft}`), () => freshTable(true), { ...opt, check: countTyped });
  await c.query("DROP TABLE IF EXISTS typed");
  await bench("scan", `full_row${suffix}`, "   all 12 columns formed, count(col) each",
    () => c.query(`SELECT ${ALL_COLS} FROM ${ft}`), null, opt);
  await bench("scan", `count${suffix}`, "b. count(*)",
    () => one(`SELECT count(*) AS n FROM ${ft}`), null, { ...opt, check: (r) => `${r.n} rows` });
  await bench("scan", `sum_battery${suffix}`, "b. sum(battery) (1 col)",
    () => c.query(`SELECT sum(battery) FROM ${ft}`), null, opt);
  await bench("scan", `proj2${suffix}`, "b. count(device_id), sum(battery) (2 cols)",
    () => c.query(`SELECT count(device_id), sum(battery) FROM ${ft}`), null, opt);
  await bench("scan", `latest${suffix}`, "c. DISTINCT ON (device_id) .. ORDER BY ts DESC",
    () => c.query(`SELECT DISTINCT ON (device_id) device_id, battery, ts FROM ${ft} ORDER BY device_id, ts DESC`),
    null, { ...opt, check: (r) => `${r.rowCount} devices` });
  await bench("scan", `groupby${suffix}`, "d. device_id, max(ts) GROUP BY device_id",
    () => c.query(`SELECT device_id, max(ts) FROM ${ft} GROUP BY device_id`),
    null, { ...opt, check: (r) => `${r.rowCount} devices` });
}

const plan = async (sql) => (await c.query(`EXPLAIN (COSTS OFF) ${sql}`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
const explainAnalyze = async (sql) => (await c.query(`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) ${sql}`)).rows.map((r) => r["QUERY PLAN"]).join("\n");

if (only.has("large")) {
  console.error("scan: the large object");
  await ours("ft_large", "", N, meta.json_bytes);
  const ea = await explainAnalyze("SELECT count(device_id), sum(battery) FROM ft_large");
  record("scan", "explain_proj2", { plan: ea });

  // the same queries on a heap table holding the same rows: what PostgreSQL
  // itself costs (sort, aggregation, insert), whatever the scan
  await c.query("DROP TABLE IF EXISTS heap; CREATE UNLOGGED TABLE heap AS SELECT * FROM ft_large");
  await c.query("VACUUM ANALYZE heap");
  await bench("floor", "heap_etl_unlogged", "   floor: INSERT INTO unlogged SELECT * FROM heap",
    () => c.query("INSERT INTO typed SELECT * FROM heap"), () => freshTable(false), { check: countTyped });
  await c.query("DROP TABLE IF EXISTS typed");
  await bench("floor", "heap_latest", "   floor: c. on a heap table",
    () => c.query("SELECT DISTINCT ON (device_id) device_id, battery, ts FROM heap ORDER BY device_id, ts DESC"), null);
  await bench("floor", "heap_groupby", "   floor: d. on a heap table",
    () => c.query("SELECT device_id, max(ts) FROM heap GROUP BY device_id"), null);
  await c.query("DROP TABLE heap");
}
if (only.has("small")) {
  console.error(`scan: ${meta.objects} small objects`);
  await ours("ft_small", "_small", N, meta.small_json_bytes);
  // what the emulator serves alone: the same objects fetched from Node, 3 at a time
  const keys = (await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: "bench", Prefix: "small/", MaxKeys: 1000 }))).Contents.map((x) => x.Key);
  await bench("small", "emulator_get_small", `   emulator alone: GET the ${keys.length} objects, 3 at a time`, async () => {
    let next = 0;
    await Promise.all([0, 1, 2].map(async () => {
      while (next < keys.length) {
        const r = await s3.send(new s3sdk.GetObjectCommand({ Bucket: "bench", Key: keys[next++] }));
        await r.Body.transformToByteArray();
      }
    }));
  }, null, { bytes: meta.small_json_bytes });
}
if (only.has("parallel")) {
  // a parallel scan hands out whole objects: the 1,000 small ones (one object cannot be split)
  console.error("scan: max_parallel_workers_per_gather 0 vs 2 for d., 1000 small objects");
  const q = "SELECT device_id, max(ts) FROM ft_small GROUP BY device_id";
  for (const w of [0, 2]) {
    await c.query(`SET max_parallel_workers_per_gather = ${w}`);
    const p = await plan(q);
    await bench("parallel", `groupby_workers${w}`, `f. d. (small objects), max_parallel_workers_per_gather = ${w}`,
      () => c.query(q), null, { check: () => (/Gather/.test(p) ? "parallel plan" : "no Gather in plan") });
    record("parallel", `plan_workers${w}`, { plan: p });
  }
  await c.query("RESET max_parallel_workers_per_gather");
}

if (only.has("baseline")) {
  console.error("baselines: PostgreSQL on the same gzip file");
  let steps = [];
  await bench("baseline", "pg_two_step", "COPY jsonb FROM PROGRAM gzip -dc; INSERT typed SELECT",
    async () => {
      const t0 = now();
      await c.query(`COPY raw FROM PROGRAM 'gzip -dc ${o.gz}' WITH (${RAW_CSV})`);
      const t1 = now();
      await c.query(`INSERT INTO typed SELECT ${FROM_JSONB} FROM raw`);
      steps.push([t1 - t0, now() - t1]);
    },
    async () => { await freshTable(false); await c.query("CREATE UNLOGGED TABLE raw (doc jsonb)"); await c.query("CHECKPOINT"); },
    { check: countTyped });
  if (results.pg_two_step && !results.pg_two_step.error) {
    results.pg_two_step.steps = steps;
    record("baseline", "pg_two_step_steps", { copy_s: steps.map((s) => s[0]), insert_s: steps.map((s) => s[1]) });
  }
  await bench("baseline", "file_fdw_etl", "file_fdw PROGRAM gzip -dc, doc::jsonb, one INSERT",
    () => c.query(`INSERT INTO typed SELECT ${FROM_JSONB} FROM (SELECT doc::jsonb AS doc FROM raw_fdw OFFSET 0) s`),
    () => freshTable(false), { check: countTyped });
  await bench("baseline", "file_fdw_count", "file_fdw PROGRAM gzip -dc, count(*)",
    () => one("SELECT count(*) AS n FROM raw_fdw"), null, { check: (r) => `${r.n} rows` });
  await c.query("DROP TABLE IF EXISTS typed, raw");
}

if (only.has("duckdb")) {
  console.error("baselines: DuckDB read_json_auto on the same gzip file");
  const { DuckDBInstance } = await import(new URL("../tools/node/node_modules/@duckdb/node-api/lib/index.js", import.meta.url));
  const duck = await DuckDBInstance.create(":memory:");
  const dc = await duck.connect();
  const ver = (await dc.runAndReadAll("SELECT version() AS v")).getRowObjectsJson()[0].v;
  const src = `read_json_auto('${o.gz}')`;
  for (const threads of [1, 2]) {
    await dc.run(`SET threads = ${threads}`);
    await bench("duckdb", `duckdb_groupby_t${threads}`, `DuckDB ${ver} d. GROUP BY, threads=${threads}`,
      async () => (await dc.runAndReadAll(`SELECT device_id, max(ts) FROM ${src} GROUP BY device_id`)).currentRowCount,
      null, { check: (n) => `${n} devices` });
    await bench("duckdb", `duckdb_latest_t${threads}`, `DuckDB ${ver} c. DISTINCT ON, threads=${threads}`,
      async () => (await dc.runAndReadAll(`SELECT DISTINCT ON (device_id) device_id, battery, ts FROM ${src} ORDER BY device_id, ts DESC`)).currentRowCount,
      null, { check: (n) => `${n} devices` });
  }
  dc.closeSync();
}

if (rowsOut.length) {
  table(`Scans and ETL: ${N} records, ${(meta.json_bytes / 1e6).toFixed(0)} MB JSON (${(meta.large_gz_bytes / 1e6).toFixed(0)} MB gzip) ` +
    `or ${meta.objects} small objects; ${o.reps} runs each, wall time from the client`,
    ["case", "what", "best", "median", "spread", "rows/s", "MB/s", "backend CPU", "check"], rowsOut);
  console.log("(spread = (worst - best) / median; rows/s and MB/s (of JSON text) from the median; backend CPU = CPU time of\n" +
    " the backend / wall time: below 100% it waited, for S3 (the emulator) or for a COPY PROGRAM / file_fdw child)");
}

// ---- peak memory of a fresh backend
if (only.has("memory")) {
  console.error("memory: VmHWM of a fresh backend");
  const memRows = [];
  const cases = [
    ["count(*), large object", "SELECT count(*) FROM ft_large"],
    ["all columns (count(col) each), large object", `SELECT ${ALL_COLS} FROM ft_large`],
    ["all columns, small objects", `SELECT ${ALL_COLS} FROM ft_small`],
  ];
  for (const [what, sql] of cases) {
    const m = await connect(o.db);
    const hwm = async () => Number(/VmHWM:\s+(\d+) kB/.exec((await m.query(
      "SELECT pg_read_file('/proc/' || pg_backend_pid() || '/status') AS s")).rows[0].s)[1]);
    const before = await hwm();
    await m.query(sql);
    const after = await hwm();
    await m.end();
    record("memory", what, { before_kb: before, after_kb: after, delta_kb: after - before });
    memRows.push([what, `${(before / 1024).toFixed(1)} MB`, `${(after / 1024).toFixed(1)} MB`, `${((after - before) / 1024).toFixed(1)} MB`]);
  }
  table("Peak resident memory (VmHWM) of a fresh backend, before and after one scan",
    ["scan", "before", "after", "growth"], memRows);
}

// ---- ratios against the issues' targets
// each ratio from the medians, and from the best runs (less noise from
// whatever else the machine does)
let pick = "median";
const med = (k) => results[k] && !results[k].error ? results[k][pick] : NaN;
const rate = (k) => N / med(k);
const ratios = [];
const ratio = (what, f, target, fmt = fmtX) => {
  pick = "median";
  const value = f();
  pick = "best";
  const best = f();
  ratios.push([what, fmt(value), fmt(best), target]);
  record("ratio", what, { value, best, target });
};
if (only.has("large") && only.has("baseline")) {
  ratio("ETL: PG two-step / ours (unlogged targets)", () => med("pg_two_step") / med("etl_unlogged"), ">= 5x (issue 2), >= 8x (issue 5)");
  ratio("ETL: file_fdw one-step / ours (unlogged)", () => med("file_fdw_etl") / med("etl_unlogged"), "");
  ratio("count(*): file_fdw / ours", () => med("file_fdw_count") / med("count"), "");
}
if (only.has("large")) {
  ratio("full 12-column scan, rows/s", () => rate("full_row"), ">= 1M (issue 2), 1.5M (issue 5)", fmtRate);
  ratio("ETL INSERT unlogged, rows/s", () => rate("etl_unlogged"), "(full scan + insert)", fmtRate);
  ratio("ETL: ours / floor (INSERT from a heap table)", () => med("etl_unlogged") / med("heap_etl_unlogged"), "(1x = the scan is free)");
  ratio("c. DISTINCT ON: ours / floor (heap table)", () => med("latest") / med("heap_latest"), "");
  ratio("d. GROUP BY: ours / floor (heap table)", () => med("groupby") / med("heap_groupby"), "");
  ratio("2-column projection, rows/s", () => rate("proj2"), ">= 2.5M", fmtRate);
  ratio("GROUP BY (device_id, ts), rows/s", () => rate("groupby"), "", fmtRate);
}
if (only.has("large") && only.has("duckdb")) {
  ratio("GROUP BY: DuckDB 1 thread / ours", () => med("duckdb_groupby_t1") / med("groupby"), ">= 1x");
  ratio("GROUP BY: DuckDB 2 threads / ours", () => med("duckdb_groupby_t2") / med("groupby"), "");
  ratio("DISTINCT ON: DuckDB 1 thread / ours", () => med("duckdb_latest_t1") / med("latest"), "");
  ratio("DISTINCT ON: DuckDB 2 threads / ours", () => med("duckdb_latest_t2") / med("latest"), "");
}
if (only.has("parallel")) {
  ratio("GROUP BY: 0 workers / 2 workers", () => med("groupby_workers0") / med("groupby_workers2"), "> 1x once parallel");
  if (only.has("duckdb"))
    ratio("GROUP BY: DuckDB 2 threads / ours with 2 workers (small objects)",
      () => med("duckdb_groupby_t2") / med("groupby_workers2"), ">= 1x");
}
if (only.has("large") && only.has("small")) {
  for (const k of ["etl_unlogged", "full_row", "count", "proj2", "latest", "groupby"]) {
    ratio(`small/large throughput, ${k}`, () => med(k) / med(`${k}_small`), ">= 70%", fmtPct);
  }
}
if (ratios.length) table("Ratios: baseline time / ours (above 1x we are faster), rows/s, ours / floor (1x: the scan costs nothing)", ["ratio", "from medians", "from best runs", "target"], ratios);
record("settings", "server", { settings, work_mem_session: WORK_MEM });
await c.end();
