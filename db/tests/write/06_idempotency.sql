-- cmd_idempotent: a repeated key replays the first response and writes nothing; another request
-- under the same key is refused; a failed command leaves the key free. Purges.
BEGIN;
TRUNCATE order_items, orders, products, outbox, idempotency_keys CASCADE;
SELECT plan(12);

CREATE TEMP TABLE first AS
SELECT cmd_idempotent('key-1', 'hash-a', 'create_product', NULL,
                      '{"name":"Lamp","category":"Home","price":30,"stock":3}') AS j;
SELECT is((SELECT count(*)::int FROM products), 1, 'the first request creates the product');
SELECT is(cmd_idempotent('key-1', 'hash-a', 'create_product', NULL,
                         '{"name":"Lamp","category":"Home","price":30,"stock":3}') - 'replayed',
          (SELECT j FROM first), 'a repeat returns the first response, same ids');
SELECT is((SELECT count(*)::int FROM products), 1, 'and writes no second product');
SELECT is((SELECT count(*)::int FROM outbox), 1, 'nor a second event');
SELECT throws_ok($$SELECT cmd_idempotent('key-1', 'hash-b', 'create_product', NULL, '{"name":"Other","category":"Home","price":1,"stock":1}')$$,
                 'CQ422', NULL, 'the same key with another request is refused');

-- a failed command does not keep the key
SELECT throws_ok($$SELECT cmd_idempotent('key-2', 'hash-c', 'create_order', NULL, '{"customerId":1,"items":[{"productId":987654321,"quantity":1}]}')$$,
                 'CQ404', NULL, 'the command fails');
SELECT is((SELECT count(*)::int FROM idempotency_keys WHERE key = 'key-2'), 0, 'its key is not kept');

SELECT is((cmd_idempotent('key-3', 'hash-d', 'create_order', NULL,
                          format('{"customerId":1,"items":[{"productId":%s,"quantity":1}]}', (SELECT id FROM products))::jsonb)->>'total'),
          '30', 'an order under a key');
SELECT is((SELECT stock FROM products), 2, 'takes stock once');
SELECT cmd_idempotent('key-3', 'hash-d', 'create_order', NULL,
                      format('{"customerId":1,"items":[{"productId":%s,"quantity":1}]}', (SELECT id FROM products))::jsonb);
SELECT is((SELECT stock FROM products), 2, 'and not again on replay');

UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key = 'key-1';
SELECT is(idempotency_purge(interval '1 day', 100), 1, 'expired keys are purged');
UPDATE outbox SET published_at = now() - interval '8 days' WHERE event_type = 'ProductCreated';
SELECT is(outbox_purge(interval '7 days', 100), 1, 'published rows past retention are purged, unpublished ones kept');

SELECT * FROM finish();
ROLLBACK;
