// Metrics and health of all four services: GET /metrics on the two APIs and on the relay's and
// the consumer's own ports (RELAY_METRICS_PORT, CONSUMER_METRICS_PORT) parses as Prometheus text
// (HELP/TYPE before samples, valid names and labels, cumulative buckets ending in +Inf = _count),
// and the counters move when a command goes through the pipeline. Also the dashboard's JSON
// snapshot, which shows the relay's outbox backlog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, command, query, createProduct, eventually } from './lib.mjs';

const RELAY_URL = `http://127.0.0.1:${process.env.RELAY_METRICS_PORT ?? 9101}`;
const CONSUMER_URL = `http://127.0.0.1:${process.env.CONSUMER_METRICS_PORT ?? 9102}`;
const SERVICES = { 'command-api': COMMAND_URL, 'query-api': QUERY_URL, relay: RELAY_URL, consumer: CONSUMER_URL };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/;

// Parses the text exposition format strictly enough to catch a malformed line. Returns
// { types: name -> type, samples: Map(series -> value) } where series is name{labels} as written.
function parseProm(text) {
  const types = new Map();
  const helps = new Set();
  const samples = new Map();
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the text ends with a line feed');
  for (const line of lines) {
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7).split(' ')[0];
      assert.match(name, NAME, line);
      assert.ok(!helps.has(name), `one HELP per family: ${line}`);
      helps.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      assert.match(name, NAME, line);
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
      assert.ok(!types.has(name), `one TYPE per family: ${line}`);
      types.set(name, type);
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `malformed sample line: ${JSON.stringify(line)}`);
    const [, name, , labels = '', value] = m;
    let rest = labels;
    while (rest.length) {
      const l = LABEL.exec(rest);
      assert.ok(l, `malformed labels in ${line}`);
      rest = rest.slice(l[0].length);
    }
    assert.ok(/^([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]Inf|NaN)$/.test(value), `bad value in ${line}`);
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `sample before its TYPE: ${line}`);
    if (family !== name) assert.equal(types.get(family), 'histogram', line);
    const series = labels ? `${name}{${labels}}` : name;
    assert.ok(!samples.has(series), `duplicate series ${series}`);
    samples.set(series, Number(value.replace('Inf', 'Infinity')));
  }
  // histograms: buckets never decrease and the +Inf bucket equals _count
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map();
    for (const [series, v] of samples) {
      if (!series.startsWith(`${family}_bucket`)) continue;
      const key = series.replace(/,?le="[^"]*"/, '').replace(`${family}_bucket`, '').replace('{}', '');
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push([series, v]);
    }
    for (const [key, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i][1] >= buckets[i - 1][1], `cumulative buckets: ${buckets[i][0]}`);
      }
      assert.match(buckets.at(-1)[0], /le="\+Inf"/, `last bucket is +Inf for ${family}${key}`);
      assert.equal(buckets.at(-1)[1], samples.get(`${family}_count${key}`), `+Inf equals _count for ${family}${key}`);
    }
  }
  return { types, samples };
}

async function scrape(base) {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parseProm(await res.text());
}

const value = (m, series) => m.samples.get(series) ?? 0;

test('GET /metrics on all four services is valid Prometheus text', async () => {
  for (const [svc, base] of Object.entries(SERVICES)) {
    const m = await scrape(base);
    assert.ok(m.types.size > 0, `${svc} has metrics`);
  }
  const relay = await scrape(RELAY_URL);
  for (const name of ['relay_outbox_backlog', 'relay_outbox_oldest_unpublished_age_seconds',
    'relay_events_published_total', 'relay_events_confirmed_total', 'db_reconnects_total',
    'broker_reconnects_total']) {
    assert.ok(relay.types.has(name), `relay has ${name}`);
  }
  const consumer = await scrape(CONSUMER_URL);
  for (const name of ['consumer_events_consumed_total', 'consumer_events_applied_total',
    'consumer_events_deduplicated_total', 'consumer_events_dead_lettered_total',
    'consumer_projection_lag_seconds', 'consumer_mv_refreshes_total',
    'consumer_mv_refresh_duration_seconds', 'db_reconnects_total', 'broker_reconnects_total']) {
    assert.ok(consumer.types.has(name), `consumer has ${name}`);
  }
  for (const base of [COMMAND_URL, QUERY_URL]) {
    const api = await scrape(base);
    assert.equal(api.types.get('http_requests_total'), 'counter');
    assert.equal(api.types.get('http_request_duration_seconds'), 'histogram');
    assert.ok(api.types.has('db_reconnects_total'));
  }
});

