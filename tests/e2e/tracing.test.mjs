// Request ids and traces (docs/observability.md, "Request ids and traces"):
// - every answer of both APIs carries X-Request-Id: the client's when valid (1..128 visible ASCII
//   characters but '"' and '\'), else a new one (32 hex digits), and the lines the service logs
//   for that request carry it as req_id=...;
// - a W3C traceparent sent to the command API is stored with the event, published by the relay
//   as the AMQP header `traceparent`, and logged as trace_id=... by the command API, the relay
//   and the consumer; without one (or with an invalid one) the command API starts a new trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { command, query, writeSql, eventually, AUTH_HEADERS } from './lib.mjs';

const LOG_DIR = process.env.STATE_DIR ? path.join(process.env.STATE_DIR, 'logs') : null;
const skipLogs = !(LOG_DIR && existsSync(LOG_DIR)) && 'needs STATE_DIR (tests/run.sh)';
const logOf = (svc) => readFileSync(path.join(LOG_DIR, `${svc}.log`), 'utf8');

test('X-Request-Id: a valid one is echoed, an invalid or missing one is replaced by a new id', async () => {
  for (const [call, p] of [[query, '/health'], [command, '/health']]) {
    const mine = `e2e-${randomBytes(6).toString('hex')}`;
    let r = await call('GET', p, undefined, { 'X-Request-Id': mine });
    assert.equal(r.headers.get('x-request-id'), mine);
    for (const bad of ['has space', 'x'.repeat(129), 'quote"d']) {
      r = await call('GET', p, undefined, { 'X-Request-Id': bad });
      assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/, `for ${JSON.stringify(bad)}`);
    }
    const a = await call('GET', p);
    const b = await call('GET', p);
    assert.match(a.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
    assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
  }
  // errors carry it too
  const r = await query('GET', '/api/orders/999999999', undefined, { 'X-Request-Id': 'e2e-missing' });
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('x-request-id'), 'e2e-missing');
});

test('a command\'s log line carries its request id', { skip: skipLogs }, async () => {
  const rid = `e2e-${randomBytes(8).toString('hex')}`;
  const r = await command('POST', '/api/products',
    { name: `trace ${rid}`, category: 'Testing', price: 1, stock: 1 }, { 'X-Request-Id': rid });
  assert.equal(r.status, 201, r.text);
  await eventually(() => logOf('command-api').split('\n')
    .some((l) => l.includes(`req_id=${rid}`) && l.includes(`product_id=${r.json.productId}`)),
  5000, 'the command API logs the request id');
});

test('a traceparent follows the event through the command API, the relay and the consumer', { skip: skipLogs }, async () => {
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  const r = await command('POST', '/api/products',
    { name: `traced ${traceId}`, category: 'Testing', price: 1, stock: 1 }, { traceparent, ...AUTH_HEADERS });
  assert.equal(r.status, 201, r.text);
  const id = r.json.productId;
  assert.equal(writeSql(`SELECT traceparent FROM outbox WHERE aggregate_type = 'product' AND aggregate_id = ${id}`),
    traceparent, 'the outbox row keeps it');
  const has = (svc, what) => logOf(svc).split('\n')
    .some((l) => l.includes(`trace_id=${traceId}`) && l.includes(what));
  await eventually(() => has('command-api', `product_id=${id}`), 5000, 'command API line');
  await eventually(() => has('relay', 'msg="published event"'), 10000, 'relay line');
  await eventually(() => has('consumer', 'msg="received ProductCreated"') &&
    has('consumer', 'msg="saved to read db"'), 10000, 'consumer lines');
});

test('one trace id follows an order through all four services when the client propagates it', { skip: skipLogs }, async () => {
  const traceId = randomBytes(16).toString('hex');
  const tp = () => `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  const p = await command('POST', '/api/products', { name: `four ${traceId}`, category: 'Testing', price: 2, stock: 5 });
  assert.equal(p.status, 201, p.text);
  const o = await command('POST', '/api/orders', { customerId: 77, items: [{ productId: p.json.productId, quantity: 1 }] },
    { traceparent: tp(), ...AUTH_HEADERS });
  assert.equal(o.status, 201, o.text);
  const orderId = o.json.orderId;
  // the client reads its order with the same trace (a new parent span), as W3C propagation does
  const r = await query('GET', `/api/orders/${orderId}`, undefined,
    { traceparent: tp(), 'X-Consistency-Token': o.headers.get('x-consistency-token') });
  assert.equal(r.status, 200, r.text);
  const has = (svc, ...what) => logOf(svc).split('\n')
    .some((l) => l.includes(`trace_id=${traceId}`) && what.every((w) => l.includes(w)));
  await eventually(() => has('command-api', `order_id=${orderId}`), 5000, 'command API line');
  await eventually(() => has('relay', 'msg="published event"'), 10000, 'relay line');
  await eventually(() => has('consumer', `order_id=${orderId}`), 10000, 'consumer line');
  await eventually(() => has('query-api', 'msg="read order"', `order_id=${orderId} `), 5000, 'query API line');
});

test('without a valid traceparent the command API starts a trace', async () => {
  for (const headers of [{}, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }]) {
    const r = await command('POST', '/api/products',
      { name: `untraced ${randomBytes(4).toString('hex')}`, category: 'Testing', price: 1, stock: 1 }, headers);
    assert.equal(r.status, 201, r.text);
    const tp = writeSql(`SELECT traceparent FROM outbox WHERE aggregate_type = 'product' AND aggregate_id = ${r.json.productId}`);
    assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.ok(!tp.startsWith('00-00000000000000000000000000000000'));
  }
});
