// Three consumers on the cluster's quorum queue (the services' consumer and two extra ones started
// as the fault suite starts them, tests/faults/stack.mjs startExtra), one of them killed -9 under
// load while it holds a batch inside its transaction (started again a moment before with the
// FAULT_PAUSE_BEFORE_COMMIT_MS hook, as fault test 2b does) and then started again: the broker
// hands its unacknowledged deliveries to the other two, the restarted one consumes again, and
// the read models equal the write model with no event lost and none applied twice (the fault
// suite's convergence check, tests/faults/converge.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  sleep, now, pidOf, startServices, stopServices, startExtra, stopExtra, kill9, logSize, waitLog,
  countLog, queues, QUEUE, RUN_DIR,
} from '../faults/stack.mjs';
import { Load, createProducts } from '../faults/load.mjs';
import { settle } from '../faults/converge.mjs';
import fs from 'node:fs';
import path from 'node:path';

const RATE = Number(process.env.CLUSTER_RATE ?? 60);
const LOAD_MS = Number(process.env.CLUSTER_LOAD_MS ?? 15000);
const EXTRA = ['consumer-2', 'consumer-3'];
// the extra consumers serve no metrics (port 0: no listener)
const startConsumer = (label, env = {}) => startExtra('consumer', label, { CONSUMER_METRICS_PORT: '0', ...env });
const extraPid = (label) => Number(fs.readFileSync(path.join(RUN_DIR, `extra-${label}.pid`), 'utf8'));
let products;

// Waits until the work queue has n consumers (the broker's count); returns the last count read.
async function consumersBecome(n, timeoutMs) {
  const deadline = now() + timeoutMs;
  let c;
  do {
    c = (await queues())[QUEUE]?.consumers;
    if (c === n) return c;
    await sleep(250);
  } while (now() < deadline);
  return c;
}

before(async () => {
  await startServices();
  products = await createProducts(8, 'consumers');
  for (const l of EXTRA) startConsumer(l);
  for (const l of EXTRA) await waitLog(l, 0, /msg="consuming"/);
});

after(async () => {
  for (const l of EXTRA) await stopExtra(l).catch(() => {});
  await stopServices().catch(() => {});
});

test('consumers: one of three consumers killed -9 under load, started again: it rejoins, 0 lost, 0 applied twice', async () => {
  assert.equal(await consumersBecome(3, 15000), 3, `${QUEUE} does not have three consumers`);
  const all = ['consumer', ...EXTRA];
  const services = Object.fromEntries(['relay', 'consumer', 'command-api', 'query-api'].map((n) => [n, pidOf(n)]));
  const off = Object.fromEntries(all.map((l) => [l, logSize(l)]));
  const victim = EXTRA[Math.floor(Math.random() * EXTRA.length)];
  const load = new Load({ products, rate: RATE }).start();
  let stats;
  let killedAt;
  let restartedAt;
  let restartOff;
  let during;
  let beforeKill;
  try {
    await sleep(3000 + Math.random() * 3000);
    beforeKill = Object.fromEntries(all.map((l) => [l, countLog(l, off[l], /msg="saved to read db"/)]));
    // the victim again, made to stop inside its next batch's transaction, deliveries unacknowledged
    await stopExtra(victim);
    const hookOff = logSize(victim);
    startConsumer(victim, { FAULT_PAUSE_BEFORE_COMMIT_MS: '60000' });
    await waitLog(victim, hookOff, /fault hook: pausing before commit/, 30000);
    killedAt = now();
    await kill9(extraPid(victim));
    during = await consumersBecome(2, 15000);
    await sleep(2000);
    restartOff = logSize(victim);
    startConsumer(victim);
    restartedAt = now();
    await waitLog(victim, restartOff, /msg="consuming"/, 30000);
    await sleep(Math.max(LOAD_MS - (now() - load.startedAt), restartedAt + 5000 - now()));
  } finally {
    stats = await load.stop();
  }
  const conv = await settle('consumer killed', 120000);
  assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
  assert.equal(conv.figures.lost, 0, 'events lost');
  assert.equal(conv.figures.appliedTwice, 0, 'events applied twice');
  assert.ok(stats.ok > 100, `too few commands succeeded: ${JSON.stringify(stats)}`);
  assert.equal(stats.hangs, 0, 'a command hung');
  assert.ok(all.every((l) => beforeKill[l] > 0), `a consumer applied nothing before the kill: ${JSON.stringify(beforeKill)}`);
  assert.equal(during, 2, `the broker still counted ${during} consumers after the kill`);
  assert.equal(await consumersBecome(3, 15000), 3, 'the restarted consumer is not a consumer of the queue again');
  const rejoined = countLog(victim, restartOff, /msg="saved to read db"/);
  assert.ok(rejoined > 0, `${victim} applied nothing after its restart`);
  assert.deepEqual(Object.fromEntries(Object.keys(services).map((n) => [n, pidOf(n)])), services, 'a service died');
  // what the victim held went to the others (a redelivery is logged "received ... redelivered=true")
  const redelivered = all.filter((l) => l !== victim).reduce((a, l) => a + countLog(l, off[l], /redelivered=true/), 0);
  assert.ok(redelivered > 0, `the deliveries ${victim} held were not redelivered to the other consumers`);
  console.log(`# killed ${victim} at +${killedAt - load.startedAt} ms, restarted at +${restartedAt - load.startedAt} ms; ` +
    `events saved before the kill ${JSON.stringify(beforeKill)}, by ${victim} after its restart ${rejoined}; ` +
    `${redelivered} deliveries redelivered to the others; ${stats.sent} commands, ${stats.ok} ok; ` +
    `${conv.figures.outboxEvents} events, settled in ${conv.settleMs} ms`);
});
