// Slow and abusive clients (docs/reliability.md, "Bad input"). Idle connections hold no worker
// thread, so a slowloris client cannot starve the API; a connection that stops sending is
// closed after HTTP_CONNECTION_TIMEOUT_S, whether it stalled before, inside or after its headers
// or inside its body; one address may hold at most HTTP_PER_IP_CONNECTION_LIMIT connections, the
// surplus is closed at once, so it cannot take the connections other clients need.
//
// The first test runs against the shared command API with its default settings. The others
// start a command API of their own (from BIN_DIR, as scripts/services.sh does) with a short
// timeout and small limits, log it into $STATE_DIR/logs (which tests/run.sh checks for
// sanitizer reports) and stop it at the end.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as lib from './lib.mjs';

const { COMMAND_URL, writeSql } = lib;
const AUTH = lib.AUTH_HEADERS ?? {};
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN_DIR = process.env.BIN_DIR ?? path.join(REPO_ROOT, 'build/asan/bin');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const authLines = Object.entries(AUTH).map(([k, v]) => `${k}: ${v}\r\n`).join('');

// A raw TCP connection that records when the server closed it.
function connect(port, { host = '127.0.0.1', localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, localAddress });
    s.closedAt = null;
    s.received = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (s.received += d));
    s.on('close', () => (s.closedAt = Date.now()));
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// One complete request on a fresh connection from localAddress; resolves with the status line
// and how long it took, or rejects after timeoutMs.
function request(port, { method = 'GET', path: p = '/health', body = '', localAddress, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to ${method} ${p} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => {
      const head = `${method} ${p} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n${authLines}` +
        (body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '');
      s.write(`${head}\r\n${body}`);
    });
    s.on('data', (d) => (text += d));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      const status = Number((text.match(/^HTTP\/1\.1 (\d{3})/) ?? [])[1]);
      if (!status) reject(new Error(`connection closed without an answer to ${method} ${p}`));
      else resolve({ status, ms: Date.now() - t0, text });
    });
  });
}

// The three kinds of slow client: a trickled header, complete headers with a trickled body,
// and a client that connects and says nothing. Each trickle sends a little every periodMs.
async function slowloris(port, n, periodMs, opts) {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = await connect(port, opts);
    const kind = i % 3;
    if (kind === 0) s.write(`POST /api/todos HTTP/1.1\r\nHost: test\r\n${authLines}`);
    if (kind === 1) {
      s.write(`POST /api/todos HTTP/1.1\r\nHost: test\r\n${authLines}Content-Type: application/json\r\n` +
        'Content-Length: 100000\r\n\r\n{"title":"');
    }
    if (kind !== 2) {
      s.trickle = setInterval(() => {
        if (!s.destroyed) s.write(kind === 0 ? `X-Slow-${i}: x\r\n` : 'x');
      }, periodMs);
    }
    socks.push(s);
  }
  return socks;
}

function release(socks) {
  for (const s of socks) {
    clearInterval(s.trickle);
    s.destroy();
  }
}

const outboxCount = () => writeSql('SELECT count(*) FROM outbox');

