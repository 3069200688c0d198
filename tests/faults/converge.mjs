// The convergence check of the fault suite: the read model against a recomputation from the
// write DB. Every section is a list of (key, value) rows computed on both sides with the same
// text formatting, compared key by key:
//   orders      customer, status, total, version, items (the table and the items JSON)
//   timelines   the event types of each order in the order applied, against the outbox's
//               version order (for orders whose whole history is still in the outbox)
//   products    name, price, available stock, reserved (orders CREATED or PAID), version
//   todos       title, completed and version of every todo not deleted (as GET /api/todos
//               lists them: a deleted todo must stay hidden, a late event must not bring it back)
//   customers   orders, money spent and paid orders; statuses; quantities per product
//   analytics   the materialized views (totals and by status, sales per day, top products,
//               categories) once the consumer refreshed them
// plus the event figures: lost (an outbox event the read DB never recorded), applied twice (an
// order whose timeline is longer than its version), out of order, and unpublished outbox rows.
import fs from 'node:fs';
import path from 'node:path';
import { sqlRows, sleep, now } from './stack.mjs';

// One line per settle attempt in $FAULTS_ARTIFACTS/settle.log, to see what converged last.
function trace(line) {
  const dir = process.env.FAULTS_ARTIFACTS;
  if (!dir) return;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(path.join(dir, 'settle.log'), `${new Date().toISOString()} ${line}\n`);
  } catch {
    /* a trace only */
  }
}

const W = () => process.env.DATABASE_URL;
const R = () => process.env.READ_DATABASE_URL;
const PAID = "('PAID', 'SHIPPED', 'COMPLETED')";

const items = (alias) =>
  `(SELECT string_agg(i.product_id || 'x' || i.quantity || '@' || trim_scale(i.price), ',' ORDER BY i.line_no)
      FROM ${alias.table} i WHERE i.order_id = ${alias.id})`;

