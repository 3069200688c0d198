// Safe retries and read-your-writes, end to end:
// - Idempotency-Key on every command: a repeat replays the first answer (status, body, ids,
//   X-Consistency-Token, plus Idempotent-Replayed: true) and writes nothing; another request
//   under the key is 422; a failed command keeps no key; parallel repeats write once.
// - X-Consistency-Token on queries: answered only once the read model has the write (woken by
//   LISTEN/NOTIFY, holding no pool thread), 504 after CONSISTENCY_WAIT_MS, 400 when malformed.
// (The bearer token's tests are in auth.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  COMMAND_URL, COMMAND_API_TOKEN, command, query, call, createProduct, writeSql, readSql, writeCounts,
  assertError,
  rawExchange,
} from './lib.mjs';

const WAIT_MS = Number(process.env.CONSISTENCY_WAIT_MS ?? 5000);
const HTTP_THREADS = Number(process.env.HTTP_THREADS ?? 8);

let keySeq = 0;
const newKey = () => `e2e-${process.pid}-${Date.now()}-${++keySeq}`;
const withKey = (key, extra = {}) => ({ 'Idempotency-Key': key, ...extra });

// ---------------------------------------------------------------------------------------------
// Idempotency-Key

test('a repeat with the same key and body answers the first response and writes nothing', async () => {
  const productId = await createProduct({ price: 12.5, stock: 10 });
  const key = newKey();
  const first = await command('POST', '/api/orders',
    { customerId: 4242, items: [{ productId, quantity: 2 }] }, withKey(key));
  assert.equal(first.status, 201, first.text);
  assert.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is no replay');
  const token = first.headers.get('x-consistency-token');
  assert.match(token, /^[0-9a-f-]{36}$/);
  const before = writeCounts();

  // the same JSON with other whitespace and key order is the same request
  const again = await command('POST', '/api/orders',
    `{ "items": [ {"quantity": 2, "productId": ${productId}} ],  "customerId": 4242 }`, withKey(key));
  assert.equal(again.status, 201, again.text);
  assert.deepEqual(again.json, first.json, 'same body, same ids');
  assert.equal(again.text.includes('replayed'), false, 'no internal marker in the body');
  assert.equal(again.headers.get('x-consistency-token'), token, 'same consistency token');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(writeCounts(), before, 'the repeat wrote nothing');
  assert.equal(writeSql(`SELECT stock FROM products WHERE id = ${productId}`), '8', 'stock taken once');

  // other success statuses are replayed as they were: 202 for a mood
  const moodKey = newKey();
  const m1 = await command('POST', '/api/moods', { type: 'good' }, withKey(moodKey));
  const m2 = await command('POST', '/api/moods', { type: 'good' }, withKey(moodKey));
  assert.equal(m1.status, 202);
  assert.equal(m2.status, 202);
  assert.deepEqual(m2.json, m1.json);
  assert.equal(m2.headers.get('idempotent-replayed'), 'true');
});

test('the same key with another request is 422 idempotency_key_reused and writes nothing', async () => {
  const key = newKey();
  const body = { name: 'Idem lamp', category: 'Testing', price: 3, stock: 1 };
  assert.equal((await command('POST', '/api/products', body, withKey(key))).status, 201);
  const before = writeCounts();
  assertError(await command('POST', '/api/products', { ...body, price: 4 }, withKey(key)),
    422, 'idempotency_key_reused', 'Idempotency-Key');
  assertError(await command('POST', '/api/todos', { title: 'x' }, withKey(key)), 422, 'idempotency_key_reused');
  assert.equal(writeCounts(), before);
});

test('a failed command keeps no key: the retry with the same key runs', async () => {
  const productId = await createProduct({ stock: 1 });
  const key = newKey();
  const order = { customerId: 77, items: [{ productId, quantity: 3 }] };
  assertError(await command('POST', '/api/orders', order, withKey(key)), 409, 'insufficient_stock');
  assert.equal((await command('POST', '/api/inventory', { productId, delta: 5 })).status, 201);
  const r = await command('POST', '/api/orders', order, withKey(key));
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('idempotent-replayed'), null);
  // validation failures keep no key either
  const k2 = newKey();
  assertError(await command('POST', '/api/todos', { title: '' }, withKey(k2)), 400, 'validation_error');
  assert.equal((await command('POST', '/api/todos', { title: 'now valid' }, withKey(k2))).status, 201);
});

test('parallel repeats with one key write once and all answer the same', async () => {
  const productId = await createProduct({ stock: 100 });
  const key = newKey();
  const before = Number(writeSql(`SELECT stock FROM products WHERE id = ${productId}`));
  const rs = await Promise.all(Array.from({ length: 10 }, () =>
    command('POST', '/api/orders', { customerId: 31337, items: [{ productId, quantity: 1 }] }, withKey(key))));
  for (const r of rs) {
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json, rs[0].json);
    assert.equal(r.headers.get('x-consistency-token'), rs[0].headers.get('x-consistency-token'));
  }
  assert.equal(rs.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 9);
  assert.equal(Number(writeSql(`SELECT stock FROM products WHERE id = ${productId}`)), before - 1);
  assert.equal(writeSql(`SELECT count(*) FROM orders WHERE customer_id = 31337 AND id = ${rs[0].json.orderId}`), '1');
});

