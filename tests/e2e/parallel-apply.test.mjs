// Parallel batches without the consumers' turn (docs/reliability.md, "Partitions"): two sessions
// of different shards apply crossing batches at once (A cancels an order of product Y, then one
// of product X; B cancels one of X, then one of Y), and neither may fail with a deadlock (40P01),
// while the read model ends exactly as the two batches applied one after the other.
// The crossing is made certain, not left to timing: a trigger on products_read, in a throwaway
// database, holds each session after its first product update until the other has made its own
// (advisory locks as the barrier, at most 3 s). Without proj_lock_shared's one lock order, A
// then waits for B's X and B for A's Y: a deadlock. With it, each batch locks X and Y (and the
// other shared rows) up front in key order: B waits for A at its first lock, A's barrier times
// out, and both commit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { READ_DATABASE_URL } from './lib.mjs';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const DB = `cqrs_parallel_${process.pid}`;
let dbUrl;

// SQL as the cluster's superuser (scripts/lib.sh's superuser_psql: the local socket of scripts/pg.sh)
function superuser(statement) {
  const { STATE_DIR, PG_PORT } = process.env;
  assert.ok(STATE_DIR && PG_PORT, 'STATE_DIR and PG_PORT name the test stack (tests/run.sh)');
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', `${STATE_DIR}/pg/run`, '-p', PG_PORT,
    '-U', 'postgres', '-d', 'postgres', '-c', statement], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function psql(statement) {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', dbUrl, '-c', statement],
    { encoding: 'utf8' }).trim();
}

// One psql session running script; resolves with its exit status and stderr.
function session(script) {
  return new Promise((resolve) => {
    const p = spawn('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', dbUrl],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    p.stdout.resume();
    p.on('close', (code) => resolve({ code, stderr }));
    p.stdin.end(script);
  });
}

