// Writes cqrs.postman_collection.json: every endpoint of the command API and the query API
// (docs/api.md), with tests on status codes and bodies, the error cases, and reads of the
// eventually consistent read model that retry until it shows the write.
//
// The collection is generated so that the retry logic and the error checks are written once:
// edit this file, run `node postman/build-collection.mjs`, commit both. Requests run in order and
// build on each other (ids in collection variables); every run uses fresh names, a fresh
// customer id and relative expectations, so it can run repeatedly against a stack with data.
//
// Eventual consistency: a read marked `eventually` is repeated (setNextRequest on itself, 250 ms
// apart, at most 40 times = 10 s) until its `until` condition holds; only the last attempt
// records assertions, so retries do not count as failures.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'cqrs.postman_collection.json');
const RETRY_DELAY_MS = 250;
const RETRY_MAX_ATTEMPTS = 40;

const C = '{{commandUrl}}';
const Q = '{{queryUrl}}';

// --- script snippets ------------------------------------------------------------------------------

const lines = (s) => s.replace(/^\n/, '').replace(/\n\s*$/, '').split('\n');

// Parsed body (undefined if not JSON), available to every test script as `json`.
const PRELUDE = `const json = (() => { try { return pm.response.json(); } catch (e) { return undefined; } })();`;

const status = (code) => `pm.test('status is ${code}', () => pm.response.to.have.status(${code}));`;

const isJson = `pm.test('answers JSON', () => pm.expect(pm.response.headers.get('Content-Type') || '').to.include('application/json'));`;

const token = `pm.test('X-Consistency-Token names the event(s) written', () => {
  pm.expect(pm.response.headers.get('X-Consistency-Token') || '').to.match(/^[0-9a-f-]{36}(,[0-9a-f-]{36})*$/);
});`;

// An error answer: status, {"error": {"code", "message"[, "field"]}}.
function error(code, errCode, field) {
  let s = `${status(code)}
${isJson}
pm.test('error code is ${errCode}', () => {
  pm.expect(json, 'error body').to.be.an('object');
  pm.expect(json.error, 'error object').to.be.an('object');
  pm.expect(json.error.code).to.equal('${errCode}');
  pm.expect(json.error.message).to.be.a('string').and.not.empty;
});`;
  if (field) {
    s += `
pm.test('error names the field ${field}', () => pm.expect(json.error.field).to.equal('${field}'));`;
  }
  return s;
}

// --- items ---------------------------------------------------------------------------------------

let retryKeys = 0;

// request({name, method, url, headers, auth, body, contentType, pre, tests, eventually: {until, what}})
//   headers: {name: value}; auth: undefined (the collection's bearer token), 'none', or a token
//   body: object (sent as JSON, may hold "{{var}}" placeholders, see rawJson()) or string (as is)
//   pre / tests: script source; eventually.until: a JS expression over `json` and `pm.response`
function request({ name, description, method = 'GET', url, headers = {}, auth, body, contentType, pre = '', tests = '', eventually }) {
  const header = Object.entries(headers).map(([key, value]) => ({ key, value }));
  let bodyObj;
  if (body !== undefined) {
    const raw = typeof body === 'string' ? body : rawJson(body);
    header.push({ key: 'Content-Type', value: contentType ?? 'application/json' });
    bodyObj = { mode: 'raw', raw, options: { raw: { language: contentType ? 'text' : 'json' } } };
  }
  let preScript = pre;
  let testScript = `${PRELUDE}\n${tests}`;
  if (eventually) {
    retryKeys += 1;
    const key = `retry_${retryKeys}`;
    preScript = `// a retry of an eventually consistent read: wait a little first
if (Number(pm.collectionVariables.get('${key}') || 0) > 0) {
  setTimeout(() => {}, ${RETRY_DELAY_MS});
}
${pre}`;
    testScript = `${PRELUDE}
// Eventually consistent read: repeat this request until the read model shows the write
// (at most ${RETRY_MAX_ATTEMPTS} attempts, ${RETRY_DELAY_MS} ms apart); assertions run on the last attempt only.
const attempts = Number(pm.collectionVariables.get('${key}') || 0) + 1;
const ready = (() => {
  try {
    return Boolean(${eventually.until});
  } catch (e) {
    return false;
  }
})();
if (!ready && attempts < ${RETRY_MAX_ATTEMPTS}) {
  pm.collectionVariables.set('${key}', attempts);
  if (pm.execution && typeof pm.execution.setNextRequest === 'function') {
    pm.execution.setNextRequest(pm.info.requestName);
  } else {
    postman.setNextRequest(pm.info.requestName);
  }
} else {
  pm.collectionVariables.unset('${key}');
  pm.test('read model shows ${eventually.what.replace(/'/g, "\\'")} (attempt ' + attempts + ' of ${RETRY_MAX_ATTEMPTS})', () => {
    pm.expect(ready, 'still not visible after ' + attempts + ' attempts; last body: ' + pm.response.text().slice(0, 300)).to.be.true;
  });
${tests.replace(/^/gm, '  ')}
}`;
  }
  const event = [];
  if (preScript.trim()) {
    event.push({ listen: 'prerequest', script: { type: 'text/javascript', exec: lines(preScript) } });
  }
  event.push({ listen: 'test', script: { type: 'text/javascript', exec: lines(testScript) } });
  const item = {
    name,
    event,
    request: { method, header, url, ...(bodyObj ? { body: bodyObj } : {}) },
  };
  if (auth === 'none') {
    item.request.auth = { type: 'noauth' };
  } else if (auth !== undefined) {
    item.request.auth = { type: 'bearer', bearer: [{ key: 'token', value: auth, type: 'string' }] };
  }
  if (description) item.request.description = description;
  return item;
}

// JSON text of obj in which string values "{{name}}#" become the bare {{name}} (numbers and
// booleans from variables), other "{{name}}" stay quoted strings.
function rawJson(obj) {
  return JSON.stringify(obj, null, 2).replace(/"(\{\{[A-Za-z0-9_]+\}\})#"/g, '$1');
}
const n = (v) => `{{${v}}}#`; // a numeric variable in a body

const folder = (name, description, item) => ({ name, description, item });

