// bench/scan.mjs --data DIR --files DIR --reps N --etl-reps N --only PARTS
//	Scans, ETL and report runs of the pipeline_s3 FDW over the IoT data set
//	(bench/gen.mjs: one large gzip object, the same records as many small
//	objects and as one object with shuffled keys, uploaded by bench/run),
//	against PostgreSQL's own ways (COPY, file_fdw) and DuckDB, on the same
//	records.  DIR: the data set; --files: a directory holding copies of its
//	files that the server's OS user can read (COPY/file_fdw PROGRAM).
//
//	Like for like:
//	- every case runs with its parallelism pinned (max_parallel_workers_per_gather
//	  for PostgreSQL, threads for DuckDB), printed and recorded;
//	- the CPU seconds of every process a case keeps busy are measured
//	  (/proc): the backend, its PROGRAM children (gzip/igzip/pigz), its
//	  parallel workers (reaped by the postmaster: the postmaster's children's
//	  times, autovacuum being off), the S3 emulator, and this process (DuckDB
//	  runs in it);
//	- every answer is checked against every other contender's answer to the
//	  same question (row count and checksum, or the aggregates' values)
//	  before its time is reported: a mismatch fails the run (exit status 1).
//
//	PARTS (comma-separated): large, small, shuffled, parallel, duckdb, etl,
//	baseline, report, memory.  Every case goes to $BENCH_JSON (lib.mjs).
//	--force-parallel 1: cases with workers get a parallel plan whatever the
//	data's size (parallel_setup_cost, parallel_tuple_cost = 0): the smoke
//	run's tiny data would otherwise never run the workers' paths.
import { readFileSync } from "node:fs";
import {
  connect, measure, record, table, options, fmtRate, fmtS, fmtPct, endpoint, now, s3, s3sdk, loadavg, procCpu,
  procStatus, postmasterPid, parallelWorkers, answerOf, sameAnswer, fmtAnswer, sleep,
} from "./lib.mjs";

const o = options(process.argv.slice(2), {
  data: "", files: "", reps: 5, etl_reps: 3, db: "bench", force_parallel: 0,
  only: "large,small,shuffled,parallel,duckdb,etl,baseline,report,memory",
});
const only = new Set(String(o.only).split(","));
const meta = JSON.parse(readFileSync(`${o.data}/meta.json`, "utf8"));
const N = meta.records;
const WORK_MEM = "256MB"; // DISTINCT ON sorts every row: keep it in memory, as DuckDB does
const files = {
  large: `${o.files}/large.json.gz`, shuffled: `${o.files}/large-shuffled.json.gz`, csv: `${o.files}/large.csv.gz`,
};

// ---- the tables: 12 typed columns (loc flattened), or the 11 fields with tags and loc as jsonb
const COLS12 = `device_id text, ts timestamptz, battery float8, voltage float8, temp_c float8, rssi int,
  firmware text, status text, tags text[], lat float8, lon float8, seq bigint`;
const FT12 = COLS12.replace("lat float8", "lat float8 OPTIONS (field 'loc.lat')")
  .replace("lon float8", "lon float8 OPTIONS (field 'loc.lon')");
const FT11 = `device_id text, ts timestamptz, battery float8, voltage float8, temp_c float8, rssi int,
  firmware text, status text, tags jsonb, loc jsonb, seq bigint`;
const DUCK_COLS = (json) => `{device_id: 'VARCHAR', ts: 'TIMESTAMPTZ', battery: 'DOUBLE', voltage: 'DOUBLE', ` +
  `temp_c: 'DOUBLE', rssi: 'INTEGER', firmware: 'VARCHAR', status: 'VARCHAR', ` +
  (json ? `tags: 'JSON', loc: 'JSON', ` : `tags: 'VARCHAR[]', loc: 'STRUCT(lat DOUBLE, lon DOUBLE)', `) + `seq: 'BIGINT'}`;

