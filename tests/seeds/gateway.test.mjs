// The seeds' gateway (docker/gateway/default.conf.template), run for real: nginx renders the
// template as the official image does, for the stack's APIs, on free ports of 127.0.0.1.
//   http://localhost:8000/cqrs/commands/... -> command API /commands/...
//   http://localhost:8000/cqrs/queries/...  -> query API /queries/...
//   http://localhost:5002/                  -> the mood wall; every other path the query API's
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, post, get, getWhen, catalogueProduct, startGateway, renderGateway } from './lib.mjs';

let gw;
before(async () => {
  gw = await startGateway(COMMAND_URL, QUERY_URL);
});
after(async () => {
  if (gw) await gw.stop();
  if (gw) assert.throws(() => process.kill(gw.pid, 0), /ESRCH/, 'nginx is gone');
});

test('the template leaves nginx\'s own variables alone and takes the four settings', () => {
  const conf = renderGateway({
    COMMAND_UPSTREAM: 'command-service:8080', QUERY_UPSTREAM: 'query-service:8081',
    CQRS_GATEWAY_LISTEN: '8000', QUERY_SIDE_LISTEN: '5002',
  });
  assert.match(conf, /server command-service:8080;/);
  assert.match(conf, /server query-service:8081;/);
  assert.match(conf, /listen 8000;/);
  assert.match(conf, /listen 5002;/);
  assert.match(conf, /\$proxy_add_x_forwarded_for/);
  assert.doesNotMatch(conf, /\$\{[A-Z_]+\}/, 'every variable substituted');
});

test('the broker seed\'s gateway form: /cqrs/commands/... and /cqrs/queries/...', async () => {
  const health = await get(`${gw.gatewayUrl}/cqrs/commands/health`);
  assert.equal(health.status, 200, health.text);
  assert.deepEqual(health.json, { status: 'ok' });
  assert.deepEqual((await get(`${gw.gatewayUrl}/cqrs/queries/health`)).json, { status: 'ok' });

  const product = await catalogueProduct(COMMAND_URL, { price: 12.5, stock: 10 });
  const created = await post(`${gw.gatewayUrl}/cqrs/commands/orders`, { user_id: 123, product_id: product, quantity: 2 });
  assert.equal(created.status, 201, created.text);
  const id = created.json.order_id;
  assert.equal(created.json.total_amount, 25);
  const order = await getWhen(`${gw.gatewayUrl}/cqrs/queries/orders/${id}`);
  assert.equal(order.order_id, id);
  assert.equal(order.user_id, 123);
  assert.deepEqual(order, (await get(`${QUERY_URL}/queries/orders/${id}`)).json);

  const paid = await post(`${gw.gatewayUrl}/cqrs/commands/payments`, { order_id: id, amount: 25, method: 'card' });
  assert.equal(paid.status, 201, paid.text);
  const inv = await post(`${gw.gatewayUrl}/cqrs/commands/inventory`, { product_id: product, quantity: 4 });
  assert.equal(inv.status, 201, inv.text);
  await getWhen(`${gw.gatewayUrl}/cqrs/queries/inventory`,
    (l) => l.some((p) => p.product_id === product && p.available_quantity === 12));
  const mine = await getWhen(`${gw.gatewayUrl}/cqrs/queries/users/123/orders?limit=5`,
    (l) => l.some((o) => o.order_id === id && o.status === 'PAID'));
  assert.ok(mine.length <= 5, 'the query string goes through');
  const stats = await get(`${gw.gatewayUrl}/cqrs/queries/statistics/orders`);
  assert.equal(stats.status, 200, stats.text);
  assert.ok('total_orders' in stats.json);

  // errors come through as the APIs answer them
  const refused = await post(`${gw.gatewayUrl}/cqrs/commands/orders`, { user_id: 123, product_id: product });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error.field, 'quantity');
  const unknown = await get(`${gw.gatewayUrl}/cqrs/queries/orders/999999999`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'not_found');
  const elsewhere = await get(`${gw.gatewayUrl}/api/todos`);
  assert.equal(elsewhere.status, 404, 'only /cqrs/... is routed');
  assert.equal(elsewhere.json.error.code, 'not_found');
});

test('the query side (5002): / is the mood wall, the rest the query API\'s, the dashboard at /dashboard', async () => {
  const root = await get(`${gw.querySideUrl}/`);
  assert.equal(root.status, 200);
  assert.match(root.headers.get('content-type'), /^text\/html/);
  assert.match(root.text, /<title>Mood wall<\/title>/);
  assert.equal(root.text, (await get(`${QUERY_URL}/mood`)).text);
  assert.equal((await get(`${gw.querySideUrl}/mood/wall.js`)).status, 200);

  const { json: { id } } = await post(`${COMMAND_URL}/todos`, { title: 'Through the gateway' });
  await getWhen(`${gw.querySideUrl}/todos`, (l) => l.some((t) => t.id === id && t.title === 'Through the gateway'));
  const stats = await get(`${gw.querySideUrl}/stats`);
  assert.deepEqual(Object.keys(stats.json), ['happy', 'sad', 'score']);

  const dash = await get(`${gw.querySideUrl}/dashboard`);
  assert.equal(dash.status, 200);
  assert.equal(dash.text, (await get(`${QUERY_URL}/`)).text, 'the operations dashboard');
  assert.equal((await get(`${gw.querySideUrl}/dashboard/dashboard.js`)).status, 200);
});

test('the wall keeps its live push through the gateway', async () => {
  const ac = new AbortController();
  const res = await fetch(`${gw.querySideUrl}/api/moods/stream`, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  // the data of the next event that satisfies predicate
  const nextData = async (predicate) => {
    const deadline = Date.now() + 10000;
    for (;;) {
      const end = text.indexOf('\n\n');
      if (end >= 0) {
        const line = text.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
        text = text.slice(end + 2);
        if (line && predicate(JSON.parse(line.slice(6)))) return JSON.parse(line.slice(6));
        continue;
      }
      if (Date.now() > deadline) throw new Error(`no matching event; have: ${text}`);
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      text += decoder.decode(value, { stream: true });
    }
  };
  try {
    const first = await nextData(() => true);
    const r = await post(`${COMMAND_URL}/api/moods`, { type: 'good' });
    assert.equal(r.status, 202, r.text);
    const pushed = await nextData((d) => d.happy > first.happy);
    assert.equal(pushed.score, pushed.happy - pushed.sad);
  } finally {
    ac.abort();
  }
});
