// The query API on PostgreSQL's streaming replica (docs/scaling.md#read-replica; tests/cluster/
// run.sh starts the replica with the cluster: scripts/pg.sh replica, QUERY_DATABASE_URL on its
// port, QUERY_LISTEN_DATABASE_URL on the primary). Checks that the queries go to the replica and
// the notifier listens on the primary; that a query carrying the token of the command just made
// sees that write, many times in a row under load (the wait holds until the replica replayed
// it); and that with the replica stopped under load the query API answers 503, then, started
// again, the replica catches up: its read model, and what the API answers, equal the write model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  sleep, now, startServices, stopServices, sqlRows, sqlValue, REPO_ROOT,
} from '../faults/stack.mjs';
import { Load, createProducts } from '../faults/load.mjs';
import { settle } from '../faults/converge.mjs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const { COMMAND_URL, QUERY_URL, STATE_DIR, PG_PORT, PG_REPLICA_PORT } = process.env;
const RATE = Number(process.env.CLUSTER_RATE ?? 60);
const ROUNDS = Number(process.env.REPLICA_ROUNDS ?? 150);

// psql as the superuser over a server's socket: pg (the primary) or pg-replica
const superuser = (dir, port) => `postgresql:///postgres?host=${path.join(STATE_DIR, dir, 'run')}&port=${port}&user=postgres`;
const PRIMARY = () => superuser('pg', PG_PORT);
const REPLICA = () => superuser('pg-replica', PG_REPLICA_PORT);
const replicaOwnerUrl = () => process.env.READ_DATABASE_URL.replace(`:${PG_PORT}/`, `:${PG_REPLICA_PORT}/`);
const pgReplica = (action) => execFileP(path.join(REPO_ROOT, 'scripts/pg.sh'), ['replica', action],
  { env: process.env, cwd: REPO_ROOT });

let products;

before(async () => {
  await startServices();
  products = await createProducts(4, 'replica');
});

after(async () => {
  await pgReplica('start').catch(() => {});
  await stopServices().catch(() => {});
});

async function http(base, method, p, body, headers = {}) {
  try {
    const res = await fetch(base + p, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, token: res.headers.get('x-consistency-token') };
  } catch {
    return { status: 0 };
  }
}
const cmd = (m, p, b) => http(COMMAND_URL, m, p, b);
const get = (p, token) => http(QUERY_URL, 'GET', p, undefined, token ? { 'X-Consistency-Token': token } : {});

