// Natural batching of POST /api/orders (docs/performance.md): orders that arrive together share
// one statement and one transaction, yet each keeps its own all-or-nothing result, its own
// answer, Idempotency-Key and event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import {
  command, createProduct, writeSql, eventually, query, DATABASE_URL, COMMAND_URL, AUTH_HEADERS,
} from './lib.mjs';

// the value of a counter in the command API's /metrics (0 when absent)
async function counter(name) {
  const r = await command('GET', '/metrics');
  assert.equal(r.status, 200);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : 0;
}

test('concurrent orders: each answers for itself, stock is never oversold, refusals write nothing', async () => {
  const stock = 10;
  const productId = await createProduct({ stock, price: 3 });
  const order = (customerId, pid, key) => command('POST', '/api/orders',
    { customerId, items: [{ productId: pid, quantity: 1 }] }, key ? { 'Idempotency-Key': key } : {});
  const key = `batch-${process.pid}-${Date.now()}`;
  const sent = [];
  for (let i = 0; i < 30; i++) sent.push(order(700000 + i, productId));
  for (let i = 0; i < 4; i++) sent.push(order(800000 + i, 987654321)); // unknown product
  for (let i = 0; i < 3; i++) sent.push(order(900000, productId, key)); // one key, three times
  const answers = await Promise.all(sent);

  const created = answers.slice(0, 30).filter((r) => r.status === 201);
  const refused = answers.slice(0, 30).filter((r) => r.status === 409);
  const keyed = answers.slice(34);
  const keyedCreated = keyed.filter((r) => r.status === 201);
  // the keyed order takes one unit when it wins its race for stock; its repeats replay it (201)
  // or, while it has not yet answered, wait their turn: never a second unit
  for (const r of keyed) assert.ok([201, 409].includes(r.status), r.text);
  const keyTook = new Set(keyedCreated.map((r) => r.json.orderId)).size;
  assert.ok(keyTook <= 1, 'one key, at most one order');
  assert.equal(created.length + keyTook, stock, 'exactly the stock is sold');
  assert.equal(created.length + refused.length, 30, 'every other answer is 201 or 409');
  for (const r of refused) assert.equal(r.json.error.code, 'insufficient_stock', r.text);
  for (const r of answers.slice(30, 34)) {
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 'not_found');
  }
  const ids = new Set();
  for (const r of [...created, ...keyedCreated]) {
    assert.equal(r.headers.get('location'), `/api/orders/${r.json.orderId}`);
    assert.match(r.headers.get('x-consistency-token'), /^[0-9a-f-]{36}$/);
    ids.add(r.json.orderId);
  }
  assert.equal(ids.size, created.length + keyTook, 'each created order has its own id');
  assert.equal(await writeSql(`SELECT stock FROM products WHERE id = ${productId}`), '0');
  assert.equal(await writeSql(
    `SELECT count(DISTINCT o.id) FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = ${productId}`),
  String(stock), 'one order row per 201, none for a refusal');
  assert.equal(await writeSql(
    `SELECT count(*) FROM outbox WHERE event_type = 'OrderCreated' AND aggregate_id IN (${[...ids].join(',')})`),
  String(ids.size), 'one event per created order');
  // the read side gets every one of them
  for (const id of ids) {
    await eventually(async () => (await query('GET', `/api/orders/${id}`)).status === 200, 10000,
      `order ${id} in the read model`);
  }
});

// POST /api/orders on a connection of its own: a kept-alive connection may belong to an HTTP
// thread that is busy with a blocked order
const orderAlone = (productId) => new Promise((resolve, reject) => {
  const body = JSON.stringify({ customerId: 42, items: [{ productId, quantity: 1 }] });
  const req = http.request(`${COMMAND_URL}/api/orders`, {
    method: 'POST',
    agent: false,
    headers: { 'Content-Type': 'application/json', ...AUTH_HEADERS },
  }, (res) => {
    let text = '';
    res.on('data', (c) => { text += c; });
    res.on('end', () => resolve({ status: res.statusCode, text, json: JSON.parse(text) }));
  });
  req.on('error', reject);
  req.end(body);
});

// the number of other sessions of the write DB that match the condition
const sessions = (where) => Number(writeSql(
  `SELECT count(*) FROM pg_stat_activity WHERE ${where} AND pid <> pg_backend_pid()`));

test('orders that arrive while the database is busy go to it together, and each is answered', async () => {
  const productId = await createProduct({ stock: 1000 });
  const blocker = await createProduct({ stock: 1000 });
  const batchesBefore = await counter('command_order_batches_total');
  const ordersBefore = await counter('command_batched_orders_total');
  // a transaction holds the blocker product's row lock until the test commits it: the orders
  // naming it keep both batch runners busy, and the orders sent meanwhile queue for the next batch
  const tag = `batching-lock-${process.pid}-${Date.now()}`;
  const holder = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DATABASE_URL],
    { stdio: ['pipe', 'ignore', 'inherit'] });
  const held = new Promise((resolve) => holder.on('exit', resolve));
  let answers;
  try {
    holder.stdin.write(`BEGIN; SELECT '${tag}', id FROM products WHERE id = ${blocker} FOR UPDATE;\n`);
    await eventually(async () => sessions(`query LIKE '%${tag}%' AND backend_xid IS NOT NULL`) === 1,
      10000, 'the lock holder');
    // one at a time: two blocked orders sent together may form one batch, which holds one runner
    const waiting = () => sessions(`wait_event_type = 'Lock' AND query LIKE '%cmd_create_order%'`);
    const blocked = [orderAlone(blocker)];
    await eventually(async () => waiting() >= 1, 30000, 'the first runner waiting for the lock');
    blocked.push(orderAlone(blocker));
    await eventually(async () => waiting() >= 2, 30000, 'both runners waiting for the lock');
    const queued = [];
    for (let i = 0; i < 6; i++) queued.push(orderAlone(productId));
    // the queued orders reach the batcher (no gauge shows its queue; 2 s leaves room on a loaded machine)
    await new Promise((r) => setTimeout(r, 2000));
    holder.stdin.end('COMMIT;\n');
    answers = await Promise.all([...blocked, ...queued]);
  } finally {
    if (!holder.stdin.writableEnded) holder.stdin.end('ROLLBACK;\n'); // failed above: release
  }
  assert.equal(await held, 0, 'the lock holder ran');
  for (const r of answers) assert.equal(r.status, 201, r.text);
  assert.equal(new Set(answers.map((r) => r.json.orderId)).size, answers.length);
  assert.equal(writeSql(`SELECT stock FROM products WHERE id = ${productId}`), '994');
  assert.ok(await counter('command_order_batches_total') > batchesBefore,
    'the queued orders went to the database together');
  assert.ok(await counter('command_batched_orders_total') >= ordersBefore + 2);
});
