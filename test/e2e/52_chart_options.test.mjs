// Chart options: axis labels, size, bars; pipeline.set_chart for the chart
// a report exports.  Each document is parsed with Chromium's strict XML
// parser and rendered there, and checked from the rendered geometry: bars
// stand on zero inside the plot, their heights follow the values, the
// canvas has the size asked for.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { sql, sqlAs, createDatabase, createBucket, s3, s3sdk, exported } from "./lib.mjs";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const db = "e2e_chart_options";
const bucket = `chartopt-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "pipeline-chart-options-"));
let browser;
let page;

before(async () => {
  await createDatabase(db);
  await createBucket(bucket);
  await sql(db, `ALTER DATABASE ${db} SET timezone = 'UTC'`);
  await sql(db, `
    CREATE TABLE daily (day date, kind text, n int);
    INSERT INTO daily VALUES ('2026-11-20', 'a', 5), ('2026-11-21', 'a', 10), ('2026-11-22', 'a', -5),
                             ('2026-11-20', 'b', 20), ('2026-11-21', 'b', NULL), ('2026-11-22', 'b', 15);
    DO $$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chart_mallory') THEN CREATE ROLE chart_mallory LOGIN; END IF;
    END$$;
    GRANT USAGE ON SCHEMA public TO chart_mallory;`);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
});

after(async () => {
  await browser?.close();
  if (!process.env.E2E_KEEP) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

/** Render an SVG document in Chromium and measure it. */
async function render(svg, name) {
  const path = join(dir, `${name}.svg`);
  writeFileSync(path, svg);
  await page.goto(`file://${path}`);
  return page.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, w: r.width, h: r.height };
    };
    const root = document.documentElement;
    if (root.localName !== "svg") return { error: root.textContent };
    const text = (sel) => document.querySelector(sel)?.textContent ?? null;
    return {
      width: root.getAttribute("width"),
      height: root.getAttribute("height"),
      root: box(root),
      plot: box(document.querySelector("rect.plot")),
      title: text("text.title"),
      xCaption: text("text.x-caption"),
      yCaption: text("text.y-caption"),
      lines: document.querySelectorAll("polyline").length,
      dots: document.querySelectorAll("g.lines circle").length,
      series: [...document.querySelectorAll("g.bars g.series")].map((g) => ({
        name: g.querySelector("title").textContent,
        fill: g.getAttribute("fill"),
        bars: [...g.querySelectorAll("rect")].map(box),
      })),
      legendSwatches: document.querySelectorAll("g.legend-item rect").length,
    };
  });
}

const chart = async (args) => (await sql(db, `SELECT pipeline.chart_svg(${args}) AS svg`))[0].svg;

test("axis labels and size", async () => {
  const svg = await chart(`$$SELECT day, kind, n FROM daily$$, title => 'Daily', x_label => 'Day (UTC)',
                            y_label => 'Events', width => 640, height => 360`);
  const g = await render(svg, "labels");
  assert.equal(g.error, undefined, g.error);
  assert.equal(g.width, "640");
  assert.equal(g.height, "360");
  assert.equal(g.root.w, 640);
  assert.equal(g.root.h, 360);
  assert.equal(g.title, "Daily");
  assert.equal(g.xCaption, "Day (UTC)");
  assert.equal(g.yCaption, "Events");
  assert.equal(g.lines, 1, "lines by default: a's");
  assert.equal(g.dots, 2, "b's two values either side of a gap are dots");
  // the plot fits the canvas
  assert.ok(g.plot.x > 0 && g.plot.x + g.plot.w < 640 && g.plot.y > 0 && g.plot.y + g.plot.h < 360,
    JSON.stringify(g.plot));
});