test('1. the query API queries the replica and listens on the primary', async () => {
  assert.equal(sqlValue(REPLICA(), 'SELECT pg_is_in_recovery()'), 't', 'the replica is not a standby');
  assert.equal(sqlValue(PRIMARY(), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"), '1',
    'the primary streams to no standby');
  // a query through the API: its pool's session is on the replica, not on the primary (the
  // product was just created: without a token the read model may not have it yet; consumers
  // that share partitions claim them a third of a lease after they start)
  let r;
  for (const t0 = now(); (r = await get(`/api/products/${products[0]}`)).status === 404 && now() - t0 < 15000;) await sleep(100);
  assert.equal(r.status, 200);
  const sessions = (url) => sqlValue(url, `SELECT coalesce(string_agg(DISTINCT application_name, ',' ORDER BY application_name), '')
    FROM pg_stat_activity WHERE application_name LIKE 'query-api%'`);
  assert.match(sessions(REPLICA()), /(^|,)query-api(,|$)/, 'no query-api session on the replica');
  assert.doesNotMatch(sessions(PRIMARY()), /(^|,)query-api(,|$)/, 'the query API\'s pool is on the primary');
  assert.match(sessions(PRIMARY()), /query-api-notifier/, 'the notifier does not listen on the primary');
  // the lag is on /metrics
  const m = await fetch(`${QUERY_URL}/metrics`).then((x) => x.text());
  assert.match(m, /^query_replica_lag_bytes \d+/m, 'no query_replica_lag_bytes on /metrics');
  assert.match(m, /^query_replica_up 1/m, 'query_replica_up is not 1');
});

// One order's round: created, read back with its token, paid, read back with the payment's token,
// then read without a token (the answer cache, refilled from the replica, must not keep the old
// answer once the token's read saw the new one). primeCache: read without a token after each
// command too, the second time lateMs after the payment (when the consumer has applied it and a
// late replica has not replayed it yet). Returns the stale answers.
async function round(i, primeCache, lateMs = 0) {
  const stale = [];
  const c = await cmd('POST', '/api/orders', { customerId: 900 + (i % 7), items: [{ productId: products[i % products.length], quantity: 1 }] });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  assert.ok(c.token, 'the command answered no X-Consistency-Token');
  const id = c.json.orderId;
  const q = await get(`/api/orders/${id}`, c.token);
  if (q.status !== 200 || q.json?.status !== 'CREATED') stale.push(`order ${id}: ${q.status} ${q.json?.status}`);
  if (primeCache) await get(`/api/orders/${id}`); // cached: CREATED
  const p = await cmd('POST', `/api/orders/${id}/payments`, { amount: c.json.total, method: 'card' });
  assert.equal(p.status, 201, JSON.stringify(p.json));
  if (lateMs > 0) await sleep(lateMs);
  if (primeCache) await get(`/api/orders/${id}`); // before the replica has the payment
  if (lateMs > 0) {
    // the replica has replayed the payment by now: an answer the cache took from it before (after
    // an invalidation sent too early) would still be served
    await sleep(1000);
    const late = await get(`/api/orders/${id}`);
    if (late.status !== 200 || late.json?.status !== 'PAID') stale.push(`order ${id} 1 s after its payment: ${late.status} ${late.json?.status}`);
  }
  const q2 = await get(`/api/orders/${id}`, p.token);
  if (q2.status !== 200 || q2.json?.status !== 'PAID') stale.push(`order ${id} paid: ${q2.status} ${q2.json?.status}`);
  const q3 = await get(`/api/orders/${id}`);
  if (q3.status !== 200 || q3.json?.status !== 'PAID') stale.push(`order ${id} without a token after: ${q3.status} ${q3.json?.status}`);
  return stale;
}

test('2. a query with the token of the command just made sees its write, under load', async () => {
  const load = new Load({ products, rate: RATE }).start();
  const stale = [];
  let rounds = 0;
  try {
    for (let i = 0; i < ROUNDS; i++, rounds++) stale.push(...await round(i, i % 2 === 0));
  } finally {
    await load.stop();
  }
  assert.deepEqual(stale, [], `${stale.length} stale answers in ${rounds} rounds`);
  console.log(`# ${rounds} orders created and paid under load, each read back with its token: 0 stale`);
});

test('2b. a replica 300 ms behind: the token waits for its replay, the cache is not refilled stale', async () => {
  // recovery_min_apply_delay: the replica replays each commit 300 ms after the primary made it,
  // while the notifications come at once; nothing else notifies meanwhile (no load)
  const delay = (v) => {
    sqlValue(REPLICA(), `ALTER SYSTEM ${v === null ? 'RESET recovery_min_apply_delay' : `SET recovery_min_apply_delay = '${v}'`}`);
    sqlValue(REPLICA(), 'SELECT pg_reload_conf()');
  };
  delay('300ms');
  const stale = [];
  const t0 = now();
  try {
    for (let i = 0; i < 10; i++) stale.push(...await round(1000 + i, true, 150));
  } finally {
    delay(null);
  }
  const ms = now() - t0;
  assert.deepEqual(stale, [], `${stale.length} stale answers`);
  assert.ok(ms < 10 * 4000, `the rounds took ${ms} ms (the waits ended at their deadline?)`);
  console.log(`# 10 rounds against a replica 300 ms behind in ${ms} ms: 0 stale`);
});

test('3. the replica stopped under load: 503 meanwhile; started again: it catches up, nothing lost', async () => {
  const load = new Load({ products, rate: RATE }).start();
  let stats;
  const during = {};
  try {
    await sleep(3000);
    await pgReplica('stop');
    const t0 = now();
    while (now() - t0 < 4000) {
      const c = await cmd('POST', '/api/orders', { customerId: 950, items: [{ productId: products[0], quantity: 1 }] });
      assert.equal(c.status, 201, 'commands stop when the replica does');
      const q = await get(`/api/orders/${c.json.orderId}`);
      during[q.status] = (during[q.status] ?? 0) + 1;
      await sleep(100);
    }
    await pgReplica('start');
    await sleep(4000);
  } finally {
    stats = await load.stop();
  }
  assert.ok(during[503] > 0, `no 503 while the replica was down: ${JSON.stringify(during)}`);
  assert.deepEqual(Object.keys(during).filter((s) => s !== '503'), [],
    `answers other than 503 while the replica was down: ${JSON.stringify(during)}`);
  // the primary's read model, then the replica's, against the write model
  const conv = await settle('replica restarted', 120000);
  assert.ok(conv.ok, conv.diffs.slice(0, 20).join('\n'));
  assert.equal(conv.figures.lost, 0, 'events lost');
  assert.equal(conv.figures.appliedTwice, 0, 'events applied twice');
  const target = sqlValue(PRIMARY(), 'SELECT pg_current_wal_lsn()');
  const deadline = now() + 60000;
  while (sqlValue(REPLICA(), `SELECT pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`) !== 't') {
    assert.ok(now() < deadline, 'the replica did not catch up in 60 s');
    await sleep(200);
  }
  const primaryUrl = process.env.READ_DATABASE_URL;
  process.env.READ_DATABASE_URL = replicaOwnerUrl();
  let onReplica;
  try {
    onReplica = await settle('on the replica', 30000);
  } finally {
    process.env.READ_DATABASE_URL = primaryUrl;
  }
  assert.ok(onReplica.ok, `the replica's read model differs:\n${onReplica.diffs.slice(0, 20).join('\n')}`);
  // what the API answers (from the replica) is the write model's
  const orders = sqlRows(process.env.DATABASE_URL,
    'SELECT id, status, version FROM orders ORDER BY id DESC LIMIT 200');
  const differ = [];
  for (const [id, status, version] of orders) {
    const q = await get(`/api/orders/${id}`);
    if (q.status !== 200 || q.json.status !== status || String(q.json.version ?? version) !== version) {
      differ.push(`order ${id}: API ${q.status} ${q.json?.status} v${q.json?.version}, write model ${status} v${version}`);
    }
  }
  assert.deepEqual(differ, [], 'the API answers differ from the write model');
  assert.ok(stats.ok > 100, `too few commands succeeded: ${JSON.stringify(stats)}`);
  console.log(`# replica down 4 s: ${JSON.stringify(during)} queries; ${stats.sent} commands, ` +
    `${stats.ok} ok; converged in ${conv.settleMs} ms, ${orders.length} orders read back through the API`);
});
