// Hostile request bodies against the real command API: each is answered with the error that
// docs/api.md documents for it (and docs/reliability.md, "Bad input", explains), and writes
// nothing. Strings full of SQL metacharacters are stored verbatim, never executed.
//
// Choices pinned down here:
// - unknown fields are refused (400 validation_error naming the field), in every body, at every
//   level; field names are case-sensitive;
// - a number JSON allows but a 64-bit integer or a double cannot hold (99999999999999999999,
//   1e400) is refused by the parser: 400 invalid_json; a representable number out of the
//   field's range: 400 validation_error naming the field; NaN and Infinity are not JSON;
// - the body limit (HTTP_MAX_BODY_BYTES) is exact and holds for chunked bodies too.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as lib from './lib.mjs';

const { command, createProduct, writeSql, readModel, COMMAND_URL } = lib;
const AUTH = lib.AUTH_HEADERS ?? {};
const MAX_BODY = Number(process.env.HTTP_MAX_BODY_BYTES || 1048576);

// Everything a command can write: row counts, and versions (which every update bumps). Every
// successful command adds an outbox row, and nothing here decreases, so an unchanged state after
// a batch of refused requests proves that none of them wrote.
function writeState() {
  return writeSql(
    "SELECT concat_ws(',', (SELECT count(*) FROM products), (SELECT count(*) FROM orders), " +
      '(SELECT count(*) FROM order_items), (SELECT count(*) FROM outbox), (SELECT sum(stock) FROM products), ' +
      '(SELECT count(*) FROM payments), (SELECT count(*) FROM inventory_adjustments), ' +
      '(SELECT count(*) FROM todos), (SELECT count(*) FROM moods), (SELECT sum(version) FROM products), ' +
      '(SELECT sum(version) FROM orders), (SELECT sum(version) FROM todos), ' +
      '(SELECT count(*) FROM todos WHERE deleted_at IS NOT NULL))',
  );
}