// --- the collection --------------------------------------------------------------------------------

const health = folder('Health', 'GET /health on both APIs.', [
  request({
    name: 'Command API health',
    url: `${C}/health`,
    auth: 'none',
    // Fresh names and ids for this run, so that the collection can run again and again.
    pre: `
const tag = Date.now().toString(36) + Math.floor(Math.random() * 46656).toString(36);
pm.collectionVariables.set('runTag', tag);
pm.collectionVariables.set('customerId', String(1e12 + Math.floor(Math.random() * 1e12)));
pm.collectionVariables.set('strangerId', String(3e12 + Math.floor(Math.random() * 1e12)));
pm.collectionVariables.set('today', new Date().toISOString().slice(0, 10));
`,
    tests: `${status(200)}
${isJson}
pm.test('body is {"status":"ok"}', () => pm.expect(json).to.deep.equal({ status: 'ok' }));`,
  }),
  request({
    name: 'Query API health',
    url: `${Q}/health`,
    tests: `${status(200)}
${isJson}
pm.test('body is {"status":"ok"}', () => pm.expect(json).to.deep.equal({ status: 'ok' }));`,
  }),
  request({
    name: 'Analytics before the writes',
    url: `${Q}/api/analytics/orders`,
    tests: `${status(200)}
pm.test('totalOrders is a number', () => pm.expect(json.totalOrders).to.be.a('number'));
pm.collectionVariables.set('ordersBefore', String(json.totalOrders));`,
  }),
  request({
    name: 'Mood stats before the writes',
    url: `${Q}/api/moods/stats`,
    tests: `${status(200)}
${isJson}
pm.test('has happy, sad and score', () => {
  pm.expect(json).to.have.all.keys('happy', 'sad', 'score');
  pm.expect(json.score).to.equal(json.happy - json.sad);
});
pm.collectionVariables.set('happyBefore', String(json.happy));
pm.collectionVariables.set('sadBefore', String(json.sad));`,
  }),
]);

const productTests = (id, expected) => `${status(200)}
pm.test('product fields as written', () => {
  pm.expect(json).to.include(${expected});
  pm.expect(json.productId).to.equal(Number(pm.collectionVariables.get('${id}')));
});`;

const products = folder('Products', 'POST /api/products (command), GET /api/products[/{id}] (query).', [
  request({
    name: 'Create product',
    method: 'POST',
    url: `${C}/api/products`,
    body: { name: 'Laptop {{runTag}}', category: 'PM-A-{{runTag}}', price: 1999.99, stock: 10, lowStockThreshold: 5 },
    tests: `${status(201)}
${isJson}
${token}
pm.test('answers {"productId": n}', () => {
  pm.expect(Object.keys(json)).to.deep.equal(['productId']);
  pm.expect(json.productId).to.be.a('number').and.above(0);
});
pm.collectionVariables.set('productId', String(json.productId));
pm.collectionVariables.set('productToken', pm.response.headers.get('X-Consistency-Token'));`,
  }),
  request({
    name: 'Read product with its X-Consistency-Token',
    description: 'Read-your-writes: the query API answers once the read model has the events named by the token (or 504 after CONSISTENCY_WAIT_MS), so no retry is needed.',
    url: `${Q}/api/products/{{productId}}`,
    headers: { 'X-Consistency-Token': '{{productToken}}' },
    tests: `${status(200)}
pm.test('the product, at once', () => {
  pm.expect(json.productId).to.equal(Number(pm.collectionVariables.get('productId')));
  pm.expect(json).to.include({ price: 1999.99, stock: 10 });
});`,
  }),
  request({
    name: 'Read with a malformed X-Consistency-Token',
    url: `${Q}/api/products/{{productId}}`,
    headers: { 'X-Consistency-Token': 'not-an-event-id' },
    tests: error(400, 'validation_error', 'X-Consistency-Token'),
  }),
  request({
    name: 'Create product without a token',
    method: 'POST',
    url: `${C}/api/products`,
    auth: 'none',
    body: { name: 'X', category: 'X', price: 1, stock: 1 },
    tests: `if (pm.environment.get('commandToken')) {
${error(401, 'unauthorized').replace(/^/gm, '  ')}
} else {
  pm.test.skip('401 without a token (commandToken is empty: the API runs without COMMAND_API_TOKEN)', () => {});
}`,
  }),
  request({
    name: 'Create product with a wrong token',
    method: 'POST',
    url: `${C}/api/products`,
    auth: 'not-the-token',
    body: { name: 'X', category: 'X', price: 1, stock: 1 },
    tests: `if (pm.environment.get('commandToken')) {
${error(401, 'unauthorized').replace(/^/gm, '  ')}
} else {
  pm.test.skip('401 with a wrong token (commandToken is empty: the API runs without COMMAND_API_TOKEN)', () => {});
}`,
  }),
  request({
    name: 'Create second product',
    method: 'POST',
    url: `${C}/api/products`,
    body: { name: 'Mouse {{runTag}}', category: 'PM-B-{{runTag}}', price: 25.5, stock: 100 },
    tests: `${status(201)}
pm.test('a new product id', () => pm.expect(json.productId).to.be.above(Number(pm.collectionVariables.get('productId'))));
pm.collectionVariables.set('productId2', String(json.productId));`,
  }),
  request({
    name: 'Create low-stock product',
    method: 'POST',
    url: `${C}/api/products`,
    body: { name: 'Cable {{runTag}}', category: 'PM-C-{{runTag}}', price: 0.99, stock: 2 },
    tests: `${status(201)}
pm.collectionVariables.set('lowProductId', String(json.productId));`,
  }),
  request({
    name: 'Read product (eventually)',
    url: `${Q}/api/products/{{productId}}`,
    eventually: { until: 'pm.response.code === 200', what: 'the new product' },
    tests: `${status(200)}
${isJson}
${productTests('productId', "{ name: 'Laptop ' + pm.collectionVariables.get('runTag'), category: 'PM-A-' + pm.collectionVariables.get('runTag'), price: 1999.99, stock: 10, reserved: 0, lowStock: false, lowStockThreshold: 5 }")}`,
  }),
  request({
    name: 'Read low-stock product (eventually)',
    url: `${Q}/api/products/{{lowProductId}}`,
    eventually: { until: 'pm.response.code === 200', what: 'the low-stock product' },
    tests: `${status(200)}
pm.test('lowStock is true below the default threshold of 10', () => {
  pm.expect(json).to.include({ stock: 2, lowStock: true, lowStockThreshold: 10, price: 0.99 });
});`,
  }),
  request({
    name: 'List products',
    url: `${Q}/api/products?limit=1000&offset=0`,
    tests: `${status(200)}
${isJson}
pm.test('an array of at most 1000 products, by id', () => {
  pm.expect(json).to.be.an('array');
  pm.expect(json.length).to.be.within(1, 1000);
  const ids = json.map((p) => p.productId);
  pm.expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
  pm.expect(json[0]).to.include.all.keys('productId', 'name', 'category', 'price', 'stock');
});`,
  }),
  request({
    name: 'List products, page of one',
    url: `${Q}/api/products?limit=1&offset=0`,
    tests: `${status(200)}
pm.test('limit=1 gives one product', () => pm.expect(json).to.be.an('array').with.lengthOf(1));`,
  }),
  request({
    name: 'List products with limit=0 is refused',
    url: `${Q}/api/products?limit=0`,
    tests: error(400, 'validation_error', 'limit'),
  }),
  request({
    name: 'Read unknown product',
    url: `${Q}/api/products/999999999999`,
    tests: error(404, 'not_found'),
  }),
  request({
    name: 'Create product without a name',
    method: 'POST',
    url: `${C}/api/products`,
    body: { category: 'X', price: 1, stock: 1 },
    tests: error(400, 'validation_error', 'name'),
  }),
  request({
    name: 'Create product with an unknown field',
    method: 'POST',
    url: `${C}/api/products`,
    body: { name: 'X', category: 'X', price: 1, stock: 1, colour: 'red' },
    tests: error(400, 'validation_error', 'colour'),
  }),
  request({
    name: 'Create product with three price decimals',
    method: 'POST',
    url: `${C}/api/products`,
    body: { name: 'X', category: 'X', price: 1.999, stock: 1 },
    tests: error(400, 'validation_error', 'price'),
  }),
  request({
    name: 'Create product with malformed JSON',
    method: 'POST',
    url: `${C}/api/products`,
    body: '{"name": "X", ',
    tests: error(400, 'invalid_json'),
  }),
  request({
    name: 'Create product with a duplicate key',
    method: 'POST',
    url: `${C}/api/products`,
    body: '{"name": "X", "name": "Y", "category": "X", "price": 1, "stock": 1}',
    tests: error(400, 'invalid_json'),
  }),
  request({
    name: 'Create product as text/plain',
    method: 'POST',
    url: `${C}/api/products`,
    body: '{"name": "X", "category": "X", "price": 1, "stock": 1}',
    contentType: 'text/plain',
    tests: error(415, 'unsupported_media_type'),
  }),
  request({
    name: 'Create product over the body limit',
    method: 'POST',
    url: `${C}/api/products`,
    pre: `pm.variables.set('bigName', 'x'.repeat(1100000)); // over HTTP_MAX_BODY_BYTES (1 MiB)`,
    body: '{"name": "{{bigName}}", "category": "X", "price": 1, "stock": 1}',
    tests: error(413, 'payload_too_large'),
  }),
  request({
    name: 'PUT on products is not allowed',
    method: 'PUT',
    url: `${C}/api/products`,
    tests: error(405, 'method_not_allowed'),
  }),
]);

