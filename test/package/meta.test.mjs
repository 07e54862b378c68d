// The release metadata: META.json against the rules of the PGXN Meta Spec
// 1.0.0 (no validator is packaged for Debian or npm: the rules are checked
// here, the validator itself tested on broken documents), and the versions
// of pipeline.control, META.json and debian/changelog agreeing; debian/control
// as pg_buildext generates it from debian/control.in and debian/pgversions.
// test/run's "package" layer; tools/package/check builds and installs the .deb.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const top = fileURLToPath(new URL("../..", import.meta.url));
const read = (p) => readFileSync(join(top, p), "utf8");

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const TERM = /^[^/\\\s\p{Cc}]{2,}$/u;
const TAG = /^[^/\\\p{Cc}]{2,255}$/u;
const LICENSES = new Set(["agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
  "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1",
  "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source", "restricted",
  "unrestricted", "unknown"]);
const TOP_KEYS = new Set(["name", "version", "abstract", "maintainer", "license", "provides", "meta-spec",
  "description", "generated_by", "tags", "no_index", "prereqs", "release_status", "resources"]);
const REQUIRED = ["name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"];
const custom = (k) => /^[xX]_./.test(k);

/** A version range of the spec: "0", 0, or comma-separated [op] semver. */
function versionRange(v) {
  if (v === 0 || v === "0") return true;
  if (typeof v !== "string") return false;
  return v.split(",").every((part) => {
    const m = /^\s*(?:([=!]=|[<>]=?)\s*)?(.+?)\s*$/.exec(part);
    return m && SEMVER.test(m[2]);
  });
}

/** The spec's rules; returns the list of problems (empty: valid). */
export function validateMeta(meta, { fileExists = () => true } = {}) {
  const errors = [];
  const err = (m) => errors.push(m);
  const nonEmpty = (v) => typeof v === "string" && v.length > 0;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return ["not a JSON object"];
  for (const k of REQUIRED) if (!(k in meta)) err(`missing mandatory field '${k}'`);
  for (const k of Object.keys(meta)) if (!TOP_KEYS.has(k) && !custom(k)) err(`unknown field '${k}'`);
  if ("name" in meta && !(typeof meta.name === "string" && TERM.test(meta.name))) err("name: not a term");
  if ("version" in meta && !(typeof meta.version === "string" && SEMVER.test(meta.version))) err(`version: '${meta.version}' is not semver`);
  if ("abstract" in meta && !nonEmpty(meta.abstract)) err("abstract: empty");
  if ("description" in meta && !nonEmpty(meta.description)) err("description: empty");
  if ("maintainer" in meta) {
    const m = meta.maintainer;
    if (!(nonEmpty(m) || (Array.isArray(m) && m.length > 0 && m.every(nonEmpty)))) err("maintainer: a string or a list of strings");
  }
  if ("license" in meta) {
    const l = meta.license;
    const ok = (typeof l === "string" && LICENSES.has(l)) ||
      (Array.isArray(l) && l.length > 0 && l.every((x) => LICENSES.has(x))) ||
      (l && typeof l === "object" && !Array.isArray(l) && Object.keys(l).length > 0 &&
        Object.values(l).every((u) => typeof u === "string" && /^[a-z][a-z0-9+.-]*:/i.test(u)));
    if (!ok) err(`license: '${JSON.stringify(l)}' is not a known license, a list of them, or a map of names to URIs`);
  }
  if ("provides" in meta) {
    const p = meta.provides;
    if (!p || typeof p !== "object" || Array.isArray(p) || Object.keys(p).length === 0) {
      err("provides: an object naming at least one extension");
    } else {
      for (const [ext, e] of Object.entries(p)) {
        if (!TERM.test(ext)) err(`provides: '${ext}' is not a term`);
        if (!e || typeof e !== "object") { err(`provides.${ext}: not an object`); continue; }
        for (const k of Object.keys(e)) {
          if (!["file", "version", "abstract", "docfile"].includes(k) && !custom(k)) err(`provides.${ext}: unknown field '${k}'`);
        }
        if (!nonEmpty(e.file)) err(`provides.${ext}: missing file`);
        else if (e.file.startsWith("/") || e.file.includes("\\") || !fileExists(e.file)) err(`provides.${ext}.file: no file ${e.file}`);
        if (!(typeof e.version === "string" && SEMVER.test(e.version))) err(`provides.${ext}.version: not semver`);
        if ("abstract" in e && !nonEmpty(e.abstract)) err(`provides.${ext}.abstract: empty`);
        if ("docfile" in e && !(nonEmpty(e.docfile) && fileExists(e.docfile))) err(`provides.${ext}.docfile: no file ${e.docfile}`);
      }
    }
  }
  if ("meta-spec" in meta) {
    const s = meta["meta-spec"];
    if (!s || typeof s !== "object" || !/^1\.0\.\d+$/.test(s.version ?? "")) err("meta-spec: version 1.0.x");
    else for (const k of Object.keys(s)) if (!["version", "url"].includes(k) && !custom(k)) err(`meta-spec: unknown field '${k}'`);
  }
  if ("tags" in meta) {
    const t = meta.tags;
    if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === "string" && TAG.test(x))) err("tags: a list of tags");
  }
  if ("release_status" in meta && !["stable", "testing", "unstable"].includes(meta.release_status)) err("release_status: stable, testing or unstable");
  if ("prereqs" in meta) {
    for (const [phase, rels] of Object.entries(meta.prereqs ?? {})) {
      if (!["configure", "build", "runtime", "test", "develop"].includes(phase) && !custom(phase)) { err(`prereqs: unknown phase '${phase}'`); continue; }
      for (const [rel, reqs] of Object.entries(rels ?? {})) {
        if (!["requires", "recommends", "suggests", "conflicts"].includes(rel) && !custom(rel)) { err(`prereqs.${phase}: unknown relationship '${rel}'`); continue; }
        for (const [name, range] of Object.entries(reqs ?? {})) {
          if (!TERM.test(name)) err(`prereqs.${phase}.${rel}: '${name}' is not a term`);
          if (!versionRange(range)) err(`prereqs.${phase}.${rel}.${name}: '${range}' is not a version range`);
        }
      }
    }
  }
  if ("no_index" in meta) {
    for (const [k, v] of Object.entries(meta.no_index ?? {})) {
      if (!["file", "directory"].includes(k) && !custom(k)) err(`no_index: unknown field '${k}'`);
      else if (!(Array.isArray(v) ? v.every(nonEmpty) : nonEmpty(v))) err(`no_index.${k}: paths`);
    }
  }
  if ("resources" in meta) {
    for (const k of Object.keys(meta.resources ?? {})) {
      if (!["homepage", "bugtracker", "repository"].includes(k) && !custom(k)) err(`resources: unknown field '${k}'`);
    }
  }
  return errors;
}

