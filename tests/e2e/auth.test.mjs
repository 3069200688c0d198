// The command API's authentication (docs/api.md#authentication), end to end:
// - the shared services run as `make up` runs them: bound to loopback, COMMAND_API_TOKEN unset,
//   so a command needs no token (the seeds' curl commands carry none);
// - with COMMAND_API_TOKEN set (a command API of this file's own, on a free port) every command
//   but POST /api/moods needs "Authorization: Bearer <token>" (401 otherwise); GET pages, /health
//   and POST /api/moods stay public; the token never reaches the logs;
// - bound beyond loopback without a token the command API refuses to start (unless
//   COMMAND_API_AUTH=off, checked by tests/unit/test_auth.c without binding a public address).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import {
  COMMAND_URL, QUERY_URL, call, createProduct, writeCounts, assertError, rawExchange, registerService,
} from './lib.mjs';

const BIN = process.env.BIN_DIR ? path.join(process.env.BIN_DIR, 'command-api') : null;
const LOG_DIR = process.env.STATE_DIR ? path.join(process.env.STATE_DIR, 'logs') : null;
const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TOKEN = `e2e-token-${randomUUID()}`;
const skip = !(BIN && LOG_DIR && existsSync(BIN)) && 'needs BIN_DIR and STATE_DIR (tests/run.sh)';
const LOG = LOG_DIR && path.join(LOG_DIR, 'command-api-auth.log');

let child;
let URL_AUTH;

// Starts build/.../command-api with env on top of this process's environment; resolves with
// the child once /health answers, or rejects with its exit.
function startCommandApi(env, log) {
  mkdirSync(LOG_DIR, { recursive: true });
  const fd = openSync(log, 'a');
  const p = spawn(BIN, [], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return p;
}

function freePort() {
  return Number(execFileSync(path.join(REPO_ROOT, 'scripts/free-port.sh'), ['1'], { encoding: 'utf8' }).trim());
}

before(async () => {
  if (skip) return;
  const port = freePort();
  URL_AUTH = `http://127.0.0.1:${port}`;
  registerService(URL_AUTH, 'command');
  child = startCommandApi({ COMMAND_SERVICE_PORT: String(port), COMMAND_API_TOKEN: TOKEN, COMMAND_API_AUTH: 'auto' }, LOG);
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the command API with a token exited ${child.exitCode}`);
    try {
      if ((await call('GET', `${URL_AUTH}/health`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('the command API with a token did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
});

// A command on the command API that needs a token; headers override the right one.
const authed = (method, p, body, headers = {}) =>
  call(method, URL_AUTH + p, body, { Authorization: `Bearer ${TOKEN}`, ...headers });

test('as make up runs it (loopback, no token set) a command needs no token', async () => {
  const r = await call('POST', `${COMMAND_URL}/api/todos`, { title: 'no token needed' });
  assert.equal(r.status, 201, r.text);
});

test('commands without the right bearer token are 401 with WWW-Authenticate and write nothing', { skip }, async () => {
  const todo = await authed('POST', '/api/todos', { title: 'auth target' });
  assert.equal(todo.status, 201, todo.text);
  const productId = await createProduct();
  const o = await authed('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 1 }] });
  assert.equal(o.status, 201, o.text);
  const before = writeCounts();
  const routes = [
    ['POST', '/api/products', { name: 'A', category: 'B', price: 1, stock: 1 }],
    ['POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 1 }] }],
    ['POST', `/api/orders/${o.json.orderId}/payments`, { amount: 10, method: 'card' }],
    ['POST', `/api/orders/${o.json.orderId}/ship`, undefined],
    ['POST', `/api/orders/${o.json.orderId}/complete`, undefined],
    ['POST', `/api/orders/${o.json.orderId}/cancel`, undefined],
    ['POST', '/api/inventory', { productId, delta: 1 }],
    ['POST', '/api/todos', { title: 'x' }],
    ['PATCH', `/api/todos/${todo.json.id}`, { completed: true }],
    ['DELETE', `/api/todos/${todo.json.id}`, undefined],
  ];
  const wrong = [null, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`,
    `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`, TOKEN, 'Bearer'];
  for (const [method, p, body] of routes) {
    for (const authorization of wrong) {
      const r = await authed(method, p, body, { Authorization: authorization });
      assertError(r, 401, 'unauthorized');
      assert.equal(r.headers.get('www-authenticate'), 'Bearer', `${method} ${p}`);
      assert.equal(r.text.includes(TOKEN), false, 'the answer does not echo the token');
    }
  }
  // a refused body is not read into memory: over the size limit it is still 401, not 413
  const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), category: 'c', price: 1, stock: 1 });
  assertError(await authed('POST', '/api/products', big, { Authorization: null }), 401, 'unauthorized');
  assert.equal(writeCounts(), before, 'refused commands wrote nothing');
  // the scheme is case-insensitive
  assert.equal((await authed('POST', '/api/todos', { title: 'lower' }, { Authorization: `bearer ${TOKEN}` })).status, 201);
});

