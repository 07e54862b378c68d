// bench/table.mjs [FILE] [--readme README.md | --check README.md | --summary]
//	Prints the benchmark's tables, in Markdown, from a results file that
//	bench/run merged (bench/results.json by default): the figures against
//	their targets, every contender on every question, ETL, report runs,
//	memory, decoders and the worker.  A ratio is made only of two cases of
//	the same run (else it says so).
//	  --readme FILE  writes the figures into FILE's blocks: every table between
//	                 "<!-- bench/table.mjs begin: ..." and "<!-- bench/table.mjs end -->"
//	                 (bench/README.md), the Speed section's table and ratios
//	                 between "<!-- bench/table.mjs speed begin: ..." and
//	                 "<!-- bench/table.mjs speed end -->" (README.md); repeatable
//	  --check FILE   exits 1 if FILE's blocks are not what the results file gives
//	                 (test/run's bench layer: the READMEs cannot drift from it)
//	  --summary      the targets only (what bench/run prints at the end)
//	  --speed        prints the Speed section's block
import { readFileSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const flag = (k) => { const i = args.indexOf(`--${k}`); return i >= 0 ? args[i + 1] ?? true : undefined; };
const file = args.find((a, i) => !a.startsWith("--") && !(i > 0 && /^--(readme|check)$/.test(args[i - 1])))
  ?? new URL("./results.json", import.meta.url).pathname;
const R = JSON.parse(readFileSync(file, "utf8"));
if (R.format !== 2) throw new Error(`${file}: not a merged results file (format 2)`);

const byName = {};
for (const c of Object.values(R.cases)) byName[c.name] = c;
const ok = (n) => byName[n] && !byName[n].error && Number.isFinite(byName[n].median);
const sameRun = (...ns) => ns.every(ok) && ns.every((n) => byName[n].run === byName[ns[0]].run);

// ---- formatting
const num = (x, d) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const fS = (x) => !Number.isFinite(x) ? "-" : x < 0.1 ? num(x, 3) : x < 10 ? num(x, 2) : num(x, 1);
const fRate = (x) => !Number.isFinite(x) ? "-" : x >= 1e6 ? `${num(x / 1e6, 2)}M` : x >= 1e3 ? `${num(x / 1e3, 0)}k` : num(x, 0);
const fX = (x) => !Number.isFinite(x) ? "-" : `${num(x, 2)}x`;
const fLoad = (l) => l ? num(l[0], 1) : "?";
const md = (headers, rows) => [
  `| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`),
].join("\n");
const loadOf = (n) => ok(n) ? `${fLoad(byName[n].load?.before)}-${fLoad(byName[n].load?.after)}` : "";
const cpuOf = (n) => {
  if (!ok(n)) return "-";
  const c = byName[n].cpu ?? {};
  const parts = [["backend", c.backend], ["PROGRAM", c.program], ["workers", c.workers], ["emulator", c.emulator], ["DuckDB", c.duck]]
    .filter(([, v]) => Number.isFinite(v) && v >= 0.005).map(([k, v]) => `${k} ${num(v, 2)}`);
  return parts.join(" + ") || "0";
};
const verdict = (v, target) => !Number.isFinite(v) ? "not measured" : v >= target ? "**met**" : "**not met**";
const N = Object.values(R.cases).find((c) => c.section === "data")?.records ?? byName["count.ours.large.w0"]?.rows;
const meta = byName.meta ?? {};

const out = [];
const p = (s = "") => out.push(s);

// ---- what was measured, where, when, under what load
const runs = Object.values(R.runs).sort((a, b) => a.started.localeCompare(b.started));
const settings = byName.server?.settings ?? {};
const duckVer = byName.version?.version;
const host = runs.at(-1)?.host ?? {};
const partsOf = (id) => [...new Set(Object.values(R.cases).filter((c) => c.run === id && c.section !== "settings" && c.section !== "data")
  .map((c) => c.section))].join(", ");