const orderReadTests = `${isJson}
pm.test('order fields as written', () => {
  pm.expect(json.orderId).to.equal(Number(pm.collectionVariables.get('orderId')));
  pm.expect(json.customerId).to.equal(Number(pm.collectionVariables.get('customerId')));
  pm.expect(json.total).to.equal(4076.48);
  pm.expect(json.createdAt).to.match(/^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$/);
});
pm.test('items with product names and catalogue prices', () => {
  pm.expect(json.items).to.have.lengthOf(2);
  const byId = Object.fromEntries(json.items.map((i) => [i.productId, i]));
  const tag = pm.collectionVariables.get('runTag');
  pm.expect(byId[pm.collectionVariables.get('productId')]).to.include({ quantity: 2, price: 1999.99, productName: 'Laptop ' + tag, category: 'PM-A-' + tag });
  pm.expect(byId[pm.collectionVariables.get('productId2')]).to.include({ quantity: 3, price: 25.5, productName: 'Mouse ' + tag });
});`;

const orders = folder('Orders', 'POST /api/orders (command), GET /api/orders/{id} (query).', [
  request({
    name: 'Create order',
    method: 'POST',
    url: `${C}/api/orders`,
    body: {
      customerId: n('customerId'),
      items: [
        { productId: n('productId'), quantity: 2, price: 1999.99 },
        { productId: n('productId2'), quantity: 3 },
      ],
    },
    tests: `${status(201)}
${isJson}
${token}
pm.test('answers the order id, total and CREATED', () => {
  pm.expect(json.orderId).to.be.a('number').and.above(0);
  pm.expect(json.total).to.equal(4076.48);
  pm.expect(json.status).to.equal('CREATED');
});
pm.collectionVariables.set('orderId', String(json.orderId));`,
  }),
  request({
    name: 'Read order (eventually)',
    url: `${Q}/api/orders/{{orderId}}`,
    eventually: { until: 'pm.response.code === 200', what: 'the new order' },
    tests: `${status(200)}
${orderReadTests}
pm.test('CREATED, not paid, one timeline entry', () => {
  pm.expect(json.status).to.equal('CREATED');
  pm.expect(json.payment).to.equal(null);
  pm.expect(json.timeline.map((t) => t.event)).to.deep.equal(['OrderCreated']);
});`,
  }),
  request({
    name: 'Read product after the order (eventually)',
    url: `${Q}/api/products/{{productId}}`,
    eventually: { until: 'json.stock === 8', what: 'the stock taken by the order' },
    tests: `${status(200)}
pm.test('stock 10 - 2 = 8, 2 reserved', () => pm.expect(json).to.include({ stock: 8, reserved: 2, lowStock: false }));`,
  }),
  request({
    name: 'Order more than the stock',
    method: 'POST',
    url: `${C}/api/orders`,
    body: { customerId: n('customerId'), items: [{ productId: n('productId'), quantity: 1000000 }] },
    tests: error(409, 'insufficient_stock'),
  }),
  request({
    name: 'Order at a wrong price',
    method: 'POST',
    url: `${C}/api/orders`,
    body: { customerId: n('customerId'), items: [{ productId: n('productId'), quantity: 1, price: 1 }] },
    tests: error(409, 'price_mismatch'),
  }),
  request({
    name: 'Order an unknown product',
    method: 'POST',
    url: `${C}/api/orders`,
    body: { customerId: n('customerId'), items: [{ productId: 999999999999, quantity: 1 }] },
    tests: error(404, 'not_found'),
  }),
  request({
    name: 'Order without items',
    method: 'POST',
    url: `${C}/api/orders`,
    body: { customerId: n('customerId'), items: [] },
    tests: error(400, 'validation_error', 'items'),
  }),
  request({
    name: 'Order with quantity 0',
    method: 'POST',
    url: `${C}/api/orders`,
    body: { customerId: n('customerId'), items: [{ productId: n('productId'), quantity: 0 }] },
    tests: error(400, 'validation_error', 'items[0].quantity'),
  }),
  request({
    name: 'Order as text/plain',
    method: 'POST',
    url: `${C}/api/orders`,
    body: '{"customerId": 1, "items": [{"productId": 1, "quantity": 1}]}',
    contentType: 'text/plain',
    tests: error(415, 'unsupported_media_type'),
  }),
  request({
    name: 'Read unknown order',
    url: `${Q}/api/orders/999999999999`,
    tests: error(404, 'not_found'),
  }),
  request({
    name: 'GET on the orders command is not allowed',
    url: `${C}/api/orders`,
    tests: error(405, 'method_not_allowed'),
  }),
]);