// the inputs: the same records three ways
const INPUTS = {
  large: { what: "1 object", s3: "s3://bench/large/records.json.gz", local: `${o.data}/large.json.gz`, bytes: meta.json_bytes },
  small: { what: `${meta.objects} objects`, s3: "s3://bench/small/", local: `${o.data}/small/*.json.gz`, bytes: meta.small_json_bytes },
  shuffled: { what: "1 object, keys shuffled", s3: "s3://bench/shuffled/records.json.gz", local: `${o.data}/large-shuffled.json.gz`,
    bytes: meta.shuffled_json_bytes },
};
const ALL12 = ["device_id", "ts", "battery", "voltage", "temp_c", "rssi", "firmware", "status", "tags", "lat", "lon", "seq"];
// the questions: the same SQL for PostgreSQL (table t: ft_*, ft11_*) and DuckDB (views of the same names)
const Q = {
  count: { what: "count(*)", sql: (t) => `SELECT count(*) FROM ${t}` },
  proj2: { what: "count(device_id), sum(battery): 2 columns, the first keys", sql: (t) => `SELECT count(device_id), sum(battery) FROM ${t}` },
  late: { what: "count(seq), sum(seq), sum(lat), sum(lon): the last keys", sql: (t) => `SELECT count(seq), sum(seq), sum(lat), sum(lon) FROM ${t}` },
  full: { what: "all 12 columns formed: count(col) of each", sql: (t) => `SELECT ${ALL12.map((c) => `count(${c})`).join(", ")} FROM ${t}` },
  agg11: {
    what: "11 columns, an aggregate over each: max(text), sum, count(jsonb)", cols: 11,
    sql: (t) => `SELECT max(device_id), max(ts), sum(battery), sum(voltage), sum(temp_c), sum(rssi), max(firmware), ` +
      `max(status), count(tags), count(loc), sum(seq) FROM ${t}`,
  },
  groupby: { what: "device_id, max(ts) GROUP BY device_id", sql: (t) => `SELECT device_id, max(ts) FROM ${t} GROUP BY device_id` },
  latest: {
    what: "DISTINCT ON (device_id) device_id, battery, ts ORDER BY device_id, ts DESC",
    sql: (t) => `SELECT DISTINCT ON (device_id) device_id, battery, ts FROM ${t} ORDER BY device_id, ts DESC`,
  },
};
const table_ = (q, input, prefix = "ft") => `${prefix}${Q[q].cols === 11 ? "11" : ""}_${input}`;

const c = await connect(o.db);
await c.query(`SET work_mem = '${WORK_MEM}'`);
const settings = Object.fromEntries((await c.query(`SELECT name, setting FROM pg_settings WHERE name IN
  ('work_mem','jit','fsync','synchronous_commit','full_page_writes','max_parallel_workers_per_gather',
   'max_parallel_workers','shared_buffers','server_version','autovacuum','wal_level','lc_collate','TimeZone')`)).rows
  .map((r) => [r.name, r.setting]));
await c.query(`
  CREATE EXTENSION IF NOT EXISTS pipeline;
  DROP SERVER IF EXISTS lake CASCADE;
  CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3 OPTIONS (region 'us-east-1', endpoint '${endpoint}');
  CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id 'test', secret_access_key 'test');
  CREATE EXTENSION IF NOT EXISTS file_fdw;
  DROP SERVER IF EXISTS files CASCADE;
  CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;`);
for (const [k, v] of Object.entries(INPUTS)) {
  await c.query(`CREATE FOREIGN TABLE ft_${k} (${FT12}) SERVER lake OPTIONS (uri '${v.s3}');
    CREATE FOREIGN TABLE ft11_${k} (${FT11}) SERVER lake OPTIONS (uri '${v.s3}')`);
}
for (const z of ["gzip", "igzip", "pigz"]) {
  await c.query(`CREATE FOREIGN TABLE raw_fdw_${z} (doc text) SERVER files
    OPTIONS (program '${z} -dc ${files.large}', format 'csv', quote E'\\x01', delimiter E'\\x02')`);
}

