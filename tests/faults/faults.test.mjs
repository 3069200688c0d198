// The fault suite (docs/reliability.md): each test drives a steady stream of commands, injects a
// fault while it runs, then waits for the system to settle and checks that the read model equals
// the recomputation from the write DB (converge.mjs). Run by tests/faults/run.sh, which started
// PostgreSQL and RabbitMQ; the tests start, kill and restart everything else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import {
  REPO_ROOT, QUEUE, BROKER_SCRIPT, broker, sleep, now, pidOf, startServices, stopServices, kill9, startExtra, stopExtra,
  logSize, logSince, waitLog, countLog, sumLogKey, pgStop, pgStart, rabbitStop, rabbitStart,
  queues, sqlValue, sqlValueAsync, sqlRows, inject, deadletters, listDeadLetters,
} from './stack.mjs';
import { Load, createProducts, send } from './load.mjs';
import { check, settle, waitOrderVisible } from './converge.mjs';
import { writeReport } from './report.mjs';
import { productBursts, todoBursts } from './ordering.mjs';
import { rabbitCtl, brokerVhost, memoryWatermark, relayHealth, relayMetric, waitFor } from './relay.mjs';
import { commandFrom, holdLock, supervise } from './hardening.mjs';
import fs from 'node:fs';

const execFileP = promisify(execFile);
const RATE = Number(process.env.FAULTS_RATE ?? 80);
const LOAD_MS = Number(process.env.FAULTS_LOAD_MS ?? 16000);
const W = process.env.DATABASE_URL;
const R = process.env.READ_DATABASE_URL;
const rows = [];
const startedAt = now();
let products;

const LOGS = ['relay', 'consumer', 'command-api', 'query-api'];
const offsets = () => Object.fromEntries(LOGS.map((l) => [l, logSize(l)]));
const rand = (lo, hi) => lo + Math.random() * (hi - lo);

before(async () => {
  await startServices();
  products = await createProducts(12, 'base');
});

after(async () => {
  await stopServices().catch(() => {});
  writeReport(rows, {
    finishedAt: new Date().toISOString(), durationMs: now() - startedAt,
    build: path.basename(path.dirname(process.env.BIN_DIR ?? 'build/bin')) === 'asan'
      ? 'ASan+UBSan build' : 'plain build',
    rate: RATE, loadMs: LOAD_MS,
  });
});

// Runs the load, calls fault(load, offsets) after a warm-up, keeps the load going until at least
// 5 s after the fault was cleared, then settles and checks. fault returns {injected, clearedAt,
// notes?}; beforeSettle (optional) runs after the load stopped. Records one row of figures and
// fails the test if the read model did not converge.
async function scenario({ id, fault: what, inject: fault, beforeSettle, loadMs = LOAD_MS, warmupMs = 4000 }) {
  const off = offsets();
  const load = new Load({ products, rate: RATE }).start();
  const row = { id, fault: what, commands: 0, injected: 0, ok: false };
  rows.push(row);
  let f;
  let stats;
  let recoveryMs;
  try {
    await sleep(warmupMs);
    f = await fault(load, off);
    const recovery = (async () => {
      let o;
      while (!(o = load.firstCreatedAfter(f.clearedAt)) && load.running) await sleep(20);
      if (!o) return undefined;
      const seen = await waitOrderVisible(o.orderId);
      return seen ? seen - f.clearedAt : undefined;
    })();
    await sleep(Math.max(loadMs - (now() - load.startedAt), f.clearedAt + 5000 - now()));
    stats = await load.stop();
    recoveryMs = await recovery;
  } finally {
    if (load.running) stats = await load.stop();
  }
  if (beforeSettle) await beforeSettle(f, stats);
  const conv = await settle(`test ${id}`);
  Object.assign(row, {
    commands: stats.sent, injected: f.injected, lost: conv.figures.lost,
    appliedTwice: conv.figures.appliedTwice, outOfOrder: conv.figures.outOfOrder,
    recoveryMs, settleMs: conv.settleMs, ok: conv.ok, stats, figures: { ...conv.figures, checkMs: conv.checkMs },
    // a redelivered event is applied alone (consumer/crashguard.h): "applied redelivered event"
    duplicatesSkipped: sumLogKey('consumer', off.consumer, /msg="applied (batch|redelivered event)"/, 'duplicates'),
    notes: f.notes,
  });
  assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
  assert.ok(stats.ok > 100, `too few commands succeeded: ${JSON.stringify(stats)}`);
  assert.equal(stats.hangs, 0, 'a command hung');
  assert.ok(recoveryMs !== undefined, 'no order created after the fault was cleared became visible');
  return { row, stats, conv, f, off };
}

// Restarts one service of services.sh with extra environment (a fault hook); returns the log
// offset before the start.
async function restartWith(name, env) {
  await stopServices([name]);
  const off = logSize(name);
  await startServices([name], env);
  return off;
}

test('0. the convergence check sees a wrong status, a counter applied twice and a lost event', async () => {
  const ok = await settle('self-test');
  assert.ok(ok.ok, ok.diffs.join('\n'));
  const order = await send('POST', '/api/orders', { customerId: 1, items: [{ productId: products[0], quantity: 1 }] });
  assert.equal(order.status, 201);
  assert.ok(await waitOrderVisible(order.json.orderId));
  assert.ok((await settle('self-test')).ok);
  const id = order.json.orderId;
  const plant = async (sql, undo, re) => {
    await sqlValueAsync(R, sql);
    try {
      const r = check();
      assert.ok(!r.ok && r.diffs.some((d) => re.test(d)), `not detected: ${sql}: ${r.diffs.join('; ')}`);
    } finally {
      await sqlValueAsync(R, undo);
    }
  };
  await plant(`UPDATE orders_read SET status = 'PAID' WHERE order_id = ${id}`,
    `UPDATE orders_read SET status = 'CREATED' WHERE order_id = ${id}`, new RegExp(`^orders ${id}: `));
  await plant(`UPDATE orders_read SET timeline = timeline || timeline WHERE order_id = ${id};
               UPDATE customer_summary SET total_orders = total_orders + 1 WHERE customer_id = 1`,
  `UPDATE orders_read SET timeline = jsonb_build_array(timeline->0) WHERE order_id = ${id};
               UPDATE customer_summary SET total_orders = total_orders - 1 WHERE customer_id = 1`, /applied twice/);
  const ev = sqlValue(W, `SELECT event_id FROM outbox WHERE aggregate_type = 'order' AND aggregate_id = ${id}`);
  const at = sqlValue(R, `SELECT occurred_at FROM processed_events WHERE event_id = '${ev}'`);
  await plant(`DELETE FROM processed_events WHERE event_id = '${ev}'`,
    `INSERT INTO processed_events (event_id, event_type, occurred_at) VALUES ('${ev}', 'OrderCreated', '${at}')`,
    /never applied/);
  assert.ok(check().ok, 'the planted differences were not undone');
});

test('1. relay killed -9 between publish and mark, then at random moments', async () => {
  const { row, off } = await scenario({
    id: 1, fault: 'relay `kill -9` after the broker confirmed a batch, before it was marked published (+2 random kills)',
    inject: async () => {
      const o = await restartWith('relay', { FAULT_PAUSE_AFTER_PUBLISH_MS: '60000' });
      const line = await waitLog('relay', o, /fault hook: pausing after publish/);
      await kill9(pidOf('relay'));
      await startServices(['relay']);
      let clearedAt = now();
      for (let i = 0; i < 2; i++) {
        await sleep(rand(1000, 2500));
        await kill9(pidOf('relay'));
        await startServices(['relay']);
        clearedAt = now();
      }
      const count = Number(line.match(/count=(\d+)/)[1]);
      return { injected: 3, clearedAt, batch: count };
    },
  });
  // the confirmed but unmarked batch was published again, and the consumer skipped it
  assert.ok(row.duplicatesSkipped > 0, 'no republished event reached the consumer');
  row.notes = `${row.duplicatesSkipped} redelivered events skipped as duplicates`;
  assert.ok(countLog('relay', off.relay, /fault hook: pausing after publish/) >= 1);
});