const lifecycle = folder(
  'Order lifecycle',
  'payments, ship, complete, cancel: CREATED -> PAID -> SHIPPED -> COMPLETED, CREATED | PAID -> CANCELLED.',
  [
    request({
      name: 'Pay with a wrong amount',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/payments`,
      body: { amount: 1, method: 'card' },
      tests: error(409, 'amount_mismatch'),
    }),
    request({
      name: 'Pay without a method',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/payments`,
      body: { amount: 4076.48 },
      tests: error(400, 'validation_error', 'method'),
    }),
    request({
      name: 'Complete before shipping',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/complete`,
      tests: `${error(409, 'invalid_transition')}
pm.test('the message names the current state', () => pm.expect(json.error.message).to.include('CREATED'));`,
    }),
    request({
      name: 'Pay the order',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/payments`,
      body: { amount: 4076.48, method: 'card' },
      tests: `${status(201)}
${isJson}
${token}
pm.test('answers the payment', () => {
  pm.expect(json.paymentId).to.be.a('number').and.above(0);
  pm.expect(json).to.include({ orderId: Number(pm.collectionVariables.get('orderId')), status: 'PAID', amount: 4076.48, method: 'card' });
});
pm.collectionVariables.set('paymentId', String(json.paymentId));`,
    }),
    request({
      name: 'Pay twice',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/payments`,
      body: { amount: 4076.48, method: 'card' },
      tests: error(409, 'already_paid'),
    }),
    request({
      name: 'Read paid order (eventually)',
      url: `${Q}/api/orders/{{orderId}}`,
      eventually: { until: "json.status === 'PAID'", what: 'the payment' },
      tests: `${status(200)}
pm.test('PAID with the payment', () => {
  pm.expect(json.payment).to.include({ paymentId: Number(pm.collectionVariables.get('paymentId')), amount: 4076.48, method: 'card' });
  pm.expect(json.payment.paidAt).to.be.a('string');
  pm.expect(json.timeline.map((t) => t.event)).to.deep.equal(['OrderCreated', 'OrderPaid']);
});`,
    }),
    request({
      name: 'Ship with an unknown field',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/ship`,
      body: { carrier: 'x' },
      tests: error(400, 'validation_error', 'carrier'),
    }),
    request({
      name: 'Ship the order',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/ship`,
      tests: `${status(200)}
${token}
pm.test('SHIPPED', () => pm.expect(json).to.deep.equal({ orderId: Number(pm.collectionVariables.get('orderId')), status: 'SHIPPED', total: 4076.48 }));`,
    }),
    request({
      name: 'Complete the order',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/complete`,
      body: {},
      tests: `${status(200)}
${token}
pm.test('COMPLETED', () => pm.expect(json).to.include({ orderId: Number(pm.collectionVariables.get('orderId')), status: 'COMPLETED', total: 4076.48 }));`,
    }),
    request({
      name: 'Cancel a completed order',
      method: 'POST',
      url: `${C}/api/orders/{{orderId}}/cancel`,
      tests: `${error(409, 'invalid_transition')}
pm.test('the message names the current state', () => pm.expect(json.error.message).to.include('COMPLETED'));`,
    }),
    request({
      name: 'Read completed order (eventually)',
      url: `${Q}/api/orders/{{orderId}}`,
      eventually: { until: "json.status === 'COMPLETED'", what: 'the completion' },
      tests: `${status(200)}
${orderReadTests}
pm.test('the whole timeline, in order', () => {
  pm.expect(json.timeline.map((t) => t.event)).to.deep.equal(['OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCompleted']);
});`,
    }),
    request({
      name: 'Create order to cancel',
      method: 'POST',
      url: `${C}/api/orders`,
      body: { customerId: n('customerId'), items: [{ productId: n('productId'), quantity: 1 }] },
      tests: `${status(201)}
pm.test('total is the catalogue price', () => pm.expect(json).to.include({ total: 1999.99, status: 'CREATED' }));
pm.collectionVariables.set('cancelOrderId', String(json.orderId));`,
    }),
    request({
      name: 'Cancel with a reason',
      method: 'POST',
      url: `${C}/api/orders/{{cancelOrderId}}/cancel`,
      body: { reason: 'changed my mind' },
      tests: `${status(200)}
${token}
pm.test('CANCELLED', () => pm.expect(json).to.include({ orderId: Number(pm.collectionVariables.get('cancelOrderId')), status: 'CANCELLED' }));`,
    }),
    request({
      name: 'Pay a cancelled order',
      method: 'POST',
      url: `${C}/api/orders/{{cancelOrderId}}/payments`,
      body: { amount: 1999.99, method: 'card' },
      tests: `${error(409, 'invalid_transition')}
pm.test('the message names the current state', () => pm.expect(json.error.message).to.include('CANCELLED'));`,
    }),
    request({
      name: 'Read cancelled order (eventually)',
      url: `${Q}/api/orders/{{cancelOrderId}}`,
      eventually: { until: "json.status === 'CANCELLED'", what: 'the cancellation' },
      tests: `${status(200)}
pm.test('CANCELLED after CREATED', () => {
  pm.expect(json.timeline.map((t) => t.event)).to.deep.equal(['OrderCreated', 'OrderCancelled']);
  pm.expect(json.payment).to.equal(null);
});`,
    }),
    request({
      name: 'Ship an unknown order',
      method: 'POST',
      url: `${C}/api/orders/999999999999/ship`,
      tests: error(404, 'not_found'),
    }),
  ],
);

