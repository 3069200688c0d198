// Lists answer one page and a Link rel="next" while more remains (docs/api.md#pagination).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, query, createProduct, eventually, assertError } from './lib.mjs';

// the Link header's target, or null
const next = (r) => {
  const link = r.headers.get('link');
  if (link === null) return null;
  const m = /^<([^>]+)>; rel="next"$/.exec(link);
  assert.ok(m, `malformed Link: ${link}`);
  return m[1];
};

test('GET /api/products: Link to the next page while more remains, none on the last', async () => {
  await createProduct();
  await createProduct();
  const total = await eventually(async () => {
    const r = await query('GET', '/api/products?limit=1000');
    return r.status === 200 && r.json.length >= 2 ? r.json.length : false;
  }, 10000, 'products in the read model');
  const first = await query('GET', '/api/products?limit=1&offset=0');
  assert.equal(first.status, 200);
  assert.equal(first.json.length, 1);
  assert.equal(next(first), '/api/products?limit=1&offset=1');
  const second = await query('GET', next(first));
  assert.equal(second.json.length, 1);
  assert.ok(second.json[0].productId > first.json[0].productId);
  assert.ok(total >= 2);
  // Other test files create products concurrently: judge the last page only
  // when the count is the same before and after reading it.
  const count = async () => (await query('GET', '/api/products?limit=1000')).json.length;
  await eventually(async () => {
    const before = await count();
    const last = await query('GET', `/api/products?limit=1&offset=${before - 1}`);
    const whole = await query('GET', `/api/products?limit=${before}`);
    if (await count() !== before) return false;
    assert.equal(last.json.length, 1);
    assert.equal(next(last), null, 'the last page has no Link');
    assert.equal(whole.json.length, before);
    assert.equal(next(whole), null, 'a page holding exactly the rest has no Link');
    return true;
  }, 10000, 'a quiet moment to read the last page');
});

test('GET /api/inventory is paginated and keeps lowStock in its Link', async () => {
  await createProduct({ stock: 1 });
  await createProduct({ stock: 1 });
  await eventually(async () => {
    const r = await query('GET', '/api/inventory?lowStock=true&limit=1000');
    return r.status === 200 && r.json.length >= 2;
  }, 10000, 'low-stock products');
  const r = await query('GET', '/api/inventory?lowStock=true&limit=1');
  assert.equal(r.json.length, 1);
  assert.equal(next(r), '/api/inventory?lowStock=true&limit=1&offset=1');
  const all = await query('GET', '/api/inventory?limit=1000');
  assert.ok(all.json.length >= 2);
  assertError(await query('GET', '/api/inventory?limit=0'), 400, 'validation_error', 'limit');
  assertError(await query('GET', '/api/inventory?offset=-1'), 400, 'validation_error', 'offset');
});

test('GET /api/todos is paginated; the todo demo\'s GET /todos still lists every todo', async () => {
  for (const title of ['page a', 'page b', 'page c']) {
    const c = await command('POST', '/api/todos', { title });
    assert.equal(c.status, 201, c.text);
  }
  const n = await eventually(async () => {
    const r = await query('GET', '/api/todos?limit=1000');
    return r.status === 200 && r.json.length >= 3 ? r.json.length : false;
  }, 10000, 'todos in the read model');
  const page = await query('GET', '/api/todos?limit=2');
  assert.equal(page.json.length, 2);
  assert.equal(next(page), '/api/todos?limit=2&offset=2');
  const rest = await query('GET', '/api/todos?limit=2&offset=2');
  assert.ok(rest.json[0].id > page.json[1].id);
  const seed = await query('GET', '/todos');
  // other test files add todos meanwhile (node --test runs them in parallel): at least all of them
  assert.ok(seed.json.length >= n, `GET /todos listed ${seed.json.length} of at least ${n}: it is not paginated`);
  assert.equal(seed.headers.get('link'), null);
  assertError(await query('GET', '/api/todos?limit=1001'), 400, 'validation_error', 'limit');
});

test('GET /api/customers/{id}/orders keeps status in its Link', async () => {
  const productId = await createProduct();
  const customer = 900000 + (process.pid % 10000);
  for (let i = 0; i < 2; i++) {
    const o = await command('POST', '/api/orders', { customerId: customer, items: [{ productId, quantity: 1 }] });
    assert.equal(o.status, 201, o.text);
  }
  await eventually(async () => {
    const r = await query('GET', `/api/customers/${customer}/orders?status=CREATED`);
    return r.status === 200 && r.json.length >= 2;
  }, 10000, 'the orders in the read model');
  const r = await query('GET', `/api/customers/${customer}/orders?status=CREATED&limit=1`);
  assert.equal(next(r), `/api/customers/${customer}/orders?status=CREATED&limit=1&offset=1`);
});