test('2a. consumer killed -9 after its commit, before its ack', async () => {
  const { row } = await scenario({
    id: '2a', fault: 'consumer `kill -9` after the batch committed, before the ack',
    inject: async () => {
      const o = await restartWith('consumer', { FAULT_PAUSE_AFTER_COMMIT_MS: '60000' });
      await waitLog('consumer', o, /fault hook: pausing after commit/);
      await kill9(pidOf('consumer'));
      await startServices(['consumer']);
      return { injected: 1, clearedAt: now() };
    },
  });
  assert.ok(row.duplicatesSkipped > 0, 'the committed batch was not redelivered');
  row.notes = `${row.duplicatesSkipped} redelivered events skipped as duplicates`;
});

test('2b. consumer killed -9 before its commit, then at a random moment', async () => {
  const { row, off } = await scenario({
    id: '2b', fault: 'consumer `kill -9` inside the batch transaction, before COMMIT (+1 random kill)',
    inject: async () => {
      const o = await restartWith('consumer', { FAULT_PAUSE_BEFORE_COMMIT_MS: '60000' });
      await waitLog('consumer', o, /fault hook: pausing before commit/);
      await kill9(pidOf('consumer'));
      await startServices(['consumer']);
      await sleep(rand(1000, 2500));
      await kill9(pidOf('consumer'));
      await startServices(['consumer']);
      return { injected: 2, clearedAt: now() };
    },
  });
  const redelivered = countLog('consumer', off.consumer, /redelivered=true/);
  assert.ok(redelivered > 0, 'nothing was redelivered after the kill');
  row.notes = `${redelivered} deliveries redelivered, ${row.duplicatesSkipped} skipped as duplicates`;
});

test('3. RabbitMQ stopped and started under load; relay and consumer reconnect', async () => {
  const pids = { relay: pidOf('relay'), consumer: pidOf('consumer') };
  let downMs;
  const { row, off } = await scenario({
    id: 3, fault: 'RabbitMQ stopped, 3 s down, started again',
    inject: async () => {
      const t0 = now();
      await rabbitStop();
      await sleep(3000);
      await rabbitStart();
      downMs = now() - t0;
      return { injected: 1, clearedAt: now() };
    },
  });
  assert.deepEqual({ relay: pidOf('relay'), consumer: pidOf('consumer') }, pids, 'a service died');
  assert.ok(countLog('relay', off.relay, /connected to rabbitmq/) >= 1, 'the relay did not reconnect');
  assert.ok(countLog('consumer', off.consumer, /connected to rabbitmq/) >= 1, 'the consumer did not reconnect');
  row.notes = `broker down ${(downMs / 1000).toFixed(1)} s; no service restarted`;
});

test('4. PostgreSQL stopped and started under load; the APIs answer 503 meanwhile', async () => {
  const pids = Object.fromEntries(['command-api', 'query-api', 'relay', 'consumer'].map((n) => [n, pidOf(n)]));
  const probes = [];
  const after = []; // the first requests once the server is back: no stale pooled connection may fail them
  let downMs;
  const { row, stats, off } = await scenario({
    id: 4, fault: 'PostgreSQL stopped (fast), 3 s down, started again',
    inject: async () => {
      const t0 = now();
      await pgStop();
      for (const [name, url] of [['command', process.env.COMMAND_URL], ['query', process.env.QUERY_URL]]) {
        const p0 = performance.now();
        let status = 0;
        try {
          const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10000) });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = -1;
        }
        probes.push({ name, status, ms: performance.now() - p0 });
      }
      const r = await send('POST', '/api/orders', { customerId: 1, items: [{ productId: products[0], quantity: 1 }] });
      probes.push({ name: 'order', status: r.status, ms: r.ms });
      await sleep(3000);
      await pgStart();
      downMs = now() - t0;
      for (const [name, url] of [['command', process.env.COMMAND_URL], ['query', process.env.QUERY_URL]]) {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10000) });
        await res.arrayBuffer();
        after.push({ name: `${name} /health`, status: res.status, want: 200 });
      }
      const o = await send('POST', '/api/orders', { customerId: 1, items: [{ productId: products[0], quantity: 1 }] });
      after.push({ name: 'order', status: o.status, want: 201 });
      return { injected: 1, clearedAt: now() };
    },
  });
  for (const p of probes) {
    assert.equal(p.status, 503, `${p.name} answered ${p.status} while the database was down`);
    assert.ok(p.ms < 5000, `${p.name} took ${p.ms} ms to answer while the database was down`);
  }
  for (const a of after) {
    assert.equal(a.status, a.want, `${a.name} answered ${a.status} right after the database came back`);
  }
  assert.ok(stats.unavailable > 0, 'no command was answered 503');
  assert.equal(stats.otherErrors + stats.noAnswer, 0, `errors other than 503: ${JSON.stringify(stats.statusCounts)}`);
  assert.deepEqual(Object.fromEntries(Object.keys(pids).map((n) => [n, pidOf(n)])), pids, 'a service died');
  for (const svc of ['relay', 'consumer']) {
    assert.ok(countLog(svc, off[svc], /could not connect to postgres|lost postgres connection/) >= 1,
      `${svc} never noticed the outage`);
  }
  row.notes = `database down ${(downMs / 1000).toFixed(1)} s; ${stats.unavailable} commands answered 503 ` +
    `(slowest ${Math.round(Math.max(...probes.map((p) => p.ms)))} ms), none hung, no service restarted`;
});

test('5. two relays and two consumers; the leading relay and one consumer killed -9', async () => {
  const r2 = 'relay-2';
  const c2 = 'consumer-2';
  startExtra('relay', r2, { RELAY_METRICS_PORT: process.env.FAULTS_EXTRA_RELAY_METRICS_PORT });
  startExtra('consumer', c2, { CONSUMER_METRICS_PORT: process.env.FAULTS_EXTRA_CONSUMER_METRICS_PORT });
  await waitLog(r2, 0, /another relay is the leader, standing by/);
  await waitLog(c2, 0, /msg="consuming"/);
  let early = 0;
  try {
    const { row, off } = await scenario({
      id: 5, fault: 'two relays and two consumers at once; `kill -9` of the leading relay and of a consumer',
      inject: async () => {
        const o2 = logSize(r2);
        await kill9(pidOf('relay'));
        await waitLog(r2, o2, /became leader/, 15000);
        await startServices(['relay']);
        await sleep(rand(1000, 2000));
        await kill9(pidOf('consumer'));
        await startServices(['consumer']);
        return { injected: 2, clearedAt: now() };
      },
    });
    early = countLog('consumer', off.consumer, /event arrived early/) + countLog(c2, 0, /event arrived early/);
    const split = countLog('consumer', off.consumer, /splitting it to isolate/) + countLog(c2, 0, /splitting it to isolate/);
    // "saved to read db" is logged for every applied event, whether it came in a batch of many
    // ("applied batch") or alone: with small batches in flight a consumer may get only singles
    assert.ok(countLog(c2, 0, /msg="saved to read db"/) > 0, 'the second consumer applied nothing');
    assert.ok(countLog('consumer', off.consumer, /msg="saved to read db"/) > 0, 'the first consumer applied nothing');
    row.notes = `standby relay took over; ${split} batches split around an early event, ` +
      `${early} early events sent to the retry queue; ` +
      `${row.duplicatesSkipped + sumLogKey(c2, 0, /msg="applied (batch|redelivered event)"/, 'duplicates')} duplicates skipped`;
  } finally {
    await stopExtra(r2);
    await stopExtra(c2);
  }
});