const loadRange = (id) => {
  const ls = Object.values(R.cases).filter((c) => c.run === id && c.load).flatMap((c) => [c.load.before[0], c.load.after[0]]);
  return ls.length ? `${num(Math.min(...ls), 1)}-${num(Math.max(...ls), 1)}` : null;
};
p(`Machine: ${host.cpu}, ${host.cores} cores, ${host.mem_gb} GB, ${host.os ?? "Linux"}; PostgreSQL ${settings.server_version ?? "?"} ` +
  `(fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}, full_page_writes=${settings.full_page_writes}, ` +
  `jit=${settings.jit}, autovacuum=${settings.autovacuum}, session work_mem=256MB)` + (duckVer ? `, DuckDB ${duckVer} (\`@duckdb/node-api\`)` : "") + ".");
p();
p(md(["run", "commit", "parts", "load average (1 min) at start, end; range over its cases", "options"], runs.map((r) => [
  r.started, `${r.git.commit}${r.git.src_modified ? ` (+${r.git.src_modified} files of src/ modified)` : ""}`, partsOf(r.id),
  `${fLoad(r.loadavg_start)}, ${fLoad(r.loadavg_end)}${loadRange(r.id) ? `; ${loadRange(r.id)}` : ""}`,
  `\`${r.options.join(" ")}\`${r.note ? ` (${r.note})` : ""}`])));
p();

// ---- targets
const med = (n) => ok(n) ? byName[n].median : NaN;
const rate = (n) => ok(n) ? byName[n].rows / byName[n].median : NaN;
const ratio = (a, b) => sameRun(a, b) ? med(a) / med(b) : NaN;
const fastest = (names) => names.filter(ok).sort((a, b) => med(a) - med(b))[0];
const twoStepIgzip = fastest(["two_step.igzip.arrow", "two_step.igzip.to_record", "two_step.igzip.populate"]);
const targets = [];
const target = (what, value, fmt, goal, goalText, cases) => targets.push([what, fmt(value), goalText, verdict(value, goal),
  cases.filter(Boolean).map((n) => `${n} ${loadOf(n)}`).join(", ")]);
target(`ETL of ${num(N ?? 0, 0)} records (1 object) into a logged table: the two-step with the same decompressor ` +
  `(\`igzip -dc\`, its fastest formulation: ${twoStepIgzip?.split(".")[2] ?? "-"}) / \`pipeline.load\``,
  twoStepIgzip ? ratio(twoStepIgzip, "load.ours.large.w0") : NaN, fX, 8, ">= 8x", [twoStepIgzip, "load.ours.large.w0"]);
target("ETL: `COPY FROM PROGRAM 'igzip -dc'` of the same records as CSV / `pipeline.load`",
  ratio("copy_csv.igzip", "load.ours.large.w0"), fX, 1.5, ">= 1.5x", ["copy_csv.igzip", "load.ours.large.w0"]);
for (const [k, what] of [["load", "every record into a logged table"], ["agg", "GROUP BY device_id into a table"]]) {
  target(`Report run over ${num(meta.objects ?? 1000, 0)} objects (${what}): \`max_parallel_workers_per_gather\` 0 / 2`,
    ratio(`report_${k}.ours.small.w0`, `report_${k}.ours.small.w2`), fX, 1.6, ">= 1.6x",
    [`report_${k}.ours.small.w0`, `report_${k}.ours.small.w2`]);
}
target("Full 11-column scan, an aggregate over every column (text `max`, `sum`, `count(jsonb)`), one process, rows/s",
  rate("agg11.ours.large.w0"), fRate, 1.2e6, ">= 1.2M", ["agg11.ours.large.w0"]);
target("(the same, keys shuffled)", rate("agg11.ours.shuffled.w0"), fRate, 1.2e6, ">= 1.2M", ["agg11.ours.shuffled.w0"]);
target("2-column projection (`count(device_id), sum(battery)`), one process, rows/s",
  rate("proj2.ours.large.w0"), fRate, 2.5e6, ">= 2.5M", ["proj2.ours.large.w0"]);
target("(the same, keys shuffled)", rate("proj2.ours.shuffled.w0"), fRate, 2.5e6, ">= 2.5M", ["proj2.ours.shuffled.w0"]);
p(md(["measure", "figure", "target", "", "cases (load average before-after)"], targets));
p();
if (args.includes("--summary")) {
  console.log(out.join("\n"));
  process.exit(0);
}

