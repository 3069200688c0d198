// The operations dashboard's pipeline figures and dead-letter panel, end to end:
// - the read side learns the relay's backlog and the queues from messages (relay.RelayStatus, the
//   consumer's queue readings), never by calling the relay;
// - an event the read model refuses ends in the dead-letter queue and in GET /api/dead-letters;
//   the command API requeues it (back to the read-model queue, a fresh attempt count) and drops
//   it, answering CORS for the dashboard's origin (preflight included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { COMMAND_URL, QUERY_URL, AUTH_HEADERS, call, query, writeSql, readSql, eventually, assertError } from './lib.mjs';

const ORIGIN = QUERY_URL; // the dashboard's page runs in the query API's origin

test('GET /api/dashboard: per-stage figures from the relay\'s status and the consumer\'s queue readings', async () => {
  const r = await eventually(async () => {
    const res = await query('GET', '/api/dashboard');
    const p = res.json?.pipeline;
    return res.status === 200 && p.relayStatusAgeMs !== null && p.consumerStatusAgeMs !== null && res;
  }, 10000, 'the relay and the consumer to report');
  const p = r.json.pipeline;
  assert.equal(p.relayLeader, true);
  assert.ok(p.relayStatusAgeMs < 5000, `the relay reports every second (${p.relayStatusAgeMs} ms)`);
  assert.ok(p.consumerStatusAgeMs < 5000, `the consumer reports every second (${p.consumerStatusAgeMs} ms)`);
  assert.deepEqual(Object.keys(p.queues).sort(), ['dead', 'mood', 'readModel', 'retry']);
  assert.ok(p.consumers >= 1, 'the consumer is connected to the read-model queue');
  assert.equal(p.stalled, false, p.stalledReason ?? '');
  assert.equal(p.stalledReason, null);
  assert.deepEqual(Object.keys(p.stages).sort(), ['broker', 'outbox', 'readModel']);
  // never scraped: the relay's status messages leave no processed_events row
  assert.equal(readSql(`SELECT count(*) FROM processed_events WHERE event_type = 'RelayStatus'`), '0');
});

// An OrderCreated the read model cannot read (a schema version it does not know): retried, then
// dead-lettered (CONSUMER_MAX_ATTEMPTS, CONSUMER_RETRY_DELAY_MS).
function poison() {
  const eventId = randomUUID();
  const orderId = 900000000 + Math.floor(Math.random() * 99999999);
  writeSql(`INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
            VALUES ('${eventId}', 'OrderCreated', 'order', ${orderId}, 1,
                    jsonb_build_object('eventId', '${eventId}', 'eventType', 'OrderCreated', 'eventVersion', 999,
                                       'occurredAt', iso_utc(now()), 'aggregateType', 'order',
                                       'aggregateId', ${orderId}, 'aggregateVersion', 1))`);
  return { eventId, orderId };
}

const deadRow = (eventId) => readSql(`SELECT status || ' ' || attempts FROM dead_letters WHERE event_id = '${eventId}'`);

test('a poisoned event is listed, requeued and dropped from the dashboard\'s origin', async () => {
  const { eventId, orderId } = poison();
  const listed = await eventually(async () => {
    const res = await query('GET', '/api/dead-letters?limit=500');
    return res.status === 200 && res.json.items.find((d) => d.eventId === eventId);
  }, 30000, 'the poisoned event to be dead-lettered');
  assert.equal(listed.eventType, 'OrderCreated');
  assert.equal(listed.aggregateType, 'order');
  assert.equal(listed.aggregateId, String(orderId));
  assert.equal(listed.status, 'dead');
  assert.ok(listed.attempts >= 1);
  assert.match(listed.reason, /./);
  const firstDeath = listed.deadAt;

  // the preflight of a cross-origin POST with Authorization
  const pre = await fetch(`${COMMAND_URL}/api/dead-letters/${eventId}/requeue`, {
    method: 'OPTIONS',
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  const other = await fetch(`${COMMAND_URL}/api/dead-letters/${eventId}/requeue`, {
    method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(other.headers.get('access-control-allow-origin'), null, 'another origin is not allowed');

  // requeue: back in the read-model queue, tried again from attempt 1, dead again
  const rq = await call('POST', `${COMMAND_URL}/api/dead-letters/${eventId}/requeue`, undefined, { Origin: ORIGIN, ...AUTH_HEADERS });
  assert.equal(rq.status, 200, rq.text);
  assert.deepEqual(rq.json, { eventId, status: 'requeued' });
  assert.equal(rq.headers.get('access-control-allow-origin'), ORIGIN);
  await eventually(async () => {
    const res = await query('GET', '/api/dead-letters?limit=500');
    const d = res.json.items.find((x) => x.eventId === eventId);
    return d && d.deadAt > firstDeath;
  }, 30000, 'the requeued event to be tried again and dead-lettered again');

  // drop: gone from the queue and from the panel; a second drop finds nothing
  const dr = await call('POST', `${COMMAND_URL}/api/dead-letters/${eventId}/drop`, undefined, { Origin: ORIGIN, ...AUTH_HEADERS });
  assert.equal(dr.status, 200, dr.text);
  assert.deepEqual(dr.json, { eventId, status: 'dropped' });
  await eventually(async () => deadRow(eventId).startsWith('dropped'), 10000, 'the drop notice to reach the read DB');
  const list = await query('GET', '/api/dead-letters?limit=500');
  assert.equal(list.json.items.some((d) => d.eventId === eventId), false);
  const again = await call('POST', `${COMMAND_URL}/api/dead-letters/${eventId}/drop`, undefined, { Origin: ORIGIN, ...AUTH_HEADERS });
  assertError(again, 404, 'not_found');
  assert.equal(again.headers.get('access-control-allow-origin'), ORIGIN, 'errors carry CORS too');
});

test('GET /api/dead-letters validates limit and offset', async () => {
  assertError(await query('GET', '/api/dead-letters?limit=0'), 400, 'validation_error', 'limit');
  assertError(await query('GET', '/api/dead-letters?offset=-1'), 400, 'validation_error', 'offset');
  const page = await query('GET', '/api/dead-letters?limit=1&offset=0');
  assert.equal(page.status, 200);
  assert.equal(page.json.limit, 1);
  assert.ok(page.json.items.length <= 1);
});

test('the dashboard page may connect to the command API, and nowhere else (its CSP)', async () => {
  const page = await query('GET', '/');
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  const connect = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src'));
  assert.ok(connect, csp);
  assert.deepEqual(connect.split(/\s+/).slice(1).sort(),
    ["'self'", `http://127.0.0.1:${new URL(COMMAND_URL).port}`, `http://localhost:${new URL(COMMAND_URL).port}`].sort());
});