const meta = JSON.parse(read("META.json"));
const exists = (p) => existsSync(join(top, p));
const control = Object.fromEntries(read("pipeline.control").split("\n")
  .map((l) => /^\s*(\w+)\s*=\s*'?([^']*)'?\s*$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]));

test("META.json follows the PGXN Meta Spec 1.0.0", () => {
  assert.deepEqual(validateMeta(meta, { fileExists: exists }), []);
});

test("the validator finds what the spec forbids", () => {
  const broken = (change) => validateMeta({ ...structuredClone(meta), ...change }, { fileExists: exists });
  const { license: _l, ...noLicense } = meta;
  assert.match(validateMeta(noLicense).join(), /missing mandatory field 'license'/);
  assert.match(broken({ version: "1.1" }).join(), /version: '1.1' is not semver/);
  assert.match(broken({ license: "proprietary" }).join(), /license/);
  assert.match(broken({ homepage: "x" }).join(), /unknown field 'homepage'/);
  assert.match(broken({ name: "a b" }).join(), /name: not a term/);
  assert.match(broken({ provides: { pipeline: { file: "no/such.sql", version: "1.1.0" } } }).join(), /no file no\/such\.sql/);
  assert.match(broken({ provides: { pipeline: { version: "1.1.0" } } }).join(), /missing file/);
  assert.match(broken({ prereqs: { runtime: { requires: { PostgreSQL: "15" } } } }).join(), /not a version range/);
  assert.match(broken({ tags: ["a/b"] }).join(), /tags/);
  assert.deepEqual(broken({ x_custom: 1, prereqs: { runtime: { requires: { PostgreSQL: "0" } } } }), []);
});

test("one version everywhere: pipeline.control, META.json, debian/changelog", () => {
  const v = control.default_version;
  assert.match(v, /^\d+\.\d+$/, "default_version");
  assert.equal(meta.version, `${v}.0`, "META.json version (semver of default_version)");
  assert.equal(meta.provides.pipeline.version, `${v}.0`);
  const first = read("debian/changelog").split("\n")[0];
  const m = /^pipeline \(([^)]+)\) \S+; urgency=\S+$/.exec(first);
  assert.ok(m, `debian/changelog's first line: ${first}`);
  assert.equal(m[1].replace(/-[^-]+$/, "").replace(/\+.*$/, ""), v, "the package's upstream version");
});

test("debian/control is what pg_buildext generates from debian/control.in and debian/pgversions", () => {
  const versions = read("debian/pgversions").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  assert.ok(versions.every((v) => /^\d+$/.test(v)), "pgversions names versions (the C code needs 15's API)");
  const newest = versions.at(-1);
  // pg_buildext gencontrol: a Package paragraph with PGVERSION once per
  // version, PGVERSION elsewhere the newest one
  const paragraphs = read("debian/control.in").replace(/\n+$/, "").split(/\n\n+/);
  const out = [];
  for (const p of paragraphs) {
    if (/^Package: .*PGVERSION/m.test(p)) for (const v of versions) out.push(p.replaceAll("PGVERSION", v));
    else out.push(p.replaceAll("PGVERSION", newest));
  }
  assert.equal(read("debian/control"), out.join("\n\n") + "\n", "run 'pg_buildext updatecontrol'");
  assert.match(read("debian/control"), /^Package: postgresql-15-pipeline$/m);
  assert.ok(statSync(join(top, "debian/rules")).mode & 0o111, "debian/rules is executable");
  assert.match(read("debian/rules"), /dh \$@ --with pgxs/, "built with pg_buildext through dh's pgxs sequence");
});
