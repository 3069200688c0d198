// 201 Created carries Location, the created resource's path (docs/api.md#created-resources);
// the query API serves the ones it names. (Every 201 any e2e test receives must have one too:
// docs/openapi.yaml marks the header required and lib.mjs checks each answer.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, query, call, COMMAND_URL, createProduct, readModel } from './lib.mjs';

test('POST /api/products and /api/orders answer Location, which the query API serves', async () => {
  const p = await command('POST', '/api/products', { name: `loc ${process.pid}`, category: 'Testing', price: 5, stock: 10 });
  assert.equal(p.status, 201, p.text);
  assert.equal(p.headers.get('location'), `/api/products/${p.json.productId}`);
  await readModel(p.headers.get('location'));

  const o = await command('POST', '/api/orders', { customerId: 7, items: [{ productId: p.json.productId, quantity: 1 }] });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.headers.get('location'), `/api/orders/${o.json.orderId}`);
  await readModel(o.headers.get('location'));

  const pay = await command('POST', `/api/orders/${o.json.orderId}/payments`, { amount: 5, method: 'card' });
  assert.equal(pay.status, 201, pay.text);
  assert.equal(pay.headers.get('location'), `/api/orders/${o.json.orderId}`, 'a payment points at its order');

  const inv = await command('POST', '/api/inventory', { productId: p.json.productId, delta: 2 });
  assert.equal(inv.status, 201, inv.text);
  assert.equal(inv.headers.get('location'), `/api/products/${p.json.productId}`, 'an adjustment points at its product');
  const r = await query('GET', inv.headers.get('location'));
  assert.equal(r.status, 200);
});

test('todos: Location is the path posted to and the id, on both routes', async () => {
  const a = await command('POST', '/api/todos', { title: 'located' });
  assert.equal(a.status, 201, a.text);
  assert.equal(a.headers.get('location'), `/api/todos/${a.json.id}`);
  const b = await command('POST', '/todos', { title: 'seed located' });
  assert.equal(b.status, 201, b.text);
  assert.equal(b.headers.get('location'), `/todos/${b.json.id}`);
  // the seed's own route addresses it
  const del = await call('DELETE', COMMAND_URL + b.headers.get('location'));
  assert.equal(del.status, 200, del.text);
});

test('a replayed 201 (same Idempotency-Key) carries the same Location', async () => {
  const productId = await createProduct();
  const key = `loc-${process.pid}-${Date.now()}`;
  const body = { customerId: 8, items: [{ productId, quantity: 1 }] };
  const first = await command('POST', '/api/orders', body, { 'Idempotency-Key': key });
  const again = await command('POST', '/api/orders', body, { 'Idempotency-Key': key });
  assert.equal(first.status, 201, first.text);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.headers.get('location'), first.headers.get('location'));
  assert.equal(first.headers.get('location'), `/api/orders/${first.json.orderId}`);
});
