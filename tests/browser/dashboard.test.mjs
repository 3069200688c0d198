// The operations dashboard in a real browser (Debian's chromium, driven by playwright-core): the
// page at the query API's / shows today's orders and revenue, orders by status, top products,
// low stock and the pipeline's health, and follows orders and payments made through the command
// API live, through server-sent events, without reloading. Saves a screenshot to
// test-artifacts/dashboard.png.
// Then the incident panels: an event the read model refuses shows up in the dead-letter panel;
// a stopped consumer turns the page "stalled" (with the reason) within a bounded wait and back
// when it runs again; the dead letter is requeued from the page (through the command API, across
// origins), tried again and dead again, then dropped. Saves test-artifacts/dashboard-incident.png
// (the README's picture, docs/images/dashboard.png, is a copy of one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { COMMAND_URL, QUERY_URL, TOKEN, WAIT_MS, artifact, useBrowser } from './lib.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
// STALL_AFTER_MS (5 s by default) plus the consumer's reporting interval and a push
const STALL_WAIT_MS = Number(process.env.STALL_AFTER_MS ?? 5000) + 10000;

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

function services(action, name) {
  execFileSync('scripts/services.sh', [action, name], { cwd: REPO, env: process.env, stdio: 'pipe' });
}

// An OrderCreated with a schema version the read model does not know: retried, then
// dead-lettered (CONSUMER_MAX_ATTEMPTS, CONSUMER_RETRY_DELAY_MS).
function poison() {
  const eventId = randomUUID();
  const orderId = 800000000 + Math.floor(Math.random() * 99999999);
  execFileSync('psql', [process.env.DATABASE_URL, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c',
    `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
     VALUES ('${eventId}', 'OrderCreated', 'order', ${orderId}, 1,
             jsonb_build_object('eventId', '${eventId}', 'eventType', 'OrderCreated', 'eventVersion', 999,
                                'occurredAt', iso_utc(now()), 'aggregateType', 'order',
                                'aggregateId', ${orderId}, 'aggregateVersion', 1))`]);
  return eventId;
}

test('the incident panels: a stopped consumer is "stalled", a dead letter is requeued from the page', async () => {
  const context = await browser().newContext({ viewport: { width: 1280, height: 1100 } });
  const errors = [];
  let consumerStopped = false;
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    // the page asks for the command API's token when it answers 401
    page.on('dialog', (d) => d.accept(TOKEN));
    const url = `${QUERY_URL}/?command=${encodeURIComponent(COMMAND_URL)}`;
    assert.equal((await page.goto(url)).status(), 200);
    await page.waitForFunction(() => document.body.dataset.state === 'live'
      && document.body.dataset.stalled === 'false'
      && document.querySelector('#queues tr[data-role="readModel"] td').dataset.value !== '', null,
    { timeout: WAIT_MS });
    assert.ok(Number(await page.getAttribute('#consumers', 'data-value')) >= 1, 'a consumer is connected');

    const eventId = poison();
    const row = `#dead-letters tr[data-event-id="${eventId}"]`;
    await page.waitForSelector(row, { timeout: 30000 });
    const firstDeath = await page.getAttribute(row, 'data-dead-at');
    assert.match(await page.textContent(row), /OrderCreated/);
    assert.match(await page.textContent(row), /order \d+/);

    // stop the consumer: the page says stalled, and why, within a bounded wait
    services('stop', 'consumer');
    consumerStopped = true;
    const t0 = Date.now();
    await page.waitForSelector('#stall:not([hidden])', { timeout: STALL_WAIT_MS });
    console.log(`stalled shown ${Date.now() - t0} ms after the consumer stopped`);
    assert.match(await page.textContent('#stall-reason'), /consumer has not reported/);
    await page.screenshot({ path: artifact('dashboard-incident.png'), fullPage: true });

    services('start', 'consumer');
    consumerStopped = false;
    await page.waitForFunction(() => document.body.dataset.stalled === 'false', null, { timeout: STALL_WAIT_MS });

    // requeue from the page: the command API (another origin) puts it back; tried again, it dies
    // again (a later deadAt), and is dropped from the page
    await page.click(`${row} button.requeue`);
    await page.waitForFunction((id) => document.getElementById('dl-message').textContent === `requeued ${id}`,
      eventId, { timeout: WAIT_MS });
    await page.waitForFunction(([sel, t]) => {
      const tr = document.querySelector(sel);
      return tr !== null && tr.dataset.deadAt > t;
    }, [row, firstDeath], { timeout: 30000 });
    await page.click(`${row} button.drop`);
    await page.waitForFunction((id) => document.getElementById('dl-message').textContent === `dropped ${id}`,
      eventId, { timeout: WAIT_MS });
    await page.waitForFunction((sel) => document.querySelector(sel) === null, row, { timeout: WAIT_MS });
    assert.deepEqual(errors, [], 'no script errors');
  } finally {
    if (consumerStopped) services('start', 'consumer');
    await context.close();
  }
});