const inventory = folder('Inventory', 'POST /api/inventory (command), GET /api/inventory (query).', [
  request({
    name: 'Restock',
    method: 'POST',
    url: `${C}/api/inventory`,
    body: { productId: n('productId'), delta: 25, reason: 'restock' },
    tests: `${status(201)}
${token}
pm.test('answers the adjustment and the new stock (10 - 2 - 1 + 1 + 25)', () => {
  pm.expect(json.adjustmentId).to.be.a('number').and.above(0);
  pm.expect(json).to.include({ productId: Number(pm.collectionVariables.get('productId')), delta: 25, stock: 33 });
});`,
  }),
  request({
    name: 'Take more than the stock',
    method: 'POST',
    url: `${C}/api/inventory`,
    body: { productId: n('productId'), delta: -1000 },
    tests: error(409, 'insufficient_stock'),
  }),
  request({
    name: 'Adjust by zero',
    method: 'POST',
    url: `${C}/api/inventory`,
    body: { productId: n('productId'), delta: 0 },
    tests: error(400, 'validation_error', 'delta'),
  }),
  request({
    name: 'Adjust an unknown product',
    method: 'POST',
    url: `${C}/api/inventory`,
    body: { productId: 999999999999, delta: 1 },
    tests: error(404, 'not_found'),
  }),
  request({
    name: 'Read inventory (eventually)',
    url: `${Q}/api/inventory`,
    eventually: {
      until: "json.some((p) => p.productId === Number(pm.collectionVariables.get('productId')) && p.available === 33)",
      what: 'the restock',
    },
    tests: `${status(200)}
${isJson}
pm.test('the product: 33 available, none reserved', () => {
  const p = json.find((x) => x.productId === Number(pm.collectionVariables.get('productId')));
  pm.expect(p).to.include({ productName: 'Laptop ' + pm.collectionVariables.get('runTag'), available: 33, reserved: 0, total: 33, lowStock: false });
});`,
  }),
  request({
    name: 'Read low-stock inventory (eventually)',
    url: `${Q}/api/inventory?lowStock=true`,
    eventually: {
      until: "json.some((p) => p.productId === Number(pm.collectionVariables.get('lowProductId')))",
      what: 'the low-stock product',
    },
    tests: `${status(200)}
pm.test('only low-stock products, ours among them', () => {
  pm.expect(json.every((p) => p.lowStock === true)).to.be.true;
  pm.expect(json.map((p) => p.productId)).to.not.include(Number(pm.collectionVariables.get('productId')));
});`,
  }),
  request({
    name: 'Inventory with lowStock=maybe',
    url: `${Q}/api/inventory?lowStock=maybe`,
    tests: error(400, 'validation_error', 'lowStock'),
  }),
]);

const customers = folder('Customers', 'GET /api/customers/{id}/orders and /summary (query).', [
  request({
    name: "Customer's orders (eventually)",
    url: `${Q}/api/customers/{{customerId}}/orders`,
    eventually: {
      until: "json.length === 2 && json.some((o) => o.status === 'CANCELLED') && json.some((o) => o.status === 'COMPLETED')",
      what: "both of the customer's orders",
    },
    tests: `${status(200)}
pm.test('newest first, with item counts', () => {
  pm.expect(json.map((o) => o.orderId)).to.deep.equal([Number(pm.collectionVariables.get('cancelOrderId')), Number(pm.collectionVariables.get('orderId'))]);
  pm.expect(json[0]).to.include({ status: 'CANCELLED', total: 1999.99, customerId: Number(pm.collectionVariables.get('customerId')) });
  pm.expect(json[1]).to.include({ status: 'COMPLETED', total: 4076.48 });
  pm.expect(json[0]).to.have.all.keys('orderId', 'customerId', 'status', 'total', 'createdAt', 'itemCount');
});`,
  }),
  request({
    name: "Customer's cancelled orders",
    url: `${Q}/api/customers/{{customerId}}/orders?status=CANCELLED&limit=20&offset=0`,
    tests: `${status(200)}
pm.test('only the cancelled one', () => {
  pm.expect(json.map((o) => o.orderId)).to.deep.equal([Number(pm.collectionVariables.get('cancelOrderId'))]);
});`,
  }),
  request({
    name: "Customer's orders with an unknown status",
    url: `${Q}/api/customers/{{customerId}}/orders?status=LOST`,
    tests: error(400, 'validation_error', 'status'),
  }),
  request({
    name: 'Orders of a customer without orders',
    url: `${Q}/api/customers/{{strangerId}}/orders`,
    tests: `${status(200)}
pm.test('an empty array', () => pm.expect(json).to.deep.equal([]));`,
  }),
  request({
    name: 'Customer summary (eventually)',
    url: `${Q}/api/customers/{{customerId}}/summary`,
    eventually: {
      until: 'json.totalOrders === 2 && json.orderStatuses.CANCELLED === 1 && json.orderStatuses.COMPLETED === 1',
      what: "the customer's summary",
    },
    tests: `${status(200)}
${isJson}
pm.test('totals count the completed order, not the cancelled one', () => {
  pm.expect(json).to.include({ customerId: Number(pm.collectionVariables.get('customerId')), totalOrders: 2, totalSpent: 4076.48, avgOrderValue: 4076.48 });
  pm.expect(json.orderStatuses).to.deep.equal({ CANCELLED: 1, COMPLETED: 1 });
});
pm.test('favourite products by quantity, cancelled orders left out', () => {
  pm.expect(json.favoriteProducts.map((p) => [p.productId, p.quantity])).to.deep.equal([
    [Number(pm.collectionVariables.get('productId2')), 3],
    [Number(pm.collectionVariables.get('productId')), 2],
  ]);
});`,
  }),
  request({
    name: 'Summary of a customer without orders',
    url: `${Q}/api/customers/{{strangerId}}/summary`,
    tests: error(404, 'not_found'),
  }),
]);

