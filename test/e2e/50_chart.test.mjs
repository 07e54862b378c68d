// Charts: pipeline.chart_svg renders a query's time series as SVG.  The
// seed's example, battery levels of every device over the last week, is
// opened in headless Chromium (playwright-core, Debian's chromium),
// screenshotted, and checked from the page itself: the title, five lines
// painted in their colors inside the plot, the legend, readable ticks.
// The other cases parse the SVG with the browser's (strict) XML parser.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { sql, endpoint, createBucket, s3, s3sdk } from "./lib.mjs";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const db = "e2e_chart";
const devices = ["device-01", "device-02", "device-03", "device-04", "device-05"];
// kept after the run, so that the screenshots can be looked at
const dir = mkdtempSync(join(tmpdir(), "pipeline-chart-"));
let browser;
let page;

const seedQuery = `SELECT ts, device_id, battery FROM devicebattery_week
                   WHERE ts >= timestamptz '2026-11-25 00:00+00' - interval '7 days'`;

before(async () => {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE ${db}`);
  await sql("postgres", `ALTER DATABASE ${db} SET timezone = 'UTC'`);
  await sql(db, `CREATE EXTENSION pipeline`);
  // The seed's second-tier report: a week of hourly battery levels of five
  // devices, draining at different rates, recharged to 100 now and then.
  // Inserted in a scrambled order: the chart must sort.
  await sql(db, `
    CREATE TABLE devicebattery_week (device_id text, battery float8, ts timestamptz);
    INSERT INTO devicebattery_week
    SELECT format('device-%s', lpad(d::text, 2, '0')),
           round(100 - mod(h * (0.9 + 0.3 * d) + 23 * d, 85), 1)::float8,
           timestamptz '2026-11-18 00:00+00' + h * interval '1 hour'
    FROM generate_series(1, 5) d, generate_series(0, 168) h
    ORDER BY md5(d || ':' || h)`);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 960, height: 480 }, deviceScaleFactor: 1 });
});

after(async () => {
  await browser?.close();
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

async function chart(query, title = null) {
  const rows = await sql(db, `SELECT pipeline.chart_svg($1, $2) AS svg`, [query, title]);
  return rows[0].svg;
}

/** Parse an SVG document with the browser's XML parser and summarize it. */
async function parse(svg) {
  return page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const err = doc.querySelector("parsererror");
    if (err) return { error: err.textContent };
    const root = doc.documentElement;
    const texts = (sel) => [...doc.querySelectorAll(sel)].map((t) => t.textContent);
    return {
      root: root.localName,
      ns: root.namespaceURI,
      width: root.getAttribute("width"),
      height: root.getAttribute("height"),
      title: doc.querySelector("text.title")?.textContent ?? null,
      docTitle: root.querySelector(":scope > title")?.textContent ?? null,
      noData: doc.querySelector("text.no-data")?.textContent ?? null,
      series: [...doc.querySelectorAll("g.series")].map((g) => ({
        name: g.querySelector("title").textContent,
        stroke: g.getAttribute("stroke"),
        dash: g.getAttribute("stroke-dasharray"),
        polylines: [...g.querySelectorAll("polyline")].map((p) => p.getAttribute("points").split(" ").length),
        circles: g.querySelectorAll("circle").length,
      })),
      legend: texts("g.legend-item text"),
      legendMore: doc.querySelector("text.legend-more")?.textContent ?? null,
      xLabels: texts("g.x-axis text"),
      yLabels: texts("g.y-axis text"),
      scripts: doc.querySelectorAll("script, foreignObject, image, use").length,
      hrefs: /href\s*=|url\(|@import/i.test(text),
    };
  }, svg);
}

/** Rows of a VALUES list for a query. */
const values = (rows) => rows.map((r) => `(${r.join(", ")})`).join(", ");

test("the seed's chart: battery of every device over the last week, in Chromium", async (t) => {
  const svg = await chart(seedQuery, "Battery, last 7 days");
  const svgPath = join(dir, "battery.svg");
  const pngPath = join(dir, "battery.png");
  writeFileSync(svgPath, svg);
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"/);
  assert.ok(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(svg), "the document is plain ASCII");

  await page.goto(`file://${svgPath}`);
  const png = await page.screenshot({ path: pngPath, type: "png" });
  t.diagnostic(`screenshot: ${pngPath}`);
  console.log(`# chart screenshot: ${pngPath}`);

  // geometry, from the rendered document
  const g = await page.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, w: r.width, h: r.height };
    };
    const rgb = (s) => s.match(/\d+/g).slice(0, 3).map(Number);
    const root = document.documentElement;
    const title = document.querySelector("text.title");
    return {
      root: box(root),
      plot: box(document.querySelector("rect.plot")),
      title: title ? { text: title.textContent, box: box(title), fill: rgb(getComputedStyle(title).fill) } : null,
      series: [...document.querySelectorAll("g.series")].map((s) => ({
        name: s.querySelector("title").textContent,
        color: rgb(getComputedStyle(s).stroke),
        width: parseFloat(getComputedStyle(s).strokeWidth),
        lines: [...s.querySelectorAll("polyline")].map((p) => {
          const m = p.getScreenCTM();
          const pts = [];
          for (let i = 0; i < p.points.numberOfItems; i++) {
            const q = p.points.getItem(i).matrixTransform(m);
            pts.push([q.x, q.y]);
          }
          return { box: box(p), pts };
        }),
      })),
      legend: box(document.querySelector("g.legend")),
      legendItems: [...document.querySelectorAll("g.legend-item")].map((it) => ({
        text: it.querySelector("text").textContent,
        textBox: box(it.querySelector("text")),
        color: rgb(getComputedStyle(it.querySelector("line")).stroke),
        swatch: box(it.querySelector("line")),
      })),
      texts: [...document.querySelectorAll("text")].map((el) => ({
        cls: el.closest("[class]")?.getAttribute("class"), text: el.textContent, box: box(el),
      })),
      xLabels: [...document.querySelectorAll("g.x-axis text")].map((el) => ({ text: el.textContent, box: box(el) })),
      yLabels: [...document.querySelectorAll("g.y-axis text")].map((el) => ({ text: el.textContent, box: box(el) })),
    };
  });

  // pixels, from the screenshot, drawn into a canvas of a blank page
  const shot = await browser.newPage();
  try {
    await shot.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      c.getContext("2d").drawImage(img, 0, 0);
      window.px = c.getContext("2d").getImageData(0, 0, c.width, c.height);
    }, png.toString("base64"));

    const size = await shot.evaluate(() => [window.px.width, window.px.height]);
    assert.deepEqual(size, [960, 480], "a 960x480 screenshot");

    // the document fills the viewport, at its own scale
    assert.deepEqual([g.root.x, g.root.y, g.root.w, g.root.h], [0, 0, 960, 480]);

    // title
    assert.ok(g.title, "a title element");
    assert.equal(g.title.text, "Battery, last 7 days");
    assert.ok(g.title.box.w > 100 && g.title.box.h > 10, `title is laid out: ${JSON.stringify(g.title.box)}`);
    assert.ok(g.title.box.y + g.title.box.h <= g.plot.y, "title above the plot");
    const titleInk = await shot.evaluate(({ x, y, w, h }) => {
      let dark = 0;
      for (let j = Math.floor(y); j < y + h; j++) {
        for (let i = Math.floor(x); i < x + w; i++) {
          const k = (j * window.px.width + i) * 4;
          const d = window.px.data;
          if (d[k] < 100 && d[k + 1] < 100 && d[k + 2] < 100) dark++;
        }
      }
      return dark;
    }, g.title.box);
    assert.ok(titleInk > 150, `the title is painted (${titleInk} dark pixels)`);

    // five lines, one per device, sorted by name, each in its own color
    assert.deepEqual(g.series.map((s) => s.name), devices);
    const colors = new Set(g.series.map((s) => s.color.join(",")));
    assert.equal(colors.size, 5, "five distinct colors");
    for (const s of g.series) {
      assert.equal(s.lines.length, 1, `${s.name}: one polyline`);
      assert.equal(s.lines[0].pts.length, 169, `${s.name}: a point an hour for a week`);
      const xs = s.lines[0].pts.map((p) => p[0]);
      assert.ok(xs.every((x, i) => i === 0 || x > xs[i - 1]), `${s.name}: points sorted by time`);
      const b = s.lines[0].box;
      assert.ok(b.x >= g.plot.x - 0.01 && b.y >= g.plot.y - 0.01 &&
        b.x + b.w <= g.plot.x + g.plot.w + 0.01 && b.y + b.h <= g.plot.y + g.plot.h + 0.01,
        `${s.name}: line ${JSON.stringify(b)} inside the plot ${JSON.stringify(g.plot)}`);
      assert.ok(b.w > 0.95 * g.plot.w, `${s.name}: the line spans the week`);
    }

    // the colors are really painted along each line: sample the screenshot
    // at every vertex and segment midpoint (3x3 neighbourhood)
    const painted = await shot.evaluate((series) => {
      const { data, width } = window.px;
      const near = (x, y, c) => {
        let best = Infinity;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const k = ((Math.round(y) + dy) * width + Math.round(x) + dx) * 4;
            const dist = Math.hypot(data[k] - c[0], data[k + 1] - c[1], data[k + 2] - c[2]);
            best = Math.min(best, dist);
          }
        }
        return best < 40;
      };
      return series.map((s) => {
        const pts = s.lines[0].pts;
        let hit = 0;
        let n = 0;
        for (let i = 0; i < pts.length; i++) {
          n++;
          if (near(pts[i][0], pts[i][1], s.color)) hit++;
          if (i > 0) {
            n++;
            if (near((pts[i][0] + pts[i - 1][0]) / 2, (pts[i][1] + pts[i - 1][1]) / 2, s.color)) hit++;
          }
        }
        let total = 0;
        for (let k = 0; k < data.length; k += 4) {
          if (Math.hypot(data[k] - s.color[0], data[k + 1] - s.color[1], data[k + 2] - s.color[2]) < 40) total++;
        }
        return { name: s.name, along: hit / n, total };
      });
    }, g.series);
    t.diagnostic(`painted: ${JSON.stringify(painted)}`);
    for (const p of painted) {
      assert.ok(p.along > 0.6, `${p.name}: its color is painted along its line (${(p.along * 100).toFixed(0)}% of samples)`);
      assert.ok(p.total > 500, `${p.name}: ${p.total} pixels of its color`);
    }

    // legend: the five devices, in the lines' colors, beside the plot
    assert.deepEqual(g.legendItems.map((i) => i.text), devices);
    g.legendItems.forEach((it, i) => assert.deepEqual(it.color, g.series[i].color, `${it.text}: legend color`));
    assert.ok(g.legend.x >= g.plot.x + g.plot.w, "the legend does not cover the plot");
    assert.ok(g.legend.x + g.legend.w <= 960 && g.legend.y + g.legend.h <= 480, "the legend is on the canvas");
    const swatches = await shot.evaluate((items) => items.map((it) => {
      const { data, width } = window.px;
      const y = Math.round(it.swatch.y + it.swatch.h / 2);
      const x = Math.round(it.swatch.x + it.swatch.w / 2);
      const k = (y * width + x) * 4;
      return Math.hypot(data[k] - it.color[0], data[k + 1] - it.color[1], data[k + 2] - it.color[2]);
    }), g.legendItems);
    swatches.forEach((d, i) => assert.ok(d < 40, `${devices[i]}: legend swatch painted (distance ${d})`));

    // ticks: a label per day (the week in UTC), values 0..100
    assert.deepEqual(g.xLabels.map((l) => l.text),
      ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"]);
    const ys = g.yLabels.map((l) => Number(l.text));
    assert.ok(ys.length >= 4 && ys.length <= 12, `y labels: ${ys}`);
    assert.ok(ys.every((v, i) => Number.isFinite(v) && (i === 0 || v > ys[i - 1])), `y labels ascending: ${ys}`);
    assert.ok(ys[0] <= 15 && ys[ys.length - 1] >= 100, `y axis covers 15..100: ${ys}`);
    const step = ys[1] - ys[0];
    assert.ok([1, 2, 5].includes(step / 10 ** Math.floor(Math.log10(step))), `nice y step: ${step}`);
    for (const l of g.yLabels) {
      assert.ok(l.box.x + l.box.w <= g.plot.x, `y label ${l.text} left of the plot`);
    }
    for (const l of g.xLabels) {
      assert.ok(l.box.y >= g.plot.y + g.plot.h, `x label ${l.text} below the plot`);
    }

    // no text overlaps any other, and all of it is on the canvas
    const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    for (let i = 0; i < g.texts.length; i++) {
      const a = g.texts[i];
      assert.ok(a.box.w > 0 && a.box.x >= 0 && a.box.y >= 0 && a.box.x + a.box.w <= 960 &&
        a.box.y + a.box.h <= 480, `"${a.text}" is on the canvas: ${JSON.stringify(a.box)}`);
      for (let j = i + 1; j < g.texts.length; j++) {
        const b = g.texts[j];
        assert.ok(!overlap(a.box, b.box), `"${a.text}" and "${b.text}" overlap`);
      }
    }
  } finally {
    await shot.close();
  }
});