test('the public routes need no token: /health, the mood page and POST /api/moods', { skip }, async () => {
  const none = { Authorization: null };
  assert.equal((await authed('GET', '/health', undefined, none)).status, 200);
  assert.equal((await authed('GET', '/mood', undefined, none)).status, 200);
  assert.equal((await authed('GET', '/mood/send.js', undefined, none)).status, 200);
  assert.equal((await authed('POST', '/api/moods', { type: 'bad' }, none)).status, 202);
  // the query API has no token at all
  assert.equal((await call('GET', `${QUERY_URL}/api/todos`)).status, 200);
});

test('a 401 keeps the connection alive', { skip }, async () => {
  const { host } = new URL(URL_AUTH);
  const body = '{"title":"no token"}';
  const raw = await rawExchange(URL_AUTH, [
    `POST /api/todos HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `GET /health HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
  ], 2);
  assert.match(raw, /^HTTP\/1\.1 401/);
  assert.match(raw, /HTTP\/1\.1 200/);
});

test('tokens never reach the logs', { skip }, async () => {
  const bogus = `wrong-secret-${randomUUID()}`;
  assertError(await authed('POST', '/api/todos', { title: 'x' }, { Authorization: `Bearer ${bogus}` }), 401, 'unauthorized');
  assert.equal((await authed('POST', '/api/todos', { title: 'logged?' })).status, 201);
  const text = readFileSync(LOG, 'utf8');
  assert.match(text, /msg="commands need a bearer token"/, 'the mode is logged at start');
  assert.match(text, /msg="request refused"/, 'the refusal is logged');
  assert.equal(text.includes(bogus), false, 'a presented token is not logged');
  assert.equal(text.includes(TOKEN), false, 'the configured token is not logged');
});

test('bound beyond loopback without COMMAND_API_TOKEN the command API refuses to start', { skip }, async () => {
  const log = path.join(LOG_DIR, 'command-api-refuse.log');
  // it refuses before it listens: nothing is ever bound to 0.0.0.0
  const p = startCommandApi({
    COMMAND_SERVICE_PORT: String(freePort()), HTTP_BIND_ADDRESS: '0.0.0.0', COMMAND_API_TOKEN: '', COMMAND_API_AUTH: 'auto',
  }, log);
  const code = await Promise.race([
    new Promise((r) => p.once('exit', (c) => r(c))),
    new Promise((r) => setTimeout(() => r('running'), 15000)),
  ]);
  if (code === 'running') p.kill('SIGKILL');
  assert.notEqual(code, 'running', 'it started instead of refusing');
  assert.notEqual(code, 0);
  assert.match(readFileSync(log, 'utf8'), /refusing to start: bound beyond loopback without COMMAND_API_TOKEN/);
});