// ---- every contender on every question
const QUESTIONS = [
  ["count", "`count(*)`"], ["proj2", "`count(device_id), sum(battery)`: 2 columns, the first keys"],
  ["late", "`count(seq), sum(seq), sum(lat), sum(lon)`: the last keys"], ["full", "all 12 columns formed (`count` of each)"],
  ["agg11", "11 columns (tags, loc as `jsonb`), an aggregate over each"], ["groupby", "`device_id, max(ts) GROUP BY device_id`"],
  ["latest", "`DISTINCT ON (device_id) ... ORDER BY device_id, ts DESC`"],
];
const objs = num(meta.objects ?? 1000, 0);
const COLS = [
  ["ours, 1 object (S3), workers=0", (q) => `${q}.ours.large.w0`],
  [`ours, ${objs} objects (S3), workers=0`, (q) => `${q}.ours.small.w0`],
  [`ours, ${objs} objects (S3), workers=2`, (q) => `${q}.ours.small.w2`],
  ["ours, keys shuffled (S3), workers=0", (q) => `${q}.ours.shuffled.w0`],
  ["DuckDB, 1 file (local), threads=1", (q) => `${q}.duckdb.large.t1`],
  ["DuckDB, 1 file, threads=2", (q) => `${q}.duckdb.large.t2`],
  [`DuckDB, ${objs} files (local glob), threads=1`, (q) => `${q}.duckdb.small.t1`],
  [`DuckDB, ${objs} files, threads=2`, (q) => `${q}.duckdb.small.t2`],
  ["DuckDB, keys shuffled (local), threads=1", (q) => `${q}.duckdb.shuffled.t1`],
];
const cell = (n) => ok(n) ? `${fS(med(n))} (${fRate(rate(n))})` : byName[n]?.error ? "FAILED" : "";
p(`**Every contender, the same questions on the same ${num(N ?? 0, 0)} records**: seconds, median (rows/s); ` +
  "every answer checked equal to every other's. We read through S3 (the emulator, on the same 2 cores); " +
  "DuckDB reads the local files (its `httpfs` extension cannot be installed offline).");
p();
p(md(["question", ...COLS.map(([h]) => h)], QUESTIONS.map(([q, what]) => [what, ...COLS.map(([, f]) => cell(f(q)))])));
p();
const other = [
  ["`count(*)` with file_fdw, `PROGRAM 'gzip -dc'` / `'igzip -dc'` (local file)", "count.file_fdw.gzip", "count.file_fdw.igzip"],
  ["`GROUP BY`, the floor: an unlogged heap table of the same rows", "groupby.heap.w0"],
  ["`DISTINCT ON`, the floor: the same heap table", "latest.heap.w0"],
  [`the emulator alone serving the ${num(meta.objects ?? 1000, 0)} objects to Node, 3 GETs at a time`, "get.emulator.small"],
];
p(md(["PostgreSQL without S3, and the emulator alone", "seconds (rows/s)"], other.map(([w, ...ns]) =>
  [w, ns.map(cell).filter(Boolean).join(" / ") || "-"])));
p();
p("CPU seconds of one run, per process (`/proc`): our backend (the leader), its parallel workers, the S3 emulator; DuckDB's process.");
p();
const CPU_COLS = [COLS[0], COLS[1], COLS[2], COLS[4], COLS[5]];
p(md(["question", ...CPU_COLS.map(([h]) => h)], QUESTIONS.map(([q, what]) => [what, ...CPU_COLS.map(([, f]) => cpuOf(f(q)))])));
p();

// ---- ETL
const ETL = [
  ["load.ours.large.w0", "`SELECT pipeline.load('ft_large', 'typed')`"],
  ["insert.ours.large.w0", "`INSERT INTO typed SELECT * FROM ft_large`"],
  ["load.heap.w0", "`pipeline.load` from an unlogged heap table of the same rows (the floor: writing alone)"],
  ["two_step.gzip.arrow", "two-step: `COPY raw(doc jsonb) FROM PROGRAM 'gzip -dc'`, `INSERT ... SELECT doc->>'f'::type, ...`"],
  ["two_step.igzip.arrow", "the same with `igzip -dc`"],
  ["two_step.igzip.to_record", "two-step, `igzip -dc`, `jsonb_to_record(doc)`"],
  ["two_step.igzip.populate", "two-step, `igzip -dc`, `jsonb_populate_record(NULL::doc_t, doc)`"],
  ["two_step.pigz.to_record", "two-step, `pigz -dc`, `jsonb_to_record`"],
  ["file_fdw.igzip.to_record", "one statement from file_fdw `PROGRAM 'igzip -dc'`, `doc::jsonb`, `jsonb_to_record`"],
  ["copy_csv.igzip", "`COPY typed FROM PROGRAM 'igzip -dc' (FORMAT csv)`: the same records already as CSV"],
];
p(`**ETL of ${num(N ?? 0, 0)} records into an ordinary (logged) table** (created fresh, after a \`CHECKPOINT\`, for each run; ` +
  "`max_parallel_workers_per_gather = 0`; the two-step's staging table unlogged). The decompressor of a `PROGRAM` runs in a process of its own, beside the backend.");
