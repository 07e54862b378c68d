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

// every run succeeded: 14 of tier 1 (one per delivered object), and tier 2
// ran after the last of them
const runs = await q(`SELECT report, trigger, status, count(*)::int AS n, max(id)::int AS last
                      FROM pipeline.runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
check("every run succeeded", () => assert.deepEqual(runs.filter((r) => r.status !== "succeeded"), []));
const tier1 = runs.find((r) => r.report === "devicebattery" && r.trigger === "event" && r.status === "succeeded");
const tier2 = runs.find((r) => r.report === "batteryweek" && r.trigger === "event" && r.status === "succeeded");
check("devicebattery ran once per delivered object", () => assert.equal(tier1?.n, 14));
check("batteryweek ran after the last devicebattery run", () => assert.ok(tier2 && tier2.last > tier1.last,
  JSON.stringify(runs)));
const tier1Runs = await q(`SELECT count(DISTINCT trigger_uris)::int AS objects, count(DISTINCT export_uri)::int AS exports,
                                   bool_and(trigger_uris[1] LIKE 's3://iot/raw/v0/deviceping/%' AND cardinality(trigger_uris) = 1) AS raw
                            FROM pipeline.runs WHERE report = 'devicebattery'`);
check("each delivered object ran devicebattery once and was exported once", () =>
  assert.deepEqual(tier1Runs, [{ objects: 14, exports: 14, raw: true }]));

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
console.log(`demo ok: ${tier1.n} devicebattery runs, ${tier2.n} batteryweek, all succeeded; ` +
  `${got.length} devices; the chart has ${series.length} lines, ${series.reduce((s, x) => s + x.points, 0)} points`);