function assertError(r, status, code, field) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.ok(r.json.error.message.length > 0, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

// Sends a command that must be refused and proves it wrote nothing.
async function refused(method, path, body, status, code, field, headers) {
  const before = writeState();
  const r = await command(method, path, body, headers);
  assertError(r, status, code, field);
  assert.equal(writeState(), before, `${method} ${path}: a refused command wrote nothing`);
  return r;
}

// The same for many requests ([method, path, body, status, code, field, headers] each): every
// one is refused as expected, and together they wrote nothing.
async function allRefused(requests) {
  const before = writeState();
  for (const [method, path, body, status, code, field, headers] of requests) {
    const r = await command(method, path, body, headers);
    try {
      assertError(r, status, code, field);
    } catch (e) {
      e.message = `${method} ${path} ${typeof body === 'string' ? body.slice(0, 200) : ''}: ${e.message}`;
      throw e;
    }
  }
  assert.equal(writeState(), before, 'the refused commands wrote nothing');
}

// The hex of a value read back from the write DB (psql trims what it prints; hex does not).
const hexOf = (s) => Buffer.from(s, 'utf8').toString('hex');
const storedHex = (sqlText) => writeSql(`SELECT encode(convert_to((${sqlText}), 'UTF8'), 'hex')`);

let productId;
let orderId; // CREATED: every order command would succeed if its body were valid
let todoId;

before(async () => {
  productId = await createProduct({ price: 10, stock: 100000 });
  const o = await command('POST', '/api/orders', { customerId: 4242, items: [{ productId, quantity: 1 }] });
  assert.equal(o.status, 201, o.text);
  orderId = o.json.orderId;
  const t = await command('POST', '/api/todos', { title: 'hostile target' });
  assert.equal(t.status, 201, t.text);
  todoId = t.json.id;
});

// Every command that takes a body: a valid body, and the string fields in it.
function commands() {
  return [
    { m: 'POST', p: '/api/products', body: { name: 'n', category: 'c', price: 1, stock: 1 }, strings: ['name', 'category'] },
    { m: 'POST', p: '/api/orders', body: { customerId: 1, items: [{ productId, quantity: 1 }] }, strings: [] },
    { m: 'POST', p: `/api/orders/${orderId}/payments`, body: { amount: 10, method: 'card' }, strings: ['method'] },
    { m: 'POST', p: `/api/orders/${orderId}/ship`, body: {}, strings: [] },
    { m: 'POST', p: `/api/orders/${orderId}/complete`, body: {}, strings: [] },
    { m: 'POST', p: `/api/orders/${orderId}/cancel`, body: { reason: 'r' }, strings: ['reason'] },
    { m: 'POST', p: '/api/inventory', body: { productId, delta: 1, reason: 'r' }, strings: ['reason'] },
    { m: 'POST', p: '/api/todos', body: { title: 't' }, strings: ['title'] },
    { m: 'PATCH', p: `/api/todos/${todoId}`, body: { completed: true }, strings: [] },
    { m: 'DELETE', p: `/api/todos/${todoId}`, body: {}, strings: [] },
    { m: 'POST', p: '/api/moods', body: { type: 'good' }, strings: ['type'] },
  ];
}

// body as JSON text with the value of key replaced by raw, a JSON fragment (or raw bytes).
function withRaw(body, key, raw) {
  const marker = '"@@RAW@@"';
  const text = JSON.stringify({ ...body, [key]: '@@RAW@@' });
  const [head, tail] = text.split(marker);
  return Buffer.concat([Buffer.from(head), Buffer.from(raw), Buffer.from(tail)]);
}

test('unknown fields are refused in every body, naming the field', async () => {
  await allRefused(commands().map((c) => [c.m, c.p, { ...c.body, colour: 'red' }, 400, 'validation_error', 'colour']));
  // nested, case-sensitive, and names that mean something elsewhere
  await refused('POST', '/api/orders', { customerId: 1, items: [{ productId, quantity: 1, discount: 5 }] },
    400, 'validation_error', 'items[0].discount');
  await refused('POST', '/api/todos', { Title: 'x' }, 400, 'validation_error', 'Title');
  await refused('POST', '/api/todos', JSON.parse('{"title":"x","__proto__":{"admin":true}}'), 400,
    'validation_error', '__proto__');
  await refused('POST', '/api/products', { name: 'n', category: 'c', price: 1, stock: 1, id: 1 }, 400,
    'validation_error', 'id');
});

test('invalid UTF-8 in any string field is invalid_json', async () => {
  const bad = [
    [0xff], // never valid
    [0x80], // a lone continuation byte
    [0xc0, 0xaf], // overlong "/"
    [0xed, 0xa0, 0x80], // a UTF-16 surrogate, encoded
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xe2, 0x82], // truncated
  ];
  const requests = [];
  for (const c of commands()) {
    for (const key of c.strings) {
      for (const bytes of bad) {
        const raw = Buffer.concat([Buffer.from('"ok'), Buffer.from(bytes), Buffer.from('"')]);
        requests.push([c.m, c.p, new Uint8Array(withRaw(c.body, key, raw)), 400, 'invalid_json']);
      }
      // a lone surrogate written as an escape is not a character either
      requests.push([c.m, c.p, new Uint8Array(withRaw(c.body, key, '"\\ud800"')), 400, 'invalid_json']);
    }
  }
  assert.ok(requests.length >= 49);
  await allRefused(requests);
  // in a key, too
  await refused('POST', '/api/todos', new Uint8Array(Buffer.from('{"t\xff":1}', 'latin1')), 400, 'invalid_json');
});

test('NUL characters in strings are invalid_json', async () => {
  const requests = [];
  for (const c of commands()) {
    for (const key of c.strings) {
      requests.push([c.m, c.p, new Uint8Array(withRaw(c.body, key, '"a\\u0000b"')), 400, 'invalid_json']);
      requests.push([c.m, c.p, new Uint8Array(withRaw(c.body, key, Buffer.from([0x22, 0x61, 0x00, 0x62, 0x22]))),
        400, 'invalid_json']);
    }
  }
  await allRefused(requests);
  // after the body
  await refused('POST', '/api/todos', new Uint8Array(Buffer.from('{"title":"x"}\u0000', 'latin1')), 400, 'invalid_json');
});

