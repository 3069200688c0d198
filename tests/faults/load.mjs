// A steady stream of commands against the command API: orders of 1-3 products, payments,
// cancellations (of created and of paid orders), shipments, completions and stock adjustments,
// at about `rate` commands per second from `workers` concurrent flows, until stop().
// Sends `Authorization: Bearer $COMMAND_API_TOKEN` when that is set. Records what it sent and
// every answer's status and latency; a request taking longer than hangMs counts as a hang.
const COMMAND_URL = process.env.COMMAND_URL ?? 'http://127.0.0.1:8080';
const QUERY_URL = process.env.QUERY_URL ?? 'http://127.0.0.1:8081';

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (process.env.COMMAND_API_TOKEN) h.Authorization = `Bearer ${process.env.COMMAND_API_TOKEN}`;
  return h;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One command; never throws. Returns {status, json, ms}; status 0 = no answer (network error),
// -1 = no answer within hangMs.
export async function send(method, path, body, hangMs = 10000) {
  const t0 = performance.now();
  try {
    const res = await fetch(COMMAND_URL + path, {
      method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(hangMs),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, ms: performance.now() - t0 };
  } catch (e) {
    return { status: e.name === 'TimeoutError' ? -1 : 0, json: undefined, ms: performance.now() - t0 };
  }
}

// Creates n products with a large stock; returns their ids.
export async function createProducts(n, tag) {
  const ids = [];
  const prices = [10, 99.99, 5.5, 250, 19.95, 1200, 0.99, 42];
  for (let i = 0; i < n; i++) {
    const r = await send('POST', '/api/products', {
      name: `fault ${tag} product ${i}`, category: `cat-${i % 4}`, price: prices[i % prices.length],
      stock: 1000000,
    });
    if (r.status !== 201) throw new Error(`could not create a product: ${r.status} ${JSON.stringify(r.json)}`);
    ids.push(r.json.productId);
  }
  return ids;
}

export class Load {
  constructor({ products, rate = 80, workers = 8, customers = 40, hangMs = 10000, queryEvery = 10 }) {
    Object.assign(this, { products, rate, workers, customers, hangMs, queryEvery });
    this.stats = {
      sent: 0, ok: 0, rejected: 0, unavailable: 0, otherErrors: 0, noAnswer: 0, hangs: 0,
      maxMs: 0, latencies: [], orders: 0, payments: 0, cancels: 0, ships: 0, completes: 0,
      adjustments: 0, queries: 0, queryUnavailable: 0, queryOtherErrors: 0, statusCounts: {},
    };
    this.created = []; // [{orderId, at}] in creation order
    this.running = false;
    this.nextSlot = 0;
  }

  // Paces all workers together at `rate` commands per second.
  async slot() {
    const interval = 1000 / this.rate;
    const t = Math.max(performance.now(), this.nextSlot);
    this.nextSlot = t + interval;
    const wait = t - performance.now();
    if (wait > 0) await sleep(wait);
  }

  async cmd(method, path, body) {
    await this.slot();
    if (!this.running) return { status: 0, stopped: true };
    const r = await send(method, path, body, this.hangMs);
    const s = this.stats;
    s.sent++;
    s.statusCounts[r.status] = (s.statusCounts[r.status] ?? 0) + 1;
    s.latencies.push(r.ms);
    if (r.ms > s.maxMs) s.maxMs = r.ms;
    if (r.status >= 200 && r.status < 300) s.ok++;
    else if (r.status === 503) s.unavailable++;
    else if (r.status >= 400 && r.status < 500) s.rejected++;
    else if (r.status === -1) s.hangs++;
    else if (r.status === 0) s.noAnswer++;
    else s.otherErrors++;
    return r;
  }

  async query(path) {
    try {
      const res = await fetch(QUERY_URL + path, { signal: AbortSignal.timeout(this.hangMs) });
      await res.arrayBuffer();
      this.stats.queries++;
      if (res.status === 503) this.stats.queryUnavailable++;
      else if (res.status >= 500) this.stats.queryOtherErrors++;
    } catch {
      this.stats.queryOtherErrors++;
    }
  }

  pick(n) {
    return Math.floor(Math.random() * n);
  }

  // One order's life: created, then maybe paid, shipped, completed or cancelled.
  async flow() {
    const n = 1 + this.pick(3);
    const chosen = new Set();
    while (chosen.size < n) chosen.add(this.products[this.pick(this.products.length)]);
    const items = [...chosen].map((productId) => ({ productId, quantity: 1 + this.pick(3) }));
    const c = await this.cmd('POST', '/api/orders', { customerId: 1 + this.pick(this.customers), items });
    if (c.status !== 201) return;
    this.stats.orders++;
    const { orderId, total } = c.json;
    this.created.push({ orderId, at: Date.now() });
    if (this.stats.orders % this.queryEvery === 0) await this.query(`/api/orders/${orderId}`);
    const roll = Math.random();
    if (roll < 0.2) {
      if ((await this.cmd('POST', `/api/orders/${orderId}/cancel`, { reason: 'changed mind' })).status === 200) this.stats.cancels++;
      return;
    }
    if (roll < 0.35) return; // stays CREATED
    if ((await this.cmd('POST', `/api/orders/${orderId}/payments`, { amount: total, method: 'card' })).status !== 201) return;
    this.stats.payments++;
    const next = Math.random();
    if (next < 0.25) {
      if ((await this.cmd('POST', `/api/orders/${orderId}/cancel`, {})).status === 200) this.stats.cancels++;
    } else if (next < 0.65) {
      if ((await this.cmd('POST', `/api/orders/${orderId}/ship`)).status !== 200) return;
      this.stats.ships++;
      if (Math.random() < 0.5 && (await this.cmd('POST', `/api/orders/${orderId}/complete`)).status === 200) {
        this.stats.completes++;
      }
    }
    if (Math.random() < 0.05) {
      const productId = this.products[this.pick(this.products.length)];
      if ((await this.cmd('POST', '/api/inventory', { productId, delta: 1 + this.pick(10), reason: 'restock' })).status === 201) {
        this.stats.adjustments++;
      }
    }
  }

  async worker() {
    while (this.running) {
      await this.flow();
      // a down database answers at once: do not spin
      if (this.stats.unavailable > 0) await sleep(1);
    }
  }

  start() {
    this.running = true;
    this.startedAt = Date.now();
    this.nextSlot = performance.now();
    this.done = Promise.all(Array.from({ length: this.workers }, () => this.worker()));
    return this;
  }

  async stop() {
    this.running = false;
    await this.done;
    this.stoppedAt = Date.now();
    const l = [...this.stats.latencies].sort((a, b) => a - b);
    this.stats.p50Ms = l.length ? l[Math.floor(l.length * 0.5)] : 0;
    this.stats.p99Ms = l.length ? l[Math.min(l.length - 1, Math.floor(l.length * 0.99))] : 0;
    delete this.stats.latencies;
    return this.stats;
  }

  // The first order created at or after t, or undefined.
  firstCreatedAfter(t) {
    return this.created.find((o) => o.at >= t);
  }
}
