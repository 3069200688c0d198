// The CQRS event broker seed: its commands and queries, verbatim but for host and port
// (the gateway form /cqrs/commands/..., /cqrs/queries/... is in gateway.test.mjs).
import test from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, call, post, get, getWhen, catalogueProduct, seedHeaders } from './lib.mjs';

const user = 900000 + Math.floor(Math.random() * 99999);

function assertError(r, status, code, field) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

test('health at /commands/health and /queries/health', async () => {
  for (const url of [`${COMMAND_URL}/commands/health`, `${QUERY_URL}/queries/health`]) {
    const r = await get(url);
    assert.equal(r.status, 200, `${url}: ${r.text}`);
    assert.deepEqual(r.json, { status: 'ok' });
  }
});

test('an order from command to every query: order, payment, inventory, user orders, statistics', async () => {
  const product = await catalogueProduct(COMMAND_URL, { price: 49.99, stock: 20, lowStockThreshold: 5 });

  // POST /commands/orders -> 201 with order_id; the price is the catalogue's
  const created = await post(`${COMMAND_URL}/commands/orders`, { user_id: user, product_id: product, quantity: 2 });
  assert.equal(created.status, 201, created.text);
  const orderId = created.json.order_id;
  assert.ok(Number.isInteger(orderId) && orderId > 0, created.text);
  assert.deepEqual(created.json, {
    order_id: orderId, user_id: user, product_id: product, quantity: 2, total_amount: 99.98, status: 'CREATED',
  });
  assert.match(created.headers.get('x-consistency-token'), /^[0-9a-f-]{36}$/);

  // GET /queries/orders/{id}
  const order = await getWhen(`${QUERY_URL}/queries/orders/${orderId}`);
  assert.deepEqual(Object.keys(order).sort(),
    ['created_at', 'items', 'order_id', 'payment_info', 'status', 'timeline', 'total_amount', 'user_id']);
  assert.equal(order.order_id, orderId);
  assert.equal(order.user_id, user);
  assert.equal(order.total_amount, 99.98);
  assert.equal(order.status, 'CREATED');
  assert.equal(order.items.length, 1);
  assert.deepEqual({ ...order.items[0], product_name: undefined }, {
    product_id: product, product_name: undefined, category: 'Seeds', quantity: 2, price: 49.99,
  });
  assert.equal(order.payment_info, null);
  assert.equal(order.timeline.length, 1);
  assert.equal(order.timeline[0].event, 'OrderCreated');
  assert.match(order.timeline[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);

  // GET /queries/inventory: the order holds a reservation
  const inv = await getWhen(`${QUERY_URL}/queries/inventory`, (l) => l.some((p) => p.product_id === product));
  const row = inv.find((p) => p.product_id === product);
  assert.deepEqual(Object.keys(row).sort(), ['available_quantity', 'low_stock_alert', 'pending_orders',
    'product_id', 'product_name', 'reserved_quantity', 'total_quantity']);
  assert.equal(row.available_quantity, 18);
  assert.equal(row.reserved_quantity, 2);
  assert.equal(row.total_quantity, 20);
  assert.equal(row.low_stock_alert, false);
  assert.deepEqual(row.pending_orders, [orderId]);

  // POST /commands/payments
  const paid = await post(`${COMMAND_URL}/commands/payments`, { order_id: orderId, amount: 99.98, method: 'credit_card' });
  assert.equal(paid.status, 201, paid.text);
  assert.ok(Number.isInteger(paid.json.payment_id), paid.text);
  assert.deepEqual({ ...paid.json, payment_id: 0 },
    { payment_id: 0, order_id: orderId, amount: 99.98, method: 'credit_card', status: 'PAID' });
  const paidOrder = await getWhen(`${QUERY_URL}/queries/orders/${orderId}`, (o) => o.status === 'PAID');
  assert.deepEqual({ ...paidOrder.payment_info, paid_at: undefined },
    { payment_id: paid.json.payment_id, amount: 99.98, method: 'credit_card', paid_at: undefined });
  assert.match(paidOrder.payment_info.paid_at, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(paidOrder.timeline.map((t) => t.event), ['OrderCreated', 'OrderPaid']);

  // POST /commands/inventory: quantity is the change of the stock
  const restock = await post(`${COMMAND_URL}/commands/inventory`, { product_id: product, quantity: 5 });
  assert.equal(restock.status, 201, restock.text);
  assert.deepEqual({ ...restock.json, adjustment_id: 0 },
    { adjustment_id: 0, product_id: product, quantity: 5, available_quantity: 23 });
  await getWhen(`${QUERY_URL}/queries/inventory`,
    (l) => l.some((p) => p.product_id === product && p.available_quantity === 23 && p.total_quantity === 25));
  const writeOff = await post(`${COMMAND_URL}/commands/inventory`, { product_id: product, quantity: -20 });
  assert.equal(writeOff.status, 201, writeOff.text);
  assert.equal(writeOff.json.available_quantity, 3);
  const low = await getWhen(`${QUERY_URL}/queries/inventory`,
    (l) => l.some((p) => p.product_id === product && p.available_quantity === 3));
  assert.equal(low.find((p) => p.product_id === product).low_stock_alert, true, 'under the threshold of 5');

  // GET /queries/users/{id}/orders: the user's orders in the shape of /queries/orders/{id}
  const mine = await getWhen(`${QUERY_URL}/queries/users/${user}/orders`,
    (l) => l.some((o) => o.order_id === orderId && o.status === 'PAID'));
  assert.deepEqual(mine.find((o) => o.order_id === orderId), (await get(`${QUERY_URL}/queries/orders/${orderId}`)).json);
  assert.deepEqual((await get(`${QUERY_URL}/queries/users/1${user}/orders`)).json, [], 'a user without orders');

  // shipping (the project's command) ends the reservation: no longer a pending order
  const ship = await call('POST', `${COMMAND_URL}/api/orders/${orderId}/ship`, undefined, seedHeaders);
  assert.equal(ship.status, 200, ship.text);
  await getWhen(`${QUERY_URL}/queries/inventory`,
    (l) => l.some((p) => p.product_id === product && p.reserved_quantity === 0 && p.pending_orders.length === 0));

  // GET /queries/statistics/orders: /api/analytics/orders in the seed's words
  const stats = await getWhen(`${QUERY_URL}/queries/statistics/orders`, (s) => s.total_orders >= 1);
  assert.deepEqual(Object.keys(stats).sort(),
    ['as_of', 'average_order_value', 'orders_by_status', 'total_orders', 'total_revenue']);
  const analytics = (await get(`${QUERY_URL}/api/analytics/orders`)).json;
  const again = (await get(`${QUERY_URL}/queries/statistics/orders`)).json;
  if (again.as_of === analytics.asOf) {
    assert.deepEqual(again, {
      total_orders: analytics.totalOrders, total_revenue: analytics.totalRevenue,
      average_order_value: analytics.avgOrderValue, orders_by_status: analytics.byStatus, as_of: analytics.asOf,
    });
  }
});

test('the same Idempotency-Key replays the seed command\'s answer', async () => {
  const product = await catalogueProduct(COMMAND_URL, { price: 10, stock: 5 });
  const key = `seeds-${process.pid}-${Date.now()}`;
  const body = { user_id: user, product_id: product, quantity: 1 };
  const first = await call('POST', `${COMMAND_URL}/commands/orders`, body, { ...seedHeaders, 'Idempotency-Key': key });
  assert.equal(first.status, 201, first.text);
  const second = await call('POST', `${COMMAND_URL}/commands/orders`, body, { ...seedHeaders, 'Idempotency-Key': key });
  assert.equal(second.status, 201, second.text);
  assert.deepEqual(second.json, first.json);
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  const other = await call('POST', `${COMMAND_URL}/commands/orders`, { ...body, quantity: 2 },
    { ...seedHeaders, 'Idempotency-Key': key });
  assertError(other, 422, 'idempotency_key_reused', 'Idempotency-Key');

  const payKey = `${key}-pay`;
  const pay = { order_id: first.json.order_id, amount: 10, method: 'cash' };
  const p1 = await call('POST', `${COMMAND_URL}/commands/payments`, pay, { ...seedHeaders, 'Idempotency-Key': payKey });
  assert.equal(p1.status, 201, p1.text);
  const p2 = await call('POST', `${COMMAND_URL}/commands/payments`, pay, { ...seedHeaders, 'Idempotency-Key': payKey });
  assert.deepEqual(p2.json, p1.json);
  assert.equal(p2.headers.get('idempotent-replayed'), 'true');
  const invKey = `${key}-inv`;
  const i1 = await call('POST', `${COMMAND_URL}/commands/inventory`, { product_id: product, quantity: 3 },
    { ...seedHeaders, 'Idempotency-Key': invKey });
  const i2 = await call('POST', `${COMMAND_URL}/commands/inventory`, { product_id: product, quantity: 3 },
    { ...seedHeaders, 'Idempotency-Key': invKey });
  assert.equal(i1.status, 201, i1.text);
  assert.deepEqual(i2.json, i1.json);
  assert.equal(i2.json.available_quantity, 7, 'applied once: 5 - 1 + 3');
});

test('refusals keep the project\'s error envelope and status', async () => {
  const product = await catalogueProduct(COMMAND_URL, { price: 5, stock: 1 });
  assertError(await post(`${COMMAND_URL}/commands/orders`, { user_id: user, product_id: 999999999, quantity: 1 }),
    404, 'not_found');
  assertError(await post(`${COMMAND_URL}/commands/orders`, { user_id: user, product_id: product, quantity: 2 }),
    409, 'insufficient_stock');
  assertError(await post(`${COMMAND_URL}/commands/orders`, { product_id: product, quantity: 1 }),
    400, 'validation_error', 'user_id');
  assertError(await post(`${COMMAND_URL}/commands/orders`, { user_id: user, product_id: product, quantity: 1, price: 4 }),
    400, 'validation_error', 'price');
  assertError(await post(`${COMMAND_URL}/commands/orders`, '{"user_id": 1'), 400, 'invalid_json');

  const { json: { order_id: orderId } } = await post(`${COMMAND_URL}/commands/orders`,
    { user_id: user, product_id: product, quantity: 1 });
  assertError(await post(`${COMMAND_URL}/commands/payments`, { order_id: orderId, amount: 4.99, method: 'card' }),
    409, 'amount_mismatch');
  assertError(await post(`${COMMAND_URL}/commands/payments`, { order_id: 999999999, amount: 5, method: 'card' }),
    404, 'not_found');
  assertError(await post(`${COMMAND_URL}/commands/payments`, { order_id: orderId, amount: 5.001, method: 'card' }),
    400, 'validation_error', 'amount');
  assertError(await post(`${COMMAND_URL}/commands/inventory`, { product_id: product, quantity: -2 }),
    409, 'insufficient_stock');
  assertError(await post(`${COMMAND_URL}/commands/inventory`, { product_id: product, quantity: 0 }),
    400, 'validation_error', 'quantity');
  assertError(await post(`${COMMAND_URL}/commands/inventory`, { product_id: 999999999, quantity: 1 }),
    404, 'not_found');

  assertError(await get(`${QUERY_URL}/queries/orders/999999999`), 404, 'not_found');
  assertError(await get(`${QUERY_URL}/queries/users/abc/orders`), 404, 'not_found');
  assertError(await get(`${QUERY_URL}/queries/users/${user}/orders?limit=0`), 400, 'validation_error', 'limit');
  assertError(await call('POST', `${QUERY_URL}/queries/inventory`, {}), 405, 'method_not_allowed');
  assertError(await get(`${COMMAND_URL}/commands/orders`), 405, 'method_not_allowed');
});