test("wide form: every numeric column is a line; date x axis", async () => {
  const svg = await chart(`SELECT day, hits, errors, note
                           FROM (VALUES ${values([
                             ["date '2026-11-01'", 10, 1.5, "'a'"],
                             ["date '2026-11-03'", 30, "NULL", "'b'"],
                             ["date '2026-11-02'", 20, 2.5, "'c'"],
                             ["date '2026-11-04'", 25, 0.5, "'d'"],
                           ])}) v(day, hits, errors, note)`, "Hits and errors");
  const s = await parse(svg);
  assert.equal(s.error, undefined, s.error);
  assert.equal(s.root, "svg");
  assert.equal(s.ns, "http://www.w3.org/2000/svg");
  assert.deepEqual(s.series.map((x) => x.name), ["hits", "errors"]);
  assert.notEqual(s.series[0].stroke, s.series[1].stroke);
  assert.deepEqual(s.series[0].polylines, [4]);
  // errors: 11-01, 11-02, NULL on 11-03 (a gap), 11-04: a line of two points and a dot
  assert.deepEqual(s.series[1].polylines, [2]);
  assert.equal(s.series[1].circles, 1);
  assert.deepEqual(s.legend, ["hits", "errors"]);
  assert.ok(s.xLabels.every((l) => /^\d{4}-\d{2}-\d{2}$/.test(l)), `date labels: ${s.xLabels}`);
  assert.ok(s.xLabels.includes("2026-11-02"), `${s.xLabels}`);
  assert.equal(s.scripts, 0);
  assert.equal(s.hrefs, false, "no external resources");
  writeFileSync(join(dir, "wide.svg"), svg);
  await page.goto(`file://${join(dir, "wide.svg")}`);
  await page.screenshot({ path: join(dir, "wide.png") });
});

