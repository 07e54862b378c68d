// test/demo/check.mjs DIR -- the demo's gate in test/run
//
//	After demo/run (its directory DIR, its cluster still running): did
//	every run succeed, did every object go through once, is what the
//	reports wrote what the data says, and does the exported chart show
//	battery_week (one line per device, one point per row)?  Exits non-zero,
//	saying what is wrong, otherwise prints one line.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const pg = require("pg");

const dir = process.argv[2];
if (!dir) {
  console.error("usage: test/demo/check.mjs DIR");
  process.exit(2);
}
const conf = readFileSync(`${dir}/data/postgresql.conf`, "utf8");
const port = Number([...conf.matchAll(/^port = (\d+)/gm)].at(-1)?.[1]);
const client = new pg.Client({ host: `${dir}/sock`, port, user: "postgres", database: "demo" });
await client.connect();
const q = async (text, params = []) => (await client.query(text, params)).rows;

const problems = [];
const check = (what, fn) => {
  try {
    fn();
  } catch (e) {
    problems.push(`${what}: ${e.message}`);
  }
};

// every run succeeded: tier 1 ran the 7 objects already in the bucket by
// the backfill and the 7 delivered after the notifications by their events,
// each object once; tier 2 ran after the last of them
const runs = await q(`SELECT report, trigger, status, count(*)::int AS n, max(id)::int AS last
                      FROM pipeline.runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
check("every run succeeded", () => assert.deepEqual(runs.filter((r) => r.status !== "succeeded"), []));
const tier1 = runs.find((r) => r.report === "devicebattery" && r.trigger === "event" && r.status === "succeeded");
const backfilled = runs.find((r) => r.report === "devicebattery" && r.trigger === "backfill" && r.status === "succeeded");
const tier2 = runs.find((r) => r.report === "batteryweek" && r.trigger === "event" && r.status === "succeeded");
check("devicebattery ran once per object delivered after the notifications", () => assert.equal(tier1?.n, 7));
check("the backfill ran devicebattery", () => assert.ok(backfilled?.n >= 1, JSON.stringify(runs)));
check("batteryweek ran after the last devicebattery run", () => assert.ok(tier2 && tier2.last > Math.max(tier1.last, backfilled.last),
  JSON.stringify(runs)));
const objects = await q(`SELECT r.trigger, count(*)::int AS objects, count(DISTINCT u)::int AS distinct_objects,
                                bool_and(u LIKE 's3://iot/raw/v0/deviceping/%') AS raw
                         FROM pipeline.runs r, unnest(r.trigger_uris) u
                         WHERE r.report = 'devicebattery' GROUP BY 1 ORDER BY 1`);
check("the backfill ran the 7 objects already there, events the 7 delivered later, each once", () =>
  assert.deepEqual(objects, [{ trigger: "backfill", objects: 7, distinct_objects: 7, raw: true },
    { trigger: "event", objects: 7, distinct_objects: 7, raw: true }]));
const ledger = await q(`SELECT count(*)::int AS n, count(DISTINCT key)::int AS keys FROM pipeline.processed
                        WHERE report = 'devicebattery'`);
check("the ledger holds the 14 objects once", () => assert.deepEqual(ledger, [{ n: 14, keys: 14 }]));
const exports = await q(`SELECT count(*)::int AS runs, count(DISTINCT export_uri)::int AS exports
                         FROM pipeline.runs WHERE report = 'devicebattery'`);
check("each devicebattery run was exported once", () => assert.equal(exports[0].exports, exports[0].runs));
// the table IMPORT FOREIGN SCHEMA proposed: the fields of the records and the
// parts of Firehose's keys
const cols = (await q(`SELECT attname FROM pg_attribute WHERE attrelid = 'public.deviceping'::regclass
                       AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)).map((r) => r.attname);
check("IMPORT FOREIGN SCHEMA made deviceping of the records' fields and the key's parts", () => {
  for (const c of ["device_id", "ts", "battery", "year", "month", "day", "hour"]) assert.ok(cols.includes(c), cols.join(","));
});

// the queue drained: every message deleted, none dead
const status = await q(`SELECT queue, received::int, deleted::int, dead_letters::int, state FROM pipeline.status`);
check("the queue is drained, no dead letters", () => {
  assert.equal(status.length, 1);
  assert.equal(status[0].dead_letters, 0);
  assert.equal(status[0].received, status[0].deleted);
});

// tier 1's table is what the data says now
const expected = await q(`SELECT DISTINCT ON (device_id) device_id, battery, ts FROM deviceping
                          ORDER BY device_id, ts DESC`);
const got = await q(`SELECT device_id, battery, ts FROM devicebattery ORDER BY device_id`);
check("devicebattery holds the latest battery of every device", () => {
  assert.ok(expected.length > 0, "no devices");
  assert.deepEqual(got, expected);
});
// the chart: one series per device of battery_week, one point per row
const svg = readFileSync(`${dir}/battery-week.svg`, "utf8");
const week = await q(`SELECT device_id, count(DISTINCT ts)::int AS n FROM battery_week GROUP BY 1 ORDER BY 1`);
const series = [...svg.matchAll(/<g class="series"[^>]*><title>([^<]*)<\/title>([\s\S]*?)<\/g>/g)].map((m) => ({
  name: m[1],
  points: [...m[2].matchAll(/<polyline points="([^"]*)"/g)]
    .reduce((sum, p) => sum + p[1].trim().split(/\s+/).length, 0)
    + [...m[2].matchAll(/<circle /g)].length,
}));
check("the chart has a line per device of battery_week, a point per row", () => {
  assert.ok(week.length > 0, "battery_week is empty");
  assert.deepEqual(series.map((s) => s.name).sort(), week.map((w) => w.device_id));
  assert.deepEqual(Object.fromEntries(series.map((s) => [s.name, s.points])),
    Object.fromEntries(week.map((w) => [w.device_id, w.n])));
});
check("the chart is titled", () => assert.match(svg, /<text class="title"[^>]*>batteryweek<\/text>/));

await client.end();
if (problems.length) {
  console.error(`demo check failed:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`demo ok: ${backfilled.n} backfill and ${tier1.n} event runs of devicebattery, ${tier2.n} batteryweek, all succeeded; ` +
  `${got.length} devices; the chart has ${series.length} lines, ${series.reduce((s, x) => s + x.points, 0)} points`);