test('6. poison messages go to the dead-letter queue and do not stop the stream', async () => {
  const ids = { malformed: randomUUID(), unknown: randomUUID(), early: randomUUID() };
  let productEvent;
  let deadAt;
  let injectedAt;
  let watching;
  const bug = `CREATE FUNCTION faults_projection_bug() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name LIKE 'poison %' THEN
          RAISE EXCEPTION 'projection bug (fault test): product %', NEW.product_id;
        END IF;
        RETURN NEW;
      END $$;
    CREATE TRIGGER faults_projection_bug BEFORE INSERT ON products_read
      FOR EACH ROW EXECUTE FUNCTION faults_projection_bug();`;
  await sqlValueAsync(R, bug);
  let dead = [];
  const { row } = await scenario({
    id: 6, fault: 'poison: malformed JSON, an unknown event type, an event whose predecessor never comes, a projection that raises',
    inject: async () => {
      const t0 = now();
      injectedAt = t0;
      const at = new Date().toISOString();
      inject('order.OrderCreated', ids.malformed, `{"eventId": "${ids.malformed}", "eventType": "OrderCr`);
      inject('order.OrderRefunded', ids.unknown, JSON.stringify({
        eventId: ids.unknown, eventType: 'OrderRefunded', occurredAt: at, aggregateType: 'order',
        aggregateId: 1, aggregateVersion: 99, orderId: 1,
      }));
      inject('order.OrderPaid', ids.early, JSON.stringify({
        eventId: ids.early, eventType: 'OrderPaid', occurredAt: at, aggregateType: 'order',
        aggregateId: 2000000000, aggregateVersion: 2, orderId: 2000000000, customerId: 1,
        status: 'PAID', previousStatus: 'CREATED', total: 1, paymentId: 1, amount: 1, method: 'card', paidAt: at,
      }));
      const p = await send('POST', '/api/products', { name: 'poison product', category: 'poison', price: 1, stock: 1 });
      assert.equal(p.status, 201);
      productEvent = sqlValue(W, `SELECT event_id FROM outbox WHERE aggregate_type = 'product' AND aggregate_id = ${p.json.productId}`);
      // watch the dead-letter queue while the load goes on
      watching = (async () => {
        const deadline = now() + 60000;
        while (now() < deadline) {
          dead = await listDeadLetters();
          if (dead.length >= 4) break;
          await sleep(300);
        }
        deadAt = now();
      })();
      return { injected: 4, clearedAt: t0 };
    },
    beforeSettle: async () => {
      await watching;
      // the fix, then the documented commands: requeue what can apply now, drop the rest
      await sqlValueAsync(R, 'DROP TRIGGER faults_projection_bug ON products_read; DROP FUNCTION faults_projection_bug()');
      await deadletters('requeue', productEvent);
      await deadletters('drop', ids.malformed, ids.unknown, ids.early);
    },
  });
  const byId = Object.fromEntries(dead.map((d) => [d.event_id, d]));
  assert.equal(dead.length, 4, `dead letters: ${JSON.stringify(dead)}`);
  assert.equal(byId[ids.malformed].attempts, '1');
  assert.match(byId[ids.malformed].reason, /not JSON/);
  assert.equal(byId[ids.unknown].attempts, process.env.CONSUMER_MAX_ATTEMPTS);
  assert.match(byId[ids.unknown].reason, /unknown event type/);
  assert.equal(byId[ids.unknown].sqlstate, 'CQ422');
  assert.equal(byId[ids.early].attempts, process.env.CONSUMER_EARLY_MAX_ATTEMPTS);
  assert.equal(byId[ids.early].sqlstate, 'CQ425');
  assert.equal(byId[productEvent].attempts, process.env.CONSUMER_MAX_ATTEMPTS);
  assert.match(byId[productEvent].reason, /projection bug/);
  assert.equal(byId[productEvent].routing_key, 'product.ProductCreated');
  for (const id of [...Object.values(ids), productEvent]) {
    assert.ok(countLog('consumer', 0, new RegExp(`dead-lettered event.*event_id="?${id}`)) === 1,
      `no single dead-letter log line for ${id}`);
  }
  assert.equal((await listDeadLetters()).length, 0, 'the dead-letter queue is not empty after requeue and drop');
  row.notes = `4 dead-lettered (attempts 1, ${process.env.CONSUMER_MAX_ATTEMPTS}, ` +
    `${process.env.CONSUMER_EARLY_MAX_ATTEMPTS}, ${process.env.CONSUMER_MAX_ATTEMPTS}) within ` +
    `${((deadAt - injectedAt) / 1000).toFixed(1)} s; after the fix, 1 requeued and applied, 3 dropped`;
});

test('7. rebuild: the retained history replayed into a fresh read DB equals the live one', async () => {
  const row = { id: 7, fault: '`scripts/rebuild.sh`: replay the outbox into a fresh read DB, compare table by table', commands: 0, injected: 0, ok: false };
  rows.push(row);
  const t0 = now();
  const { stdout } = await execFileP(path.join(REPO_ROOT, 'scripts/rebuild.sh'), [], {
    env: process.env, cwd: REPO_ROOT, maxBuffer: 64 << 20,
  }).catch((e) => ({ stdout: `${e.stdout}\n${e.stderr}`, failed: true }));
  const events = Number((stdout.match(/replayed (\d+) events/) ?? [0, 0])[1]);
  Object.assign(row, {
    lost: 0, appliedTwice: 0, outOfOrder: 0, durationMs: now() - t0,
    notes: `${events} events replayed; ${stdout.match(/(\d+) tables? compared[^\n]*/)?.[0] ?? ''}`,
  });
  assert.match(stdout, /no differences/, stdout.slice(-3000));
  assert.ok(events > 1000, `only ${events} events replayed`);
  row.ok = true;
});