test('PATCH and DELETE honour the key too; path commands replay instead of refusing', async () => {
  const todo = await command('POST', '/api/todos', { title: 'idempotent todo' });
  const id = todo.json.id;
  const pk = newKey();
  const p1 = await command('PATCH', `/api/todos/${id}`, { completed: true }, withKey(pk));
  const p2 = await command('PATCH', `/api/todos/${id}`, { completed: true }, withKey(pk));
  assert.equal(p1.status, 200);
  assert.deepEqual(p2.json, p1.json);
  assert.equal(p2.headers.get('idempotent-replayed'), 'true');
  const dk = newKey();
  const d1 = await command('DELETE', `/api/todos/${id}`, undefined, withKey(dk));
  const d2 = await command('DELETE', `/api/todos/${id}/`, undefined, withKey(dk));
  assert.equal(d1.status, 200, d1.text);
  assert.equal(d2.status, 200, 'a lost answer retried is not a 404');
  assert.equal(d2.headers.get('idempotent-replayed'), 'true');
  assertError(await command('DELETE', `/api/todos/${id}`), 404, 'not_found'); // without the key

  const productId = await createProduct({ price: 5 });
  const o = await command('POST', '/api/orders', { customerId: 5, items: [{ productId, quantity: 1 }] });
  const ck = newKey();
  assert.equal((await command('POST', `/api/orders/${o.json.orderId}/cancel`, undefined, withKey(ck))).status, 200);
  const c2 = await command('POST', `/api/orders/${o.json.orderId}/cancel`, undefined, withKey(ck));
  assert.equal(c2.status, 200, 'replayed, not 409 invalid_transition');
  assert.equal(c2.json.status, 'CANCELLED');
});

test('a key past IDEMPOTENCY_KEY_TTL_S is new again', async () => {
  const key = newKey();
  const body = { name: 'TTL lamp', category: 'Testing', price: 1, stock: 1 };
  const r1 = await command('POST', '/api/products', body, withKey(key));
  const ttl = Number(process.env.IDEMPOTENCY_KEY_TTL_S ?? 86400);
  writeSql(`UPDATE idempotency_keys SET created_at = now() - make_interval(secs => ${ttl + 60}) WHERE key = '${key}'`);
  const r2 = await command('POST', '/api/products', body, withKey(key));
  assert.equal(r2.status, 201);
  assert.equal(r2.headers.get('idempotent-replayed'), null);
  assert.notEqual(r2.json.productId, r1.json.productId);
});

