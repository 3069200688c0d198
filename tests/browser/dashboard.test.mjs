// The operations dashboard in a real browser (Debian's chromium, driven by playwright-core): the
// page at the query API's / shows today's orders and revenue, orders by status, top products,
// low stock and the pipeline's health, and follows orders and payments made through the command
// API live, through server-sent events, without reloading. Saves a screenshot to
// test-artifacts/dashboard.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, TOKEN, WAIT_MS, artifact, useBrowser } from './lib.mjs';

const browser = useBrowser();

async function command(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  const res = await fetch(COMMAND_URL + path, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await res.json();
  assert.ok(res.status === 200 || res.status === 201, `${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// The figures the page shows, from the data-value attributes it keeps.
async function figures(page) {
  return page.evaluate(() => {
    const num = (id) => Number(document.getElementById(id).dataset.value);
    const status = Object.fromEntries([...document.querySelectorAll('#status-chart [data-status]')]
      .map((g) => [g.dataset.status, Number(g.dataset.value)]));
    return {
      ordersToday: num('orders-today'),
      revenueToday: num('revenue-today'),
      lowStock: num('low-stock-count'),
      rate: num('rate'),
      lag: document.getElementById('lag').dataset.value,
      backlog: document.getElementById('backlog').dataset.value,
      status,
      top: [...document.querySelectorAll('#top-chart [data-product-id]')].map((g) => Number(g.dataset.productId)),
      low: [...document.querySelectorAll('#low-stock [data-product-id]')].map((li) => Number(li.dataset.productId)),
      updates: Number(document.body.dataset.updates),
    };
  });
}

test('the dashboard follows orders and payments live', async () => {
  const context = await browser().newContext({ viewport: { width: 1280, height: 820 } });
  const errors = [];
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    let reloads = 0;
    page.on('framenavigated', (f) => f === page.mainFrame() && (reloads += 1));

    assert.equal((await page.goto(`${QUERY_URL}/`)).status(), 200);
    await page.waitForFunction(() => document.body.dataset.state === 'live'
      && Number(document.body.dataset.updates) > 0, null, { timeout: WAIT_MS });
    const start = await figures(page);
    for (const st of ['CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED']) {
      assert.ok(Number.isInteger(start.status[st]), `status ${st} is charted`);
    }

    // a best seller (500 units, paid: 1000 of revenue) and a product that runs low (12 - 5 < 10)
    const tag = `${process.pid}-${Date.now() % 100000}`;
    const seller = (await command('/api/products',
      { name: `Dash seller ${tag}`, category: 'Dashboard', price: 2, stock: 1000 })).productId;
    const scarce = (await command('/api/products',
      { name: `Dash scarce ${tag}`, category: 'Dashboard', price: 3, stock: 12 })).productId;
    const paid = await command('/api/orders', { customerId: 4242, items: [{ productId: seller, quantity: 500 }] });
    await command(`/api/orders/${paid.orderId}/payments`, { amount: 1000, method: 'card' });
    await command('/api/orders', { customerId: 4243, items: [{ productId: scarce, quantity: 5 }] });
    const t0 = Date.now();

    const want = {
      ordersToday: start.ordersToday + 2,
      revenueToday: start.revenueToday + 1000,
      paid: start.status.PAID + 1,
      created: start.status.CREATED + 1,
      lowStock: start.lowStock + 1,
      seller,
    };
    await page.waitForFunction((w) => {
      const v = (id) => Number(document.getElementById(id).dataset.value);
      const st = (s) => Number(document.querySelector(`#status-chart [data-status="${s}"]`)?.dataset.value);
      const top = [...document.querySelectorAll('#top-chart [data-product-id]')].map((g) => Number(g.dataset.productId));
      return v('orders-today') === w.ordersToday && v('revenue-today') === w.revenueToday
        && st('PAID') === w.paid && st('CREATED') === w.created && v('low-stock-count') === w.lowStock
        && top.includes(w.seller);
    }, want, { timeout: WAIT_MS });
    console.log(`dashboard caught up ${Date.now() - t0} ms after the last command`);

    const now = await figures(page);
    assert.equal(await page.getAttribute(`#top-chart [data-product-id="${seller}"]`, 'data-units'), '500',
      'the best seller is charted with its 500 units');
    assert.ok(now.low.length === 0 || now.low.includes(scarce) || now.low.length === 8,
      'the product that ran low is listed (unless 8 lower ones fill the list)');
    // the pipeline's health: events were applied in the last 10 s, with a lag and the relay's backlog
    await page.waitForFunction(() => Number(document.getElementById('rate').dataset.value) > 0
      && document.getElementById('lag').dataset.value !== ''
      && document.getElementById('backlog').dataset.value !== '', null, { timeout: WAIT_MS });
    const health = await figures(page);
    assert.ok(health.rate > 0, 'events per second');
    assert.ok(Number(health.lag) >= 0, 'projection lag in ms');
    assert.ok(Number(health.backlog) >= 0, "the relay's outbox backlog");
    assert.ok(health.updates > start.updates, 'new documents arrived');
    assert.equal(reloads, 1, 'the page was never reloaded');

    // let a few more samples land in the sparklines before the picture
    await page.waitForFunction((n) => Number(document.body.dataset.updates) >= n, health.updates + 3,
      { timeout: WAIT_MS });
    await page.screenshot({ path: artifact('dashboard.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no script errors');
  } finally {
    await context.close();
  }
});