const SECTIONS = {
  orders: {
    write: `SELECT o.id, concat_ws('|', o.customer_id, o.status, trim_scale(o.total), o.version,
                   ${items({ table: 'order_items', id: 'o.id' })}, ${items({ table: 'order_items', id: 'o.id' })})
            FROM orders o`,
    read: `SELECT o.order_id, concat_ws('|', o.customer_id, o.status, trim_scale(o.total), o.version,
                  ${items({ table: 'order_items_read', id: 'o.order_id' })},
                  (SELECT string_agg((x->>'productId') || 'x' || (x->>'quantity') || '@'
                                     || trim_scale((x->>'price')::numeric), ',' ORDER BY n)
                   FROM jsonb_array_elements(o.items) WITH ORDINALITY AS t(x, n)))
           FROM orders_read o`,
  },
  timelines: {
    // only orders whose every event is still in the outbox (retention may have purged some)
    write: `SELECT o.id, string_agg(ob.event_type, ',' ORDER BY ob.aggregate_version)
            FROM orders o JOIN outbox ob ON ob.aggregate_type = 'order' AND ob.aggregate_id = o.id
            GROUP BY o.id, o.version HAVING count(*) = o.version AND min(ob.aggregate_version) = 1`,
    read: `SELECT o.order_id, (SELECT string_agg(x->>'event', ',' ORDER BY n)
                               FROM jsonb_array_elements(o.timeline) WITH ORDINALITY AS t(x, n))
           FROM orders_read o`,
    onlyWriteKeys: true,
  },
  products: {
    write: `SELECT p.id, concat_ws('|', p.name, trim_scale(p.price), p.stock,
                   coalesce((SELECT sum(i.quantity) FROM order_items i JOIN orders o ON o.id = i.order_id
                             WHERE i.product_id = p.id AND o.status IN ('CREATED', 'PAID')), 0),
                   p.version)
            FROM products p`,
    read: `SELECT product_id, concat_ws('|', name, trim_scale(price), stock, reserved, version)
           FROM products_read`,
  },
  todos: {
    write: `SELECT id, concat_ws('|', title, completed, version) FROM todos WHERE deleted_at IS NULL`,
    // the todos q_todos lists (GET /api/todos), with the version the read model holds
    read: `SELECT t.todo_id, concat_ws('|', t.title, t.completed, t.version)
           FROM todos_read t
           JOIN jsonb_array_elements((SELECT q FROM q_todos() AS q)::jsonb) x
             ON (x->>'id')::bigint = t.todo_id`,
  },
  customers: {
    write: `SELECT customer_id, concat_ws('|', count(*),
                   trim_scale(coalesce(sum(total) FILTER (WHERE status IN ${PAID}), 0)),
                   count(*) FILTER (WHERE status IN ${PAID}))
            FROM orders GROUP BY customer_id`,
    read: `SELECT customer_id, concat_ws('|', total_orders, trim_scale(total_spent), spent_orders)
           FROM customer_summary`,
  },
  customer_statuses: {
    write: `SELECT customer_id || ':' || status, count(*) FROM orders GROUP BY customer_id, status`,
    read: `SELECT customer_id || ':' || status, n FROM customer_status_counts WHERE n > 0`,
  },
  customer_products: {
    write: `SELECT o.customer_id || ':' || i.product_id, sum(i.quantity)
            FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.status <> 'CANCELLED'
            GROUP BY o.customer_id, i.product_id HAVING sum(i.quantity) > 0`,
    read: `SELECT customer_id || ':' || product_id, quantity FROM customer_product_qty WHERE quantity > 0`,
  },
  order_stats: {
    write: `SELECT 'totals', concat_ws('|', count(*),
                   trim_scale(coalesce(sum(total) FILTER (WHERE status IN ${PAID}), 0)),
                   count(*) FILTER (WHERE status IN ${PAID}),
                   coalesce((SELECT jsonb_object_agg(status, n ORDER BY status)
                             FROM (SELECT status, count(*) AS n FROM orders GROUP BY 1) s), '{}'))
            FROM orders`,
    read: `SELECT 'totals', concat_ws('|', total_orders, trim_scale(revenue), revenue_orders, by_status)
           FROM mv_order_stats`,
  },
  sales_daily: {
    write: `WITH d AS (
              SELECT o.status, o.total,
                     (coalesce((ob.payload->>'occurredAt')::timestamptz, o.created_at) AT TIME ZONE 'UTC')::date AS day
              FROM orders o LEFT JOIN outbox ob ON ob.aggregate_type = 'order' AND ob.aggregate_id = o.id
                                               AND ob.event_type = 'OrderCreated')
            SELECT day, concat_ws('|', count(*) FILTER (WHERE status <> 'CANCELLED'),
                                  trim_scale(coalesce(sum(total) FILTER (WHERE status IN ${PAID}), 0)))
            FROM d GROUP BY day
            HAVING count(*) FILTER (WHERE status <> 'CANCELLED') > 0
                OR coalesce(sum(total) FILTER (WHERE status IN ${PAID}), 0) <> 0`,
    read: `SELECT day, concat_ws('|', orders, trim_scale(revenue)) FROM mv_sales_daily`,
  },
  top_products: {
    write: `WITH s AS (
              SELECT i.product_id, max(p.name) AS name, sum(i.quantity) AS units,
                     sum(i.quantity * i.price) AS revenue
              FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
              WHERE o.status IN ${PAID} GROUP BY i.product_id)
            SELECT product_id, concat_ws('|', name, units, trim_scale(revenue),
                                         row_number() OVER (ORDER BY units DESC, revenue DESC, product_id))
            FROM s WHERE units > 0 ORDER BY units DESC, revenue DESC, product_id LIMIT 100`,
    read: `SELECT product_id, concat_ws('|', name, units, trim_scale(revenue), rank) FROM mv_top_products`,
  },
  categories: {
    write: `SELECT p.category, concat_ws('|', count(DISTINCT o.id), sum(i.quantity),
                                         trim_scale(sum(i.quantity * i.price)))
            FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
            WHERE o.status IN ${PAID} GROUP BY p.category HAVING sum(i.quantity) > 0`,
    read: `SELECT category, concat_ws('|', orders, units, trim_scale(revenue)) FROM mv_categories`,
  },
};

function compare(name, write, read, onlyWriteKeys) {
  const w = new Map(write);
  const r = new Map(read);
  const diffs = [];
  for (const [k, v] of w) {
    if (!r.has(k)) diffs.push(`${name} ${k}: missing in the read model (write: ${v})`);
    else if (r.get(k) !== v) diffs.push(`${name} ${k}: read ${r.get(k)} != write ${v}`);
  }
  if (!onlyWriteKeys) {
    for (const [k, v] of r) if (!w.has(k)) diffs.push(`${name} ${k}: only in the read model (${v})`);
  }
  return diffs;
}