test("no rows: a valid SVG that says no data", async () => {
  const svg = await chart(`${seedQuery} AND false`, "Battery, last 7 days");
  const s = await parse(svg);
  assert.equal(s.error, undefined, s.error);
  assert.equal(s.root, "svg");
  assert.equal(s.width, "960");
  assert.equal(s.height, "480");
  assert.equal(s.noData, "no data");
  assert.equal(s.title, "Battery, last 7 days");
  assert.deepEqual(s.series, []);
  // rows whose values are all NULL are no data either
  const nulls = await parse(await chart(`SELECT now() AS ts, NULL::int AS v`));
  assert.equal(nulls.noData, "no data");
  assert.equal(nulls.title, null, "no title, no title text");
  writeFileSync(join(dir, "nodata.svg"), svg);
  await page.goto(`file://${join(dir, "nodata.svg")}`);
  await page.screenshot({ path: join(dir, "nodata.png") });
});

test("titles and series names are escaped for XML; non-ASCII as character references", async () => {
  const title = `Temp <&> "quoted" 'single' ]]> &amp; Grad°`;
  const svg = await chart(`SELECT * FROM (VALUES
                             (timestamptz '2026-11-25 10:00+00', '<b>&x', 1),
                             (timestamptz '2026-11-25 11:00+00', '<b>&x', 2),
                             (timestamptz '2026-11-25 10:00+00', 'Gerät "ü"', 3),
                             (timestamptz '2026-11-25 11:00+00', 'Gerät "ü"', 4)) v(ts, dev, v)`, title);
  assert.ok(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(svg), "the document is plain ASCII");
  assert.ok(!svg.includes("<&>") && !svg.includes("<b>"), "markup characters escaped");
  const s = await parse(svg);
  assert.equal(s.error, undefined, s.error);
  assert.equal(s.title, title);
  assert.equal(s.docTitle, title);
  assert.deepEqual(s.series.map((x) => x.name), ["<b>&x", 'Gerät "ü"']);
  assert.deepEqual(s.legend, ["<b>&x", 'Gerät "ü"']);
  // an hour apart: minute/hour ticks, labelled month-day hour:minute
  assert.ok(s.xLabels.length >= 2 && s.xLabels.every((l) => /^\d\d-\d\d \d\d:\d\d$/.test(l)), `${s.xLabels}`);
  assert.ok(s.xLabels.includes("11-25 10:30"), `${s.xLabels}`);
  // control characters are not XML: they become spaces
  const ctl = await parse(await chart(`SELECT now() AS ts, 1 AS v`, "a\u0001b"));
  assert.equal(ctl.error, undefined, ctl.error);
  assert.equal(ctl.title, "a b");
});