test('8. outbox retention: a sustained run keeps the outbox bounded; purging blocks no writer', async () => {
  // idempotency keys older than the TTL go too
  let oldKeys = 0;
  try {
    await sqlValueAsync(W, `INSERT INTO idempotency_keys (key, request_hash, command, created_at)
      SELECT 'faults-old-' || g, 'x', 'create_order', now() - interval '3 days' FROM generate_series(1, 1200) g`);
    oldKeys = 1200;
  } catch {
    oldKeys = 0; /* another schema: skip this part */
  }
  const sizes = [];
  let blocked = 'n/a';
  let sampler;
  const { row, stats, off } = await scenario({
    id: 8, fault: 'sustained load with `OUTBOX_RETENTION=3 seconds`, purge every second',
    loadMs: 20000, warmupMs: 500,
    inject: async (load) => {
      await restartWith('relay', { OUTBOX_RETENTION: '3 seconds', RELAY_PURGE_INTERVAL_MS: '1000' });
      const clearedAt = now();
      // every 50 ms for 15 s: sessions waiting for a lock the relay holds
      sampler = execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', W, '-c', `DO $$ DECLARE n bigint := 0; m bigint; BEGIN
          FOR i IN 1..300 LOOP
            PERFORM pg_stat_clear_snapshot();
            SELECT count(*) INTO m FROM pg_stat_activity a
            WHERE a.backend_type = 'client backend' AND EXISTS (
              SELECT 1 FROM pg_stat_activity r
              WHERE r.application_name = 'relay' AND r.pid = ANY (pg_blocking_pids(a.pid)));
            n := n + m;
            PERFORM pg_sleep(0.05);
          END LOOP;
          RAISE NOTICE 'blocked_samples=%', n;
        END $$`]).then((r) => r.stderr, (e) => e.message);
      (async () => {
        while (load.running) {
          sizes.push({ t: now() - load.startedAt, n: Number(await sqlValueAsync(W, 'SELECT count(*) FROM outbox')) });
          await sleep(1000);
        }
      })();
      return { injected: 1, clearedAt };
    },
  });
  const notice = await sampler;
  blocked = (String(notice).match(/blocked_samples=(\d+)/) ?? [null, 'n/a'])[1];
  const purged = sumLogKey('relay', off.relay, /msg="purged published outbox rows"/, 'count');
  const keysLeft = Number(sqlValue(W, "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'faults-old-%'"));
  await restartWith('relay', {});
  const late = sizes.filter((x) => x.t >= 8000).map((x) => x.n);
  const maxLate = Math.max(...late);
  const events = stats.ok;
  row.notes = `outbox rows sampled each second after 8 s: max ${maxLate} (of ${events} events written in the run); ` +
    `${purged} rows purged; purge blocked writers in ${blocked} of 300 samples; ` +
    `command p99 ${Math.round(stats.p99Ms)} ms` + (oldKeys ? `; ${oldKeys - keysLeft} of ${oldKeys} expired idempotency keys purged` : '');
  assert.ok(purged > 0, 'nothing was purged');
  assert.ok(late.length >= 5, `too few samples: ${JSON.stringify(sizes)}`);
  assert.ok(maxLate < events / 2, `the outbox grew: ${JSON.stringify(sizes)} with ${events} events`);
  assert.equal(blocked, '0', `the purge blocked writers: ${notice}`);
  if (oldKeys) assert.equal(keysLeft, 0, 'expired idempotency keys were not purged');
});

// --- 11.x: ordering (issue 11 item 2) ----------------------------------------------------------
// N consumers on one queue take deliveries in turn, so an order often reaches the read DB before
// its product's ProductCreated, a todo's update or delete before its TodoCreated. Every read
// model must still end equal to the write model, each aggregate's events applied in version order.
async function withConsumers(n, id, what, work) {
  const labels = Array.from({ length: n - 1 }, (_, i) => `consumer-${id}-${i + 2}`);
  // the extra consumers serve no metrics (port 0: no listener)
  for (const l of labels) startExtra('consumer', l, { CONSUMER_METRICS_PORT: '0' });
  for (const l of labels) await waitLog(l, 0, /msg="consuming"/);
  const off = offsets();
  const row = { id, fault: what, commands: 0, injected: 0, ok: false };
  rows.push(row);
  try {
    const stats = await work();
    const conv = await settle(`test ${id}`);
    const all = ['consumer', ...labels];
    const sum = (re, key) => all.reduce((a, l) => a + sumLogKey(l, l === 'consumer' ? off.consumer : 0, re, key), 0);
    const cnt = (re) => all.reduce((a, l) => a + countLog(l, l === 'consumer' ? off.consumer : 0, re), 0);
    const applied = all.map((l) => countLog(l, l === 'consumer' ? off.consumer : 0, /msg="saved to read db"/));
    Object.assign(row, {
      commands: stats.sent, injected: n, lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice,
      outOfOrder: conv.figures.outOfOrder, settleMs: conv.settleMs, ok: conv.ok,
      figures: { ...conv.figures, checkMs: conv.checkMs },
      notes: `${n} consumers (events saved: ${applied.join(', ')}); ` +
        `${sum(/msg="early events set aside/, 'count')} early events set aside from a batch, ` +
        `${cnt(/msg="event arrived early, retrying later"/)} sent to the retry queue; ` +
        `${sum(/msg="applied batch"/, 'duplicates')} duplicates or stale skipped; ${stats.failed} commands refused`,
    });
    assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
    assert.equal(stats.hangs, 0, 'a command hung');
    assert.ok(applied.every((a) => a > 0), `a consumer applied nothing: ${applied}`);
    return { row, stats, conv };
  } finally {
    for (const l of labels) await stopExtra(l);
  }
}

const merge = (...ss) => ss.reduce((a, s) => {
  for (const [k, v] of Object.entries(s)) a[k] = (a[k] ?? 0) + v;
  return a;
}, {});

test('11.1 two consumers: 300 products each ordered at once, todo bursts; every read model equals the write DB', async () => {
  await withConsumers(2, '11.1', 'two consumers; 300 times a product created and ordered at once, ' +
    'stock adjusted, orders cancelled; 150 todos created, updated and deleted at once', async () => {
    const [a, b] = await Promise.all([
      productBursts({ n: 300, base: products, tag: 'o2' }),
      todoBursts({ n: 150, tag: 'o2' }),
    ]);
    return merge(a, b);
  });
});

test('11.2 three consumers with the steady load beside the bursts', async () => {
  await withConsumers(3, '11.2', 'three consumers; the steady load plus 300 products ordered at once and ' +
    '150 todo bursts', async () => {
    const load = new Load({ products, rate: RATE }).start();
    let bursts;
    let stats;
    try {
      bursts = await Promise.all([
        productBursts({ n: 300, base: products, tag: 'o3' }),
        todoBursts({ n: 150, tag: 'o3' }),
      ]);
    } finally {
      stats = await load.stop();
    }
    return merge(...bursts, { sent: stats.sent, ok: stats.ok, failed: stats.rejected + stats.otherErrors, hangs: stats.hangs });
  });
});

// Events published by hand, newest first and one at a time, so that each early one goes through
// the consumer's local retries and the retry queue; one event's predecessor is held back until
// it went to the dead-letter queue, and the documented requeue applies it after all.
test('11.3 events delivered newest first, through the retry queue and the dead-letter requeue', async () => {
  const row = { id: '11.3', fault: 'events of products, orders and todos published newest first; ' +
    'one early event dead-lettered, then requeued after its predecessor', commands: 0, injected: 0, ok: false };
  rows.push(row);
  const off = offsets();
  await stopServices(['relay']);
  let relayStopped = true;
  try {
    const mark = Number(sqlValue(W, 'SELECT coalesce(max(id), 0) FROM outbox'));
    // writes whose events stay in the outbox while the relay is stopped
    const p1 = await send('POST', '/api/products', { name: 'reversed 1', category: 'rev', price: 3, stock: 30 });
    const p2 = await send('POST', '/api/products', { name: 'reversed 2', category: 'rev', price: 4, stock: 40 });
    assert.equal(p1.status, 201);
    assert.equal(p2.status, 201);
    const pid1 = p1.json.productId;
    const pid2 = p2.json.productId;
    const o1 = await send('POST', '/api/orders', { customerId: 3, items: [{ productId: pid1, quantity: 2 }, { productId: pid2, quantity: 1 }] });
    assert.equal(o1.status, 201);
    assert.equal((await send('POST', '/api/inventory', { productId: pid1, delta: 5 })).status, 201);
    assert.equal((await send('POST', '/api/inventory', { productId: pid1, delta: -3 })).status, 201);
    assert.equal((await send('POST', `/api/orders/${o1.json.orderId}/payments`, { amount: o1.json.total, method: 'card' })).status, 201);
    assert.equal((await send('POST', `/api/orders/${o1.json.orderId}/cancel`, {})).status, 200);
    const t1 = await send('POST', '/api/todos', { title: 'reversed todo 1' });
    const t2 = await send('POST', '/api/todos', { title: 'reversed todo 2' });
    assert.equal((await send('PATCH', `/api/todos/${t1.json.id}`, { completed: true })).status, 200);
    assert.equal((await send('DELETE', `/api/todos/${t1.json.id}`)).status, 200);
    assert.equal((await send('PATCH', `/api/todos/${t2.json.id}`, { completed: true })).status, 200);
    assert.equal((await send('PATCH', `/api/todos/${t2.json.id}`, { completed: false })).status, 200);
    // p2's ProductCreated is held back: the events after it that need it wait for it
    const evs = sqlRows(W, `SELECT event_id, aggregate_type || '.' || event_type, payload::text, aggregate_type,
                                   aggregate_id, aggregate_version
                            FROM outbox WHERE id > ${mark} ORDER BY id DESC`);
    sqlValue(W, `UPDATE outbox SET published_at = clock_timestamp() WHERE id > ${mark} AND published_at IS NULL`);
    await startServices(['relay']);
    relayStopped = false;
    const held = evs.find((e) => e[3] === 'product' && Number(e[4]) === pid2 && e[5] === '1');
    const order = evs.filter((e) => e !== held);
    row.injected = evs.length;
    row.commands = evs.length;
    for (const [id, key, body] of order) {
      inject(key, id, body);
      await sleep(150);
    }
    // the order needs p2: it waits, at most CONSUMER_EARLY_MAX_ATTEMPTS tries, then is dead-lettered
    const created = evs.find((e) => e[1] === 'order.OrderCreated');
    let dead = [];
    const deadline = now() + 90000;
    while (now() < deadline) {
      dead = await listDeadLetters();
      if (dead.some((d) => d.event_id === created[0])) break;
      await sleep(500);
    }
    const mine = new Set(evs.map((e) => e[0]));
    const deadMine = dead.filter((d) => mine.has(d.event_id));
    assert.ok(deadMine.some((d) => d.event_id === created[0]), `OrderCreated was not dead-lettered: ${JSON.stringify(dead)}`);
    for (const d of deadMine) assert.equal(d.sqlstate, 'CQ425', `dead-lettered for another reason: ${JSON.stringify(d)}`);
    // nothing of the order or of p2 may have been applied wrongly meanwhile
    assert.equal(sqlValue(R, `SELECT count(*) FROM orders_read WHERE order_id = ${o1.json.orderId}`), '0');
    // the predecessor arrives; the documented requeue brings the dead-lettered events back
    inject(held[1], held[0], held[2]);
    await sleep(1000);
    await deadletters('requeue', ...deadMine.map((d) => d.event_id));
    const conv = await settle('test 11.3');
    const early = countLog('consumer', off.consumer, /msg="event arrived early/);
    Object.assign(row, {
      lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice, outOfOrder: conv.figures.outOfOrder,
      settleMs: conv.settleMs, ok: conv.ok, figures: { ...conv.figures, checkMs: conv.checkMs },
      notes: `${evs.length} events newest first, 150 ms apart; ${early} early events retried; ` +
        `${deadMine.length} dead-lettered (CQ425) while ProductCreated was held back, then requeued and applied`,
    });
    assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
    assert.ok(early > 0, 'no event arrived early');
    // every todo (the todo demo's GET /todos; GET /api/todos is paginated, 100 by default)
    const todos = JSON.parse(await (await fetch(`${process.env.QUERY_URL}/todos`)).text());
    assert.ok(!todos.some((t) => t.id === t1.json.id), 'a deleted todo came back');
    assert.ok(todos.some((t) => t.id === t2.json.id && t.completed === false), 'todo 2 is not reopened');
  } finally {
    if (relayStopped) await startServices(['relay']);
  }
});

// A consumer frozen (SIGSTOP) inside its batch transaction holds the consumers' turn and its row
// locks: the server ends its session after idle_in_transaction_session_timeout (10 s), so the
// other consumer goes on; the frozen one's unacked deliveries come back when it is killed.
test('11.4 a consumer frozen inside its transaction does not stop the other for long', async () => {
  const c2 = 'consumer-11.4-2';
  startExtra('consumer', c2, { CONSUMER_METRICS_PORT: '0' });
  await waitLog(c2, 0, /msg="consuming"/);
  let stalledMs;
  try {
    const { row } = await scenario({
      id: '11.4', fault: 'two consumers; one frozen (`SIGSTOP`) inside its batch transaction, then `kill -9`',
      inject: async () => {
        const o = await restartWith('consumer', { FAULT_PAUSE_BEFORE_COMMIT_MS: '60000' });
        await waitLog('consumer', o, /fault hook: pausing before commit/);
        const pid = pidOf('consumer');
        process.kill(pid, 'SIGSTOP');
        const frozenAt = now();
        await sleep(300); // what the other consumer logged before the freeze is in its log by now
        const o2 = logSize(c2);
        // the other consumer waits for the turn until the server ends the frozen session
        await waitLog(c2, o2, /msg="applied batch"|msg="saved to read db"/, 40000).catch(() => {});
        stalledMs = now() - frozenAt;
        await kill9(pid);
        await startServices(['consumer']);
        return { injected: 1, clearedAt: now() };
      },
      // events that waited for one the frozen consumer held may have run out of tries: the
      // documented requeue brings them back
      beforeSettle: async () => {
        const dead = (await listDeadLetters()).filter((d) => d.sqlstate === 'CQ425');
        if (dead.length > 0) await deadletters('requeue', ...dead.map((d) => d.event_id));
      },
    });
    row.notes = `the other consumer applied again ${(stalledMs / 1000).toFixed(1)} s after the freeze ` +
      '(idle_in_transaction_session_timeout 10 s)';
    assert.ok(stalledMs < 25000, `the other consumer was stuck ${stalledMs} ms behind the frozen one`);
  } finally {
    await stopExtra(c2);
  }
});
// --- the relay (issue 11 items 1, 3, 4) --------------------------------------------------------
const LEASE_MS = Number(process.env.RELAY_LEASE_MS ?? 5000);
const dbNow = () => sqlValue(W, 'SELECT clock_timestamp()');

test('12.a the read-model queue deleted while publishing: returned events are never marked, none is lost', async () => {
  // Only a queue that is empty may be deleted: messages in a deleted queue are gone, whatever the
  // relay does. So the load starts after the deletion: every event it causes is returned.
  const row = { id: '12.a', fault: 'consumer stopped and the read-model queue deleted, then load for 8 s (every event unroutable), consumer restarted', commands: 0, injected: 1, ok: false };
  rows.push(row);
  assert.ok((await settle('test 12.a (before)')).ok, 'the read model had not converged before the fault');
  await stopServices(['consumer']);
  let load;
  let stats;
  let health;
  let held = 0;
  let returned = 0;
  let recoveryMs;
  try {
    await rabbitCtl('delete_queue', '-p', brokerVhost(), QUEUE);
    const deletedAt = dbNow();
    const before = await relayMetric('relay_events_returned_total');
    load = new Load({ products, rate: RATE }).start();
    health = await waitFor(async () => {
      const h = await relayHealth();
      return h.body.status === 'degraded' ? h : undefined;
    }, 15000);
    await sleep(8000);
    held = Number(sqlValue(W, `SELECT count(*) FROM outbox
      WHERE created_at > '${deletedAt}'::timestamptz AND published_at IS NULL`));
    const marked = Number(sqlValue(W, `SELECT count(*) FROM outbox
      WHERE created_at > '${deletedAt}'::timestamptz AND published_at IS NOT NULL`));
    returned = (await relayMetric('relay_events_returned_total')) - before;
    assert.equal(marked, 0, `${marked} events were marked published while no queue was bound`);
    assert.ok(held > 0, 'no event was held back');
    assert.ok(returned > 0, 'relay_events_returned_total did not grow');
    assert.equal(await relayMetric('relay_events_unroutable'), 1, 'relay_events_unroutable is not 1');
  } finally {
    await startServices(['consumer']); // declares the queue and its binding again
  }
  const clearedAt = now();
  const first = load.created.at(-1);
  const seen = first ? await waitOrderVisible(first.orderId) : 0;
  recoveryMs = seen ? seen - clearedAt : undefined;
  await sleep(5000);
  stats = await load.stop();
  const conv = await settle('test 12.a');
  Object.assign(row, {
    commands: stats.sent, lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice,
    outOfOrder: conv.figures.outOfOrder, recoveryMs, settleMs: conv.settleMs, ok: conv.ok, stats,
    figures: { ...conv.figures, checkMs: conv.checkMs },
  });
  assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
  assert.ok(health, '/health never answered degraded while events were returned');
  assert.equal(health.status, 200);
  assert.match(health.body.reason, /unroutable/);
  assert.ok(await waitFor(async () => (await relayHealth()).body.status === 'ok', 15000),
    '/health did not answer ok once the events were delivered');
  assert.equal(row.lost, 0);
  assert.ok(recoveryMs !== undefined, 'the last order held back never became visible');
  row.notes = `${held} events held back unmarked while no queue was bound (${returned} returns counted, ` +
    `/health "degraded": "${health.body.reason}"); all delivered after the consumer declared the queue again`;
});

test('12.b a frozen relay leader (SIGSTOP) is replaced within the lease and fenced', async () => {
  const r2 = 'relay-12b';
  startExtra('relay', r2, { RELAY_METRICS_PORT: process.env.FAULTS_EXTRA_RELAY_METRICS_PORT });
  await waitLog(r2, 0, /another relay is the leader, standing by/);
  const old = pidOf('relay');
  let takeoverMs;
  let afterWake = '';
  try {
    const { row } = await scenario({
      id: '12.b', fault: 'two relays; `SIGSTOP` of the leader, `SIGCONT` after the standby took over',
      inject: async () => {
        const o2 = logSize(r2);
        const t0 = now();
        process.kill(old, 'SIGSTOP');
        try {
          await waitLog(r2, o2, /became leader/, LEASE_MS + 15000);
          takeoverMs = now() - t0;
          // events flow through the new leader while the old one is still frozen
          await waitLog(r2, o2, /msg="published batch"/, 10000);
        } finally {
          const o1 = logSize('relay');
          process.kill(old, 'SIGCONT');
          await waitLog('relay', o1, /another relay is the leader, standing by/, 15000)
            .catch(() => {});
          await sleep(2000);
          afterWake = logSince('relay', o1);
        }
        return { injected: 1, clearedAt: t0 + takeoverMs };
      },
    });
    assert.ok(takeoverMs <= LEASE_MS + 2500, `takeover took ${takeoverMs} ms (lease ${LEASE_MS} ms)`);
    assert.equal(pidOf('relay'), old, 'the old leader died instead of standing by');
    assert.doesNotMatch(afterWake, /msg="published (batch|event)"/, 'the deposed leader marked events');
    assert.match(afterWake, /another relay is the leader, standing by/, 'the old leader did not stand by');
    assert.equal(await relayMetric('relay_leader'), 0, 'the old leader still says it leads');
    assert.equal(await relayMetric('relay_leader', process.env.FAULTS_EXTRA_RELAY_METRICS_PORT), 1);
    row.takeoverMs = takeoverMs;
    row.notes = `takeover ${(takeoverMs / 1000).toFixed(1)} s (lease ${(LEASE_MS / 1000).toFixed(1)} s); ` +
      'the old leader\'s session was terminated, and once woken it marked nothing and stood by';
  } finally {
    await stopExtra(r2); // gives the lease up: the relay of services.sh leads again at once
  }
});

test('12.c a broker alarm: /health says blocked, SIGTERM still stops the relay, nothing is lost', async () => {
  const original = await memoryWatermark();
  let health;
  let exitMs;
  try {
    const { row } = await scenario({
      id: '12.c', fault: 'memory alarm (`set_vm_memory_high_watermark 0`) under load; relay SIGTERM during it; alarm cleared, relay started',
      inject: async () => {
        await rabbitCtl('set_vm_memory_high_watermark', '0');
        health = await waitFor(async () => {
          const h = await relayHealth();
          return h.body.reason === 'broker blocked' ? h : undefined;
        }, 20000);
        const blocked = await relayMetric('relay_broker_blocked');
        const pid = pidOf('relay');
        const t0 = now();
        process.kill(pid, 'SIGTERM');
        while (pidOf('relay') === pid && now() - t0 < 20000) await sleep(20);
        exitMs = now() - t0;
        await rabbitCtl('set_vm_memory_high_watermark', ...restoreArgs(original));
        await stopServices(['relay']); // if it did not stop by itself
        await startServices(['relay']);
        assert.equal(blocked, 1, 'relay_broker_blocked was not 1 during the alarm');
        return { injected: 1, clearedAt: now() };
      },
    });
    assert.ok(health, '/health never reported "broker blocked" during the alarm');
    assert.equal(health.body.status, 'degraded');
    assert.ok(exitMs < 5000, `the relay took ${exitMs} ms to stop on SIGTERM during the alarm`);
    assert.equal(row.lost, 0);
    row.notes = `/health "degraded": "broker blocked"; SIGTERM during the alarm: the relay exited in ` +
      `${(exitMs / 1000).toFixed(1)} s`;
  } finally {
    await rabbitCtl('set_vm_memory_high_watermark', ...restoreArgs(original)).catch(() => {});
  }
});

// The arguments of set_vm_memory_high_watermark for what memoryWatermark() read.
function restoreArgs(value) {
  const abs = value.match(/\{absolute,\s*(\d+)\}/);
  return abs ? ['absolute', abs[1]] : [value];
}
// --- 13.x: hardening (issue 11, items 5-8): helpers in hardening.mjs ----------------------------

test('13.1 mood flood: POST /api/moods is rate-limited per address and the mood queue stays bounded', async () => {
  const row = { id: '13.1', fault: 'mood flood: 200 moods from one address, then 1,200 from 60 addresses, with the mood queue bounded at 200', commands: 0, injected: 1, ok: false };
  rows.push(row);
  const env = { ...process.env, MOOD_QUEUE_MAX_LENGTH: '200', MOOD_QUEUE_TTL_MS: '600000' };
  await execFileP(BROKER_SCRIPT, ['policies'], { env, cwd: REPO_ROOT });
  try {
    const moodsBefore = Number(sqlValue(W, 'SELECT count(*) FROM moods'));
    // one address: the bucket's burst, then 429 with Retry-After, nothing written for those
    const one = await Promise.all(Array.from({ length: 200 }, () =>
      commandFrom('127.0.0.2', 'POST', '/api/moods', { type: 'good' }, { token: false })));
    const ok1 = one.filter((r) => r.status === 202).length;
    const refused = one.filter((r) => r.status === 429);
    assert.equal(ok1 + refused.length, 200, `only 202 and 429: ${[...new Set(one.map((r) => r.status))]}`);
    assert.ok(refused.length >= 150, `${refused.length} of 200 refused`);
    for (const r of refused.slice(0, 20)) {
      assert.equal(r.json?.error?.code, 'rate_limited');
      assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After');
    }
    assert.equal(Number(sqlValue(W, 'SELECT count(*) FROM moods')) - moodsBefore, ok1, 'a refused mood wrote nothing');
    // many addresses: accepted, but the queue (no consumer) keeps at most 200
    let ok2 = 0;
    for (let a = 10; a < 70; a += 1) {
      const rs = await Promise.all(Array.from({ length: 20 }, () =>
        commandFrom(`127.0.0.${a}`, 'POST', '/api/moods', { type: a % 2 ? 'good' : 'bad' }, { token: false })));
      ok2 += rs.filter((r) => r.status === 202).length;
    }
    assert.ok(ok2 >= 1000, `${ok2} of 1200 accepted from 60 addresses`);
    const outbox = () => Number(sqlValue(W, 'SELECT count(*) FROM outbox WHERE published_at IS NULL'));
    const deadline = now() + 30000;
    while (outbox() > 0 && now() < deadline) await sleep(200);
    const q = await queues();
    const moodQueue = q[process.env.MOOD_QUEUE ?? 'mood_events'];
    assert.ok(moodQueue, `no mood queue: ${JSON.stringify(q)}`);
    assert.ok(moodQueue.ready <= 200, `the mood queue holds ${moodQueue.ready} messages`);
    const conv = await settle('test 13.1');
    Object.assign(row, {
      commands: 200 + 1200, lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice,
      outOfOrder: conv.figures.outOfOrder, settleMs: conv.settleMs, figures: { checkMs: conv.checkMs },
      ok: conv.ok,
      notes: `one address: ${ok1} accepted, ${refused.length} refused 429 rate_limited (nothing written); ` +
        `60 addresses: ${ok2} accepted; mood queue held ${moodQueue.ready} (bound 200, oldest dropped)`,
    });
    assert.ok(conv.ok, conv.diffs.slice(0, 20).join('\n'));
  } finally {
    await broker('policies');
  }
});

test('13.2 SIGTERM while a command waits on a row lock: 201 and the order, or nothing written', async () => {
  const row = { id: '13.2', fault: 'SIGTERM to the command API while an order waits on a product row lock (released within, then after `SHUTDOWN_GRACE_MS`)', commands: 0, injected: 2, ok: false };
  rows.push(row);
  const waitingOnLock = async () => {
    const deadline = now() + 10000;
    while (now() < deadline) {
      if (Number(sqlValue(W, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'command-api'")) > 0) return;
      await sleep(20);
    }
    throw new Error('the order never waited on the lock');
  };
  const orders = () => Number(sqlValue(W, 'SELECT count(*) FROM orders'));
  const runOnce = async (graceMs, holdAfterTermMs) => {
    await restartWith('command-api', { SHUTDOWN_GRACE_MS: String(graceMs) });
    const pid = pidOf('command-api');
    const lock = await holdLock(W, `SELECT 1 FROM products WHERE id = ${products[0]} FOR UPDATE`);
    const before = orders();
    const pending = commandFrom('127.0.0.1', 'POST', '/api/orders', { customerId: 13, items: [{ productId: products[0], quantity: 1 }] });
    await waitingOnLock();
    const termAt = now();
    process.kill(pid, 'SIGTERM');
    await sleep(holdAfterTermMs);
    const stillUp = fs.existsSync(`/proc/${pid}`);
    const refusedNew = await commandFrom('127.0.0.1', 'GET', '/health', undefined, { timeoutMs: 2000 });
    await lock.release();
    const r = await pending;
    for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`); i++) await sleep(50);
    const exited = !fs.existsSync(`/proc/${pid}`);
    const written = orders() - before;
    await startServices(['command-api']);
    return { r, written, stillUp, exited, newStatus: refusedNew.status, stopMs: now() - termAt };
  };
  // released within the grace period: the request is answered 201 and the order is there
  const a = await runOnce(10000, 1500);
  assert.ok(a.stillUp, 'the API stopped before its request was answered');
  assert.equal(a.newStatus, 0, 'a new connection was accepted while draining');
  assert.equal(a.r.status, 201, `answer: ${a.r.status} ${a.r.text}`);
  assert.equal(a.written, 1, 'the answered order is in the write DB');
  assert.ok(a.exited, 'the API did not stop after draining');
  // held past the grace period: the statement is cancelled, 503 and nothing written
  const b = await runOnce(1000, 3000);
  assert.ok([503, 0].includes(b.r.status), `answer: ${b.r.status} ${b.r.text}`);
  assert.equal(b.written, 0, `an order was committed without its answer: status ${b.r.status}`);
  assert.ok(b.exited, 'the API did not stop');
  const conv = await settle('test 13.2');
  Object.assign(row, {
    commands: 2, lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice, outOfOrder: conv.figures.outOfOrder,
    settleMs: conv.settleMs, figures: { checkMs: conv.checkMs }, ok: conv.ok,
    notes: `lock released 1.5 s after SIGTERM: ${a.r.status} after ${(a.r.ms / 1000).toFixed(1)} s, ${a.written} order written, ` +
      `a new connection was not served while draining, stopped ${(a.stopMs / 1000).toFixed(1)} s after SIGTERM; ` +
      `lock held past a 1 s grace: ${b.r.status || 'closed'} (statement cancelled), ${b.written} orders written`,
  });
  assert.ok(conv.ok, conv.diffs.slice(0, 20).join('\n'));
});

test('13.3 a message that crashes the consumer is dead-lettered after CONSUMER_MAX_ATTEMPTS and the stream goes on', async () => {
  const marker = `crash-marker-${randomUUID()}`;
  const max = Number(process.env.CONSUMER_MAX_ATTEMPTS ?? 5);
  let supervisor;
  let productEvent;
  let dead = [];
  let injectedAt;
  let deadAt;
  const { row, off } = await scenario({
    id: '13.3', fault: 'a product whose event makes the consumer abort() (test hook `FAULT_ABORT_ON_MARKER`); the consumer is restarted after each crash',
    inject: async () => {
      const o = await restartWith('consumer', { FAULT_ABORT_ON_MARKER: marker });
      supervisor = supervise('consumer', { FAULT_ABORT_ON_MARKER: marker });
      injectedAt = now();
      const p = await send('POST', '/api/products', { name: `poison ${marker}`, category: 'crash', price: 1, stock: 1 });
      assert.equal(p.status, 201);
      productEvent = sqlValue(W, `SELECT event_id FROM outbox WHERE aggregate_type = 'product' AND aggregate_id = ${p.json.productId}`);
      const deadline = now() + 90000;
      while (now() < deadline) {
        dead = await listDeadLetters();
        if (dead.some((d) => d.event_id === productEvent)) break;
        await sleep(300);
      }
      deadAt = now();
      void o;
      return { injected: 1, clearedAt: now() };
    },
    beforeSettle: async () => {
      // the fix (here: the consumer without the hook), then the documented requeue
      await supervisor.stop();
      await restartWith('consumer', {});
      await deadletters('requeue', productEvent);
    },
  });
  const mine = dead.find((d) => d.event_id === productEvent);
  assert.ok(mine, `not dead-lettered: ${JSON.stringify(dead)}`);
  assert.equal(mine.attempts, String(max));
  assert.match(mine.reason, new RegExp(`crashed the consumer ${max} times`));
  const crashes = countLog('consumer', off.consumer, /fault hook: aborting on an event with the marker/);
  assert.equal(crashes, max, `the consumer crashed ${crashes} times`);
  assert.equal((await listDeadLetters()).length, 0, 'the dead-letter queue is not empty after the requeue');
  row.notes = `the consumer crashed ${crashes} times on it, was restarted ${supervisor.restarts} times; ` +
    `dead-lettered ("${mine.reason}") ${((deadAt - injectedAt) / 1000).toFixed(1)} s after it was written; ` +
    'the load went on; after the fix it was requeued and applied';
});

test('13.4 processed_events retention: old rows are purged, a redelivery inside the horizon is still skipped', async () => {
  const row = { id: '13.4', fault: 'processed_events: 5,000 rows older than `PROCESSED_EVENTS_RETENTION` planted, a recent event redelivered', commands: 0, injected: 2, ok: false };
  rows.push(row);
  const off = await restartWith('consumer', { PROCESSED_EVENTS_RETENTION: '7 days', CONSUMER_PURGE_INTERVAL_MS: '500' });
  try {
    const t0 = now();
    await sqlValueAsync(R, `INSERT INTO processed_events (event_id, event_type, occurred_at, processed_at)
      SELECT gen_random_uuid(), 'Planted', now() - interval '8 days', now() - interval '8 days' - g * interval '1 ms'
      FROM generate_series(1, 5000) g`);
    await sqlValueAsync(R, `INSERT INTO event_attempts (event_id, attempts, last_at)
      SELECT gen_random_uuid(), 1, now() - interval '8 days' FROM generate_series(1, 100) g`);
    // a recent, applied event comes again (as after a crash between commit and ack)
    const p = await send('POST', '/api/products', { name: 'retention probe', category: 'retention', price: 2, stock: 7 });
    assert.equal(p.status, 201);
    const [id, payload] = [
      sqlValue(W, `SELECT event_id FROM outbox WHERE aggregate_type = 'product' AND aggregate_id = ${p.json.productId}`),
      sqlValue(W, `SELECT payload FROM outbox WHERE aggregate_type = 'product' AND aggregate_id = ${p.json.productId}`)];
    await waitLog('consumer', off, new RegExp(`saved to read db.*event_id=${id}`), 30000);
    const deadline = now() + 30000;
    let left;
    while ((left = Number(sqlValue(R, "SELECT count(*) FROM processed_events WHERE event_type = 'Planted'"))) > 0 && now() < deadline) await sleep(200);
    const purgeMs = now() - t0; /* from the planting */
    assert.equal(left, 0, 'the old rows were not purged');
    // the attempt rows go in the same purge round, after the processed events: wait for them too
    let attemptsLeft;
    while ((attemptsLeft = Number(sqlValue(R, "SELECT count(*) FROM event_attempts WHERE last_at < now() - interval '7 days'"))) > 0 &&
      now() < deadline) await sleep(200);
    assert.equal(attemptsLeft, 0, 'old attempt rows were not purged');
    assert.equal(sqlValue(R, `SELECT count(*) FROM processed_events WHERE event_id = '${id}'`), '1', 'the recent row was purged');
    inject('product.ProductCreated', id, payload);
    await waitLog('consumer', off, new RegExp(`skipped duplicate event.*event_id=${id}`), 30000);
    assert.equal(sqlValue(R, `SELECT stock FROM products_read WHERE product_id = ${p.json.productId}`), '7');
    const purged = sumLogKey('consumer', off, /msg="purged processed events"/, 'count');
    const conv = await settle('test 13.4');
    Object.assign(row, {
      commands: 1, lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice, outOfOrder: conv.figures.outOfOrder,
      settleMs: conv.settleMs, figures: { checkMs: conv.checkMs }, ok: conv.ok,
      notes: `${purged} rows older than the retention purged within ${(purgeMs / 1000).toFixed(1)} s (batches of 500); ` +
        'the redelivered event (inside the horizon) was skipped as a duplicate',
    });
    assert.ok(conv.ok, conv.diffs.slice(0, 20).join('\n'));
  } finally {
    await restartWith('consumer', {});
  }
});

test('13.5 rebuild after the outbox purge: replay refuses, --snapshot equals live, a differing model is never swapped', async () => {
  const row = { id: '13.5', fault: 'outbox purged with a 1 s retention, then `scripts/rebuild.sh` (replay, `--snapshot`, `--snapshot --swap` of a differing model)', commands: 0, injected: 1, ok: false };
  rows.push(row);
  const rebuild = (...args) => execFileP(path.join(REPO_ROOT, 'scripts/rebuild.sh'), args, {
    env: process.env, cwd: REPO_ROOT, maxBuffer: 64 << 20,
  }).then((r) => ({ code: 0, out: `${r.stdout}\n${r.stderr}` }), (e) => ({ code: e.code, out: `${e.stdout}\n${e.stderr}` }));
  // todos in every state (open, completed, completed then deleted), so that their history is purged too
  const todo = async (title) => (await send('POST', '/api/todos', { title })).json.id;
  const [, done, gone] = [await todo('open'), await todo('done'), await todo('gone')];
  for (const id of [done, gone]) assert.equal((await send('PATCH', `/api/todos/${id}`, { completed: true })).status, 200);
  assert.equal((await send('DELETE', `/api/todos/${gone}`)).status, 200);
  // purge: a relay with a tiny retention, then the default again
  const o = await restartWith('relay', { OUTBOX_RETENTION: '1 second', RELAY_PURGE_INTERVAL_MS: '500' });
  await sleep(1500);
  await waitLog('relay', o, /msg="purged published outbox rows"/, 30000);
  await restartWith('relay', {});
  await settle('test 13.5');
  const gaps = Number(sqlValue(W, 'SELECT count(*) FROM rebuild_history_gaps()'));
  assert.ok(gaps > 0, 'the purge left no gap');
  const replay = await rebuild();
  assert.equal(replay.code, 3, replay.out.slice(-3000));
  assert.match(replay.out, /refused: cannot rebuild by replaying the outbox: \d+ aggregates lack their creating event/);
  assert.match(replay.out, /(product|order|todo|mood) \d+: (no event left|history starts at version \d+)/);
  const t0 = now();
  const snap = await rebuild('--snapshot');
  const snapMs = now() - t0;
  assert.equal(snap.code, 0, snap.out.slice(-3000));
  assert.match(snap.out, /no differences/);
  // a differing model is never swapped
  await stopServices(['consumer', 'query-api']);
  let swap;
  try {
    await sqlValueAsync(R, `UPDATE products_read SET name = name || ' (planted)' WHERE product_id = ${products[0]}`);
    swap = await rebuild('--snapshot', '--swap');
  } finally {
    await sqlValueAsync(R, `UPDATE products_read SET name = replace(name, ' (planted)', '') WHERE product_id = ${products[0]}`);
    await startServices(['consumer', 'query-api']);
  }
  assert.equal(swap.code, 1, swap.out.slice(-3000));
  assert.match(swap.out, /not swapped/);
  assert.doesNotMatch(swap.out, /rebuild\.sh: swapped:/);
  const conv = await settle('test 13.5');
  const synthesized = (snap.out.match(/(\d+) events synthesized/) ?? [0, '?'])[1];
  const tables = (snap.out.match(/(\d+) tables compared/) ?? [0, '?'])[1];
  Object.assign(row, {
    lost: conv.figures.lost, appliedTwice: conv.figures.appliedTwice, outOfOrder: conv.figures.outOfOrder,
    settleMs: conv.settleMs, figures: { checkMs: conv.checkMs }, ok: conv.ok, durationMs: snapMs,
    notes: `${gaps} aggregates lost their creating event; replay refused (exit 3) naming them; --snapshot ` +
      `synthesized ${synthesized} events and equalled live (${tables} tables) in ${(snapMs / 1000).toFixed(1)} s; ` +
      '--swap of a model that differed (a planted name) refused, exit 1',
  });
  assert.ok(conv.ok, conv.diffs.slice(0, 20).join('\n'));
});

test('14. the answer cache is emptied and bypassed while the query API cannot listen, and refills after', async () => {
  const row = { id: '14', fault: 'PostgreSQL stopped with answers in the query API\'s cache (docs/api.md#caching), then started', commands: 0, injected: 1, ok: false };
  rows.push(row);
  const Q = process.env.QUERY_URL;
  const metric = async (name) => {
    const text = await (await fetch(`${Q}/metrics`)).text();
    const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
    assert.ok(m, `the query API's /metrics has ${name}`);
    return Number(m[1]);
  };
  const get = async (p) => {
    try {
      const res = await fetch(Q + p, { signal: AbortSignal.timeout(10000) });
      const text = await res.text();
      return { status: res.status, json: res.status === 200 ? JSON.parse(text) : undefined };
    } catch {
      return { status: -1 };
    }
  };
  const path = `/api/products/${products[1]}`;
  assert.ok(await waitFor(async () => (await metric('query_cache_listening')) === 1, 15000), 'the cache listens');
  const stock = (await get(path)).json.stock;
  const hits = await metric('query_cache_hits_total');
  assert.equal((await get(path)).status, 200);
  assert.ok((await metric('query_cache_hits_total')) > hits, 'the answer is cached');

  let down;
  await pgStop();
  try {
    // the listening connection is gone: notifications could be missed, so no answer from memory
    assert.ok(await waitFor(async () => (await metric('query_cache_listening')) === 0, 5000),
      'the cache noticed it no longer listens');
    assert.equal(await metric('query_cache_entries'), 0, 'and was emptied');
    down = await get(path);
  } finally {
    await pgStart();
  }
  assert.equal(down.status, 503, 'a cached answer is not served while invalidations cannot arrive');
  // listening again (the connection is made again with backoff): fresh answers, then cached ones
  assert.ok(await waitFor(async () => (await metric('query_cache_listening')) === 1, 15000),
    'the cache listens again');
  // (the command API may still be making its connections again: 503 until then)
  assert.ok(await waitFor(async () => (await send('POST', '/api/inventory', { productId: products[1], delta: 1 })).status === 201, 10000),
    'an inventory adjustment after the restart');
  assert.ok(await waitFor(async () => (await get(path)).json?.stock === stock + 1, 10000),
    'a change after the restart is seen');
  const hits2 = await metric('query_cache_hits_total');
  assert.equal((await get(path)).json.stock, stock + 1);
  assert.ok((await metric('query_cache_hits_total')) > hits2, 'and cached again');
  Object.assign(row, {
    ok: true,
    notes: 'with PostgreSQL down the cache emptied and stopped answering (503 from the database path, not the cached 200); ' +
      'listening again after the restart, a change was seen, then cached',
  });
});
