// The mood board end to end: POST /api/moods (command API) -> moods row + MoodRecorded in the
// outbox -> relay -> RabbitMQ (also queue mood_events) -> consumer -> read DB counters +
// NOTIFY mood_stats -> query API: GET /api/moods/stats and the server-sent events of
// GET /api/moods/stream; and the two pages with their pictures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import {
  COMMAND_URL, QUERY_URL, READ_DATABASE_URL, command, query, readModel, writeSql, eventually, brokerQueues,
} from './lib.mjs';

const KEEPALIVE_MS = Number(process.env.SSE_KEEPALIVE_MS ?? 15000);
const HTTP_THREADS = Number(process.env.HTTP_THREADS ?? 8);

async function stats() {
  const r = await query('GET', '/api/moods/stats');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const mood = (type) => command('POST', '/api/moods', { type });

// Opens GET /api/moods/stream and parses it as it arrives. next(pred, ms) resolves with the
// first event (parsed data) not yet taken that satisfies pred, or rejects after ms.
async function openStream() {
  const ac = new AbortController();
  const res = await fetch(`${QUERY_URL}/api/moods/stream`, { signal: ac.signal });
  const s = { res, events: [], comments: 0, fields: [], ended: false, taken: 0 };
  const waiters = new Set();
  const wake = () => waiters.forEach((w) => w());
  (async () => {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const lines = buf.slice(0, k).split('\n');
          buf = buf.slice(k + 2);
          s.fields.push(...lines.map((l) => l.split(':')[0]));
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
          if (data.length) s.events.push(JSON.parse(data.join('\n')));
          else if (lines.every((l) => l.startsWith(':'))) s.comments += 1;
        }
        wake();
      }
    } catch {
      // aborted
    }
    s.ended = true;
    wake();
  })();
  s.next = (pred = () => true, ms = 5000) => new Promise((resolve, reject) => {
    const check = () => {
      for (let i = s.taken; i < s.events.length; i++) {
        if (pred(s.events[i])) {
          s.taken = i + 1;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(s.events[i]);
          return;
        }
      }
      if (s.ended) {
        waiters.delete(check);
        clearTimeout(timer);
        reject(new Error('stream ended'));
      }
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(s.events)}`));
    }, ms);
    waiters.add(check);
    check();
  });
  s.waitFor = (cond, ms) => new Promise((resolve, reject) => {
    const check = () => {
      if (cond()) {
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`condition not met within ${ms} ms`));
    }, ms);
    waiters.add(check);
    check();
  });
  s.close = () => ac.abort();
  return s;
}

function moodQueue() {
  const out = brokerQueues();
  const line = out.split('\n').find((l) => l.split('\t')[0] === (process.env.MOOD_QUEUE ?? 'mood_events'));
  assert.ok(line, `queue mood_events exists; queues:\n${out}`);
  const [, ready, consumers] = line.split('\t').map(Number);
  return { ready, consumers };
}

test('a good and a bad mood are recorded (202) and counted as happy and sad', async () => {
  const before = await stats();
  assert.deepEqual(Object.keys(before), ['happy', 'sad', 'score']);
  assert.equal(before.score, before.happy - before.sad);

  const good = await mood('good');
  assert.equal(good.status, 202, good.text);
  assert.equal(good.json.message, 'Mood recorded.');
  assert.ok(Number.isInteger(good.json.id) && good.json.id > 0);
  assert.match(good.headers.get('content-type'), /^application\/json/);
  assert.match(good.headers.get('x-consistency-token'), /^[0-9a-f-]{36}$/);

  const bad = await mood('bad');
  assert.equal(bad.status, 202, bad.text);
  assert.ok(bad.json.id > good.json.id);

  const after = await readModel('/api/moods/stats', (s) => s.happy === before.happy + 1 && s.sad === before.sad + 1);
  assert.deepEqual(after, { happy: before.happy + 1, sad: before.sad + 1, score: before.score });

  // the event: routing key mood.MoodRecorded, {type, timestamp} beside the envelope
  const event = good.headers.get('x-consistency-token');
  const row = JSON.parse(writeSql(
    `SELECT json_build_object('key', aggregate_type || '.' || event_type, 'payload', payload)
     FROM outbox WHERE event_id = '${event}'`,
  ));
  assert.equal(row.key, 'mood.MoodRecorded');
  assert.equal(row.payload.type, 'good');
  assert.equal(row.payload.aggregateType, 'mood');
  assert.equal(row.payload.aggregateId, good.json.id);
  assert.match(row.payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(Object.keys(row.payload).sort(), ['aggregateId', 'aggregateType',
    'aggregateVersion', 'eventId', 'eventType', 'eventVersion', 'occurredAt', 'timestamp', 'type']);
  await eventually(() => writeSql(`SELECT published_at IS NOT NULL FROM outbox WHERE event_id = '${event}'`) === 't',
    10000, 'the relay to mark the event published');
});

test('MoodRecorded is also delivered to the mood_events queue', async () => {
  const before = moodQueue();
  const figures = await stats();
  assert.equal((await mood('good')).status, 202);
  assert.equal((await mood('bad')).status, 202);
  // and the read side counts them (so the next test starts from settled figures)
  await readModel('/api/moods/stats', (s) => s.happy === figures.happy + 1 && s.sad === figures.sad + 1);
  if (before.consumers > 0) return; // someone reads the queue: its depth proves nothing
  await eventually(() => moodQueue().ready >= before.ready + 2, 15000, 'two more messages in mood_events');
});

test('an invalid mood is refused with 400 naming the field, and writes nothing', async () => {
  const counts = () => writeSql("SELECT (SELECT count(*) FROM moods) || '/' || (SELECT count(*) FROM outbox)");
  const before = counts();
  const cases = [
    [{ type: 'meh' }, 'type'],
    [{ type: 'GOOD' }, 'type'],
    [{ type: 1 }, 'type'],
    [{ type: null }, 'type'],
    [{}, 'type'],
    [{ type: 'good', why: 'sunny' }, 'why'],
  ];
  for (const [body, field] of cases) {
    const r = await command('POST', '/api/moods', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, 'validation_error');
    assert.equal(r.json.error.field, field);
  }
  const notJson = await command('POST', '/api/moods', '{"type": "good"', {});
  assert.equal(notJson.status, 400);
  assert.equal(notJson.json.error.code, 'invalid_json');
  const form = await command('POST', '/api/moods', 'type=good', { 'Content-Type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415);
  assert.equal((await command('GET', '/api/moods')).status, 405);
  assert.equal(counts(), before, 'no mood row and no outbox row was written');
});

test('counting a mood notifies channel mood_stats on the read DB (what the stream listens to)', async () => {
  // a psql session that LISTENs; psql prints notifications after each statement it runs
  const psql = spawn('psql', ['-X', '-q', '-A', '-t', READ_DATABASE_URL], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  psql.stdout.on('data', (d) => { out += d; });
  psql.stderr.on('data', (d) => { out += d; });
  try {
    psql.stdin.write('LISTEN mood_stats;\nSELECT 41 + 1;\n');
    await eventually(() => out.includes('42'), 10000, 'psql to LISTEN');
    assert.ok(!out.includes('Asynchronous notification'), out);
    assert.equal((await mood('good')).status, 202);
    await eventually(() => {
      psql.stdin.write('SELECT 1;\n');
      return /Asynchronous notification "mood_stats" received/.test(out);
    }, 10000, 'a notification on mood_stats');
  } finally {
    psql.stdin.end();
  }
});

test('the stream sends the current figures first, then an update after a POST', async () => {
  const s = await openStream();
  try {
    assert.equal(s.res.status, 200);
    assert.equal(s.res.headers.get('content-type'), 'text/event-stream');
    assert.equal(s.res.headers.get('cache-control'), 'no-cache');
    let first = await s.next(() => true, 5000);
    const now = await stats();
    if (!isDeepStrictEqual(first, now)) {
      // the stream's figures may trail a commit by the notification's few milliseconds
      first = await s.next((e) => isDeepStrictEqual(e, now), 2000);
    }
    assert.deepEqual(first, now, 'the first event is the current figures');
    assert.ok(s.fields.includes('retry'), 'the stream tells the client when to reconnect');

    const t0 = Date.now();
    assert.equal((await mood('bad')).status, 202);
    const update = await s.next((e) => e.sad === first.sad + 1, 5000);
    assert.deepEqual(update, { happy: first.happy, sad: first.sad + 1, score: first.score - 1 });
    console.log(`stream update ${Date.now() - t0} ms after the POST was sent`);

    assert.equal((await mood('good')).status, 202);
    const update2 = await s.next((e) => e.happy === first.happy + 1, 5000);
    assert.equal(update2.score, first.score);
  } finally {
    s.close();
  }
});

test('the stream sends a keep-alive comment when nothing changes', async () => {
  const s = await openStream();
  try {
    await s.next(() => true, 5000);
    await s.waitFor(() => s.comments > 0, KEEPALIVE_MS + 5000);
  } finally {
    s.close();
  }
});

test('many open streams do not hold up other requests, and all get the update', async () => {
  const n = 3 * HTTP_THREADS; // more streams than the API has pool threads
  const streams = await Promise.all(Array.from({ length: n }, () => openStream()));
  try {
    const firsts = await Promise.all(streams.map((s) => s.next(() => true, 5000)));
    const base = firsts[0];

    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2
      ? query('GET', '/api/moods/stats') : query('GET', '/health'))));
    const ms = Date.now() - t0;
    assert.ok(results.every((r) => r.status === 200), 'every request was answered 200');
    assert.ok(ms < 10000, `200 requests took ${ms} ms with ${n} streams open`);
    console.log(`200 requests in ${ms} ms with ${n} streams open`);

    assert.equal((await mood('good')).status, 202);
    await Promise.all(streams.map((s) => s.next((e) => e.happy >= base.happy + 1, 5000)));
  } finally {
    streams.forEach((s) => s.close());
  }
});

test('the pages and pictures are served with their content types', async () => {
  const expect = [
    [COMMAND_URL, '/mood', 'text/html; charset=utf-8', /\/mood\/send\.js/],
    [COMMAND_URL, '/mood/send.js', 'text/javascript; charset=utf-8', /\/api\/moods/],
    [COMMAND_URL, '/mood/mood.css', 'text/css; charset=utf-8', /\.face/],
    [COMMAND_URL, '/mood/happy.svg', 'image/svg+xml', /^<svg /],
    [COMMAND_URL, '/mood/sad.svg', 'image/svg+xml', /^<svg /],
    [QUERY_URL, '/mood', 'text/html; charset=utf-8', /\/mood\/wall\.js/],
    [QUERY_URL, '/mood/wall.js', 'text/javascript; charset=utf-8', /EventSource\('\/api\/moods\/stream'\)/],
    [QUERY_URL, '/mood/mood.css', 'text/css; charset=utf-8', /\.figure/],
    [QUERY_URL, '/mood/happy.svg', 'image/svg+xml', /^<svg /],
    [QUERY_URL, '/mood/sad.svg', 'image/svg+xml', /^<svg /],
  ];
  for (const [base, path, type, body] of expect) {
    const r = await fetch(base + path);
    const text = await r.text();
    assert.equal(r.status, 200, `${base}${path}`);
    assert.equal(r.headers.get('content-type'), type, `${base}${path}`);
    assert.match(text, body, `${base}${path}`);
  }
  const page = await fetch(`${QUERY_URL}/mood`);
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  assert.equal((await fetch(`${COMMAND_URL}/mood/wall.js`)).status, 404, 'each API serves its own page only');
  assert.equal((await fetch(`${COMMAND_URL}/mood`, { method: 'POST' })).status, 405);
});