test('an invalid Idempotency-Key is 400 naming the header, and writes nothing', async () => {
  const before = writeCounts();
  const body = { name: 'x', category: 'y', price: 1, stock: 1 };
  for (const key of ['', 'has space', 'k'.repeat(256), 'caf\u00e9']) {
    assertError(await command('POST', '/api/products', body, withKey(key)), 400, 'validation_error', 'Idempotency-Key');
  }
  const long = newKey().padEnd(255, 'k');
  const r255 = await command('POST', '/api/products', body, withKey(long));
  assert.equal(r255.status, 201, '255 characters are fine');
  assert.equal(r255.headers.get('idempotent-replayed'), null);
  const after255 = writeCounts();
  assert.notEqual(after255, before);
  // sent twice
  const { host } = new URL(COMMAND_URL);
  const json = JSON.stringify(body);
  const auth = COMMAND_API_TOKEN ? `Authorization: Bearer ${COMMAND_API_TOKEN}\r\n` : '';
  const raw = await rawExchange(COMMAND_URL, [
    `POST /api/products HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\n` +
    `Idempotency-Key: a1\r\nIdempotency-Key: a2\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
  ], 1);
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.match(raw, /Idempotency-Key/);
  assert.equal(writeCounts(), after255);
});

// ---------------------------------------------------------------------------------------------
// X-Consistency-Token

test('a query with the token right after the command sees the write, 50 times out of 50', async (t) => {
  const productId = await createProduct({ price: 2, stock: 1000 });
  let withoutToken404 = 0;
  for (let i = 0; i < 50; i++) {
    const o = await command('POST', '/api/orders', { customerId: 9000 + i, items: [{ productId, quantity: 1 }] });
    assert.equal(o.status, 201, o.text);
    const token = o.headers.get('x-consistency-token');
    if (i % 10 === 0) {
      // for comparison: without the token the read model is usually not there yet
      if ((await query('GET', `/api/orders/${o.json.orderId}`)).status === 404) withoutToken404++;
    }
    const r = await query('GET', `/api/orders/${o.json.orderId}`, undefined, { 'X-Consistency-Token': token });
    assert.equal(r.status, 200, `try ${i}: ${r.text}`);
    assert.equal(r.json.orderId, o.json.orderId);
    assert.equal(r.json.status, 'CREATED');

    // a later command on the same order: its own token shows its own state
    if (i % 5 === 0) {
      const pay = await command('POST', `/api/orders/${o.json.orderId}/payments`, { amount: 2, method: 'card' });
      assert.equal(pay.status, 201, pay.text);
      const p = await query('GET', `/api/orders/${o.json.orderId}`, undefined,
        { 'X-Consistency-Token': `${token}, ${pay.headers.get('x-consistency-token')}` });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.json.status, 'PAID', `try ${i}`);
    }
  }
  t.diagnostic(`without the token, ${withoutToken404} of 5 immediate reads were 404`);
});

test('the token also holds list queries: the new todo is in the list at once', async () => {
  for (let i = 0; i < 10; i++) {
    const c = await command('POST', '/api/todos', { title: `RYW list ${i}` });
    const l = await query('GET', '/api/todos', undefined, { 'X-Consistency-Token': c.headers.get('x-consistency-token') });
    assert.equal(l.status, 200);
    assert.ok(l.json.some((t) => t.id === c.json.id), `try ${i}: todo ${c.json.id} not in the list`);
  }
});

test('a waiting query is woken by the notification of the write, long before the bound', async () => {
  const id = randomUUID();
  const started = Date.now();
  const pending = query('GET', '/api/todos', undefined, { 'X-Consistency-Token': id });
  await new Promise((r) => setTimeout(r, 300));
  // the query is parked; record the event as the consumer would (the trigger notifies)
  readSql(`INSERT INTO processed_events (event_id, event_type) VALUES ('${id}', 'E2eMarker')`);
  const r = await pending;
  const ms = Date.now() - started;
  assert.equal(r.status, 200, r.text);
  assert.ok(ms >= 250, `answered after ${ms} ms: it did wait`);
  // well before the deadline: woken by the notification (the bound is generous for a busy machine)
  assert.ok(ms < WAIT_MS - 1000, `answered after ${ms} ms: woken by the notification, not the deadline`);
});

test('an unknown event id is 504 consistency_timeout after CONSISTENCY_WAIT_MS; waiting holds no pool thread', async () => {
  // more waiting requests than the API has threads
  const n = HTTP_THREADS * 2;
  const started = Date.now();
  const waiting = Array.from({ length: n }, () =>
    query('GET', '/api/products/1', undefined, { 'X-Consistency-Token': randomUUID() }).then((r) => ({ r, ms: Date.now() - started })));
  await new Promise((r) => setTimeout(r, 300));
  // meanwhile other requests are served at once
  const t0 = Date.now();
  const health = await query('GET', '/health');
  const list = await query('GET', '/api/products?limit=1');
  assert.equal(health.status, 200);
  assert.equal(list.status, 200);
  // blocked pool threads would hold them until the waiting requests time out
  assert.ok(Date.now() - t0 < WAIT_MS / 2, `other requests took ${Date.now() - t0} ms while ${n} waited`);
  // and a write with its token is read right away too
  const c = await command('POST', '/api/todos', { title: 'while others wait' });
  const t1 = Date.now();
  const read = await query('GET', '/api/todos', undefined, { 'X-Consistency-Token': c.headers.get('x-consistency-token') });
  assert.equal(read.status, 200);
  assert.ok(read.json.some((t) => t.id === c.json.id));
  assert.ok(Date.now() - t1 < WAIT_MS / 2, `read-your-write took ${Date.now() - t1} ms while ${n} waited`);

  for (const { r, ms } of await Promise.all(waiting)) {
    assertError(r, 504, 'consistency_timeout');
    assert.match(r.json.error.message, /X-Consistency-Token/);
    assert.ok(ms >= WAIT_MS - 50, `504 after ${ms} ms, before the bound of ${WAIT_MS} ms`);
    assert.ok(ms < WAIT_MS + 3000, `504 after ${ms} ms, long after the bound of ${WAIT_MS} ms`);
  }
});

test('a malformed X-Consistency-Token is 400 naming the header', async () => {
  const u = randomUUID();
  for (const token of ['nope', '', `${u},`, `${u};${u}`, `{${u}}`, u.replaceAll('-', ''), `${u}0`,
    Array.from({ length: 17 }, () => u).join(',')]) {
    const r = await query('GET', '/api/products/1', undefined, { 'X-Consistency-Token': token });
    assertError(r, 400, 'validation_error', 'X-Consistency-Token');
  }
  const c = await command('POST', '/api/todos', { title: 'sixteen' });
  const id = c.headers.get('x-consistency-token');
  const sixteen = await query('GET', '/api/todos', undefined,
    { 'X-Consistency-Token': Array.from({ length: 16 }, () => id.toUpperCase()).join(' , ') });
  assert.equal(sixteen.status, 200, `sixteen ids, any case, spaces around commas: ${sixteen.text}`);
});