test('numbers out of range', async () => {
  const order = (item, customerId = 1) => ({ customerId, items: [{ productId, quantity: 1, ...item }] });
  const product = (f) => ({ name: 'n', category: 'c', price: 1, stock: 1, ...f });
  const raw = (body, key, text) => new Uint8Array(withRaw(body, key, text));
  const pay = `/api/orders/${orderId}/payments`;
  const bad = (path, body, field) => ['POST', path, body, 400, 'validation_error', field];
  const unreadable = (path, body) => ['POST', path, body, 400, 'invalid_json'];
  await allRefused([
    // beyond what the parser can hold (a 64-bit integer, a double): not a number it can read
    unreadable('/api/orders', raw(order({}), 'customerId', '99999999999999999999')),
    unreadable('/api/orders', raw(order({}), 'customerId', '-9223372036854775809')),
    unreadable('/api/products', raw(product({}), 'price', '1e400')),
    unreadable('/api/products', raw(product({}), 'stock', '-1e400')),
    // NaN-like: not JSON; as a string: not a number
    ...['NaN', 'Infinity', '-Infinity', 'nan', '0x10', '+1', '.5', '1.', '01'].map((text) =>
      unreadable('/api/products', raw(product({}), 'price', text))),
    bad('/api/products', product({ price: 'NaN' }), 'price'),
    bad(pay, { amount: 'Infinity', method: 'card' }, 'amount'),
    // representable, but out of the field's range: validation_error naming it
    bad('/api/orders', order({}, 9007199254740992), 'customerId'),
    bad('/api/orders', order({}, 0), 'customerId'),
    bad('/api/orders', order({}, -1), 'customerId'),
    bad('/api/orders', raw(order({}), 'customerId', '9223372036854775807'), 'customerId'),
    bad('/api/orders', raw(order({}), 'customerId', '1.0'), 'customerId'),
    bad('/api/orders', raw(order({}), 'customerId', '1e0'), 'customerId'),
    bad('/api/orders', order({ quantity: 1000001 }), 'items[0].quantity'),
    bad('/api/orders', order({ quantity: 0 }), 'items[0].quantity'),
    bad('/api/orders', order({ quantity: -5 }), 'items[0].quantity'),
    bad('/api/orders', order({ quantity: 1.5 }), 'items[0].quantity'),
    bad('/api/products', product({ stock: 1000000001 }), 'stock'),
    bad('/api/products', product({ stock: -1 }), 'stock'),
    bad('/api/inventory', { productId, delta: 1000000001 }, 'delta'),
    bad('/api/inventory', { productId, delta: -1000000001 }, 'delta'),
    bad('/api/inventory', { productId, delta: 0 }, 'delta'),
    // money: negative, too large, more than 2 fraction digits (checked exactly, as numeric)
    bad('/api/products', product({ price: -0.01 }), 'price'),
    bad('/api/products', raw(product({}), 'price', '1000000000000'), 'price'),
    bad('/api/products', raw(product({}), 'price', '99999999999999999999.99'), 'price'),
    bad('/api/products', raw(product({}), 'price', '1e12'), 'price'),
    bad('/api/products', raw(product({}), 'price', '10.001'), 'price'),
    bad('/api/products', raw(product({}), 'price', '0.1234567890123456789'), 'price'),
    // 1e-400 underflows a double to 0, but the database reads the text exactly: 400 digits
    bad('/api/products', raw(product({}), 'price', '1e-400'), 'price'),
    bad('/api/orders', raw(order({}), 'items', `[{"productId":${productId},"quantity":1,"price":9.999}]`),
      'items[0].price'),
    bad(pay, new Uint8Array(Buffer.from('{"amount":10.001,"method":"card"}')), 'amount'),
    bad(pay, { amount: -10, method: 'card' }, 'amount'),
  ]);
  // and exact money that is fine stays exact: 0.1e1 is 1
  const ok = await command('POST', '/api/products', new Uint8Array(withRaw(product({}), 'price', '0.1e1')));
  assert.equal(ok.status, 201, ok.text);
  assert.equal(writeSql(`SELECT price FROM products WHERE id = ${ok.json.productId}`), '1.00');
});

