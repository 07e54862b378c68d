// The fleet's scan through a coordinator, the PostgreSQL way: three
// "servers" (databases reached through postgres_fdw, as separate machines
// would be) each scan one share of a prefix (pipeline_s3 shard 'k/3'); the
// coordinator sees them as one partitioned table of postgres_fdw foreign
// tables, with asynchronous append and the aggregation pushed down to each
// server. The README's "Scaling out" example, run as written there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { sql, connect, endpoint } from "./lib.mjs";

const shards = [1, 2, 3];
const prefix = "s3://synthetic-600-5/";
const coord = "e2e_coord";
const shardDb = (k) => `e2e_coord_s${k}`;

async function withLake(db) {
  await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql("postgres", `CREATE DATABASE ${db}`);
  await sql(db, `CREATE EXTENSION pipeline`);
  await sql(db, `CREATE SERVER lake FOREIGN DATA WRAPPER pipeline_s3
                 OPTIONS (region 'us-east-1', endpoint '${endpoint}')`);
  await sql(db, `CREATE USER MAPPING FOR CURRENT_USER SERVER lake
                 OPTIONS (access_key_id 'test', secret_access_key 'test')`);
}

before(async () => {
  // on each server: its share of the prefix, and a view that names the share
  for (const k of shards) {
    await withLake(shardDb(k));
    await sql(shardDb(k), `
      CREATE FOREIGN TABLE events (i int, o int, v int, s text, key text OPTIONS (metadata 'key'))
        SERVER lake OPTIONS (uri '${prefix}', shard '${k}/3');
      CREATE VIEW events_share AS SELECT ${k} AS shard, i, o, v, s, key FROM events;`);
  }
  // the coordinator: one partitioned table, a postgres_fdw partition per server
  await withLake(coord);
  await sql(coord, `CREATE EXTENSION postgres_fdw`);
  await sql(coord, `CREATE TABLE fleet_events (shard int, i int, o int, v int, s text, key text)
                    PARTITION BY LIST (shard)`);
  for (const k of shards) {
    await sql(coord, `
      CREATE SERVER server_${k} FOREIGN DATA WRAPPER postgres_fdw
        OPTIONS (host '${process.env.PGHOST}', port '${process.env.PGPORT}', dbname '${shardDb(k)}',
                 async_capable 'true', fetch_size '10000');
      CREATE USER MAPPING FOR CURRENT_USER SERVER server_${k} OPTIONS (user '${process.env.PGUSER ?? "postgres"}');
      CREATE FOREIGN TABLE fleet_events_${k} PARTITION OF fleet_events FOR VALUES IN (${k})
        SERVER server_${k} OPTIONS (table_name 'events_share');`);
  }
  // one server scanning the whole prefix, to compare with
  await sql(coord, `CREATE FOREIGN TABLE events_whole (i int, o int, v int, s text, key text OPTIONS (metadata 'key'))
                    SERVER lake OPTIONS (uri '${prefix}')`);
});

after(async () => {
  if (process.env.E2E_KEEP) return;
  for (const db of [coord, ...shards.map(shardDb)]) await sql("postgres", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

const perShare = `SELECT shard, count(*) AS n, sum(i)::bigint AS si, sum(v)::bigint AS sv,
                         count(DISTINCT key) AS objects
                  FROM fleet_events GROUP BY shard`;

test("the coordinator's distributed scan returns what one server scanning the whole prefix does", async () => {
  const c = await connect(coord);
  let got;
  try {
    await c.query("SET enable_partitionwise_aggregate = on");
    got = (await c.query(`SELECT sum(n)::bigint AS n, sum(si)::bigint AS si, sum(sv)::bigint AS sv,
                                 sum(objects)::bigint AS objects FROM (${perShare}) x`)).rows[0];
  } finally {
    await c.end();
  }
  const whole = (await sql(coord, `SELECT count(*)::bigint AS n, sum(i)::bigint AS si, sum(v)::bigint AS sv,
                                          count(DISTINCT key)::bigint AS objects FROM events_whole`))[0];
  assert.equal(whole.objects, "600");
  assert.equal(whole.n, "3000");
  assert.deepEqual(got, whole, "the same count, sums and objects");
  // and the shares are disjoint: no object is seen by two servers
  const dup = await sql(coord, `SELECT key FROM fleet_events GROUP BY key HAVING count(DISTINCT shard) > 1 LIMIT 1`);
  assert.deepEqual(dup, [], "no object in two shares");
  const each = await sql(coord, `SELECT shard, count(DISTINCT key)::int AS objects FROM fleet_events GROUP BY shard ORDER BY shard`);
  assert.equal(each.length, 3);
  assert.ok(each.every((r) => r.objects > 0), "every server has a share");
});

test("EXPLAIN shows the aggregation pushed down to each server, appended asynchronously", async () => {
  const c = await connect(coord);
  let plan;
  try {
    await c.query("SET enable_partitionwise_aggregate = on");
    plan = (await c.query(`EXPLAIN (VERBOSE, COSTS OFF) ${perShare}`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
  } finally {
    await c.end();
  }
  for (const k of shards) {
    assert.match(plan, new RegExp(`Async Foreign Scan[\\s\\S]*Relations: Aggregate on \\(public\\.fleet_events_${k} `),
      `server ${k}'s aggregate is computed there:\n${plan}`);
  }
  assert.match(plan, /Remote SQL: SELECT shard, count\(\*\), sum\(i\)/, `the remote SQL aggregates:\n${plan}`);
  assert.doesNotMatch(plan, /Partial/, "no partial aggregate at the coordinator");
});