test('every service reports build_info and process_* as Prometheus client libraries name them', async () => {
  for (const [svc, base] of Object.entries(SERVICES)) {
    const m = await scrape(base);
    const info = [...m.samples.keys()].find((k) => k.startsWith('build_info{'));
    assert.ok(info, `${svc} has build_info`);
    for (const label of ['version', 'libpq', 'libmicrohttpd', 'librabbitmq', 'jansson']) {
      assert.match(info, new RegExp(`${label}="[^"]+"`), `${svc} build_info names ${label}`);
    }
    assert.equal(m.samples.get(info), 1);
    assert.ok(value(m, 'process_resident_memory_bytes') > 0, `${svc} resident memory`);
    assert.ok(value(m, 'process_open_fds') > 2, `${svc} open fds`);
    assert.ok(value(m, 'process_max_fds') >= value(m, 'process_open_fds'), `${svc} max fds`);
    assert.ok(value(m, 'process_cpu_seconds_total') > 0, `${svc} cpu seconds`);
    const start = value(m, 'process_start_time_seconds');
    assert.ok(start > Date.now() / 1000 - 86400 && start <= Date.now() / 1000 + 1, `${svc} start time ${start}`);
  }
});

test('the relay and the consumer answer /health', async () => {
  for (const base of [RELAY_URL, CONSUMER_URL]) {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.database, 'up');
    assert.equal(body.broker, 'up');
  }
});

test('counters move when an order goes through the pipeline', async () => {
  const before = {};
  for (const [svc, base] of Object.entries(SERVICES)) before[svc] = await scrape(base);

  const productId = await createProduct({ stock: 50 });
  const r = await command('POST', '/api/orders', { customerId: 77, items: [{ productId, quantity: 2 }] });
  assert.equal(r.status, 201, r.text);
  const orderId = r.json.orderId;

  const created = 'http_requests_total{method="POST",route="/api/orders",code="201"}';
  const cmd = await scrape(COMMAND_URL);
  assert.equal(value(cmd, created), value(before['command-api'], created) + 1, 'the command API counted the order');
  const dur = 'http_request_duration_seconds_count{method="POST",route="/api/orders",code="201"}';
  assert.equal(value(cmd, dur), value(before['command-api'], dur) + 1, 'and timed it');

  // two events (ProductCreated, OrderCreated) through the relay and the consumer
  const relay = await eventually(async () => {
    const m = await scrape(RELAY_URL);
    return value(m, 'relay_events_confirmed_total') >= value(before.relay, 'relay_events_confirmed_total') + 2 && m;
  }, 10000, 'the relay to confirm 2 events');
  assert.ok(value(relay, 'relay_events_published_total') >= value(before.relay, 'relay_events_published_total') + 2);
  const consumer = await eventually(async () => {
    const m = await scrape(CONSUMER_URL);
    return value(m, 'consumer_events_applied_total') >= value(before.consumer, 'consumer_events_applied_total') + 2 && m;
  }, 10000, 'the consumer to apply 2 events');
  assert.ok(value(consumer, 'consumer_events_consumed_total') >= value(before.consumer, 'consumer_events_consumed_total') + 2);
  assert.ok(value(consumer, 'consumer_projection_lag_seconds') >= 0);
  assert.ok(value(consumer, 'consumer_last_event_occurred_timestamp_seconds') > Date.now() / 1000 - 3600,
    'the last applied event occurred within the hour');
  assert.ok(value(consumer, 'consumer_batch_duration_seconds_count') > value(before.consumer, 'consumer_batch_duration_seconds_count'));

  // the query API counts by route pattern, never by raw path
  await eventually(async () => (await query('GET', `/api/orders/${orderId}`)).status === 200, 10000, 'the order');
  const read = 'http_requests_total{method="GET",route="/api/orders/{id}",code="200"}';
  const q = await scrape(QUERY_URL);
  assert.ok(value(q, read) >= value(before['query-api'], read) + 1, 'the query API counted the read');
  assert.ok(![...q.samples.keys()].some((s) => s.includes(`/api/orders/${orderId}`)), 'no raw path as a label');

  // the backlog gauge is sampled once a second: drained, it reads 0
  await eventually(async () => value(await scrape(RELAY_URL), 'relay_outbox_backlog') === 0, 5000, 'an empty backlog');
});

test('requests no route serves are counted as unmatched', async () => {
  const series = 'http_requests_total{method="GET",route="unmatched",code="404"}';
  const before = value(await scrape(QUERY_URL), series);
  const r = await query('GET', '/no/such/route/123456');
  assert.equal(r.status, 404);
  const after = await scrape(QUERY_URL);
  assert.equal(value(after, series), before + 1);
  assert.ok(![...after.samples.keys()].some((s) => s.includes('123456')), 'no raw path as a label');
});

test('GET /api/dashboard: one snapshot with the pipeline health and the relay backlog', async () => {
  const r = await eventually(async () => {
    const res = await query('GET', '/api/dashboard');
    return res.status === 200 && res.json.pipeline.outboxBacklog !== null && res;
  }, 5000, "the dashboard to show the relay's backlog");
  const d = r.json;
  assert.match(d.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.deepEqual(Object.keys(d.byStatus), ['CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED']);
  assert.equal(typeof d.today.orders, 'number');
  assert.ok(Array.isArray(d.topProducts));
  assert.equal(typeof d.lowStock.count, 'number');
  assert.equal(typeof d.pipeline.eventsPerSecond, 'number');
  assert.equal(typeof d.pipeline.outboxBacklog, 'number');
  assert.equal(r.headers.get('content-type'), 'application/json');
});