// Runs every query of one database in one psql call (each connection costs a SCRAM exchange):
// returns {tag: rows} where each query's rows are tagged with its name.
function runTagged(url, queries) {
  const sql = Object.entries(queries)
    .map(([tag, q]) => `SELECT '${tag}', q.* FROM (${q}) q;`).join('\n');
  const out = {};
  for (const tag of Object.keys(queries)) out[tag] = [];
  for (const [tag, ...rest] of sqlRows(url, sql)) out[tag].push(rest);
  return out;
}

// One full check. Returns {ok, diffs, figures}.
export function check() {
  const diffs = [];
  const figures = {};
  const wq = {};
  const rq = {};
  for (const [name, s] of Object.entries(SECTIONS)) {
    wq[name] = s.write;
    rq[name] = s.read;
  }
  wq._outbox = 'SELECT event_id, published_at IS NULL FROM outbox';
  wq._versions = 'SELECT id, version FROM orders';
  rq._processed = 'SELECT event_id FROM processed_events';
  rq._timelines = 'SELECT order_id, jsonb_array_length(timeline) FROM orders_read';
  rq._dirty = 'SELECT count(*) FROM mv_state WHERE dirty';
  const t = now();
  const w = runTagged(W(), wq);
  const r = runTagged(R(), rq);
  figures.queryMs = now() - t;
  for (const [name, s] of Object.entries(SECTIONS)) {
    const d = compare(name, w[name], r[name], s.onlyWriteKeys);
    figures[`${name}Diffs`] = d.length;
    diffs.push(...d);
  }
  const outbox = w._outbox;
  const processed = new Set(r._processed.map((x) => x[0]));
  figures.outboxEvents = outbox.length;
  figures.processedEvents = processed.size;
  figures.unpublished = outbox.filter((x) => x[1] === 't').length;
  figures.lost = outbox.filter((x) => !processed.has(x[0])).length;
  const versions = new Map(w._versions);
  figures.orders = versions.size;
  figures.appliedTwice = r._timelines
    .reduce((n, [id, len]) => n + Math.max(0, Number(len) - Number(versions.get(id) ?? len)), 0);
  figures.outOfOrder = figures.timelinesDiffs;
  figures.dirtyViews = Number(r._dirty[0]?.[0] ?? 0);
  if (figures.unpublished > 0) diffs.push(`outbox: ${figures.unpublished} unpublished rows`);
  if (figures.lost > 0) diffs.push(`events: ${figures.lost} outbox events never applied`);
  if (figures.appliedTwice > 0) diffs.push(`events: ${figures.appliedTwice} applied twice`);
  if (figures.dirtyViews > 0) diffs.push(`views: ${figures.dirtyViews} not refreshed yet`);
  return { ok: diffs.length === 0, diffs, figures };
}

// Polls check() until it passes or timeoutMs passes. Returns the last result with settleMs.
export async function settle(label = '', timeoutMs = 90000) {
  const t0 = now();
  let last;
  let started;
  for (;;) {
    started = now();
    try {
      last = check();
    } catch (e) {
      last = { ok: false, diffs: [`check failed: ${e.message}`], figures: {} };
    }
    trace(`${label} +${now() - t0} ms: ${last.ok ? 'converged' : `${last.diffs.length} differences, first: ${last.diffs[0]}`}`);
    if (last.ok || now() - t0 > timeoutMs) break;
    await sleep(last.figures.unpublished > 0 || last.figures.lost > 0 ? 500 : 1000);
  }
  // converged when the passing check began (a check itself takes a few seconds)
  return { ...last, settleMs: started - t0, checkMs: now() - started };
}

// Waits until the order is in the read model; returns when (ms since epoch), or 0 on time-out.
export async function waitOrderVisible(orderId, timeoutMs = 60000) {
  const deadline = now() + timeoutMs;
  const url = `${process.env.QUERY_URL}/api/orders/${orderId}`;
  while (now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return now();
    } catch {
      /* query API or read DB down: keep trying */
    }
    await sleep(25);
  }
  return 0;
}
