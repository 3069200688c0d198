// Workloads of the ordering tests (faults 11.x): creates followed at once by updates of the same
// aggregates, so that with several consumers an update often reaches the read DB before the
// create it depends on (an order before its product, a todo update or delete before the todo).
import { send } from './load.mjs';

const pick = (n) => Math.floor(Math.random() * n);

function count(stats, key, r) {
  stats.sent++;
  if (r.status >= 200 && r.status < 300) stats.ok++;
  else if (r.status === -1) stats.hangs++;
  else stats.failed++;
  if (r.status >= 200 && r.status < 300) stats[key] = (stats[key] ?? 0) + 1;
  return r;
}

// Runs fn(i) for i in [0, n) on `flows` concurrent flows.
async function parallel(n, flows, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: flows }, async () => {
    while (next < n) await fn(next++);
  }));
}

// n times: create a product and order it at once (sometimes twice, sometimes with a base product
// too), then maybe adjust its stock and cancel the order. Returns the command figures.
export async function productBursts({ n = 300, flows = 6, base = [], tag = 'burst' }) {
  const stats = { sent: 0, ok: 0, failed: 0, hangs: 0 };
  await parallel(n, flows, async (i) => {
    const p = count(stats, 'products', await send('POST', '/api/products', {
      name: `${tag} product ${i}`, category: `${tag}-${i % 5}`, price: 1 + (i % 7), stock: 7 + (i % 5),
    }));
    if (p.status !== 201) return;
    const productId = p.json.productId;
    const items = [{ productId, quantity: 1 + pick(3) }];
    if (base.length > 0 && Math.random() < 0.3) items.push({ productId: base[pick(base.length)], quantity: 1 });
    const o = count(stats, 'orders', await send('POST', '/api/orders', { customerId: 1 + pick(20), items }));
    if (Math.random() < 0.3) {
      count(stats, 'orders', await send('POST', '/api/orders', {
        customerId: 1 + pick(20), items: [{ productId, quantity: 1 }],
      }));
    }
    if (Math.random() < 0.4) {
      count(stats, 'adjustments', await send('POST', '/api/inventory', {
        productId, delta: Math.random() < 0.5 ? 3 : -1, reason: 'ordering test',
      }));
    }
    if (o.status === 201 && Math.random() < 0.3) {
      count(stats, 'cancels', await send('POST', `/api/orders/${o.json.orderId}/cancel`, {}));
    }
  });
  return stats;
}

// n todos: each created, then at once completed, maybe reopened and completed again, and about
// half deleted; so updates and deletes follow their create within milliseconds.
export async function todoBursts({ n = 150, flows = 6, tag = 'burst' }) {
  const stats = { sent: 0, ok: 0, failed: 0, hangs: 0 };
  await parallel(n, flows, async (i) => {
    const t = count(stats, 'todos', await send('POST', '/api/todos', { title: `${tag} todo ${i}` }));
    if (t.status !== 201) return;
    const path = `/api/todos/${t.json.id}`;
    count(stats, 'updates', await send('PATCH', path, { completed: true }));
    if (Math.random() < 0.5) {
      count(stats, 'updates', await send('PATCH', path, { completed: false }));
      if (Math.random() < 0.5) count(stats, 'updates', await send('PATCH', path, { completed: true }));
    }
    if (Math.random() < 0.5) count(stats, 'deletes', await send('DELETE', path));
  });
  return stats;
}