// A command API of this test's own, with settings of its own.
const started = [];
async function startCommandApi(env) {
  const bin = path.join(BIN_DIR, 'command-api');
  assert.ok(fs.existsSync(bin), `${bin} not built`);
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = probe.address().port;
  probe.close();
  const logDir = process.env.STATE_DIR ? path.join(process.env.STATE_DIR, 'logs') : os.tmpdir();
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `command-api-slowclient-${port}.log`);
  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, [], {
    env: { ...process.env, COMMAND_SERVICE_PORT: String(port), HTTP_BIND_ADDRESS: '127.0.0.1', HTTP_THREADS: '2', COMMAND_HTTP_THREADS: '2',
      LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const api = { port, child, logFile, exited: null };
  child.on('exit', (code, signal) => (api.exited = { code, signal }));
  started.push(api);
  const deadline = Date.now() + 15000;
  for (;;) {
    assert.equal(api.exited, null, `command-api exited during start-up, see ${logFile}`);
    try {
      if ((await request(port, { timeoutMs: 1000 })).status === 200) break;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() < deadline, `command-api did not answer /health within 15 s, see ${logFile}`);
    await sleep(100);
  }
  return api;
}

async function stopCommandApi(api) {
  if (api.exited === null) {
    api.child.kill('SIGTERM');
    await once(api.child, 'exit');
  }
  assert.deepEqual(api.exited, { code: 0, signal: null }, `command-api stopped cleanly, see ${api.logFile}`);
  const log = fs.readFileSync(api.logFile, 'utf8');
  assert.doesNotMatch(log, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, `sanitizer report in ${api.logFile}`);
}

after(async () => {
  for (const api of started) if (api.exited === null) api.child.kill('SIGKILL');
});

test('hundreds of slow connections do not starve the shared API', async () => {
  const port = Number(new URL(COMMAND_URL).port);
  // 200 stays under the default per-address limit (HTTP_PER_IP_CONNECTION_LIMIT, 256), so all
  // of them are held: 25 times as many as there are worker threads
  const socks = await slowloris(port, 200, 250);
  try {
    await sleep(500);
    assert.equal(socks.filter((s) => s.closedAt !== null).length, 0, 'the slow connections are held');
    for (let i = 0; i < 5; i++) {
      const r = await request(port, { timeoutMs: 2000 });
      assert.equal(r.status, 200, r.text);
    }
    const before = outboxCount();
    const r = await request(port, { method: 'POST', path: '/api/todos', body: '{"title":"served among slow clients"}',
      timeoutMs: 3000 });
    assert.equal(r.status, 201, r.text);
    assert.equal(Number(outboxCount()), Number(before) + 1);
  } finally {
    release(socks);
  }
});

test('a connection that stops sending is closed after HTTP_CONNECTION_TIMEOUT_S', async () => {
  const api = await startCommandApi({ HTTP_CONNECTION_TIMEOUT_S: '2' });
  try {
    const before = outboxCount();
    const t0 = Date.now();
    const silent = await connect(api.port);
    const midHeader = await connect(api.port);
    midHeader.write('POST /api/todos HTTP/1.1\r\nHost: te');
    const afterHeader = await connect(api.port);
    afterHeader.write(`POST /api/todos HTTP/1.1\r\nHost: test\r\n${authLines}Content-Type: application/json\r\n` +
      'Content-Length: 40\r\n\r\n');
    const midBody = await connect(api.port);
    midBody.write(`POST /api/todos HTTP/1.1\r\nHost: test\r\n${authLines}Content-Type: application/json\r\n` +
      'Content-Length: 40\r\n\r\n{"title":"never fin');
    // a keep-alive connection left idle after a complete request
    const idleAfterRequest = await connect(api.port);
    idleAfterRequest.write('GET /health HTTP/1.1\r\nHost: test\r\n\r\n');
    const all = { silent, midHeader, afterHeader, midBody, idleAfterRequest };
    await sleep(1000);
    for (const [name, s] of Object.entries(all)) assert.equal(s.closedAt, null, `${name} is still open after 1 s`);
    while (Object.values(all).some((s) => s.closedAt === null) && Date.now() - t0 < 8000) await sleep(50);
    for (const [name, s] of Object.entries(all)) {
      assert.notEqual(s.closedAt, null, `${name} was closed`);
      const ms = s.closedAt - t0;
      assert.ok(ms >= 1500 && ms <= 6000, `${name} was closed after ${ms} ms, expected about 2000`);
    }
    assert.match(idleAfterRequest.received, /^HTTP\/1\.1 200/, 'the complete request was answered first');
    assert.equal(midBody.received, '', 'the unfinished request was not answered');
    assert.equal(outboxCount(), before, 'the unfinished requests wrote nothing');
    // and the server is as good as new
    assert.equal((await request(api.port, { timeoutMs: 2000 })).status, 200);
  } finally {
    await stopCommandApi(api);
  }
});

test('one address cannot take the connections others need', async () => {
  const api = await startCommandApi({ HTTP_CONNECTION_TIMEOUT_S: '30', HTTP_CONNECTION_LIMIT: '32',
    HTTP_PER_IP_CONNECTION_LIMIT: '8' });
  try {
    // 40 slow connections from 127.0.0.1: more than the whole connection limit
    const socks = await slowloris(api.port, 40, 250);
    try {
      await sleep(1000);
      const held = socks.filter((s) => s.closedAt === null).length;
      assert.ok(held <= 8, `${held} connections from one address are held, at most 8 may be`);
      assert.ok(held >= 6, `${held} connections held: the first ones are served as usual`);
      // another address still gets in, at once
      for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
        const r = await request(api.port, { localAddress, timeoutMs: 2000 });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.ms < 1000, `served in ${r.ms} ms`);
      }
      // while the abusive address itself is turned away
      await assert.rejects(request(api.port, { timeoutMs: 2000 }));
    } finally {
      release(socks);
    }
    // once it lets go, it is served again
    await sleep(200);
    assert.equal((await request(api.port, { timeoutMs: 2000 })).status, 200);
  } finally {
    await stopCommandApi(api);
  }
});

test('at the connection limit new connections wait for a free slot, then are served', async () => {
  const api = await startCommandApi({ HTTP_CONNECTION_TIMEOUT_S: '30', HTTP_CONNECTION_LIMIT: '8',
    HTTP_PER_IP_CONNECTION_LIMIT: '0' });
  try {
    const socks = await slowloris(api.port, 8, 250);
    try {
      await sleep(500);
      assert.equal(socks.filter((s) => s.closedAt !== null).length, 0, 'all 8 are held');
      const waiting = request(api.port, { timeoutMs: 5000 });
      await sleep(700);
      socks[2].destroy(); // a silent one lets go: its slot goes to the waiting request
      const r = await waiting;
      assert.equal(r.status, 200, r.text);
      assert.ok(r.ms >= 600, `answered after ${r.ms} ms: it waited for the slot`);
    } finally {
      release(socks);
    }
  } finally {
    await stopCommandApi(api);
  }
});