const analytics = folder('Analytics', 'GET /api/analytics/... (query), from materialized views refreshed every MV_REFRESH_INTERVAL_MS.', [
  request({
    name: 'Order analytics (eventually)',
    url: `${Q}/api/analytics/orders`,
    eventually: {
      until: "json.totalOrders >= Number(pm.collectionVariables.get('ordersBefore')) + 2",
      what: 'the two new orders',
    },
    tests: `${status(200)}
${isJson}
pm.test('totals, by status, asOf', () => {
  pm.expect(json).to.have.all.keys('totalOrders', 'totalRevenue', 'avgOrderValue', 'byStatus', 'asOf');
  pm.expect(json.totalRevenue).to.be.at.least(4076.48);
  pm.expect(json.byStatus.COMPLETED).to.be.at.least(1);
  pm.expect(json.byStatus.CANCELLED).to.be.at.least(1);
  pm.expect(new Date(json.asOf).toString()).to.not.equal('Invalid Date');
});`,
  }),
  request({
    name: 'Daily sales today (eventually)',
    url: `${Q}/api/analytics/sales/daily?from={{today}}&to={{today}}`,
    eventually: {
      until: "json.length === 1 && json[0].revenue >= 4076.48",
      what: "today's revenue",
    },
    tests: `${status(200)}
pm.test("today's orders and revenue", () => {
  pm.expect(json[0].day).to.equal(pm.collectionVariables.get('today'));
  pm.expect(json[0].orders).to.be.at.least(1);
});`,
  }),
  request({
    name: 'Daily sales, last 30 days',
    url: `${Q}/api/analytics/sales/daily`,
    tests: `${status(200)}
pm.test('an array of days with orders and revenue', () => {
  pm.expect(json).to.be.an('array');
  json.forEach((d) => pm.expect(d).to.have.all.keys('day', 'orders', 'revenue'));
});`,
  }),
  request({
    name: 'Daily sales with an invalid date',
    url: `${Q}/api/analytics/sales/daily?from=2026-13-01`,
    tests: error(400, 'validation_error', 'from'),
  }),
  request({
    name: 'Daily sales with from after to',
    url: `${Q}/api/analytics/sales/daily?from=2026-02-02&to=2026-02-01`,
    tests: `${status(400)}
pm.test('error code is validation_error', () => pm.expect(json.error.code).to.equal('validation_error'));`,
  }),
  request({
    name: 'Top products',
    url: `${Q}/api/analytics/products/top?limit=5`,
    tests: `${status(200)}
pm.test('at most 5, by units sold', () => {
  pm.expect(json).to.be.an('array');
  pm.expect(json.length).to.be.within(1, 5);
  json.forEach((p) => pm.expect(p).to.have.all.keys('productId', 'name', 'unitsSold', 'revenue'));
  const units = json.map((p) => p.unitsSold);
  pm.expect(units).to.deep.equal([...units].sort((a, b) => b - a));
});`,
  }),
  request({
    name: 'Top products with limit=0',
    url: `${Q}/api/analytics/products/top?limit=0`,
    tests: error(400, 'validation_error', 'limit'),
  }),
  request({
    name: 'Categories (eventually)',
    url: `${Q}/api/analytics/categories`,
    eventually: {
      until: "json.some((c) => c.category === 'PM-A-' + pm.collectionVariables.get('runTag'))",
      what: "the new category's revenue",
    },
    tests: `${status(200)}
pm.test('the category of the completed order: 1 order, 2 units', () => {
  const c = json.find((x) => x.category === 'PM-A-' + pm.collectionVariables.get('runTag'));
  pm.expect(c).to.deep.equal({ category: c.category, orders: 1, unitsSold: 2, revenue: 3999.98 });
});
pm.test('by revenue', () => {
  const r = json.map((c) => c.revenue);
  pm.expect(r).to.deep.equal([...r].sort((a, b) => b - a));
});`,
  }),
]);

