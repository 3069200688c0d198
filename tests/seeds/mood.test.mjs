// The mood relay seed: the sender page at / of the sender side (the command API, host port 5001
// in compose), the wall at / of the wall side (5002, through the gateway: gateway.test.mjs),
// GET /stats on the query side, and {"type", "timestamp"} messages on the mood_events queue.
import test from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, post, get, getWhen, eventually, writeSql, brokerQueues } from './lib.mjs';

test('GET / on the command side is the mood sender page', async () => {
  const r = await get(`${COMMAND_URL}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.text, /<script src="\/mood\/send\.js"/);
  assert.equal(r.text, (await get(`${COMMAND_URL}/mood`)).text, 'the same page as /mood');
  const js = await get(`${COMMAND_URL}/mood/send.js`);
  assert.equal(js.status, 200);
  assert.match(js.text, /\/api\/moods/);
});

test('GET /stats on the query side: {"happy", "sad", "score"}, score = happy - sad, following the sender\'s moods', async () => {
  const before = (await get(`${QUERY_URL}/stats`)).json;
  assert.deepEqual(Object.keys(before), ['happy', 'sad', 'score']);
  assert.equal(before.score, before.happy - before.sad);

  // what the sender page sends (web/mood/send.js)
  const good = await post(`${COMMAND_URL}/api/moods`, { type: 'good' });
  assert.equal(good.status, 202, good.text);
  assert.equal((await post(`${COMMAND_URL}/api/moods`, { type: 'good' })).status, 202);
  assert.equal((await post(`${COMMAND_URL}/api/moods`, { type: 'bad' })).status, 202);
  const after = await getWhen(`${QUERY_URL}/stats`, (s) => s.happy >= before.happy + 2 && s.sad >= before.sad + 1);
  assert.equal(after.score, after.happy - after.sad);
  assert.deepEqual((await get(`${QUERY_URL}/api/moods/stats`)).json, (await get(`${QUERY_URL}/stats`)).json);

  // the message the relay publishes to mood_events is the outbox payload: {"type", "timestamp"}
  // beside the event envelope
  const event = good.headers.get('x-consistency-token');
  const payload = JSON.parse(writeSql(`SELECT payload FROM outbox WHERE event_id = '${event}'`));
  assert.equal(payload.type, 'good');
  assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  await eventually(() => writeSql(`SELECT published_at IS NOT NULL FROM outbox WHERE event_id = '${event}'`) === 't',
    10000, 'the relay to publish the mood');
  const queues = brokerQueues();
  assert.ok(queues.split('\n').some((l) => l.split('\t')[0] === (process.env.MOOD_QUEUE ?? 'mood_events')),
    `the mood_events queue exists:\n${queues}`);
});
