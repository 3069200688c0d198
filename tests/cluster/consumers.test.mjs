// Three consumers sharing the work queue's partitions (CONSUMER_PARTITIONS, read_model.p0 ..; the
// services' consumer and two extra ones started as the fault suite starts them,
// tests/faults/stack.mjs startExtra). Each claims its share under a lease in the read DB
// (consumer_claim_partitions) and consumes only those partition queues, each of which has single
// active consumer. Under load, one consumer that holds partitions is killed -9 inside its batch's
// transaction (started again a moment before with the FAULT_PAUSE_BEFORE_COMMIT_MS hook, as fault
// test 2b does): once its lease ends the other two take its partitions and the broker redelivers
// what it held to them; started again, it gets its share back. The read models must equal the
// write model with no event lost and none applied twice (the fault suite's convergence check,
// tests/faults/converge.mjs), and the partitions must have applied in parallel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  sleep, now, pidOf, startServices, stopServices, startExtra, stopExtra, kill9, logSize, waitLog,
  countLog, sqlRows, broker, RUN_DIR,
} from '../faults/stack.mjs';
import { Load, createProducts } from '../faults/load.mjs';
import { settle } from '../faults/converge.mjs';
import fs from 'node:fs';
import path from 'node:path';

const RATE = Number(process.env.CLUSTER_RATE ?? 60);
const LOAD_MS = Number(process.env.CLUSTER_LOAD_MS ?? 15000);
const P = Number(process.env.CONSUMER_PARTITIONS ?? 1);
const LEASE_MS = Number(process.env.CONSUMER_PARTITION_LEASE_MS ?? 6000);
const READ_URL = process.env.READ_DATABASE_URL;
const VHOST = decodeURIComponent(new URL(process.env.BROKER_URL.split(',')[0].trim()).pathname.slice(1)) || '/';
const EXTRA = ['consumer-2', 'consumer-3'];
const ALL = ['consumer', ...EXTRA];
// the extra consumers serve no metrics (port 0: no listener)
const startConsumer = (label, env = {}) => startExtra('consumer', label, { CONSUMER_METRICS_PORT: '0', ...env });
const pidOfLabel = (label) => (label === 'consumer' ? pidOf('consumer')
  : Number(fs.readFileSync(path.join(RUN_DIR, `extra-${label}.pid`), 'utf8')));
let products;

// {partition: pid} of the partitions whose lease runs, from the read DB (a holder is
// host:pid:start-ms).
function holders() {
  const rows = sqlRows(READ_URL, `SELECT partition, holder FROM consumer_partitions
    WHERE partition < ${P} AND holder IS NOT NULL AND lease_until > now() ORDER BY partition`);
  return Object.fromEntries(rows.map(([k, h]) => [Number(k), Number(h.split(':')[1])]));
}

// Polls holders() until ok(h) holds; returns {ms, h} (ms undefined when not within timeoutMs).
async function holdersUntil(ok, timeoutMs) {
  const t0 = now();
  let h = {};
  do {
    h = holders();
    if (ok(h)) return { ms: now() - t0, h };
    await sleep(200);
  } while (now() - t0 < timeoutMs);
  return { ms: undefined, h };
}

// Every partition held, by the pids in pids only, each pid holding its fair share (P / n, the
// first P % n of them in the lease table's order one more: counts differ by at most one).
function spread(h, pids) {
  const counts = pids.map((pid) => Object.values(h).filter((x) => x === pid).length);
  return Object.keys(h).length === P && Object.values(h).every((x) => pids.includes(x)) &&
    Math.max(...counts) - Math.min(...counts) <= 1 && counts.every((c) => c >= Math.floor(P / pids.length));
}

// {queue: active consumers} of the partition queues (rabbitmqctl list_consumers).
async function activeConsumers() {
  const out = await broker('ctl', 'list_consumers', '-p', VHOST, '--silent',
    '--no-table-headers', 'queue_name', 'active');
  const a = {};
  for (const line of out.trim().split('\n')) {
    const [q, active] = line.split('\t');
    if (q && /\.p\d+$/.test(q)) a[q] = (a[q] ?? 0) + (active === 'true' ? 1 : 0);
  }
  return a;
}

before(async () => {
  assert.ok(P > 1, `the cluster stack runs partitioned consumers: CONSUMER_PARTITIONS is ${P}`);
  await startServices();
  products = await createProducts(8, 'consumers');
  for (const l of EXTRA) startConsumer(l);
  for (const l of EXTRA) await waitLog(l, 0, /msg="consuming partition"/);
});

after(async () => {
  for (const l of EXTRA) await stopExtra(l).catch(() => {});
  await stopServices().catch(() => {});
});