const todos = folder('Todos', 'POST/PATCH/DELETE /api/todos (command), GET /api/todos (query).', [
  request({
    name: 'Create todo',
    method: 'POST',
    url: `${C}/api/todos`,
    body: { title: 'Learn CQRS {{runTag}}' },
    tests: `${status(201)}
${token}
pm.test('created', () => {
  pm.expect(json.message).to.equal('Todo created successfully.');
  pm.expect(json.id).to.be.a('number').and.above(0);
});
pm.collectionVariables.set('todoId', String(json.id));`,
  }),
  request({
    name: 'Create todo with an Idempotency-Key',
    method: 'POST',
    url: `${C}/api/todos`,
    headers: { 'Idempotency-Key': 'postman-{{runTag}}' },
    body: { title: 'Once {{runTag}}' },
    tests: `${status(201)}
pm.test('created, not a replay', () => pm.expect(pm.response.headers.get('Idempotent-Replayed')).to.be.oneOf([undefined, null, 'false']));
pm.collectionVariables.set('onceTodoId', String(json.id));
pm.collectionVariables.set('onceToken', pm.response.headers.get('X-Consistency-Token'));`,
  }),
  request({
    name: 'Repeat the request with the same Idempotency-Key',
    method: 'POST',
    url: `${C}/api/todos`,
    headers: { 'Idempotency-Key': 'postman-{{runTag}}' },
    body: { title: 'Once {{runTag}}' },
    tests: `${status(201)}
pm.test('the first answer again, marked as a replay', () => {
  pm.expect(pm.response.headers.get('Idempotent-Replayed')).to.equal('true');
  pm.expect(json.id).to.equal(Number(pm.collectionVariables.get('onceTodoId')));
  pm.expect(pm.response.headers.get('X-Consistency-Token')).to.equal(pm.collectionVariables.get('onceToken'));
});`,
  }),
  request({
    name: 'Send an invalid Idempotency-Key',
    method: 'POST',
    url: `${C}/api/todos`,
    headers: { 'Idempotency-Key': 'has a space' },
    body: { title: 'Never {{runTag}}' },
    tests: error(400, 'validation_error', 'Idempotency-Key'),
  }),
  request({
    name: 'Reuse the Idempotency-Key for another request',
    method: 'POST',
    url: `${C}/api/todos`,
    headers: { 'Idempotency-Key': 'postman-{{runTag}}' },
    body: { title: 'Twice {{runTag}}' },
    tests: error(422, 'idempotency_key_reused', 'Idempotency-Key'),
  }),
  request({
    name: 'Read todos (eventually)',
    url: `${Q}/api/todos`,
    eventually: {
      until: "json.some((t) => t.id === Number(pm.collectionVariables.get('todoId'))) && json.some((t) => t.id === Number(pm.collectionVariables.get('onceTodoId')))",
      what: 'the new todos',
    },
    tests: `${status(200)}
pm.test('the todo, not completed', () => {
  const t = json.find((x) => x.id === Number(pm.collectionVariables.get('todoId')));
  pm.expect(t).to.deep.equal({ id: t.id, title: 'Learn CQRS ' + pm.collectionVariables.get('runTag'), completed: false });
});
pm.test('the idempotent request created one todo, not two', () => {
  pm.expect(json.filter((x) => x.title === 'Once ' + pm.collectionVariables.get('runTag')).map((x) => x.id))
    .to.deep.equal([Number(pm.collectionVariables.get('onceTodoId'))]);
});`,
  }),
  request({
    name: 'Complete todo',
    method: 'PATCH',
    url: `${C}/api/todos/{{todoId}}`,
    body: { completed: true },
    tests: `${status(200)}
pm.test('completed', () => pm.expect(json).to.deep.equal({ id: Number(pm.collectionVariables.get('todoId')), title: 'Learn CQRS ' + pm.collectionVariables.get('runTag'), completed: true }));`,
  }),
  request({
    name: 'Read completed todo (eventually)',
    url: `${Q}/api/todos`,
    eventually: {
      until: "json.some((t) => t.id === Number(pm.collectionVariables.get('todoId')) && t.completed === true)",
      what: 'the completed todo',
    },
    tests: `${status(200)}`,
  }),
  request({
    name: 'Complete todo with a string',
    method: 'PATCH',
    url: `${C}/api/todos/{{todoId}}`,
    body: { completed: 'yes' },
    tests: error(400, 'validation_error', 'completed'),
  }),
  request({
    name: 'Create todo without a title',
    method: 'POST',
    url: `${C}/api/todos`,
    body: { title: '' },
    tests: error(400, 'validation_error', 'title'),
  }),
  request({
    name: 'Update an unknown todo',
    method: 'PATCH',
    url: `${C}/api/todos/999999999999`,
    body: { completed: true },
    tests: error(404, 'not_found'),
  }),
  request({
    name: 'Delete todo',
    method: 'DELETE',
    url: `${C}/api/todos/{{todoId}}`,
    tests: `${status(200)}
${token}
pm.test('deleted', () => pm.expect(json).to.deep.equal({ message: 'Todo deleted successfully.', id: Number(pm.collectionVariables.get('todoId')) }));`,
  }),
  request({
    name: 'Delete todo again',
    method: 'DELETE',
    url: `${C}/api/todos/{{todoId}}`,
    tests: error(404, 'not_found'),
  }),
  request({
    name: 'Read todos after the delete (eventually)',
    url: `${Q}/api/todos`,
    eventually: {
      until: "!json.some((t) => t.id === Number(pm.collectionVariables.get('todoId')))",
      what: 'the deletion',
    },
    tests: `${status(200)}`,
  }),
]);

const html = (page) => `${status(200)}
pm.test('an HTML page', () => {
  pm.expect(pm.response.headers.get('Content-Type') || '').to.include('text/html');
  pm.expect(pm.response.text()).to.match(/^<!doctype html>/i);
  pm.expect(pm.response.text()).to.include('${page}');
});`;
const asset = (type) => `${status(200)}
pm.test('served as ${type}', () => {
  pm.expect(pm.response.headers.get('Content-Type') || '').to.include('${type}');
  pm.expect(pm.response.text().length).to.be.above(0);
});`;

