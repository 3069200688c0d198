// The OpenAPI contract (docs/openapi.yaml) kept true both ways:
// - the document is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator);
// - every route each API's router serves (`<binary> --routes`, read from the route tables the
//   binaries run with) is an operation of that service in the document, and every operation of
//   the document is served;
// - every answer the end-to-end tests receive matches its response schema (lib.mjs's call()
//   checks each one; a test here proves that check catches a wrong answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { SPEC_PATH, spec, operations, checkAnswer } from './openapi.mjs';

const BIN_DIR = process.env.BIN_DIR;
const BINARIES = { command: 'command-api', query: 'query-api' };
const skip = !BIN_DIR && 'needs BIN_DIR (tests/run.sh)';

// The router's pattern in OpenAPI's path form: the same, {id} included.
const served = (service) => execFileSync(path.join(BIN_DIR, BINARIES[service]), ['--routes'], { encoding: 'utf8' })
  .trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([method, pattern]) => `${method} ${pattern}`);

test('docs/openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  assert.equal(spec.openapi, '3.1.0');
  const res = await new Validator().validate(SPEC_PATH);
  assert.ok(res.valid, JSON.stringify(res.errors, null, 1));
});

for (const service of Object.keys(BINARIES)) {
  test(`every route the ${service} API serves is in the contract, and every operation of the contract is served`, { skip }, () => {
    const routes = new Set(served(service));
    assert.ok(routes.size > 5, `${BINARIES[service]} --routes listed ${routes.size}`);
    const documented = new Set(operations.filter((o) => o.service === service).map((o) => `${o.method} ${o.path}`));
    const undocumented = [...routes].filter((r) => !documented.has(r));
    const unserved = [...documented].filter((d) => !routes.has(d));
    assert.deepEqual(undocumented, [], `served by ${BINARIES[service]} but not in docs/openapi.yaml`);
    assert.deepEqual(unserved, [], `in docs/openapi.yaml but not served by ${BINARIES[service]}`);
  });
}

test('the answer check catches answers outside the contract', () => {
  const json = new Headers({ 'content-type': 'application/json' });
  // right
  assert.deepEqual(checkAnswer('query', 'GET', '/api/todos', 200, json, '[{"id": 1, "title": "t", "completed": false}]'), []);
  assert.deepEqual(checkAnswer('command', 'POST', '/api/orders', 409, json,
    '{"error": {"code": "insufficient_stock", "message": "m"}}'), []);
  // a missing field, a wrong type, an undocumented status, a wrong media type, an unknown code
  assert.notDeepEqual(checkAnswer('query', 'GET', '/api/todos', 200, json, '[{"id": 1, "title": "t"}]'), []);
  assert.notDeepEqual(checkAnswer('query', 'GET', '/api/products/1', 200, json,
    '{"productId": "1", "name": "n", "category": "c", "price": 1, "stock": 1, "reserved": 0, "lowStock": false, "lowStockThreshold": 1}'), []);
  assert.notDeepEqual(checkAnswer('command', 'POST', '/api/todos', 409, json, '{"error": {"code": "not_found", "message": "m"}}'), []);
  assert.notDeepEqual(checkAnswer('query', 'GET', '/api/todos', 200, new Headers({ 'content-type': 'text/html' }), '<p>'), []);
  assert.notDeepEqual(checkAnswer('query', 'GET', '/api/todos', 400, json, '{"error": {"code": "bogus", "message": "m"}}'), []);
  // an unknown route must be a 404 error envelope; a known path with another method a 405
  assert.deepEqual(checkAnswer('query', 'GET', '/nothing', 404, json, '{"error": {"code": "not_found", "message": "m"}}'), []);
  assert.notDeepEqual(checkAnswer('query', 'GET', '/nothing', 200, json, '{}'), []);
  assert.deepEqual(checkAnswer('query', 'DELETE', '/api/todos', 405, json, '{"error": {"code": "method_not_allowed", "message": "m"}}'), []);
});