let id = 0;
function envelope(type, aggType, aggId, version, body) {
  id += 1;
  return {
    eventId: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`, eventType: type,
    occurredAt: '2026-03-01T10:00:00.000000Z', aggregateType: aggType, aggregateId: aggId,
    aggregateVersion: version, ...body,
  };
}
const product = (pid, name, category) => envelope('ProductCreated', 'product', pid, 1,
  { productId: pid, name, category, price: 10, stock: 100 });
const items = (pid, name, category) => [{ productId: pid, productName: name, category, quantity: 2, price: 10 }];
const created = (oid, customer, it) => envelope('OrderCreated', 'order', oid, 1,
  { orderId: oid, customerId: customer, status: 'CREATED', total: 20, items: it });
const paid = (oid, customer) => envelope('OrderPaid', 'order', oid, 2,
  { orderId: oid, customerId: customer, status: 'PAID', previousStatus: 'CREATED', total: 20,
    paymentId: oid, amount: 20, method: 'card', paidAt: '2026-03-01T10:00:01.000000Z' });
const cancelled = (oid, customer, version, it, previous) => envelope('OrderCancelled', 'order', oid, version,
  { orderId: oid, customerId: customer, status: 'CANCELLED', previousStatus: previous, total: 20,
    reason: 'test', items: it.map((i) => ({ productId: i.productId, quantity: i.quantity })) });

const X = items(1, 'Lamp', 'Home');
const Y = items(2, 'Desk', 'Office');
// A's orders 11 (X, paid) and 12 (Y) of customer 7; B's 21 (Y, paid) and 22 (X) of customer 8.
// apply_events applies a batch by aggregateVersion: A's cancels (12 at version 2, 11 at 3) touch
// Y then X, B's (22 at 2, 21 at 3) X then Y.
const setup = [product(1, 'Lamp', 'Home'), product(2, 'Desk', 'Office'),
  created(11, 7, X), created(12, 7, Y), created(21, 8, Y), created(22, 8, X), paid(11, 7), paid(21, 8)];
const batchA = [cancelled(11, 7, 3, X, 'PAID'), cancelled(12, 7, 2, Y, 'CREATED')];
const batchB = [cancelled(21, 8, 3, Y, 'PAID'), cancelled(22, 8, 2, X, 'CREATED')];
const lit = (v) => `'${JSON.stringify(v).replaceAll("'", "''")}'::jsonb`;

// every shared read model the batches write, summed over the shards
const SNAPSHOT = `SELECT jsonb_build_object(
  'products', (SELECT jsonb_agg(to_jsonb(p) - 'updated_at' ORDER BY product_id) FROM products_read p),
  'orders', (SELECT jsonb_agg(to_jsonb(o) - 'projected_at' ORDER BY order_id) FROM orders_read o),
  'customers', (SELECT jsonb_agg(to_jsonb(c) ORDER BY customer_id) FROM customer_summary c),
  'cstatus', (SELECT jsonb_agg(to_jsonb(c) ORDER BY customer_id, status) FROM customer_status_counts c),
  'cqty', (SELECT jsonb_agg(to_jsonb(c) ORDER BY customer_id, product_id) FROM customer_product_qty c),
  'daily', (SELECT jsonb_agg(to_jsonb(d) ORDER BY day) FROM sales_daily d),
  'psales', (SELECT jsonb_agg(to_jsonb(p) ORDER BY product_id) FROM product_sales p),
  'csales', (SELECT jsonb_agg(to_jsonb(c) ORDER BY category) FROM category_sales c),
  'status', (SELECT jsonb_agg(to_jsonb(s) ORDER BY status) FROM order_status_counts_all s),
  'totals', (SELECT to_jsonb(t) FROM order_totals_all t))::text`;

// Holds a session (test.me = its advisory key, test.other = the other's) after its first
// update of a product until the other session got there too, or 3 s passed.
const BARRIER = `
CREATE FUNCTION test_barrier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('test.barrier', true) = 'on' THEN
        PERFORM set_config('test.barrier', 'off', true);
        PERFORM pg_advisory_unlock(current_setting('test.me')::bigint);
        FOR i IN 1..300 LOOP
            IF pg_try_advisory_lock(current_setting('test.other')::bigint) THEN
                PERFORM pg_advisory_unlock(current_setting('test.other')::bigint);
                EXIT;
            END IF;
            PERFORM pg_sleep(0.01);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER test_barrier AFTER UPDATE ON products_read FOR EACH ROW EXECUTE FUNCTION test_barrier();`;

// One side: takes its key, waits until the other holds its own, then applies its batch.
const side = (me, other, shard, batch) => `
SELECT pg_advisory_lock(${me});
DO $$ BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = ${other}
                      AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) LOOP
        PERFORM pg_sleep(0.01);
    END LOOP;
END $$;
BEGIN;
SET LOCAL cqrs.shard = ${shard};
SET LOCAL test.me = ${me};
SET LOCAL test.other = ${other};
SET LOCAL test.barrier = on;
SELECT apply_events(${lit(batch)});
COMMIT;
`;

before(() => {
  assert.ok(READ_DATABASE_URL, 'READ_DATABASE_URL must be set');
  superuser(`DROP DATABASE IF EXISTS ${DB}`);
  const owner = decodeURIComponent(new URL(READ_DATABASE_URL).username);
  superuser(`CREATE DATABASE ${DB} OWNER ${owner}`);
  const u = new URL(READ_DATABASE_URL);
  u.pathname = `/${DB}`;
  dbUrl = u.toString();
  execFileSync(`${REPO_ROOT}/scripts/migrate.sh`, ['read'], {
    env: { ...process.env, READ_DATABASE_URL: dbUrl }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  psql(`SELECT apply_events(${lit(setup)})`);
  psql(BARRIER);
});

after(() => {
  if (dbUrl) superuser(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
});

test('crossing batches of two shards apply in parallel without a deadlock, as if one after the other', async () => {
  // the serial result, rolled back
  const serial = execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', dbUrl], {
    encoding: 'utf8',
    input: `BEGIN;\nSET LOCAL cqrs.shard = 1;\nSELECT apply_events(${lit(batchA)}) \\g /dev/null\n` +
      `SET LOCAL cqrs.shard = 2;\nSELECT apply_events(${lit(batchB)}) \\g /dev/null\n${SNAPSHOT};\nROLLBACK;\n`,
  }).trim();
  assert.match(serial, /"CANCELLED"/, 'the serial run cancelled the orders');

  const t0 = Date.now();
  const [a, b] = await Promise.all([session(side(7101, 7102, 1, batchA)), session(side(7102, 7101, 2, batchB))]);
  const failures = [a, b].filter((r) => r.code !== 0).map((r) => r.stderr.trim());
  assert.deepEqual(failures, [], 'neither session failed (a deadlock shows as "deadlock detected", 40P01)');
  assert.deepEqual(JSON.parse(psql(SNAPSHOT)), JSON.parse(serial),
    'the read model equals the two batches applied one after the other');
  assert.equal(psql(`SELECT count(*) FROM processed_events`), String(setup.length + 4), 'every event applied once');
  assert.ok(Date.now() - t0 < 20000, 'and in bounded time');
});