test('consumers: three consumers share the partitions; one killed -9 under load, its partitions move, it rejoins; 0 lost, 0 applied twice', async () => {
  const pids = () => ALL.map(pidOfLabel);
  const shared = await holdersUntil((h) => spread(h, pids()), 20000);
  assert.ok(shared.ms !== undefined, `the partitions are not shared by the three consumers: ${JSON.stringify(shared.h)} (pids ${pids()})`);
  const active = await activeConsumers();
  assert.equal(Object.keys(active).length, P, `not every partition has a consumer: ${JSON.stringify(active)}`);
  assert.ok(Object.values(active).every((n) => n === 1), `a partition has other than one active consumer: ${JSON.stringify(active)}`);

  const services = Object.fromEntries(['relay', 'consumer', 'command-api', 'query-api'].map((n) => [n, pidOf(n)]));
  const off = Object.fromEntries(ALL.map((l) => [l, logSize(l)]));
  const victim = EXTRA[Math.floor(Math.random() * EXTRA.length)];
  const load = new Load({ products, rate: RATE }).start();
  let stats;
  let killedAt;
  let restartOff;
  let beforeKill;
  let moved;
  let back;
  let victimParts;
  try {
    await sleep(3000 + Math.random() * 2000);
    beforeKill = Object.fromEntries(ALL.map((l) => [l, countLog(l, off[l], /msg="saved to read db"/)]));
    // the victim again, made to stop inside its next batch's transaction, deliveries unacknowledged
    await stopExtra(victim);
    const hookOff = logSize(victim);
    startConsumer(victim, { FAULT_PAUSE_BEFORE_COMMIT_MS: '60000' });
    await waitLog(victim, hookOff, /fault hook: pausing before commit/, 30000);
    const victimPid = pidOfLabel(victim);
    victimParts = Object.entries(holders()).filter(([, pid]) => pid === victimPid).map(([k]) => Number(k));
    killedAt = now();
    await kill9(victimPid);
    const survivors = ALL.filter((l) => l !== victim).map(pidOfLabel);
    moved = await holdersUntil((h) => spread(h, survivors), LEASE_MS + 10000);
    restartOff = logSize(victim);
    const restartedAt = now();
    startConsumer(victim);
    await waitLog(victim, restartOff, /msg="consuming partition"/, 30000);
    back = await holdersUntil((h) => spread(h, pids()), 20000);
    if (back.ms !== undefined) back.ms = now() - restartedAt; // from its start: it joins, then claims
    await sleep(Math.max(LOAD_MS - (now() - load.startedAt), 3000));
  } finally {
    stats = await load.stop();
  }
  const conv = await settle('consumer killed', 120000);
  assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
  assert.equal(conv.figures.lost, 0, 'events lost');
  assert.equal(conv.figures.appliedTwice, 0, 'events applied twice');
  assert.ok(stats.ok > 100, `too few commands succeeded: ${JSON.stringify(stats)}`);
  assert.equal(stats.hangs, 0, 'a command hung');
  // each consumer held partitions and applied events: the partitions applied in parallel
  assert.ok(ALL.every((l) => beforeKill[l] > 0), `a consumer applied nothing before the kill: ${JSON.stringify(beforeKill)}`);
  assert.ok(victimParts.length > 0, `${victim} held no partition when it was killed`);
  assert.ok(moved.ms !== undefined, `the survivors did not take the partitions over: ${JSON.stringify(moved.h)}`);
  assert.ok(back.ms !== undefined, `the restarted consumer did not get its share back: ${JSON.stringify(back.h)}`);
  const rejoined = countLog(victim, restartOff, /msg="saved to read db"/);
  assert.ok(rejoined > 0, `${victim} applied nothing after its restart`);
  assert.deepEqual(Object.fromEntries(Object.keys(services).map((n) => [n, pidOf(n)])), services, 'a service died');
  // what the victim held went to the partitions' new holders (logged "redelivered=true")
  const redelivered = ALL.filter((l) => l !== victim).reduce((a, l) => a + countLog(l, off[l], /redelivered=true/), 0);
  assert.ok(redelivered > 0, `the deliveries ${victim} held were not redelivered to the other consumers`);
  const after = await activeConsumers();
  assert.ok(Object.values(after).every((n) => n === 1), `a partition has other than one active consumer: ${JSON.stringify(after)}`);
  console.log(`# ${P} partitions; killed ${victim} (partitions ${victimParts}) at +${killedAt - load.startedAt} ms; ` +
    `the survivors held them ${moved.ms} ms later (lease ${LEASE_MS} ms); restarted, its share back ${back.ms} ms after its start; ` +
    `events saved before the kill ${JSON.stringify(beforeKill)}, by ${victim} after its restart ${rejoined}; ` +
    `${redelivered} deliveries redelivered; ${stats.sent} commands, ${stats.ok} ok; ` +
    `${conv.figures.outboxEvents} events, settled in ${conv.settleMs} ms`);
});