test("errors: no timestamp column, no numeric column, not a SELECT, too many series", async () => {
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('SELECT device_id, battery FROM devicebattery_week')`),
    (e) => e.message === "chart query has no timestamp column" && /time column/.test(e.hint));
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('SELECT ts, device_id FROM devicebattery_week')`),
    /chart query has no numeric column/);
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('DELETE FROM devicebattery_week RETURNING ts, battery')`),
    /chart query must be a SELECT statement/);
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('WITH d AS (DELETE FROM devicebattery_week RETURNING *) SELECT ts, battery FROM d')`),
    /chart query must not change data/);
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('SELECT 1; SELECT 2')`),
    /chart query must be a single SELECT statement/);
  assert.equal((await sql(db, `SELECT count(*)::int AS n FROM devicebattery_week`))[0].n, 5 * 169, "nothing deleted");
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('SELECT now() AS ts, ''d'' || i AS dev, i FROM generate_series(1, 51) i')`),
    (e) => e.message === "chart query has too many series" && /at most 50/.test(e.detail));
  await assert.rejects(sql(db, `SELECT pipeline.chart_svg('SELECT now() + i * interval ''1 s'' AS ts, i FROM generate_series(1, 100001) i')`),
    /chart query returned too many rows/);
  assert.equal((await sql(db, `SELECT pipeline.chart_svg(NULL) AS svg`))[0].svg, null);
});

