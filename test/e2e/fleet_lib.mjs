// More PostgreSQL clusters beside the harness's (tools/testenv.sh), for the
// fleet's tests and benchmark: each is initdb'ed in TESTENV_DIR, configured
// as test/run configures the first, started with pg_ctl, and stopped by
// stopAll() (call it from after(): also when a test failed).
import { execFileSync } from "node:child_process";
import { mkdirSync, appendFileSync, readFileSync, chownSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const pg = require("pg");

const pgbin = execFileSync("pg_config", ["--bindir"]).toString().trim();
const asPg = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
const started = new Set();

function runAsPg(dir, args) {
  const cmd = [...asPg, ...args];
  // (from dir: PostgreSQL's programs cannot enter a checkout in a 0700 directory)
  return execFileSync(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: dir }).toString();
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export class Cluster {
  /** name: a word; conf: lines appended to postgresql.conf after the harness's. */
  constructor(name, { dir = process.env.TESTENV_DIR, conf = "" } = {}) {
    this.name = name;
    this.dir = dir;
    this.data = `${dir}/data-${name}`;
    this.sock = `${dir}/sock-${name}`;
    this.log = `${dir}/postgres-${name}.log`;
    this.conf = conf;
  }

  async init() {
    this.port = await freePort();
    mkdirSync(this.data, { recursive: true });
    mkdirSync(this.sock, { recursive: true });
    writeFileSync(this.log, "");
    if (asPg.length) {
      const uid = Number(runAsPg(this.dir, ["id", "-u"]).trim());
      const gid = Number(runAsPg(this.dir, ["id", "-g"]).trim());
      for (const p of [this.data, this.sock, this.log]) chownSync(p, uid, gid);
    }
    runAsPg(this.dir, [`${pgbin}/initdb`, "-D", this.data, "-U", "postgres", "--auth=trust",
      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
    appendFileSync(`${this.data}/postgresql.conf`, `
listen_addresses = '127.0.0.1'
port = ${this.port}
unix_socket_directories = '${this.sock}'
shared_preload_libraries = 'pipeline'
max_worker_processes = 32
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%a '
log_min_messages = info
pipeline.launcher_naptime = 1
pipeline.poll_wait = 2
pipeline.visibility_timeout = 5
pipeline.retry_delay = 1
pipeline.max_attempts = 3
${this.conf}
`);
    return this;
  }

  start() {
    runAsPg(this.dir, ["env", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
      `${pgbin}/pg_ctl`, "-D", this.data, "-l", this.log, "-w", "-t", "60", "start"]);
    started.add(this);
  }

  stop() {
    try {
      runAsPg(this.dir, [`${pgbin}/pg_ctl`, "-D", this.data, "-m", "immediate", "-w", "stop"]);
    } catch { /* already down */ }
    started.delete(this);
  }

  postmasterPid() {
    return Number(readFileSync(`${this.data}/postmaster.pid`, "utf8").split("\n")[0]);
  }

  /** kill -9 the postmaster and all its children at once; returns the postmaster's pid. */
  kill9() {
    const postmaster = this.postmasterPid();
    const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)]).toString()
      .split("\n").map((s) => Number(s.trim())).filter(Boolean);
    for (const p of [postmaster, ...children]) {
      try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
    }
    return postmaster;
  }

  async sql(database, text, params = []) {
    const c = new pg.Client({ host: this.sock, port: this.port, user: "postgres", database });
    await c.connect();
    c.on("error", () => {});
    try {
      return (await c.query(text, params)).rows;
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Lines of this cluster's log that match a pattern. */
  logLines(pattern) {
    return readFileSync(this.log, "utf8").split("\n").filter((l) => pattern.test(l));
  }
}

/** Stop every cluster started here (immediate). */
export function stopAll() {
  for (const c of [...started]) c.stop();
}

/** The pid of the pipeline worker of a database on a server (sqlOn: lib's sql or a Cluster's), or null. */
export async function workerOn(sqlOn, database) {
  const r = await sqlOn("postgres", `SELECT pid FROM pg_stat_activity
                                    WHERE backend_type = 'pipeline worker' AND datname = $1`, [database]);
  return r.length ? r[0].pid : null;
}

/** Run fn over items, at most "limit" at a time. */
export async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}