test('10,000-deep nesting is invalid_json, wherever it is', async () => {
  const deep = (open, close, inner = '1') => open.repeat(10000) + inner + close.repeat(10000);
  await refused('POST', '/api/products', new Uint8Array(withRaw({ name: 'n', category: 'c', price: 1, stock: 1 }, 'name',
    deep('[', ']'))), 400, 'invalid_json');
  await refused('POST', '/api/orders', deep('{"a":', '}'), 400, 'invalid_json');
  await refused('POST', '/api/todos', deep('[', ']'), 400, 'invalid_json');
  // 100 levels parse, and are refused for what they are
  await refused('POST', '/api/todos', { title: JSON.parse('['.repeat(100) + ']'.repeat(100)) }, 400, 'validation_error',
    'title');
});

test('duplicate keys are invalid_json, at any level and however they are spelled', async () => {
  await refused('POST', '/api/todos', '{"title":"a","title":"b"}', 400, 'invalid_json');
  await refused('POST', '/api/todos', '{"title":"a","t\\u0069tle":"b"}', 400, 'invalid_json');
  await refused('POST', '/api/orders',
    `{"customerId":1,"items":[{"productId":${productId},"productId":${productId},"quantity":1}]}`, 400, 'invalid_json');
  await refused('POST', `/api/orders/${orderId}/payments`, '{"amount":10,"method":"card","amount":1}', 400, 'invalid_json');
});

test('a body over the limit is 413, also without a Content-Length', async () => {
  // exactly at the limit: read and judged (a name far too long); one byte more: 413
  const head = '{"title":"';
  const atLimit = head + 'x'.repeat(MAX_BODY - head.length - 2) + '"}';
  assert.equal(Buffer.byteLength(atLimit), MAX_BODY);
  await refused('POST', '/api/todos', atLimit, 400, 'validation_error', 'title');
  const overLimit = head + 'x'.repeat(MAX_BODY - head.length - 1) + '"}';
  await refused('POST', '/api/todos', overLimit, 413, 'payload_too_large');
  // chunked: the server counts what arrives
  const before = writeState();
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent === 0) controller.enqueue(new Uint8Array(Buffer.from(head)));
      if (sent > 2 * MAX_BODY) {
        controller.enqueue(new Uint8Array(Buffer.from('"}')));
        controller.close();
        return;
      }
      controller.enqueue(new Uint8Array(chunk));
      sent += chunk.length;
    },
  });
  const res = await fetch(`${COMMAND_URL}/api/todos`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...AUTH },
    body: stream,
    duplex: 'half',
  });
  const text = await res.text();
  assert.equal(res.status, 413, text);
  assert.equal(JSON.parse(text).error.code, 'payload_too_large');
  assert.equal(writeState(), before);
});

test('a million-item order is 413; 101 items are refused, 100 are fine', async () => {
  const item = `{"productId":${productId},"quantity":1}`;
  const million = `{"customerId":1,"items":[${Array(1000000).fill(item).join(',')}]}`;
  assert.ok(million.length > MAX_BODY);
  await refused('POST', '/api/orders', million, 413, 'payload_too_large');
  const items = (n) => Array.from({ length: n }, () => ({ productId, quantity: 1 }));
  await refused('POST', '/api/orders', { customerId: 1, items: items(101) }, 400, 'validation_error', 'items');
  await refused('POST', '/api/orders', { customerId: 1, items: [] }, 400, 'validation_error', 'items');
  const r = await command('POST', '/api/orders', { customerId: 1, items: items(100) });
  assert.equal(r.status, 201, r.text);
  assert.equal(writeSql(`SELECT count(*) FROM order_items WHERE order_id = ${r.json.orderId}`), '100');
});