p();
p(md(["how", "reads", "seconds", "rows/s", "time / `pipeline.load`'s", "CPU s per process", "load"], ETL.filter(([n]) => byName[n]).map(([n, what]) => [
  what, byName[n].reads, ok(n) ? fS(med(n)) : "FAILED", fRate(rate(n)), n === "load.ours.large.w0" ? "1" : fX(ratio(n, "load.ours.large.w0")),
  cpuOf(n), loadOf(n)])));
p();
const steps = Object.values(R.cases).filter((c) => /^two_step\..*\.steps$/.test(c.name) && c.steps?.length);
if (steps.length) {
  const m = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
  p("The two-step's steps (median seconds): " + steps.map((c) =>
    `${c.name.replace(/\.steps$/, "")} COPY ${fS(m(c.steps.map((x) => x.copy_s)))} + INSERT ${fS(m(c.steps.map((x) => x.insert_s)))}`).join("; ") + ".");
  p();
}

// ---- report runs
const REP = ["report_load.ours.small.w0", "report_load.ours.small.w2", "report_agg.ours.small.w0", "report_agg.ours.small.w2"];
if (REP.some((n) => byName[n])) {
  p(`**Report runs** (\`SELECT pipeline.run_report(...)\`, target truncated and a \`CHECKPOINT\` before each run) over the ${num(meta.objects ?? 1000, 0)} objects`);
  p();
  p(md(["report", "parallelism", "Gather in the plan", "seconds", "rows/s read", "CPU s per process", "load"], REP.filter((n) => byName[n]).map((n) => [
    byName[n].what.replace(/^SELECT pipeline.run_report\(\.\.\.\): /, ""), byName[n].parallelism,
    byName[n].plan_gather === undefined ? "-" : byName[n].plan_gather ? "yes" : "no", ok(n) ? fS(med(n)) : "FAILED", fRate(rate(n)), cpuOf(n), loadOf(n)])));
  p();
}

// ---- memory
const mem = Object.values(R.cases).filter((c) => c.section === "memory");
if (mem.length) {
  p("**Peak memory** (`VmHWM`) of a fresh backend, before and after one query, and of each parallel worker (whole process, read every 10 ms)");
  p();
  const mb = (kb) => `${num(kb / 1024, 1)} MB`;
  p(md(["query", "parallelism", "leader: before", "after", "growth", "workers' peaks"], mem.map((c) => [
    c.what, `workers=${c.workers}`, mb(c.before_kb), mb(c.after_kb), mb(c.delta_kb), c.worker_peaks_kb?.length ? c.worker_peaks_kb.map(mb).join(", ") : "none ran"])));
  p();
}

// ---- decoders
const dec = Object.values(R.cases).filter((c) => c.section === "decode");
const cg = Object.values(R.cases).filter((c) => c.section === "callgrind");
if (dec.length) {
  p("**The decoders alone** (`bench/decode_bench`, one core, its own generator; median of 5)" +
    (cg.length ? ` and instructions per record under callgrind (${num(cg[0].records, 0)} records; AVX2 kernels under valgrind)` : ""));
  p();
  p(md(["stage", "MB/s", "M records/s"], dec.map((c) => [c.name, c.mb_per_s ? num(c.mb_per_s, 0) : `${num(c.ns_per_value, 1)} ns a value`, c.mrec_per_s ? num(c.mrec_per_s, 2) : ""])));
  p();
  if (cg.length) {
    p(md(["case", "Ir / record"], cg.map((c) => [c.name, num(c.ir_per_record, 0)])));
    p();
  }
}

