// bench/results.mjs: the results files of bench/run
//
//	results.mjs --jsonl FILE --out RUN.json --started T --elapsed S --failed PARTS
//	            [--commit C --src-modified N] -- OPTIONS...
//	  one run's file: the records the benchmark scripts appended to FILE
//	  (lib.mjs record()), with what the run was: machine (CPU model,
//	  cores, memory), commit (and how many files of src/ differed from it),
//	  date, options, load average at start and end, the parts that failed.
//	results.mjs --merge RUN.json --out FILE
//	  merges a run's cases into FILE (bench/results.json, committed), case
//	  by case: a case measured again replaces its old figures; each case
//	  names the run it comes from, and FILE keeps the runs its cases name.
//	  Ratios are made by bench/table.mjs from cases of one run only.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { execSync } from "node:child_process";
import os from "node:os";

const argv = process.argv.slice(2);
const opt = (k) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : undefined; };
const write = (f, x) => writeFileSync(f, JSON.stringify(x, null, 1) + "\n");
const keyOf = (r) => `${r.section}/${r.name}`;

if (opt("jsonl")) {
  const lines = readFileSync(opt("jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const host = Object.fromEntries(lines.filter((r) => r.section === "host").map((r) => [r.name, r.value]));
  const sh = (c) => { try { return execSync(c, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim(); } catch { return null; } };
  const started = opt("started");
  const options = argv.slice(argv.indexOf("--") + 1);
  const run = {
    id: started.replace(/[-:]/g, ""),
    started, elapsed_s: Number(opt("elapsed")), options,
    host: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, mem_gb: Math.round(os.totalmem() / 2 ** 30), os: sh(". /etc/os-release && echo $PRETTY_NAME") },
    // the commit bench/run built at its start (--commit, --src-modified); else
    // the one HEAD was at when the run started (the reflog), which is what
    // was built, not what HEAD may have become since
    git: {
      commit: opt("commit") ?? sh(`git rev-parse --short "HEAD@{${started.replace("T", " ").replace("Z", " +0000")}}"`) ??
        sh("git rev-parse --short HEAD"),
      branch: sh("git rev-parse --abbrev-ref HEAD"),
      src_modified: Number(opt("src-modified") ?? sh("git status --porcelain src | wc -l")),
    },
    loadavg_start: host.loadavg_start?.split(" ").map(Number), loadavg_end: host.loadavg_end?.split(" ").map(Number),
    failed: opt("failed") ? opt("failed").split(",").filter(Boolean) : [],
  };
  write(opt("out"), { format: 2, run, results: lines.filter((r) => r.section !== "host") });
} else if (opt("merge")) {
  const { run, results } = JSON.parse(readFileSync(opt("merge"), "utf8"));
  const out = opt("out");
  let merged = { format: 2, runs: {}, cases: {} };
  if (existsSync(out)) {
    const old = JSON.parse(readFileSync(out, "utf8"));
    if (old.format === 2) merged = old;
  }
  merged.runs[run.id] = run;
  for (const r of results) merged.cases[keyOf(r)] = { run: run.id, ...r };
  const used = new Set(Object.values(merged.cases).map((x) => x.run));
  for (const id of Object.keys(merged.runs)) if (!used.has(id)) delete merged.runs[id];
  // (a case measured again keeps its place; new ones go at the end, in the order they ran)
  write(out, merged);
  console.log(`merged ${results.length} records of run ${run.id} into ${out}`);
} else {
  console.error("usage: results.mjs --jsonl FILE --out RUN.json ... | --merge RUN.json --out FILE");
  process.exit(2);
}
