// Every error answer: JSON {"error": {"code", "message"}}, the documented status, and no write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, query, createProduct, writeCounts, readModel } from './lib.mjs';

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
}

// Sends a command that must be refused, and proves it wrote nothing.
async function refused(method, path, body, status, code, headers) {
  const before = writeCounts();
  const r = await command(method, path, body, headers);
  assertError(r, status, code);
  assert.equal(writeCounts(), before, 'a refused command wrote nothing');
  return r;
}

test('400 malformed JSON', async () => {
  await refused('POST', '/api/orders', '{"customerId": 1, "items": [', 400, 'invalid_json');
  await refused('POST', '/api/products', '[]', 400, 'invalid_json');
  await refused('POST', '/api/products', '', 400, 'invalid_json', { 'Content-Type': 'application/json' });
});

test('400 invalid field names the field', async () => {
  const productId = await createProduct();
  let r = await refused('POST', '/api/orders', { customerId: 'x', items: [{ productId, quantity: 1 }] }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'customerId');
  assert.match(r.json.error.message, /customerId/);
  r = await refused('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: -1 }] }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'items[0].quantity');
  r = await refused('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 1, price: 10.001 }] }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'items[0].price');
  r = await refused('POST', '/api/products', { name: 'A', category: 'B', price: 1.234, stock: 1 }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'price');
  r = await refused('POST', '/api/products', { name: 'A', category: 'B', price: 1, stock: 1, colour: 'red' }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'colour');
  r = await refused('POST', '/api/products', { name: '', category: 'B', price: 1, stock: 1 }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'name');
  r = await refused('POST', '/api/products', { name: 'A', category: 'B', price: -5, stock: 1 }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'price');
});

test('404 unknown route and unknown id', async () => {
  assertError(await command('GET', '/api/nothing'), 404, 'not_found');
  assertError(await query('GET', '/api/nothing'), 404, 'not_found');
  assertError(await query('GET', '/api/products/999999999'), 404, 'not_found');
  assertError(await query('GET', '/api/orders/999999999'), 404, 'not_found');
  assertError(await query('GET', '/api/orders/abc'), 404, 'not_found');
  await refused('POST', '/api/orders', { customerId: 1, items: [{ productId: 999999999, quantity: 1 }] }, 404, 'not_found');
});

test('405 wrong method', async () => {
  await refused('GET', '/api/orders', undefined, 405, 'method_not_allowed');
  await refused('DELETE', '/api/products', undefined, 405, 'method_not_allowed');
  assertError(await query('POST', '/api/products', {}), 405, 'method_not_allowed');
});

test('409 business rules: insufficient stock and price mismatch', async () => {
  const productId = await createProduct({ price: 25, stock: 3 });
  await refused('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 4 }] }, 409, 'insufficient_stock');
  await refused('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 2 }, { productId, quantity: 2 }] },
    409, 'insufficient_stock');
  await refused('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 1, price: 24.99 }] }, 409, 'price_mismatch');
  // one bad item refuses the whole order, including the good one
  const other = await createProduct({ stock: 100 });
  await refused('POST', '/api/orders', { customerId: 1, items: [{ productId: other, quantity: 1 }, { productId, quantity: 9 }] },
    409, 'insufficient_stock');
});

test('413 body over the limit', async () => {
  const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), category: 'c', price: 1, stock: 1 });
  await refused('POST', '/api/products', big, 413, 'payload_too_large');
});

test('415 non-JSON content type', async () => {
  await refused('POST', '/api/products', '{"name":"A","category":"B","price":1,"stock":1}', 415,
    'unsupported_media_type', { 'Content-Type': 'text/plain' });
  await refused('POST', '/api/orders', 'customerId=1', 415, 'unsupported_media_type',
    { 'Content-Type': 'application/x-www-form-urlencoded' });
});

test('SQL metacharacters are stored verbatim', async () => {
  const name = "Robert'); DROP TABLE products;-- \"quoted\" \\ back";
  const r = await command('POST', '/api/products', { name, category: "c'; --", price: 1, stock: 1 });
  assert.equal(r.status, 201);
  const p = await readModel(`/api/products/${r.json.productId}`);
  assert.equal(p.name, name);
  assert.equal(p.category, "c'; --");
});