// ---- the worker
const lat = byName.latency, tput = byName["throughput_put-driven"], back = byName.throughput_backlog;
if (lat || tput || back) {
  const ms = (s) => `${num(s * 1000, 1)} ms`;
  const rows = [];
  if (lat) {
    rows.push([`latency, PUT completed -> run committed, p50 / p90 / p99 / max (${lat.objects} objects one at a time)`,
      `${ms(lat.p50)} / ${ms(lat.p90)} / ${ms(lat.p99)} / ${ms(lat.max)}`, "p99 < 1 s"]);
    rows.push(["the run itself, p50 / p99", `${ms(lat.run_duration_p50)} / ${ms(lat.run_duration_p99)}`, ""]);
  }
  for (const [t, what] of [[tput, "PUT-driven"], [back, "from a backlog"]]) {
    if (t) rows.push([`throughput, ${what}: ${num(t.objects, 0)} objects of ${t.records_per_object} records`,
      `${num(t.objects_per_s, 0)} objects/s (${t.runs} runs; ${t.rows_in_target} of ${t.expected_rows} rows)`, ">= 300 objects/s"]);
  }
  p("**The worker** (S3 PUT -> event -> SQS -> worker -> incremental report committed; durability on)");
  p();
  p(md(["measure", "figure", "target"], rows));
  p();
}
const text = out.join("\n").trimEnd();
const speedText = speed();

// ---- READMEs: every block of either kind in the file is regenerated
const BLOCKS = [
  { name: "bench/table.mjs", text },
  { name: "bench/table.mjs speed", text: speedText },
];
const files_ = [...args.keys()].filter((i) => /^--(readme|check)$/.test(args[i])).map((i) => [args[i].slice(2), args[i + 1]]);
let bad = 0;
for (const [mode, f] of files_) {
  const readme = readFileSync(f, "utf8");
  let next = readme, found = 0;
  for (const { name, text: t } of BLOCKS) {
    const begin = `<!-- ${name} begin:`, END = `<!-- ${name} end -->`;
    const a = next.indexOf(begin), b = next.indexOf(END);
    if (a < 0) continue;
    if (b < a) { console.error(`${f}: "${begin}" without "${END}"`); process.exit(1); }
    found++;
    const BEGIN = `${begin} generated from bench/results.json by \`node bench/table.mjs --readme ${f}\`; do not edit -->`;
    next = `${next.slice(0, a)}${BEGIN}\n${t}\n${END}${next.slice(b + END.length)}`;
  }
  if (!found) { console.error(`${f}: no "<!-- bench/table.mjs [speed] begin: ..." block`); process.exit(1); }
  if (mode === "check") {
    if (next !== readme) {
      console.error(`${f}: its benchmark figures differ from ${file}: run node bench/table.mjs --readme ${f}`);
      bad++;
    } else console.log(`${f}: the benchmark figures are those of ${file}`);
  } else {
    writeFileSync(f, next);
    console.log(`${f}: figures written from ${file}`);
  }
}
if (bad) process.exit(1);
if (!files_.length) console.log(args.includes("--speed") ? speedText : text);

/**
 * The README's Speed section: one table of the cases on the 1M records and
 * the ratios, each saying what it divides by what; every figure from the
 * results file, every ratio from two cases of one run.
 */