// A request with no Content-Type at all (fetch always sends one with a body).
function postWithoutContentType(path, body) {
  return new Promise((resolve, reject) => {
    const url = new URL(COMMAND_URL + path);
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
        headers: { 'Content-Length': Buffer.byteLength(body), ...AUTH } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: new Headers(res.headers), text,
          json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('a body of another content type is 415, for every command', async () => {
  const requests = [];
  for (const c of commands()) {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp',
      'application/json-patch+json', 'multipart/form-data; boundary=x', 'text/json']) {
      requests.push([c.m, c.p, JSON.stringify(c.body), 415, 'unsupported_media_type', undefined, { 'Content-Type': type }]);
    }
  }
  await allRefused(requests);
  const before = writeState();
  const r = await postWithoutContentType('/api/todos', '{"title":"no content type"}');
  assertError(r, 415, 'unsupported_media_type');
  assert.equal(writeState(), before);
  // the JSON type is matched whatever its case, with parameters
  const ok = await command('POST', '/api/todos', '{"title":"typed"}', { 'Content-Type': 'Application/JSON; charset=utf-8' });
  assert.equal(ok.status, 201, ok.text);
});

const SQL_METACHARACTERS = [
  "Robert'); DROP TABLE products;--",
  "' OR '1'='1",
  '" OR ""="',
  "\\'; SELECT pg_sleep(10);--",
  '$$; DELETE FROM outbox; $$',
  '%s %n %x %%',
  '*/ /* -- ; `',
  "E'\\x00' \\\\ \\n",
  '\'; COPY (SELECT 1) TO PROGRAM \'id\';--',
  ' leading and trailing spaces ',
  'line\nbreak\ttab',
  'ünïcödé “quotes” ‘single’ 🚀',
];

test('SQL metacharacters in every string field are stored verbatim, never executed', async () => {
  const tables = writeSql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
  for (const s of SQL_METACHARACTERS) {
    const short = s.slice(0, 50);
    // product: name and category, in the write DB and in the read model
    const p = await command('POST', '/api/products', { name: s, category: short, price: 10, stock: 5 });
    assert.equal(p.status, 201, p.text);
    assert.equal(storedHex(`SELECT name FROM products WHERE id = ${p.json.productId}`), hexOf(s));
    assert.equal(storedHex(`SELECT category FROM products WHERE id = ${p.json.productId}`), hexOf(short));
    const view = await readModel(`/api/products/${p.json.productId}`);
    assert.equal(view.name, s);
    assert.equal(view.category, short);
    // payment method and cancel reason on an order of it
    const o = await command('POST', '/api/orders', { customerId: 77, items: [{ productId: p.json.productId, quantity: 1 }] });
    assert.equal(o.status, 201, o.text);
    const pay = await command('POST', `/api/orders/${o.json.orderId}/payments`, { amount: 10, method: short });
    assert.equal(pay.status, 201, pay.text);
    assert.equal(storedHex(`SELECT method FROM payments WHERE order_id = ${o.json.orderId}`), hexOf(short));
    const cancel = await command('POST', `/api/orders/${o.json.orderId}/cancel`, { reason: s });
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal(storedHex(`SELECT payload->>'reason' FROM outbox WHERE aggregate_type = 'order'
      AND aggregate_id = ${o.json.orderId} AND event_type = 'OrderCancelled'`), hexOf(s));
    const orderView = await readModel(`/api/orders/${o.json.orderId}`, (v) => v.status === 'CANCELLED');
    assert.equal(orderView.payment.method, short);
    // inventory reason
    const inv = await command('POST', '/api/inventory', { productId: p.json.productId, delta: 3, reason: s });
    assert.equal(inv.status, 201, inv.text);
    assert.equal(storedHex(`SELECT reason FROM inventory_adjustments WHERE id = ${inv.json.adjustmentId}`), hexOf(s));
    // todo title
    const t = await command('POST', '/api/todos', { title: s });
    assert.equal(t.status, 201, t.text);
    assert.equal(storedHex(`SELECT title FROM todos WHERE id = ${t.json.id}`), hexOf(s));
    await readModel('/api/todos', (list) => list.some((x) => x.id === t.json.id && x.title === s));
    // the mood's type is one of two words: anything else is refused, not stored
    await refused('POST', '/api/moods', { type: s }, 400, 'validation_error', 'type');
  }
  assert.equal(writeSql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), tables, 'no table was dropped');
});
