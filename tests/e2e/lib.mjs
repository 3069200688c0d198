// Shared helpers for the end-to-end tests: HTTP calls to the two APIs, SQL through psql, and
// bounded waiting for the eventually consistent read side.
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import net from 'node:net';
import { checkAnswer } from './openapi.mjs';

export const COMMAND_URL = process.env.COMMAND_URL ?? 'http://127.0.0.1:8080';
export const QUERY_URL = process.env.QUERY_URL ?? 'http://127.0.0.1:8081';
export const DATABASE_URL = process.env.DATABASE_URL;
export const READ_DATABASE_URL = process.env.READ_DATABASE_URL;
// The command API's bearer token (COMMAND_API_TOKEN, from .env.example through scripts/env.sh);
// command() sends it unless the caller passes its own Authorization (null: none at all).
export const COMMAND_API_TOKEN = process.env.COMMAND_API_TOKEN ?? '';
export const AUTH_HEADERS = COMMAND_API_TOKEN ? { Authorization: `Bearer ${COMMAND_API_TOKEN}` } : {};

// The stack's queues, as `scripts/rabbit.sh queues` lists them (name, ready, consumers; tab
// separated), or scripts/rabbit-cluster.sh's on a cluster stack (TEST_STACK=cluster).
export function brokerQueues() {
  const script = process.env.TEST_STACK === 'cluster' ? 'rabbit-cluster.sh' : 'rabbit.sh';
  return execFileSync(new URL(`../../scripts/${script}`, import.meta.url).pathname, ['queues'],
    { encoding: 'utf8' });
}

// One HTTP call. body: an object (sent as JSON), a string (sent as is) or undefined. A header
// whose value is null or undefined is not sent.
export async function call(method, url, body, headers = {}) {
  const init = {
    method,
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined && v !== null)),
  };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!Object.keys(init.headers).some((h) => h.toLowerCase() === 'content-type')) {
      init.headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(url, init);
  const text = await res.text();
  conformsToContract(method, url, res, text);
  let json;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// Which API answers at an origin (scheme://host:port); tests that start a service of their own
// register it, so its answers are checked against the contract too.
const services = new Map([[new URL(COMMAND_URL).origin, 'command'], [new URL(QUERY_URL).origin, 'query']]);
export function registerService(origin, service) {
  services.set(new URL(origin).origin, service);
}

// Every answer of either API must match docs/openapi.yaml (status listed, media type, body
// schema): a mismatch fails the test that made the call.
function conformsToContract(method, url, res, text) {
  const u = new URL(url);
  const service = services.get(u.origin);
  if (!service) return;
  const problems = checkAnswer(service, method, u.pathname, res.status, res.headers, text);
  if (problems.length) {
    throw new Error(`answer outside the contract (docs/openapi.yaml): ${method} ${u.pathname}: ${problems.join('; ')}`);
  }
}

export const command = (method, path, body, headers = {}) =>
  call(method, COMMAND_URL + path, body, { ...AUTH_HEADERS, ...headers });
export const query = (method, path, body, headers) => call(method, QUERY_URL + path, body, headers);

// Runs SQL through psql and returns the first column of the first row as text ('' if none).
export function sql(url, statement) {
  assert.ok(url, 'database URL must be set');
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url, '-c', statement], {
    encoding: 'utf8',
  }).trim();
}
export const writeSql = (s) => sql(DATABASE_URL, s);
export const readSql = (s) => sql(READ_DATABASE_URL, s);

// Polls fn until it returns a truthy value or timeoutMs passes; returns the value or throws.
export async function eventually(fn, timeoutMs = 10000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last}`);
}

// Waits until the query API returns 200 for path, and returns the parsed body.
export async function readModel(path, predicate = () => true, timeoutMs = 10000) {
  return eventually(async () => {
    const r = await query('GET', path);
    return r.status === 200 && predicate(r.json) ? r.json : false;
  }, timeoutMs, `GET ${path}`);
}

let seq = 0;
// Creates a product through the command API and returns its id.
export async function createProduct(fields = {}) {
  seq += 1;
  const body = { name: `E2E product ${process.pid}-${seq}`, category: 'Testing', price: 10, stock: 100, ...fields };
  const r = await command('POST', '/api/products', body);
  assert.equal(r.status, 201, r.text);
  return r.json.productId;
}

// Counts of what a command may write, to prove a refused command wrote nothing.
export function writeCounts() {
  return writeSql(
    "SELECT concat_ws(',', (SELECT count(*) FROM products), (SELECT count(*) FROM orders), " +
      '(SELECT count(*) FROM order_items), (SELECT count(*) FROM outbox), (SELECT sum(stock) FROM products))',
  );
}

// Asserts an error answer: status, the envelope's code and, when given, its field.
export function assertError(r, status, code, field) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

// Sends raw HTTP/1.1 requests on one connection; resolves with the raw answer once `count`
// status lines arrived.
export function rawExchange(url, requests, count, timeoutMs = 5000) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`timeout; got: ${data}`)); }, timeoutMs);
    sock.on('data', (d) => {
      data += d;
      if ((data.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= count) {
        clearTimeout(timer);
        sock.end();
        resolve(data);
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.write(requests.join(''));
  });
}