test("bars stand on zero, side by side, heights follow the values", async () => {
  const svg = await chart(`$$SELECT day, kind, n FROM daily$$, kind => 'bar'`);
  const g = await render(svg, "bars");
  assert.equal(g.error, undefined, g.error);
  assert.equal(g.lines, 0);
  assert.deepEqual(g.series.map((s) => [s.name, s.bars.length]), [["a", 3], ["b", 2]], "a bar per value, none for NULL");
  assert.equal(g.legendSwatches, 2, "the legend shows bars");
  const [a, b] = g.series;
  const inside = (r) => r.x >= g.plot.x - 0.5 && r.x + r.w <= g.plot.x + g.plot.w + 0.5 &&
    r.y >= g.plot.y - 0.5 && r.y + r.h <= g.plot.y + g.plot.h + 0.5;
  for (const s of g.series) for (const r of s.bars) assert.ok(inside(r), `bar inside the plot: ${JSON.stringify(r)}`);
  // the zero line: the bottom of the positive bars is the top of the negative one
  const zero = a.bars[0].y + a.bars[0].h;
  assert.ok(Math.abs(a.bars[2].y - zero) < 0.6, "a negative bar hangs from zero");
  assert.ok(Math.abs(b.bars[0].y + b.bars[0].h - zero) < 0.6);
  // heights in proportion to the values: 5, 10, -5 and 20, 15
  const unit = a.bars[0].h / 5;
  for (const [r, v] of [[a.bars[1], 10], [a.bars[2], 5], [b.bars[0], 20], [b.bars[1], 15]])
    assert.ok(Math.abs(r.h - v * unit) < 1, `height ${r.h} for ${v} (unit ${unit})`);
  // the series of one day side by side, not on top of each other
  assert.ok(a.bars[0].x + a.bars[0].w <= b.bars[0].x + 0.5, "a's bar left of b's on the same day");
  assert.ok(b.bars[0].x + b.bars[0].w <= a.bars[1].x, "days apart");
});

test("options are checked, with hints", async () => {
  await assert.rejects(chart(`'SELECT 1', kind => 'pie'`), /unknown chart kind "pie"/);
  await assert.rejects(chart(`'SELECT 1', width => 100`), /chart width 100 is out of range/);
  await assert.rejects(chart(`'SELECT 1', height => 100000`), /chart height 100000 is out of range/);
  // the one- and two-argument calls of 1.0 still work
  assert.match(await chart(`'SELECT now() AS t, 1 AS v'`), /<svg /);
  assert.match(await chart(`'SELECT now() AS t, 1 AS v', 'T'`), /class="title"[^>]*>T</);
});

test("a report's exported chart takes set_chart's options; only its owner sets them", async () => {
  await sql(db, `SELECT pipeline.create_report(name => 'weekly', query => $$SELECT day, kind, n FROM daily$$,
                   target => 'weekly', export => 's3://${bucket}/charts/weekly.svg', export_format => 'svg',
                   server => 'lake')`);
  await assert.rejects(
    sqlAs("chart_mallory", db, `SELECT pipeline.set_chart('weekly', title => '<pwned>')`),
    /must be owner of report "weekly"/);
  await assert.rejects(sql(db, `SELECT pipeline.set_chart('weekly', kind => 'pie')`), /unknown chart kind/);
  await assert.rejects(sql(db, `SELECT pipeline.set_chart('nosuch', kind => 'bar')`), /report "nosuch" does not exist/);
  await sql(db, `SELECT pipeline.set_chart('weekly', x_label => 'Day', kind => 'bar', width => 800, height => 300)`);

  const id = (await sql(db, `SELECT pipeline.run_report('weekly') AS id`))[0].id;
  const [run] = await sql(db, `SELECT status, export_uri FROM pipeline.runs WHERE id = $1`, [id]);
  assert.equal(run.status, "succeeded");
  await exported(db, run.export_uri);
  const r = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: run.export_uri.replace(`s3://${bucket}/`, "") }));
  const g = await render(await r.Body.transformToString(), "exported");
  assert.equal(g.error, undefined, g.error);
  assert.equal(g.width, "800");
  assert.equal(g.height, "300");
  assert.equal(g.title, "weekly", "titled with the report's name when set_chart gives none");
  assert.equal(g.xCaption, "Day");
  assert.equal(g.series.length, 2, "bars");

  // dropping the report drops its chart settings
  await sql(db, `SELECT pipeline.drop_report('weekly')`);
  assert.deepEqual(await sql(db, `SELECT count(*)::int AS n FROM pipeline.charts`), [{ n: 0 }]);
});