// ---- CPU seconds of the processes a case keeps busy
const backendPid = (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p;
const pmPid = postmasterPid();
const emulatorPid = Number(process.env.EMULATOR_PID ?? NaN);
function cpuNow() {
  const b = procCpu(backendPid), u = process.cpuUsage();
  return {
    backend: b.self, program: b.children, workers: procCpu(pmPid).children, emulator: procCpu(emulatorPid).self,
    client: (u.user + u.system) / 1e6,
  };
}

// ---- answers: every contender's answer to a question must be the same
const expected = {}; // question -> { answer, by }
let failures = 0;
function checkAnswer(question, answer, by) {
  const e = expected[question];
  if (!e) {
    expected[question] = { answer, by };
    return null;
  }
  return sameAnswer(e.answer, answer) ? null
    : `answer mismatch on ${question}: ${by} gave [${fmtAnswer(answer)}], ${e.by} gave [${fmtAnswer(e.answer)}]`;
}
// the contents of a target table: row count and a checksum of every row's
// text, floats + 0 (jsonb's numeric has no -0: the data's "-0.0" becomes 0
// through jsonb, -0 through a float8 input function; equal values in SQL)
const tableAnswer = async (t) => {
  const cols = (await c.query(`SELECT attname, atttypid::regtype::text AS type FROM pg_attribute
    WHERE attrelid = '${t}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)).rows
    .map((r) => /^(double precision|real)$/.test(r.type) ? `(x.${r.attname} + 0)` : `x.${r.attname}`);
  const sql = `SELECT count(*), 'h' || coalesce(sum(hashtextextended(ROW(${cols.join(", ")})::text, 0)::numeric), 0) FROM ${t} x`;
  return answerOf((await c.query({ text: sql, rowMode: "array" })).rows);
};

const rowsOut = {}; // section -> table rows
const results = {};
const fmtCpu = (x) => !x ? "-" : [
  ["", x.backend], ["prog ", x.program], ["wrk ", x.workers], ["emu ", x.emulator], ["duck ", x.duck],
].filter(([, v]) => Number.isFinite(v) && v >= 0.005).map(([k, v]) => `${k}${v.toFixed(2)}`).join(" + ") || "0";

/**
 * One case: `reps` timed runs of run() (setup() before each, untimed), each
 * run's answer (answer(result), untimed) checked against the question's.
 * par: { workers } (PostgreSQL) or { threads } (DuckDB).
 */
async function bench(section, c_) {
  const { name, question, contender, input, reads, par, what, setup, run, answer, rows = N, bytes, reps = o.reps, plan } = c_;
  process.stderr.write(`  ${name} ...`);
  const parallelism = par.threads !== undefined ? `threads=${par.threads}` : `workers=${par.workers}`;
  const base = { question, contender, input, reads, parallelism, ...par, what, rows, bytes };
  const load_before = loadavg();
  let r, mismatch = null;
  const answers = [];
  try {
    if (par.workers !== undefined) await c.query(`SET max_parallel_workers_per_gather = ${par.workers}`);
    // --force-parallel (bench/run --smoke): on tiny data the planner would
    // not choose a parallel plan; make it, so that the workers' paths run
    if (o.force_parallel && par.workers !== undefined) {
      await c.query(par.workers > 0
        ? "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0"
        : "RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size");
    }
    r = await measure(reps, run, setup, cpuNow, async (res) => {
      const a = await answer(res);
      answers.push(a);
      mismatch ??= checkAnswer(question, a, name);
    });
  } catch (e) {
    process.stderr.write(` FAILED: ${e.message}\n`);
    failures++;
    results[name] = { error: e.message };
    record(section, name, { ...base, error: e.message, load: { before: load_before, after: loadavg() } });
    (rowsOut[section] ??= []).push([name, parallelism, reads, "FAILED", "", "", "", "", e.message.slice(0, 60)]);
    return null;
  }
  const load = { before: load_before, after: loadavg() };
  const { result, probes, ...st } = r;
  const cpu = {};
  for (const k of Object.keys(probes[0] ?? {})) cpu[k] = probes.reduce((s, p) => s + p[k], 0) / probes.length;
  if (contender === "duckdb") { cpu.duck = cpu.client; }
  delete cpu.client;
  if (mismatch) {
    failures++;
    process.stderr.write(` ${mismatch}\n`);
    results[name] = { error: mismatch };
    record(section, name, { ...base, error: mismatch, answers, load });
    (rowsOut[section] ??= []).push([name, parallelism, reads, "MISMATCH", "", "", "", "", mismatch.slice(0, 80)]);
    return null;
  }
  const plan_gather = plan ? await plan() : undefined;
  if (o.force_parallel && par.workers > 0 && plan_gather === false) {
    failures++;
    const e = "no Gather in the plan although a parallel plan was forced (--force-parallel)";
    process.stderr.write(` ${e}\n`);
    results[name] = { error: e };
    record(section, name, { ...base, error: e, load });
    (rowsOut[section] ??= []).push([name, parallelism, reads, "FAILED", "", "", "", "", e]);
    return null;
  }
  const res = { ...base, ...st, rows_per_s: rows / st.median, mb_per_s: bytes ? bytes / st.median / 1e6 : undefined, cpu, load,
    answer: answers.at(-1), plan_gather };
  results[name] = res;
  record(section, name, res);
  process.stderr.write(` ${fmtS(st.median)}\n`);
  (rowsOut[section] ??= []).push([name, parallelism, reads, fmtS(st.median), fmtPct(st.spread), fmtRate(res.rows_per_s),
    fmtCpu(cpu), `${load.before[0].toFixed(1)}-${load.after[0].toFixed(1)}`,
    (plan_gather === undefined ? "" : plan_gather ? "Gather; " : "no Gather; ") + fmtAnswer(res.answer).slice(0, 50)]);
  return res;
}

const pgq = async (sql) => (await c.query({ text: sql, rowMode: "array" })).rows;
const hasGather = (sql) => async () => /Gather/.test((await pgq(`EXPLAIN (COSTS OFF) ${sql}`)).map((r) => r[0]).join("\n"));

/** Ours: a question on an input through S3, with `workers` parallel workers at most. */
async function ours(question, input, workers = 0) {
  const sql = Q[question].sql(table_(question, input));
  return bench(workers ? "parallel" : "scan", {
    name: `${question}.ours.${input}.w${workers}`, question, contender: "ours", input, reads: "S3 (emulator)",
    par: { workers }, what: `${Q[question].what}; ${INPUTS[input].what}`, bytes: INPUTS[input].bytes,
    run: () => pgq(sql), answer: (rows) => answerOf(rows), plan: hasGather(sql),
  });
}

// ---------------------------------------------------------------- scans
if (only.has("large")) {
  console.error("scans: ours, the large object, one process");
  for (const q of Object.keys(Q)) await ours(q, "large");
  // the same questions on a heap table holding the same rows: what PostgreSQL
  // itself costs (sort, aggregation), whatever the scan
  await c.query("SET max_parallel_workers_per_gather = 0");
  await c.query(`DROP TABLE IF EXISTS heap; CREATE UNLOGGED TABLE heap AS SELECT * FROM ft_large`);
  await c.query("VACUUM ANALYZE heap");
  for (const q of ["groupby", "latest"]) {
    const sql = Q[q].sql("heap");
    await bench("scan", {
      name: `${q}.heap.w0`, question: q, contender: "heap table (floor)", input: "heap", reads: "shared buffers",
      par: { workers: 0 }, what: `${Q[q].what}; an unlogged heap table of the same rows`,
      run: () => pgq(sql), answer: (rows) => answerOf(rows),
    });
  }
}
if (only.has("small")) {
  console.error(`scans: ours, ${meta.objects} small objects, one process`);
  for (const q of Object.keys(Q)) await ours(q, "small");
  // what the emulator serves alone: the same objects fetched from Node, 3 at a time
  const keys = [];
  let token;
  do {
    const l = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: "bench", Prefix: "small/", ContinuationToken: token }));
    keys.push(...(l.Contents ?? []).map((x) => x.Key));
    token = l.NextContinuationToken;
  } while (token);
  await bench("scan", {
    name: "get.emulator.small", question: "get_small", contender: "emulator alone", input: "small", reads: "S3 (emulator)",
    par: { threads: 3 }, what: `GET the ${keys.length} objects from Node, 3 at a time`, bytes: meta.small_json_bytes,
    run: async () => {
      let next = 0, n = 0;
      await Promise.all([0, 1, 2].map(async () => {
        while (next < keys.length) {
          const r = await s3.send(new s3sdk.GetObjectCommand({ Bucket: "bench", Key: keys[next++] }));
          n += (await r.Body.transformToByteArray()).length;
        }
      }));
      return n;
    },
    answer: (n) => ({ rows: 1, values: [n] }),
  });
}
if (only.has("shuffled")) {
  console.error("scans: ours, the large object with shuffled keys, one process");
  for (const q of ["proj2", "late", "full", "agg11"]) await ours(q, "shuffled");
}
if (only.has("parallel")) {
  console.error(`scans: ours, ${meta.objects} small objects, max_parallel_workers_per_gather = 2`);
  for (const q of ["full", "agg11", "groupby"]) await ours(q, "small", 2);
}

// ---------------------------------------------------------------- DuckDB
if (only.has("duckdb")) {
  console.error("DuckDB on the same files, read locally (no httpfs offline)");
  const { DuckDBInstance } = await import(new URL("../tools/node/node_modules/@duckdb/node-api/lib/index.js", import.meta.url));
  const duck = await DuckDBInstance.create(":memory:");
  const dc = await duck.connect();
  const ver = (await dc.runAndReadAll("SELECT version()")).getRowsJson()[0][0];
  record("duckdb", "version", { version: ver });
  const httpfs = await dc.run("LOAD httpfs").then(() => "loaded", (e) => e.message.split("\n")[0]);
  record("duckdb", "httpfs", { httpfs });
  for (const [k, v] of Object.entries(INPUTS)) {
    const src = (json) => `read_json('${v.local}', format = 'auto', columns = ${DUCK_COLS(json)})`;
    await dc.run(`CREATE VIEW ft_${k} AS SELECT device_id, ts, battery, voltage, temp_c, rssi, firmware, status, tags,
      loc.lat AS lat, loc.lon AS lon, seq FROM ${src(false)}`);
    await dc.run(`CREATE VIEW ft11_${k} AS SELECT * FROM ${src(true)}`);
  }
  const duckCase = (q, input, threads) => {
    const sql = Q[q].sql(table_(q, input));
    return bench("duckdb", {
      name: `${q}.duckdb.${input}.t${threads}`, question: q, contender: "duckdb", input, reads: "local file(s)",
      par: { threads }, what: `DuckDB ${ver} ${Q[q].what}; ${INPUTS[input].what}`, bytes: INPUTS[input].bytes,
      setup: () => dc.run(`SET threads = ${threads}`),
      run: async () => (await dc.runAndReadAll(sql)).getRowsJson(), answer: (rows) => answerOf(rows),
    });
  };
  for (const q of Object.keys(Q)) await duckCase(q, "large", 1);
  for (const q of ["full", "agg11", "groupby", "latest"]) await duckCase(q, "large", 2);
  for (const q of Object.keys(Q)) await duckCase(q, "small", 1);
  for (const q of ["full", "agg11", "groupby"]) await duckCase(q, "small", 2);
  for (const q of ["proj2", "late", "full", "agg11"]) await duckCase(q, "shuffled", 1);
  dc.closeSync();
}

// ---------------------------------------------------------------- ETL into an ordinary (logged) table
// the target, created fresh (and a CHECKPOINT) before each run, untimed
const freshTyped = async (extra = "") => {
  await c.query(`DROP TABLE IF EXISTS typed, raw; CREATE TABLE typed (${COLS12}); ${extra}`);
  await c.query("CHECKPOINT");
};
const etl = (name, o_) => bench(o_.section ?? "etl", {
  name, question: "etl", reads: "local file", par: { workers: 0 }, reps: o.etl_reps, bytes: meta.json_bytes,
  setup: () => freshTyped(o_.extra), answer: () => tableAnswer("typed"), ...o_,
});
if (only.has("etl")) {
  console.error("ETL: ours, the large object into a logged table, one process");
  await etl("load.ours.large.w0", { contender: "ours", input: "large", reads: "S3 (emulator)",
    what: "SELECT pipeline.load('ft_large', 'typed')", run: () => c.query("SELECT pipeline.load('ft_large', 'typed')") });
  await etl("insert.ours.large.w0", { contender: "ours", input: "large", reads: "S3 (emulator)",
    what: "INSERT INTO typed SELECT * FROM ft_large", run: () => c.query("INSERT INTO typed SELECT * FROM ft_large") });
  // the floor: the same load from a heap table (what writing the rows costs)
  await c.query(`DROP TABLE IF EXISTS heap; CREATE UNLOGGED TABLE heap AS SELECT * FROM ft_large`);
  await c.query("VACUUM ANALYZE heap");
  await etl("load.heap.w0", { contender: "heap table (floor)", input: "heap", reads: "shared buffers",
    what: "SELECT pipeline.load('heap', 'typed'): the floor", run: () => c.query("SELECT pipeline.load('heap', 'typed')") });
  await c.query("DROP TABLE heap");
}

// the ways PostgreSQL itself has: the two-step (COPY the lines into jsonb, then
// INSERT ... SELECT) with each decompressor and formulation, COPY of the same
// records as CSV, file_fdw in one statement
const ARROW = `doc->>'device_id', (doc->>'ts')::timestamptz, (doc->>'battery')::float8,
  (doc->>'voltage')::float8, (doc->>'temp_c')::float8, (doc->>'rssi')::int, doc->>'firmware', doc->>'status',
  ARRAY(SELECT jsonb_array_elements_text(doc->'tags')), (doc->'loc'->>'lat')::float8,
  (doc->'loc'->>'lon')::float8, (doc->>'seq')::bigint`;
const REC_COLS = `device_id text, ts timestamptz, battery float8, voltage float8, temp_c float8, rssi int,
  firmware text, status text, tags text[], loc jsonb, seq bigint`;
const REC_SELECT = `r.device_id, r.ts, r.battery, r.voltage, r.temp_c, r.rssi, r.firmware, r.status, r.tags,
  (r.loc->>'lat')::float8, (r.loc->>'lon')::float8, r.seq`;
const FORMULATIONS = {
  arrow: { what: "->> and a cast per field", from: (rel) => `SELECT ${ARROW} FROM ${rel}` },
  to_record: { what: "jsonb_to_record", from: (rel) => `SELECT ${REC_SELECT} FROM ${rel}, jsonb_to_record(doc) AS r(${REC_COLS})` },
  populate: { what: "jsonb_populate_record", from: (rel) => `SELECT ${REC_SELECT} FROM ${rel}, jsonb_populate_record(NULL::doc_t, doc) AS r` },
};
const RAW_CSV = `FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'`; // one line = one value, no unescaping
if (only.has("baseline")) {
  console.error("ETL: PostgreSQL's own ways, the same records from a local file");
  await c.query(`DROP TYPE IF EXISTS doc_t; CREATE TYPE doc_t AS (${REC_COLS})`);
  const twoStep = async (z, f) => {
    const steps = [];
    const r = await etl(`two_step.${z}.${f}`, {
      section: "baseline", contender: "postgres two-step", input: "large", reads: `local file, ${z} -dc`,
      what: `COPY raw(doc jsonb) FROM PROGRAM '${z} -dc'; INSERT INTO typed ${FORMULATIONS[f].what} FROM raw`,
      extra: "CREATE UNLOGGED TABLE raw (doc jsonb);",
      run: async () => {
        const t0 = now();
        await c.query(`COPY raw FROM PROGRAM '${z} -dc ${files.large}' WITH (${RAW_CSV})`);
        const t1 = now();
        await c.query(`INSERT INTO typed ${FORMULATIONS[f].from("raw")}`);
        steps.push({ copy_s: t1 - t0, insert_s: now() - t1 });
      },
    });
    if (r) record("baseline", `two_step.${z}.${f}.steps`, { steps });
  };
  await twoStep("gzip", "arrow");
  await twoStep("igzip", "arrow");
  await twoStep("igzip", "to_record");
  await twoStep("igzip", "populate");
  await twoStep("pigz", "to_record");
  await etl("copy_csv.igzip", {
    section: "baseline", contender: "postgres COPY csv", input: "csv", reads: "local file, igzip -dc",
    bytes: meta.csv_bytes, what: "COPY typed FROM PROGRAM 'igzip -dc' (FORMAT csv): the same records as CSV",
    run: () => c.query(`COPY typed FROM PROGRAM 'igzip -dc ${files.csv}' WITH (FORMAT csv)`),
  });
  await etl("file_fdw.igzip.to_record", {
    section: "baseline", contender: "postgres file_fdw", input: "large", reads: "local file, igzip -dc",
    what: "INSERT INTO typed SELECT jsonb_to_record(doc::jsonb) FROM file_fdw PROGRAM 'igzip -dc', one statement",
    run: () => c.query(`INSERT INTO typed ${FORMULATIONS.to_record.from("(SELECT doc::jsonb AS doc FROM raw_fdw_igzip OFFSET 0) s")}`),
  });
  await c.query("DROP TABLE IF EXISTS typed, raw");
  for (const z of ["gzip", "igzip"]) {
    await bench("baseline", {
      name: `count.file_fdw.${z}`, question: "count", contender: "postgres file_fdw", input: "large",
      reads: `local file, ${z} -dc`, par: { workers: 0 }, what: `count(*) FROM file_fdw PROGRAM '${z} -dc'`,
      bytes: meta.json_bytes, run: () => pgq(`SELECT count(*) FROM raw_fdw_${z}`), answer: (rows) => answerOf(rows),
    });
  }
}

// ---------------------------------------------------------------- report runs over the small objects
if (only.has("report")) {
  console.error(`report runs over ${meta.objects} objects: max_parallel_workers_per_gather 0 and 2`);
  const reports = {
    load: { query: "SELECT * FROM ft_small", question: "etl", what: "every record into the target (SELECT * FROM ft_small)" },
    agg: {
      query: "SELECT device_id, count(*) AS n, max(ts) AS last_ts, sum(battery) AS battery FROM ft_small GROUP BY device_id",
      question: "report_agg", what: "per device: count(*), max(ts), sum(battery) GROUP BY device_id",
    },
  };
  for (const [k, r] of Object.entries(reports)) {
    await c.query(`DROP TABLE IF EXISTS rep_${k}`);
    await c.query(`SELECT pipeline.create_report(name => 'bench_${k}', query => $q$${r.query}$q$, target => 'public.rep_${k}')`);
    for (const w of [0, 2]) {
      await bench("report", {
        name: `report_${k}.ours.small.w${w}`, question: r.question, contender: "ours", input: "small", reads: "S3 (emulator)",
        par: { workers: w }, reps: o.etl_reps, bytes: meta.small_json_bytes,
        what: `SELECT pipeline.run_report(...): ${r.what}, into a logged table`,
        setup: async () => { await c.query(`TRUNCATE rep_${k}`); await c.query("CHECKPOINT"); },
        // (a failed run is a WARNING, not an error: its status is checked, untimed)
        run: async () => (await c.query(`SELECT pipeline.run_report('bench_${k}') AS id`)).rows[0].id,
        answer: async (id) => {
          const r = (await c.query("SELECT status, error FROM pipeline.runs WHERE id = $1", [id])).rows[0];
          if (r?.status !== "succeeded") throw new Error(`run ${id} ${r?.status ?? "not found"}: ${r?.error ?? ""}`);
          return tableAnswer(`rep_${k}`);
        },
        plan: hasGather(r.query),
      });
    }
  }
}

for (const [section, title] of [["scan", "Scans, one process (max_parallel_workers_per_gather = 0)"],
  ["parallel", "Scans with parallel workers"], ["duckdb", "DuckDB, the same questions on the same records, local files"],
  ["etl", "ETL into an ordinary (logged) table"], ["baseline", "PostgreSQL's own ways, the same records"],
  ["report", "Report runs over the small objects"]]) {
  if (!rowsOut[section]) continue;
  table(`${title}: ${N} records; median of ${section === "etl" || section === "baseline" || section === "report" ? o.etl_reps : o.reps} runs`,
    ["case", "parallelism", "reads", "median", "spread", "rows/s", "CPU s/run: backend + PROGRAM + workers + emulator + DuckDB", "load", "answer"],
    rowsOut[section]);
}
if (Object.keys(rowsOut).length) {
  console.log("(spread = (worst - best) / median; rows/s from the median; CPU: seconds of one run, per process, from /proc;\n" +
    " load: 1-minute load average before and after the case; answer: checked equal across every contender)");
}

// ---------------------------------------------------------------- peak memory of fresh backends
if (only.has("memory")) {
  console.error("memory: VmHWM of a fresh backend, and of its parallel workers");
  const memRows = [];
  const cases = [
    ["count(*), large object", "SELECT count(*) FROM ft_large", 0],
    ["all 12 columns, large object", Q.full.sql("ft_large"), 0],
    ["11 columns with jsonb, aggregates, large object", Q.agg11.sql("ft11_large"), 0],
    ["all 12 columns, small objects", Q.full.sql("ft_small"), 0],
    ["all 12 columns, small objects", Q.full.sql("ft_small"), 2],
    ["pipeline.load of the large object into a logged table", "SELECT pipeline.load('ft_large', 'typed')", 0],
  ];
  await c.query(`DROP TABLE IF EXISTS typed; CREATE TABLE typed (${COLS12})`);
  for (const [what, sql, w] of cases) {
    const m = await connect(o.db);
    await m.query(`SET max_parallel_workers_per_gather = ${w}; SET work_mem = '${WORK_MEM}'`);
    const pid = (await m.query("SELECT pg_backend_pid() AS p")).rows[0].p;
    const before = procStatus(pid, "VmHWM");
    // the workers' peaks, read every 10 ms while they live
    const workers = new Map();
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const p of parallelWorkers(pid)) {
          const v = procStatus(p, "VmHWM");
          if (Number.isFinite(v)) workers.set(p, Math.max(workers.get(p) ?? 0, v));
        }
        await sleep(10);
      }
    })();
    await m.query(sql);
    polling = false;
    await poll;
    const after = procStatus(pid, "VmHWM");
    await m.end();
    const wk = [...workers.values()];
    record("memory", `${what}, workers=${w}`, { what, workers: w, before_kb: before, after_kb: after, delta_kb: after - before,
      worker_peaks_kb: wk });
    memRows.push([what, `workers=${w}`, `${(before / 1024).toFixed(1)} MB`, `${(after / 1024).toFixed(1)} MB`,
      `${((after - before) / 1024).toFixed(1)} MB`, wk.length ? wk.map((x) => `${(x / 1024).toFixed(1)} MB`).join(", ") : "-"]);
  }
  await c.query("DROP TABLE IF EXISTS typed");
  table("Peak resident memory (VmHWM) of a fresh backend, before and after one scan, and each parallel worker's peak",
    ["scan", "parallelism", "leader before", "after", "growth", "workers' peaks (whole process)"], memRows);
}

record("settings", "server", { settings, work_mem_session: WORK_MEM });
record("data", "meta", meta);
await c.end();
if (failures) {
  console.error(`\nbench/scan.mjs: ${failures} case(s) failed or answered differently: see above`);
  process.exitCode = 1;
}
