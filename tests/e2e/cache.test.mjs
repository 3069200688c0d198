// The query API's answer cache (docs/api.md#caching): a GET by id is answered from memory while
// nothing changed; once the consumer applied a change, the read DB's notification evicts the
// key and the next GET has the new state, never the stale cached one; a request with
// X-Consistency-Token sees its write even while the old answer is cached; a cached answer
// carries the same ETag (304 still works); /metrics counts hits, misses and invalidations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, query, readModel, readSql, createProduct, eventually, QUERY_URL } from './lib.mjs';

async function metric(name) {
  const text = await (await fetch(`${QUERY_URL}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  assert.ok(m, `the query API's /metrics has ${name}`);
  return Number(m[1]);
}

// GETs path until one is a hit (the answer cached): the hit counter moved by it. Other test
// files run at the same time, so the counter is only ever compared as "grew".
async function cached(path) {
  return eventually(async () => {
    const before = await metric('query_cache_hits_total');
    const r = await query('GET', path);
    assert.equal(r.status, 200, r.text);
    return (await metric('query_cache_hits_total')) > before && r;
  }, 5000, `${path} answered from the cache`);
}

let customerSeq = 0;
function newCustomer() {
  customerSeq += 1;
  return 700000 + (process.pid % 50000) * 10 + customerSeq;
}

test('a GET by id after a change the consumer applied has the new state, never the cached one', async () => {
  assert.equal(await metric('query_cache_listening'), 1, 'the cache listens for invalidations');
  const id = await createProduct({ stock: 5 });
  await readModel(`/api/products/${id}`);
  const misses = await metric('query_cache_misses_total');
  const first = await cached(`/api/products/${id}`);
  assert.equal(first.json.stock, 5);
  assert.ok((await metric('query_cache_misses_total')) >= misses, 'misses are counted');

  const invalidations = await metric('query_cache_invalidations_total');
  const adj = await command('POST', '/api/inventory', { productId: id, delta: 4 });
  assert.equal(adj.status, 201, adj.text);
  // the consumer applied it: the read DB has the new stock
  await eventually(() => readSql(`SELECT stock FROM products_read WHERE product_id = ${id}`) === '9',
    10000, 'the adjustment in the read DB');
  // its notification reaches the query API within moments; from then on only the new state
  await readModel(`/api/products/${id}`, (p) => p.stock === 9, 2000);
  for (let i = 0; i < 10; i++) {
    const r = await query('GET', `/api/products/${id}`);
    assert.equal(r.json.stock, 9, 'never the stale cached answer again');
  }
  assert.ok((await metric('query_cache_invalidations_total')) > invalidations, 'the key was invalidated');
  const again = await cached(`/api/products/${id}`);
  assert.equal(again.json.stock, 9, 'the new state is cached in turn');
});

test('an order event evicts its order and its customer; a token-carrying GET sees its write', async () => {
  const productId = await createProduct({ price: 10, stock: 50 });
  const customerId = newCustomer();
  const o = await command('POST', '/api/orders', { customerId, items: [{ productId, quantity: 2 }] });
  assert.equal(o.status, 201, o.text);
  const orderId = o.json.orderId;
  await readModel(`/api/orders/${orderId}`);
  await readModel(`/api/customers/${customerId}/summary`);
  assert.equal((await cached(`/api/orders/${orderId}`)).json.status, 'CREATED');
  assert.equal((await cached(`/api/customers/${customerId}/summary`)).json.totalSpent, 0);
  assert.equal((await cached(`/api/products/${productId}`)).json.reserved, 2);

  const pay = await command('POST', `/api/orders/${orderId}/payments`, { amount: 20, method: 'card' });
  assert.equal(pay.status, 201, pay.text);
  const token = pay.headers.get('x-consistency-token');
  // the old answer may still be cached: the token's GET reads past it and sees the payment
  const mine = await query('GET', `/api/orders/${orderId}`, undefined, { 'X-Consistency-Token': token });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json.status, 'PAID', 'read your writes');
  // everyone else too, once the invalidation arrived: the order and the customer's summary
  await readModel(`/api/orders/${orderId}`, (v) => v.status === 'PAID', 2000);
  await readModel(`/api/customers/${customerId}/summary`, (v) => v.totalSpent === 20, 2000);

  // shipping moves the product's reserved stock: its key is evicted too
  const ship = await command('POST', `/api/orders/${orderId}/ship`);
  assert.equal(ship.status, 200, ship.text);
  await eventually(() => readSql(`SELECT reserved FROM products_read WHERE product_id = ${productId}`) === '0',
    10000, 'the shipment in the read DB');
  await readModel(`/api/products/${productId}`, (p) => p.reserved === 0, 2000);
});

test('a cached answer carries the same ETag: If-None-Match is still 304', async () => {
  const id = await createProduct({ stock: 3 });
  const fresh = await readModel(`/api/products/${id}`) && await query('GET', `/api/products/${id}`);
  const hit = await cached(`/api/products/${id}`);
  const tag = hit.headers.get('etag');
  assert.match(tag, /^"[0-9a-f]{16}"$/);
  assert.equal(tag, fresh.headers.get('etag'), 'the same answer from the DB and from the cache');
  const before = await metric('query_cache_hits_total');
  const nm = await query('GET', `/api/products/${id}`, undefined, { 'If-None-Match': tag });
  assert.equal(nm.status, 304);
  assert.equal(nm.text, '');
  assert.ok((await metric('query_cache_hits_total')) > before, 'the 304 came from the cache');
});