test("gaps, dots, a legend of 20 lines at most, and the same rows give the same bytes", async () => {
  const sorted = await chart(`${seedQuery} ORDER BY ts, device_id`, "t");
  const scrambled = await chart(`${seedQuery} ORDER BY md5(device_id || ts), battery`, "t");
  assert.equal(sorted, scrambled, "row order does not matter");

  const many = await parse(await chart(`SELECT timestamptz '2026-11-25 00:00+00' + h * interval '1 hour' AS ts,
                                               format('s%s', lpad(i::text, 2, '0')) AS name, i * h AS v
                                        FROM generate_series(1, 25) i, generate_series(0, 3) h`));
  assert.equal(many.error, undefined, many.error);
  assert.equal(many.series.length, 25);
  assert.equal(many.legend.length, 19);
  assert.equal(many.legendMore, "+6 more");
  // colors cycle, later rounds dashed
  assert.equal(many.series[10].stroke, many.series[0].stroke);
  assert.equal(many.series[0].dash, null);
  assert.ok(many.series[10].dash, "the second round of colors is dashed");

  const gaps = await parse(await chart(`SELECT * FROM (VALUES
      (timestamp '2026-11-25 00:00', 'a', 1), (timestamp '2026-11-25 01:00', 'a', 2),
      (timestamp '2026-11-25 02:00', 'a', NULL), (timestamp '2026-11-25 03:00', 'a', 4),
      (timestamp '2026-11-25 04:00', 'a', 5), (timestamp '2026-11-25 02:00', 'b', 3)) v(ts, s, v)`));
  assert.deepEqual(gaps.series.map((x) => [x.name, x.polylines, x.circles]), [["a", [2, 2], 0], ["b", [], 1]]);
});

test("a report exported as SVG charts the rows its run just wrote", async () => {
  const bucket = `chart-${process.pid}`;
  await createBucket(bucket);
  await sql(db, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
                 OPTIONS (region 'us-east-1', endpoint '${endpoint}')`);
  await sql(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake
                 OPTIONS (access_key_id 'test', secret_access_key 'test')`);
  await sql(db, `SELECT pipeline.create_report(name => 'batterychart', query => $1,
                   target => 'public.batterychart', export => 's3://${bucket}/processed/v0/batterychart/',
                   export_format => 'svg', server => 'lake')`, [seedQuery]);
  await sql(db, `SELECT pipeline.run_report('batterychart')`);
  const list = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: "processed/v0/batterychart/" }));
  assert.equal(list.Contents?.length, 1, "one chart object");
  assert.match(list.Contents[0].Key, /\.svg$/);
  const obj = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: list.Contents[0].Key }));
  assert.equal(obj.ContentType, "image/svg+xml");
  const svg = await obj.Body.transformToString();
  // the rows of this very run, not the empty table of before it
  assert.equal(svg, await chart(`SELECT * FROM batterychart`, "batterychart"), "titled with the report's name");
  const s = await parse(svg);
  assert.equal(s.error, undefined, s.error);
  assert.deepEqual(s.legend, devices);
  assert.equal(s.noData, null);
});
