// Order lifecycle, payments, inventory and the read models built from them, through the real
// services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, query, readModel, createProduct, writeSql, writeCounts, eventually } from './lib.mjs';

let customerSeq = 0;
function newCustomer() {
  customerSeq += 1;
  return 900000 + (process.pid % 50000) * 10 + customerSeq;
}

async function order(customerId, items) {
  const r = await command('POST', '/api/orders', { customerId, items });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function refused(method, path, body, status, code) {
  const before = writeCounts();
  const payments = writeSql('SELECT count(*) FROM payments');
  const r = await command(method, path, body);
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(writeCounts(), before, 'nothing written');
  assert.equal(writeSql('SELECT count(*) FROM payments'), payments, 'no payment written');
  return r;
}

test('an order from creation to completion, with the read models after each step', async () => {
  const productId = await createProduct({ price: 120.5, stock: 10, lowStockThreshold: 3 });
  const customerId = newCustomer();
  const o = await order(customerId, [{ productId, quantity: 2 }]);
  assert.equal(o.total, 241);

  let view = await readModel(`/api/orders/${o.orderId}`);
  assert.equal(view.status, 'CREATED');
  assert.equal(view.payment, null);
  assert.deepEqual(view.timeline.map((t) => t.event), ['OrderCreated']);
  assert.equal(view.items[0].productName.startsWith('E2E product'), true);
  let inv = (await query('GET', '/api/inventory')).json.find((p) => p.productId === productId);
  assert.deepEqual(inv, { productId, productName: inv.productName, available: 8, reserved: 2, total: 10, lowStock: false });

  const pay = await command('POST', `/api/orders/${o.orderId}/payments`, { amount: 241, method: 'card' });
  assert.equal(pay.status, 201, pay.text);
  assert.ok(Number.isInteger(pay.json.paymentId));
  view = await readModel(`/api/orders/${o.orderId}`, (v) => v.status === 'PAID');
  assert.deepEqual({ ...view.payment, paidAt: undefined },
    { paymentId: pay.json.paymentId, amount: 241, method: 'card', paidAt: undefined });
  assert.match(view.payment.paidAt, /Z$/);

  const ship = await command('POST', `/api/orders/${o.orderId}/ship`);
  assert.equal(ship.status, 200, ship.text);
  assert.equal(ship.json.status, 'SHIPPED');
  await readModel(`/api/orders/${o.orderId}`, (v) => v.status === 'SHIPPED');
  inv = await eventually(async () => {
    const all = (await query('GET', '/api/inventory')).json;
    const p = all.find((x) => x.productId === productId);
    return p.reserved === 0 ? p : false;
  }, 10000, 'reservation released by shipping');
  assert.deepEqual([inv.available, inv.reserved, inv.total], [8, 0, 8]);

  const done = await command('POST', `/api/orders/${o.orderId}/complete`, {});
  assert.equal(done.status, 200, done.text);
  view = await readModel(`/api/orders/${o.orderId}`, (v) => v.status === 'COMPLETED');
  assert.deepEqual(view.timeline.map((t) => t.event), ['OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCompleted']);
  const times = view.timeline.map((t) => Date.parse(t.at));
  assert.deepEqual([...times].sort((a, b) => a - b), times, 'timeline in order');

  const summary = await readModel(`/api/customers/${customerId}/summary`, (s) => s.orderStatuses.COMPLETED === 1);
  assert.deepEqual(summary, {
    customerId, totalOrders: 1, totalSpent: 241, avgOrderValue: 241,
    favoriteProducts: [{ productId, name: summary.favoriteProducts[0].name, quantity: 2 }],
    orderStatuses: { COMPLETED: 1 },
  });
});

test('invalid transitions and payment rules answer 409 and write nothing', async () => {
  const productId = await createProduct({ price: 10, stock: 10 });
  const o = await order(newCustomer(), [{ productId, quantity: 1 }]);
  let r = await refused('POST', `/api/orders/${o.orderId}/ship`, undefined, 409, 'invalid_transition');
  assert.match(r.json.error.message, /CREATED/);
  await refused('POST', `/api/orders/${o.orderId}/complete`, undefined, 409, 'invalid_transition');
  await refused('POST', `/api/orders/${o.orderId}/payments`, { amount: 9.99, method: 'card' }, 409, 'amount_mismatch');
  r = await refused('POST', `/api/orders/${o.orderId}/payments`, { amount: 10.001, method: 'card' }, 400, 'validation_error');
  assert.equal(r.json.error.field, 'amount');
  await refused('POST', `/api/orders/${o.orderId}/payments`, { amount: 10 }, 400, 'validation_error');
  await refused('POST', `/api/orders/${o.orderId}/payments`, { amount: 10, method: 'card', tip: 1 }, 400, 'validation_error');
  assert.equal((await command('POST', `/api/orders/${o.orderId}/payments`, { amount: 10, method: 'card' })).status, 201);
  await refused('POST', `/api/orders/${o.orderId}/payments`, { amount: 10, method: 'card' }, 409, 'already_paid');
  assert.equal((await command('POST', `/api/orders/${o.orderId}/ship`)).status, 200);
  r = await refused('POST', `/api/orders/${o.orderId}/cancel`, {}, 409, 'invalid_transition');
  assert.match(r.json.error.message, /SHIPPED/);
  await refused('POST', '/api/orders/987654321/ship', undefined, 404, 'not_found');
  await refused('POST', '/api/orders/987654321/payments', { amount: 1, method: 'card' }, 404, 'not_found');
  await refused('POST', `/api/orders/${o.orderId}/ship`, { force: true }, 400, 'validation_error');
  await refused('GET', `/api/orders/${o.orderId}/ship`, undefined, 405, 'method_not_allowed');
});

test('cancelling returns the stock, in both databases', async () => {
  const productId = await createProduct({ price: 3, stock: 5 });
  const customerId = newCustomer();
  const o = await order(customerId, [{ productId, quantity: 4 }]);
  await readModel(`/api/products/${productId}`, (p) => p.stock === 1);
  const r = await command('POST', `/api/orders/${o.orderId}/cancel`, { reason: 'changed my mind' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'CANCELLED');
  assert.equal(writeSql(`SELECT stock FROM products WHERE id = ${productId}`), '5');
  const p = await readModel(`/api/products/${productId}`, (x) => x.stock === 5);
  assert.equal(p.reserved, 0);
  const view = await readModel(`/api/orders/${o.orderId}`, (v) => v.status === 'CANCELLED');
  assert.deepEqual(view.timeline.map((t) => t.event), ['OrderCreated', 'OrderCancelled']);
  const s = await readModel(`/api/customers/${customerId}/summary`, (x) => x.orderStatuses.CANCELLED === 1);
  assert.equal(s.totalSpent, 0, 'a cancelled order is not spent');
  assert.deepEqual(s.favoriteProducts, [], 'cancelled quantities do not count as favourites');
});

test('concurrent commands on one order: two cancels, or pay and cancel, never both succeed', async () => {
  const productId = await createProduct({ price: 7, stock: 100 });
  for (let i = 0; i < 5; i++) {
    const a = await order(newCustomer(), [{ productId, quantity: 1 }]);
    const twoCancels = await Promise.all([
      command('POST', `/api/orders/${a.orderId}/cancel`), command('POST', `/api/orders/${a.orderId}/cancel`)]);
    assert.deepEqual(twoCancels.map((r) => r.status).sort(), [200, 409]);

    const b = await order(newCustomer(), [{ productId, quantity: 1 }]);
    const payCancel = await Promise.all([
      command('POST', `/api/orders/${b.orderId}/payments`, { amount: 7, method: 'card' }),
      command('POST', `/api/orders/${b.orderId}/cancel`)]);
    const ok = payCancel.filter((r) => r.status < 300).length;
    assert.ok(ok >= 1 && ok <= 2);
    const status = writeSql(`SELECT status FROM orders WHERE id = ${b.orderId}`);
    // pay then cancel is a legal sequence; cancel then pay is not
    if (ok === 2) assert.equal(status, 'CANCELLED');
    else assert.ok(['PAID', 'CANCELLED'].includes(status));
    assert.equal(writeSql(`SELECT count(*) FROM outbox WHERE aggregate_type = 'order' AND aggregate_id = ${b.orderId}`),
      String(1 + ok));
  }
  // every cancelled order gave its unit back
  assert.equal(writeSql(`SELECT stock + (SELECT coalesce(sum(quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
                          WHERE i.product_id = ${productId} AND o.status <> 'CANCELLED') FROM products WHERE id = ${productId}`), '100');
});

test('inventory adjustments and the inventory view', async () => {
  const productId = await createProduct({ price: 1, stock: 2, lowStockThreshold: 5 });
  let r = await command('POST', '/api/inventory', { productId, delta: 25, reason: 'restock' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.stock, 27);
  await refused('POST', '/api/inventory', { productId, delta: -28, reason: 'audit' }, 409, 'insufficient_stock');
  await refused('POST', '/api/inventory', { productId, delta: 0 }, 400, 'validation_error');
  await refused('POST', '/api/inventory', { productId: 987654321, delta: 1 }, 404, 'not_found');
  await refused('POST', '/api/inventory', { productId, delta: 1.5 }, 400, 'validation_error');
  r = await command('POST', '/api/inventory', { productId, delta: -24 });
  assert.equal(r.status, 201, r.text);
  const p = await readModel(`/api/products/${productId}`, (x) => x.stock === 3);
  assert.equal(p.lowStock, true);
  const low = (await query('GET', '/api/inventory?lowStock=true')).json;
  assert.ok(low.some((x) => x.productId === productId));
  assert.ok(low.every((x) => x.lowStock === true));
  const all = (await query('GET', '/api/inventory')).json;
  assert.ok(all.length >= low.length);
  assert.equal((await query('GET', '/api/inventory?lowStock=maybe')).status, 400);
});

test('customer orders: newest first, status filter, pagination', async () => {
  const productId = await createProduct({ price: 2, stock: 100 });
  const customerId = newCustomer();
  const ids = [];
  for (let i = 1; i <= 3; i++) ids.push((await order(customerId, [{ productId, quantity: i }])).orderId);
  await command('POST', `/api/orders/${ids[0]}/payments`, { amount: 2, method: 'card' });
  await command('POST', `/api/orders/${ids[1]}/cancel`);
  const list = await readModel(`/api/customers/${customerId}/orders`,
    (l) => l.length === 3 && l.some((x) => x.status === 'CANCELLED') && l.some((x) => x.status === 'PAID'));
  assert.deepEqual(list.map((x) => x.orderId), [...ids].reverse());
  assert.deepEqual((await query('GET', `/api/customers/${customerId}/orders?status=PAID`)).json.map((x) => x.orderId), [ids[0]]);
  assert.deepEqual((await query('GET', `/api/customers/${customerId}/orders?limit=1&offset=1`)).json.map((x) => x.orderId), [ids[1]]);
  assert.equal((await query('GET', `/api/customers/${customerId}/orders?status=LOST`)).status, 400);
  const s = await readModel(`/api/customers/${customerId}/summary`);
  assert.equal(s.totalOrders, 3);
  assert.equal(s.totalSpent, 2);
  assert.deepEqual(s.orderStatuses, { CANCELLED: 1, CREATED: 1, PAID: 1 });
  assert.deepEqual(s.favoriteProducts.map((f) => f.quantity), [4], 'quantities of cancelled orders are not favourites');
  assert.equal((await query('GET', '/api/customers/987654321/summary')).status, 404);
});

test('analytics follow paid orders and cancellations', async () => {
  const category = `Cat-${process.pid}-${Date.now()}`;
  const a = await createProduct({ price: 10, stock: 100, category });
  const b = await createProduct({ price: 1.5, stock: 100, category });
  const before = (await query('GET', '/api/analytics/orders')).json;
  const o1 = await order(newCustomer(), [{ productId: a, quantity: 3 }, { productId: b, quantity: 2 }]);
  const o2 = await order(newCustomer(), [{ productId: a, quantity: 1 }]);
  assert.equal((await command('POST', `/api/orders/${o1.orderId}/payments`, { amount: 33, method: 'card' })).status, 201);
  assert.equal((await command('POST', `/api/orders/${o2.orderId}/payments`, { amount: 10, method: 'card' })).status, 201);
  assert.equal((await command('POST', `/api/orders/${o2.orderId}/cancel`)).status, 200);

  const cat = await eventually(async () => {
    const r = await query('GET', '/api/analytics/categories');
    const c = r.json.find((x) => x.category === category);
    return c && c.orders === 1 ? c : false;
  }, 10000, 'category analytics');
  assert.deepEqual(cat, { category, orders: 1, unitsSold: 5, revenue: 33 });

  // each view is refreshed on its own: the categories' view may be fresh before the top products'
  const ta = await eventually(async () => {
    const top = (await query('GET', '/api/analytics/products/top?limit=100')).json;
    const t = top.find((x) => x.productId === a);
    return t && t.unitsSold === 3 ? t : false; // not 4: the cancelled order is not sold
  }, 10000, 'top products analytics');
  assert.deepEqual([ta.unitsSold, ta.revenue], [3, 30], 'the cancelled order is not sold');

  // each view is refreshed on its own: wait for this one to hold the orders and the payment too
  const after = await readModel('/api/analytics/orders',
    (x) => x.totalOrders >= before.totalOrders + 2 && x.totalRevenue >= before.totalRevenue + 33);
  assert.ok(Date.parse(after.asOf) >= Date.parse(before.asOf));
  assert.equal(typeof after.byStatus, 'object');

  const today = new Date().toISOString().slice(0, 10);
  const daily = (await query('GET', `/api/analytics/sales/daily?from=${today}&to=${today}`)).json;
  assert.equal(daily.length, 1);
  assert.equal(daily[0].day, today);
  assert.ok(daily[0].orders >= 1 && daily[0].revenue >= 33);
  assert.equal((await query('GET', '/api/analytics/sales/daily?from=2026-02-30')).status, 400);
  assert.equal((await query('GET', '/api/analytics/sales/daily?from=2026-03-02&to=2026-03-01')).status, 400);
  assert.equal((await query('GET', '/api/analytics/products/top?limit=0')).status, 400);
});

test('todos through the pipeline', async () => {
  const r = await command('POST', '/api/todos', { title: 'Learn CQRS ✓' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.message, 'Todo created successfully.');
  const id = r.json.id;
  await eventually(async () => (await query('GET', '/api/todos')).json.some((t) => t.id === id), 10000, 'todo listed');
  assert.deepEqual((await query('GET', '/api/todos')).json.find((t) => t.id === id), { id, title: 'Learn CQRS ✓', completed: false });
  const p = await command('PATCH', `/api/todos/${id}`, { completed: true });
  assert.equal(p.status, 200, p.text);
  await eventually(async () => (await query('GET', '/api/todos')).json.find((t) => t.id === id)?.completed === true,
    10000, 'todo completed');
  assert.equal((await command('DELETE', `/api/todos/${id}`)).status, 200);
  await eventually(async () => !(await query('GET', '/api/todos')).json.some((t) => t.id === id), 10000, 'todo deleted');
  await refused('DELETE', `/api/todos/${id}`, undefined, 404, 'not_found');
  await refused('PATCH', `/api/todos/${id}`, { completed: true }, 404, 'not_found');
  await refused('POST', '/api/todos', { title: '' }, 400, 'validation_error');
  await refused('POST', '/api/todos', { title: 'x'.repeat(201) }, 400, 'validation_error');
  await refused('POST', '/api/todos', { title: 5 }, 400, 'validation_error');
  await refused('POST', '/api/todos', Buffer.from('{"title":"bad \xff utf8"}', 'latin1'), 400, 'invalid_json');
  assert.equal((await command('POST', '/api/todos', { title: 'é'.repeat(200) })).status, 201, '200 characters are allowed');
  await refused('PATCH', '/api/todos/1', { completed: 'yes' }, 400, 'validation_error');
});