function speed() {
  const o = [];
  const q = (s = "") => o.push(s);
  const run = (n) => ok(n) ? R.runs[byName[n].run] : undefined;
  const main_ = run("load.ours.large.w0") ?? run("count.ours.large.w0") ?? runs.at(-1);
  if (!main_) return "(no results)";
  const cpuTotal = (n) => {
    if (!ok(n)) return NaN;
    const c = byName[n].cpu ?? {};
    return ["backend", "program", "workers", "emulator", "duck"].reduce((s, k) => s + (Number.isFinite(c[k]) && c[k] > 0 ? c[k] : 0), 0);
  };
  // (CPU seconds are counted in ticks of 10 ms: no ratio of less than 0.1 s)
  const cpuRatio = (a, b) => sameRun(a, b) && cpuTotal(a) >= 0.1 && cpuTotal(b) >= 0.1 ? cpuTotal(a) / cpuTotal(b) : NaN;
  const reps = (n) => byName[n]?.n;
  const settingsLine = `PostgreSQL ${settings.server_version ?? "?"} with fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}, ` +
    `full_page_writes=${settings.full_page_writes}, wal_level=${settings.wal_level}, jit=${settings.jit}, ` +
    `shared_buffers=${settings.shared_buffers ? `${settings.shared_buffers} pages` : "?"}, autovacuum=${settings.autovacuum}, session work_mem=256MB`;
  const runText = (r) => `${r.started} (commit ${r.git.commit}${r.git.src_modified ? ` + ${r.git.src_modified} modified files of src/` : ""}, ` +
    `\`bench/run ${r.options.join(" ")}\`, ${num(r.elapsed_s / 60, 0)} minutes; load average (1 min) ${fLoad(r.loadavg_start)} at the start, ` +
    `${fLoad(r.loadavg_end)} at the end, ${loadRange(r.id) ?? "?"} over its cases; ${partsOf(r.id)}${r.note ? `; ${r.note}` : ""})`;
  q(`${runs.length > 1 ? `${runs.length} runs` : "One run"}: ${runs.map(runText).join("; ")}, on ` +
    `${host.cpu}, ${host.cores} cores, shared with other engineers' builds and tests (each case's own load average is in the file). ` +
    `${settingsLine}` + (duckVer ? `; DuckDB ${duckVer}` : "") + ". " +
    `Each case's parallelism is pinned (\`max_parallel_workers_per_gather\`, DuckDB's \`threads\`) and shown; ` +
    `medians of ${reps("count.ours.large.w0") ?? "?"} runs (ETL and report runs: ${reps("load.ours.large.w0") ?? "?"}); ` +
    "every contender's answer (row count and checksums, or the aggregates' values) was checked equal to every other's " +
    "before its time was kept. CPU s: seconds of CPU of one run summed over the processes it kept busy (backend, its " +
    "parallel workers, a `PROGRAM`'s decompressor, the emulator, DuckDB's process), from `/proc`: on a loaded machine a " +
    "steadier measure than the wall time.");
  q();
  const rowsS = [
    ["`SELECT count(*)`", "count.ours.large.w0"],
    ["2 columns, the first keys (`count(device_id), sum(battery)`)", "proj2.ours.large.w0"],
    ["the same, keys shuffled", "proj2.ours.shuffled.w0"],
    ["the last keys (`count(seq), sum(seq), sum(lat), sum(lon)`)", "late.ours.large.w0"],
    ["the same, keys shuffled", "late.ours.shuffled.w0"],
    ["all 12 columns formed (`count` of each)", "full.ours.large.w0"],
    ["11 columns, an aggregate over each (text `max`, `sum`, `count(jsonb)`)", "agg11.ours.large.w0"],
    ["the same, keys shuffled", "agg11.ours.shuffled.w0"],
    ["`device_id, max(ts) GROUP BY device_id`", "groupby.ours.large.w0"],
    [`the same over the ${objs} small objects`, "groupby.ours.small.w0"],
    [`the same over the ${objs} small objects`, "groupby.ours.small.w2"],
    ["DuckDB, the same `GROUP BY`, the same gzip file (local)", "groupby.duckdb.large.t1"],
    ["DuckDB, the same `GROUP BY`, the same gzip file (local)", "groupby.duckdb.large.t2"],
    [`DuckDB, the same \`GROUP BY\`, the same ${objs} files (local glob)`, "groupby.duckdb.small.t2"],
    ["ETL into a logged table: `SELECT pipeline.load('ft', 'typed')`", "load.ours.large.w0"],
    ["ETL: `INSERT INTO typed SELECT * FROM ft`", "insert.ours.large.w0"],
    ["PostgreSQL two-step: `COPY raw(doc jsonb) FROM PROGRAM 'gzip -dc'`, `INSERT INTO typed SELECT doc->>...`", "two_step.gzip.arrow"],
    ["the same with `igzip -dc` (ISA-L, our decompressor)", "two_step.igzip.arrow"],
    ["the same with `igzip -dc` and `jsonb_to_record`", "two_step.igzip.to_record"],
    ["the same with `igzip -dc` and `jsonb_populate_record`", "two_step.igzip.populate"],
    ["the same with `pigz -dc` and `jsonb_to_record`", "two_step.pigz.to_record"],
    ["`COPY typed FROM PROGRAM 'igzip -dc' (FORMAT csv)`: the same records already as CSV", "copy_csv.igzip"],
  ].filter(([, n]) => byName[n]);
  q(md([`${num(N ?? 0, 0)} records, one gzip object unless said`, "parallelism", "reads", "seconds", "rows/s", "CPU s"],
    rowsS.map(([w, n]) => [w, byName[n].parallelism, byName[n].reads, ok(n) ? fS(med(n)) : "FAILED", fRate(rate(n)),
      Number.isFinite(cpuTotal(n)) ? num(cpuTotal(n), 2) : "-"])));
  q();
  const both = (a, b, what) => {
    const w = ratio(a, b), c = cpuRatio(a, b);
    return Number.isFinite(w) ? `**${fX(w)}**${Number.isFinite(c) ? ` (CPU ${fX(c)})` : ""}${what ? ` ${what}` : ""}` : "not measured";
  };
  const bullets = [];
  const twoFast = fastest(["two_step.igzip.arrow", "two_step.igzip.to_record", "two_step.igzip.populate"]);
  bullets.push(`ETL (issue 16), time of the two-step with the same decompressor (\`igzip\`, its fastest formulation, ` +
    `${twoFast?.split(".")[2] ?? "-"}) / time of \`pipeline.load\`: ${both(twoFast, "load.ours.large.w0")} (target 8x: ` +
    `${verdict(ratio(twoFast, "load.ours.large.w0"), 8).replace(/\*/g, "")}); / \`INSERT ... SELECT * FROM ft\`: ` +
    `${both(twoFast, "insert.ours.large.w0")}. Against the old baseline (GNU \`gzip\`, \`->>\` per field): ` +
    `${both("two_step.gzip.arrow", "load.ours.large.w0")} for \`pipeline.load\`, ${both("two_step.gzip.arrow", "insert.ours.large.w0")} ` +
    `for the \`INSERT\`. \`COPY ... (FORMAT csv)\` of the same records / \`pipeline.load\`: ${both("copy_csv.igzip", "load.ours.large.w0")} ` +
    `(target 1.5x: ${verdict(ratio("copy_csv.igzip", "load.ours.large.w0"), 1.5).replace(/\*/g, "")}). ` +
    `\`INSERT ... SELECT\` / \`pipeline.load\`: ${both("insert.ours.large.w0", "load.ours.large.w0")}; ` +
    `\`pipeline.load\` / the same load from an unlogged heap table of the same rows (writing alone): ${both("load.ours.large.w0", "load.heap.w0")}.`);
  bullets.push(`The decompressor's share of the old ratio: two-step with \`gzip -dc\` / with \`igzip -dc\` (both \`->>\`): ` +
    `${both("two_step.gzip.arrow", "two_step.igzip.arrow")}; the formulation's: \`->>\` / \`jsonb_to_record\` (both \`igzip\`): ` +
    `${both("two_step.igzip.arrow", "two_step.igzip.to_record")}.`);
  bullets.push(`Key order (we stop reading a record once its requested keys are found): the last keys / the first keys, ` +
    `time of \`late\` / \`proj2\` on the ordered object: ${both("late.ours.large.w0", "proj2.ours.large.w0")}; ` +
    `shuffled keys / ordered keys, time: 2 columns ${both("proj2.ours.shuffled.w0", "proj2.ours.large.w0")}, ` +
    `the last keys ${both("late.ours.shuffled.w0", "late.ours.large.w0")}, 11 aggregates ${both("agg11.ours.shuffled.w0", "agg11.ours.large.w0")}. ` +
    `Rows/s of the 11 aggregates, one process: ${fRate(rate("agg11.ours.large.w0"))} ordered, ${fRate(rate("agg11.ours.shuffled.w0"))} shuffled ` +
    `(target 1.2M); of the 2-column projection ${fRate(rate("proj2.ours.large.w0"))} / ${fRate(rate("proj2.ours.shuffled.w0"))} (target 2.5M).`);
  const duckPairs = [["count", "`count(*)`"], ["full", "all 12 columns"], ["groupby", "the `GROUP BY`"], ["latest", "`DISTINCT ON`"]];
  bullets.push("DuckDB on the same inputs (it reads the local files: its `httpfs` extension cannot be installed offline, so it " +
    "does not go through the emulator; we do), DuckDB's time / ours, the same question and parallelism: one object, " +
    "1 thread / `workers=0`: " + duckPairs.map(([k, w]) => `${w} ${both(`${k}.duckdb.large.t1`, `${k}.ours.large.w0`)}`).join(", ") +
    `; the ${objs} objects, 2 threads / \`workers=2\`: ` +
    [["full", "all 12 columns"], ["groupby", "the `GROUP BY`"]].map(([k, w]) => `${w} ${both(`${k}.duckdb.small.t2`, `${k}.ours.small.w2`)}`).join(", ") +
    ". Above 1x we are faster.");
  bullets.push(`The ${objs} small objects against the one object of the same records, time / time (above 1x the small objects are slower): ` +
    [["count", "`count(*)`"], ["full", "all 12 columns"], ["groupby", "`GROUP BY`"]].map(([k, w]) =>
      `${w} ${both(`${k}.ours.small.w0`, `${k}.ours.large.w0`)}`).join(", ") +
    `; the emulator alone serving them to Node takes ${ok("get.emulator.small") ? `${fS(med("get.emulator.small"))} s` : "-"}.`);
  bullets.push(`Parallel workers over the ${objs} objects, time with \`max_parallel_workers_per_gather\` 0 / 2: report run loading every record ` +
    `${both("report_load.ours.small.w0", "report_load.ours.small.w2")}, report run with a \`GROUP BY\` ${both("report_agg.ours.small.w0", "report_agg.ours.small.w2")} ` +
    `(target 1.6x; a Gather in the report query's plan with 2 workers: ${["report_load", "report_agg"].map((k) => byName[`${k}.ours.small.w2`])
    .map((c, i) => `${i ? "GROUP BY" : "loading"} ${c?.plan_gather === undefined ? "-" : c.plan_gather ? "yes" : "no"}`).join(", ")}), ` +
    `the \`GROUP BY\` query ${both("groupby.ours.small.w0", "groupby.ours.small.w2")}. Two workers and a leader share 2 cores with the emulator ` +
    "and the other engineers' work: when the load average is above the cores, three processes get a larger share of the machine " +
    "than one, so the wall-time ratio also measures that; the CPU ratio (one process's CPU seconds / the three's) shows what " +
    "running in parallel costs. Neither says much about a machine with cores to spare.");
  const memL = Object.values(R.cases).filter((c) => c.section === "memory");
  if (memL.length) {
    bullets.push("Peak memory (`VmHWM`) growth of a fresh backend over one query: " +
      memL.map((c) => `${c.what}${c.workers ? ` (workers=${c.workers})` : ""} +${num(c.delta_kb / 1024, 1)} MB`).join("; ") + ".");
  }
  const decL = Object.values(R.cases).filter((c) => c.section === "decode" && c.mrec_per_s);
  const cgL = Object.values(R.cases).filter((c) => c.section === "callgrind");
  if (decL.length) {
    bullets.push("The decoders alone (`bench/decode_bench`, one core, its own generator): " +
      decL.map((c) => `${c.name} ${num(c.mb_per_s, 0)} MB/s (${num(c.mrec_per_s, 2)}M records/s)`).join("; ") +
      (cgL.length ? `; instructions per record (callgrind, AVX2 kernels): ${cgL.map((c) => `${c.name} ${num(c.ir_per_record, 0)}`).join(", ")}` : "") + ".");
  }
  const missing = [
    [!Object.values(R.cases).some((c) => c.section === "memory"), "peak memory (`--only memory`)"],
    [!decL.length, "the decoders alone (`--only decode`)"],
    [!byName.latency && !byName.throughput_backlog, "the worker's latency and throughput (`--only worker`)"],
  ].filter(([m]) => m).map(([, w]) => w);
  if (missing.length) bullets.push(`Not in the results file (not measured in these runs): ${missing.join(", ")}.`);
  for (const b of bullets) q(`- ${b}`);
  return o.join("\n").trimEnd();
}