const moods = folder(
  'Moods',
  'POST /api/moods and the sender page /mood (command), GET /api/moods/stats and the wall /mood (query). ' +
    'GET /api/moods/stream (server-sent events, never ends) is left out: newman cannot test an endless response.',
  [
    request({
      name: 'Record a good mood',
      description: 'Public: no bearer token needed.',
      method: 'POST',
      url: `${C}/api/moods`,
      auth: 'none',
      body: { type: 'good' },
      tests: `${status(202)}
${isJson}
${token}
pm.test('recorded', () => pm.expect(json.id).to.be.a('number').and.above(0));`,
    }),
    request({
      name: 'Record a bad mood',
      method: 'POST',
      url: `${C}/api/moods`,
      body: { type: 'bad' },
      tests: `${status(202)}
${token}`,
    }),
    request({
      name: 'Record an unknown mood',
      method: 'POST',
      url: `${C}/api/moods`,
      body: { type: 'meh' },
      tests: error(400, 'validation_error', 'type'),
    }),
    request({
      name: 'Record a mood without a type',
      method: 'POST',
      url: `${C}/api/moods`,
      body: {},
      tests: error(400, 'validation_error', 'type'),
    }),
    request({
      name: 'Mood stats (eventually)',
      url: `${Q}/api/moods/stats`,
      eventually: {
        until: "json.happy >= Number(pm.collectionVariables.get('happyBefore')) + 1 && json.sad >= Number(pm.collectionVariables.get('sadBefore')) + 1",
        what: 'both moods',
      },
      tests: `${status(200)}
pm.test('score is happy - sad', () => {
  pm.expect(json).to.have.all.keys('happy', 'sad', 'score');
  pm.expect(json.score).to.equal(json.happy - json.sad);
});`,
    }),
    request({ name: 'Mood sender page', url: `${C}/mood`, auth: 'none', tests: html('send.js') }),
    request({ name: 'Mood sender script', url: `${C}/mood/send.js`, tests: asset('javascript') }),
    request({ name: 'Mood sender style', url: `${C}/mood/mood.css`, tests: asset('text/css') }),
    request({ name: 'Mood sender happy face', url: `${C}/mood/happy.svg`, tests: asset('image/svg+xml') }),
    request({ name: 'Mood sender sad face', url: `${C}/mood/sad.svg`, tests: asset('image/svg+xml') }),
    request({ name: 'Mood wall page', url: `${Q}/mood`, tests: html('wall.js') }),
    request({ name: 'Mood wall script', url: `${Q}/mood/wall.js`, tests: asset('javascript') }),
    request({ name: 'Mood wall style', url: `${Q}/mood/mood.css`, tests: asset('text/css') }),
    request({ name: 'Mood wall happy face', url: `${Q}/mood/happy.svg`, tests: asset('image/svg+xml') }),
    request({ name: 'Mood wall sad face', url: `${Q}/mood/sad.svg`, tests: asset('image/svg+xml') }),
  ],
);

const metrics = (api) => `${status(200)}
pm.test('Prometheus text format', () => {
  pm.expect(pm.response.headers.get('Content-Type') || '').to.include('text/plain');
  pm.expect(pm.response.text()).to.match(/^# (HELP|TYPE) /m);
});`;

const operations = folder(
  'Operations',
  'GET /metrics on both APIs (public), the dashboard page and GET /api/dashboard (query API). ' +
    'GET /api/dashboard/stream (server-sent events, never ends) is left out, as /api/moods/stream.',
  [
    request({ name: 'Command API metrics', url: `${C}/metrics`, auth: 'none', tests: metrics('command') }),
    request({ name: 'Query API metrics', url: `${Q}/metrics`, tests: metrics('query') }),
    request({
      name: 'Dashboard snapshot (eventually)',
      url: `${Q}/api/dashboard`,
      eventually: {
        until: "json.today.day === pm.collectionVariables.get('today') && json.today.orders >= 1",
        what: "today's orders on the dashboard",
      },
      tests: `${status(200)}
${isJson}
pm.test('the parts of the dashboard', () => {
  pm.expect(json).to.include.all.keys('at', 'today', 'totals', 'byStatus', 'topProducts', 'lowStock', 'pipeline');
  pm.expect(json.byStatus).to.have.all.keys('CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED');
  pm.expect(json.topProducts).to.be.an('array');
  pm.expect(json.lowStock.count).to.be.at.least(1);
  pm.expect(json.pipeline.eventsPerSecond).to.be.a('number');
});
pm.test('the outbox backlog comes from the relay status messages', () => {
  pm.expect(json.pipeline.outboxBacklog).to.be.a('number');
});`,
    }),
    request({ name: 'Dashboard page', url: `${Q}/`, tests: html('dashboard.js') }),
    request({ name: 'Dashboard script', url: `${Q}/dashboard/dashboard.js`, tests: asset('javascript') }),
    request({ name: 'Dashboard style', url: `${Q}/dashboard/dashboard.css`, tests: asset('text/css') }),
    request({ name: 'Dashboard icon', url: `${Q}/dashboard/icon.svg`, tests: asset('image/svg+xml') }),
  ],
);

const routing = folder('Routing errors', 'Unknown routes (404) and methods (405) on both APIs.', [
  request({ name: 'Unknown route on the command API', url: `${C}/api/nothing`, tests: error(404, 'not_found') }),
  request({ name: 'Unknown route on the query API', url: `${Q}/api/nothing`, tests: error(404, 'not_found') }),
  request({ name: 'DELETE on command health', method: 'DELETE', url: `${C}/health`, tests: error(405, 'method_not_allowed') }),
  request({
    name: 'POST on the query API',
    method: 'POST',
    url: `${Q}/api/products`,
    body: { name: 'X' },
    tests: error(405, 'method_not_allowed'),
  }),
]);

const names = new Set();
const items = [health, products, orders, lifecycle, inventory, customers, analytics, todos, moods, operations, routing];
for (const f of items) {
  for (const i of f.item) {
    if (names.has(i.name)) throw new Error(`duplicate request name: ${i.name} (setNextRequest needs unique names)`);
    names.add(i.name);
  }
}

const collection = {
  info: {
    name: 'CQRS commerce backend',
    description:
      'Every endpoint of the command API ({{commandUrl}}, bearer token {{commandToken}}) and the query API ({{queryUrl}}), in order: ' +
      'writes, then the eventually consistent reads, which retry until the read model shows the write ' +
      `(at most ${RETRY_MAX_ATTEMPTS} x ${RETRY_DELAY_MS} ms). Run the whole collection in order ` +
      '(postman/run.sh, or the Postman collection runner) with postman/environment.json. ' +
      'Generated by postman/build-collection.mjs: edit that, not this file.',
    schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
  },
  // Commands need "Authorization: Bearer <COMMAND_API_TOKEN>" (environment variable commandToken);
  // the query API ignores the header. Requests that test the public routes or 401 override it.
  auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{commandToken}}', type: 'string' }] },
  item: items,
  variable: [
    'runTag', 'customerId', 'strangerId', 'today', 'ordersBefore', 'happyBefore', 'sadBefore',
    'productId', 'productToken', 'productId2', 'lowProductId', 'orderId', 'paymentId', 'cancelOrderId',
    'todoId', 'onceTodoId', 'onceToken',
  ].map((key) => ({ key, value: '' })),
};

writeFileSync(OUT, `${JSON.stringify(collection, null, 2)}\n`);
console.log(`wrote ${OUT}: ${names.size} requests in ${items.length} folders`);
