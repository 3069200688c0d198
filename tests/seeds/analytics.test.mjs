// The e-commerce analytics seed: its testing guide follows an order through the services by
// their logs (`docker-compose logs consumer-service`); here, the same lines in the local stack's
// consumer log. Its commands are the project's /api ones (tests/e2e).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMAND_URL, QUERY_URL, post, getWhen, eventually, catalogueProduct } from './lib.mjs';

test('the consumer logs a received and a saved line with the order_id of each order event', async (t) => {
  const stateDir = process.env.STATE_DIR;
  if (!stateDir) return t.skip('STATE_DIR is not set: not the test driver\'s stack');
  const log = path.join(stateDir, 'logs', 'consumer.log');
  const product = await catalogueProduct(COMMAND_URL);
  const r = await post(`${COMMAND_URL}/api/orders`, { customerId: 4242, items: [{ productId: product, quantity: 1 }] });
  assert.equal(r.status, 201, r.text);
  const id = r.json.orderId;
  await getWhen(`${QUERY_URL}/api/orders/${id}`);
  const lines = await eventually(() => {
    const mine = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(` order_id=${id} `));
    return mine.some((l) => /msg="received OrderCreated"/.test(l)) && mine.some((l) => /msg="saved to read db"/.test(l))
      ? mine : false;
  }, 10000, `received and saved lines for order_id=${id} in ${log}`);
  assert.ok(lines.every((l) => /svc=consumer/.test(l)), lines.join('\n'));
});
