// Exposure (issue 11, item 9, and the mood rate limit of item 5): every JSON answer of both APIs
// carries X-Content-Type-Options: nosniff and Cache-Control: no-store; POST /api/moods is
// rate-limited per client address (429 rate_limited with Retry-After, nothing written); event
// streams and read-your-writes waits are capped per client address (429 with Retry-After).
// Each test speaks from a loopback address of its own (127.0.0.x), so that the per-address
// limits of one test never touch another test's requests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { text as readText } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { COMMAND_URL, QUERY_URL, AUTH_HEADERS, command, query, writeSql } from './lib.mjs';

const SSE_PER_IP_LIMIT = Number(process.env.SSE_PER_IP_LIMIT ?? 32);
const CONSISTENCY_PER_IP_LIMIT = Number(process.env.CONSISTENCY_PER_IP_LIMIT ?? 32);
const MOOD_RATE_BURST = Number(process.env.MOOD_RATE_BURST ?? 20);

// One request from localAddress; resolves with status, headers and body text as soon as the
// headers are in when stream is set (the response is then left open: res.destroy() ends it).
function request(base, { method = 'GET', path = '/', body, headers = {}, localAddress, stream = false }) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method, localAddress,
      agent: false,
      headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    }, (res) => {
      if (stream && res.statusCode === 200) {
        resolve({ status: res.statusCode, headers: res.headers, res });
        return;
      }
      readText(res).then((text) => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      }, reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

function assertRateLimited(r, what) {
  assert.equal(r.status, 429, `${what}: ${r.text}`);
  assert.equal(r.json?.error?.code, 'rate_limited', `${what}: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1, `${what}: Retry-After ${r.headers['retry-after']}`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['cache-control'], 'no-store');
}

test('every JSON answer of both APIs says nosniff and no-store; other answers nosniff', async () => {
  const product = await command('POST', '/api/products', { name: 'Headers', category: 'E2E', price: 1, stock: 5 });
  assert.equal(product.status, 201);
  const answers = [
    ['command /health', await command('GET', '/health')],
    ['command 201', product],
    ['command 400', await command('POST', '/api/products', { name: '' })],
    ['command 404', await command('GET', '/nowhere')],
    ['command 405', await command('GET', '/api/products')],
    ['query /health', await query('GET', '/health')],
    ['query product', await query('GET', `/api/products/${product.json.productId}`)],
    ['query list', await query('GET', '/api/products?limit=1')],
    ['query 400', await query('GET', '/api/products?limit=0')],
    ['query 404', await query('GET', '/api/orders/999999999')],
    ['query analytics', await query('GET', '/api/analytics/orders')],
  ];
  for (const [what, r] of answers) {
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, what);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', what);
    assert.equal(r.headers.get('cache-control'), 'no-store', what);
  }
  for (const [what, r] of [['command /metrics', await command('GET', '/metrics')],
    ['query /mood', await query('GET', '/mood')]]) {
    assert.equal(r.status, 200, what);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', what);
  }
});

test('POST /api/moods is rate-limited per client address: 429 rate_limited, Retry-After, nothing written', async () => {
  const n = MOOD_RATE_BURST * 4;
  const moodsBefore = Number(writeSql('SELECT count(*) FROM moods'));
  const results = await Promise.all(Array.from({ length: n }, () =>
    request(COMMAND_URL, { method: 'POST', path: '/api/moods', body: { type: 'good' }, localAddress: '127.0.0.5' })));
  const accepted = results.filter((r) => r.status === 202);
  const refused = results.filter((r) => r.status === 429);
  assert.equal(accepted.length + refused.length, n, `only 202 and 429: ${results.map((r) => r.status)}`);
  assert.ok(accepted.length >= MOOD_RATE_BURST && accepted.length < n, `${accepted.length} of ${n} accepted`);
  for (const r of refused) {
    assertRateLimited(r, 'refused mood');
    assert.equal(r.headers['x-consistency-token'], undefined, 'a refused mood wrote no event');
  }
  // a refused mood wrote nothing: exactly the accepted ones are in the write DB
  assert.equal(Number(writeSql('SELECT count(*) FROM moods')) - moodsBefore, accepted.length);
  // another address is not affected
  const other = await request(COMMAND_URL, { method: 'POST', path: '/api/moods', body: { type: 'bad' }, localAddress: '127.0.0.6' });
  assert.equal(other.status, 202, other.text);
  // and the limit is on moods only: a command from the limited address still runs
  const todo = await request(COMMAND_URL, { method: 'POST', path: '/api/todos', body: { title: 'not limited' },
    headers: AUTH_HEADERS, localAddress: '127.0.0.5' });
  assert.equal(todo.status, 201, todo.text);
});

test('event streams are capped per client address: 429 rate_limited with Retry-After', async () => {
  const open = [];
  try {
    for (let i = 0; i < SSE_PER_IP_LIMIT; i++) {
      const r = await request(QUERY_URL, { path: '/api/moods/stream', localAddress: '127.0.0.7', stream: true });
      assert.equal(r.status, 200, `stream ${i + 1}`);
      open.push(r.res);
    }
    const over = await request(QUERY_URL, { path: '/api/moods/stream', localAddress: '127.0.0.7', stream: true });
    assertRateLimited(over, `stream ${SSE_PER_IP_LIMIT + 1}`);
    const other = await request(QUERY_URL, { path: '/api/moods/stream', localAddress: '127.0.0.8', stream: true });
    assert.equal(other.status, 200, 'another address gets its stream');
    open.push(other.res);
    // once one stream is closed, the address may open one again
    open.shift().destroy();
    let again;
    for (let i = 0; i < 50; i++) {
      again = await request(QUERY_URL, { path: '/api/moods/stream', localAddress: '127.0.0.7', stream: true });
      if (again.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(again.status, 200, 'a stream again after one closed');
    open.push(again.res);
  } finally {
    for (const res of open) res.destroy();
  }
});

test('read-your-writes waits are capped per client address: 429 rate_limited with Retry-After', async () => {
  const waits = Array.from({ length: CONSISTENCY_PER_IP_LIMIT }, () =>
    request(QUERY_URL, { path: '/api/products?limit=1', headers: { 'X-Consistency-Token': randomUUID() }, localAddress: '127.0.0.9' }));
  // let them park (each does one check first)
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  const over = await request(QUERY_URL, { path: '/api/products?limit=1', headers: { 'X-Consistency-Token': randomUUID() }, localAddress: '127.0.0.9' });
  assertRateLimited(over, 'one wait too many');
  assert.ok(Date.now() - t0 < 2000, 'refused at once, not after waiting');
  // another address may still wait (and is answered when its event is applied, or 504)
  const other = await request(QUERY_URL, { path: '/api/products?limit=1', headers: { 'X-Consistency-Token': randomUUID() }, localAddress: '127.0.0.10' });
  assert.equal(other.status, 504, other.text);
  for (const r of await Promise.all(waits)) assert.equal(r.status, 504, r.text);
});

// A command API of this test's own (as scripts/services.sh starts it), with settings of its own.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN_DIR = process.env.BIN_DIR ?? path.join(REPO_ROOT, 'build/asan/bin');
const own = [];
after(() => {
  for (const c of own) if (c.exitCode === null) c.kill('SIGKILL');
});

// softNofile: start it with that soft open-file limit (through sh's ulimit).
async function ownCommandApi(env, { softNofile } = {}) {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = probe.address().port;
  probe.close();
  const logFile = path.join(process.env.STATE_DIR ? path.join(process.env.STATE_DIR, 'logs') : os.tmpdir(),
    `command-api-exposure-${port}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'a');
  const bin = path.join(BIN_DIR, 'command-api');
  const [cmd, args] = softNofile ? ['sh', ['-c', `ulimit -Sn ${softNofile} && exec "$0"`, bin]] : [bin, []];
  const child = spawn(cmd, args, {
    env: { ...process.env, COMMAND_SERVICE_PORT: String(port), HTTP_THREADS: '2', COMMAND_HTTP_THREADS: '2', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  own.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    assert.equal(child.exitCode, null, `command-api exited during start-up, see ${logFile}`);
    try {
      if ((await request(base, { path: '/health' })).status === 200) return { base, child, logFile };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`command-api did not answer, see ${logFile}`);
}

test('behind a trusted proxy the rate limit counts the client it names; anyone else\'s X-Forwarded-For is ignored', async () => {
  const api = await ownCommandApi({ MOOD_RATE_PER_S: '1', MOOD_RATE_BURST: '2', HTTP_TRUSTED_PROXIES: '127.0.0.20, 10.0.0.0/8' });
  try {
    const mood = (localAddress, xff) => request(api.base, { method: 'POST', path: '/api/moods', body: { type: 'good' },
      localAddress, headers: xff ? { 'X-Forwarded-For': xff } : {} });
    // through the proxy: each client has its own bucket; only the entry the proxy appended counts
    const a = [await mood('127.0.0.20', '198.51.100.1'), await mood('127.0.0.20', '198.51.100.1'),
      await mood('127.0.0.20', '203.0.113.9, 198.51.100.1')];
    assert.deepEqual(a.map((r) => r.status), [202, 202, 429]);
    assertRateLimited(a[2], 'third mood of one client behind the proxy');
    assert.equal((await mood('127.0.0.20', '198.51.100.2')).status, 202, 'another client behind the proxy');
    // not a trusted proxy: its X-Forwarded-For is a lie it cannot use to dodge the limit
    const b = [await mood('127.0.0.21', '192.0.2.1'), await mood('127.0.0.21', '192.0.2.2'),
      await mood('127.0.0.21', '192.0.2.3')];
    assert.deepEqual(b.map((r) => r.status), [202, 202, 429]);
  } finally {
    api.child.kill('SIGTERM');
    await once(api.child, 'exit');
  }
  assert.equal(api.child.exitCode, 0, `command-api stopped cleanly, see ${api.logFile}`);
});

test('each API raises its open-file limit to the hard limit at start, and logs it', async () => {
  const hard = Number(fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+\d+\s+(\d+)/m)[1]);
  const soft = Math.min(256, hard);
  const api = await ownCommandApi({ LOG_LEVEL: 'info' }, { softNofile: soft });
  try {
    const limits = fs.readFileSync(`/proc/${api.child.pid}/limits`, 'utf8');
    const [, s1, h1] = limits.match(/^Max open files\s+(\d+)\s+(\d+)/m);
    assert.equal(Number(h1), hard);
    assert.equal(Number(s1), hard, `soft limit ${s1}, hard ${h1}: not raised`);
    const log = fs.readFileSync(api.logFile, 'utf8');
    assert.match(log, new RegExp(`msg="open-file limit" soft=${hard} hard=${hard} was=${soft}`));
  } finally {
    api.child.kill('SIGTERM');
    await once(api.child, 'exit');
  }
});
