// The pipeline end to end: command API -> write DB + outbox -> relay -> RabbitMQ -> consumer ->
// read DB -> query API, for products and orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  COMMAND_URL, command, query, readModel, createProduct, writeSql, readSql, eventually,
} from './lib.mjs';

test('both APIs report health', async () => {
  assert.deepEqual((await command('GET', '/health')).json, { status: 'ok' });
  assert.deepEqual((await query('GET', '/health')).json, { status: 'ok' });
});

test('a product and an order flow through to the query API', async () => {
  const r = await command('POST', '/api/products', { name: 'Laptop', category: 'Electronics', price: 50000, stock: 10 });
  assert.equal(r.status, 201);
  const productId = r.json.productId;
  assert.ok(Number.isInteger(productId) && productId > 0);
  assert.match(r.headers.get('x-consistency-token'), /^[0-9a-f-]{36}$/);

  const product = await readModel(`/api/products/${productId}`);
  assert.deepEqual(product, {
    productId, name: 'Laptop', category: 'Electronics', price: 50000, stock: 10, reserved: 0,
    lowStock: false, lowStockThreshold: 10,
  });

  const o = await command('POST', '/api/orders', { customerId: 101, items: [{ productId, quantity: 2, price: 50000 }] });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.json.total, 100000);
  assert.equal(o.json.status, 'CREATED');
  const orderId = o.json.orderId;

  const order = await readModel(`/api/orders/${orderId}`);
  assert.equal(order.orderId, orderId);
  assert.equal(order.customerId, 101);
  assert.equal(order.status, 'CREATED');
  assert.equal(order.total, 100000);
  assert.match(order.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.deepEqual(order.items.map(({ productId: p, quantity, price }) => ({ productId: p, quantity, price })),
    [{ productId, quantity: 2, price: 50000 }]);

  const after = await readModel(`/api/products/${productId}`, (p) => p.stock === 8);
  assert.equal(after.stock, 8);
  assert.equal(writeSql(`SELECT stock FROM products WHERE id = ${productId}`), '8');
});

test('money is exact end to end: 99.99 stays 99.99', async () => {
  const productId = await createProduct({ price: 99.99, stock: 50 });
  const o = await command('POST', '/api/orders', { customerId: 7, items: [{ productId, quantity: 3, price: 99.99 }] });
  assert.equal(o.status, 201, o.text);
  assert.equal(o.text.match(/"total": ?([0-9.]+)/)[1], '299.97');
  const order = await readModel(`/api/orders/${o.json.orderId}`);
  assert.equal(order.total, 299.97);
  assert.equal(order.items[0].price, 99.99);
  const p = await readModel(`/api/products/${productId}`);
  assert.equal(p.price, 99.99);
});

test('products list is paginated with limit and offset', async () => {
  await createProduct();
  await createProduct();
  const all = await query('GET', '/api/products?limit=1000');
  assert.equal(all.status, 200);
  assert.ok(Array.isArray(all.json) && all.json.length >= 2);
  const page = await query('GET', '/api/products?limit=1&offset=1');
  assert.equal(page.json.length, 1);
  assert.deepEqual(page.json[0], all.json[1]);
  assert.equal((await query('GET', '/api/products?limit=0')).status, 400);
  assert.equal((await query('GET', '/api/products?offset=-1')).status, 400);
});

test('40 parallel orders for a product with stock 10: exactly 10 succeed, stock 0 in both DBs', async () => {
  const productId = await createProduct({ stock: 10 });
  await readModel(`/api/products/${productId}`);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    command('POST', '/api/orders', { customerId: 1000 + i, items: [{ productId, quantity: 1 }] })));
  const ok = results.filter((r) => r.status === 201);
  const refused = results.filter((r) => r.status === 409);
  assert.equal(ok.length, 10);
  assert.equal(refused.length, 30);
  for (const r of refused) assert.equal(r.json.error.code, 'insufficient_stock');
  assert.equal(writeSql(`SELECT stock FROM products WHERE id = ${productId}`), '0');
  assert.equal(writeSql(`SELECT count(*) FROM order_items WHERE product_id = ${productId}`), '10');
  const p = await readModel(`/api/products/${productId}`, (x) => x.stock === 0, 15000);
  assert.equal(p.stock, 0);
  await eventually(() => readSql(`SELECT count(*) FROM order_items_read WHERE product_id = ${productId}`) === '10',
    15000, 'all 10 orders in the read DB');
});

test('an event delivered twice changes the read model once', async () => {
  const productId = await createProduct({ stock: 20 });
  const o = await command('POST', '/api/orders', { customerId: 55, items: [{ productId, quantity: 4 }] });
  assert.equal(o.status, 201);
  const eventId = o.headers.get('x-consistency-token');
  await readModel(`/api/products/${productId}`, (p) => p.stock === 16);
  await eventually(() => writeSql(`SELECT published_at IS NOT NULL FROM outbox WHERE event_id = '${eventId}'`) === 't',
    10000, 'the event to be marked published');

  // as after a relay crash between publish and mark: the row is published again
  writeSql(`UPDATE outbox SET published_at = NULL WHERE event_id = '${eventId}'`);
  await eventually(() => writeSql(`SELECT published_at IS NOT NULL FROM outbox WHERE event_id = '${eventId}'`) === 't',
    10000, 'the event to be republished');
  // a later event on the same queue is applied after the duplicate, so once it shows, the
  // duplicate has been seen
  const marker = await createProduct();
  await readModel(`/api/products/${marker}`);

  const p = await readModel(`/api/products/${productId}`);
  assert.equal(p.stock, 16, 'stock was taken once');
  assert.equal(readSql(`SELECT count(*) FROM order_items_read WHERE order_id = ${o.json.orderId}`), '1');
  assert.equal(readSql(`SELECT count(*) FROM processed_events WHERE event_id = '${eventId}'`), '1');
});

test('the outbox is drained: every row gets published', async () => {
  await createProduct();
  await eventually(() => writeSql('SELECT count(*) FROM outbox WHERE published_at IS NULL') === '0',
    10000, 'no unpublished outbox rows');
});

test('connections are kept alive across requests', async () => {
  const { hostname, port } = new URL(COMMAND_URL);
  const replies = await new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let data = '';
    sock.setTimeout(5000, () => reject(new Error('timeout')));
    sock.on('data', (d) => {
      data += d;
      if ((data.match(/HTTP\/1\.1 200/g) ?? []).length === 2) { sock.end(); resolve(data); }
    });
    sock.on('error', reject);
    const req = `GET /health HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`;
    sock.write(req);
    setTimeout(() => sock.write(req), 100);
  });
  assert.equal((replies.match(/HTTP\/1\.1 200/g) ?? []).length, 2);
});
