-- cmd_idempotent: a repeated key replays the first response and writes nothing; another request
-- under the same key is refused; a failed command leaves the key free; an expired key is new
-- again. The request hash ignores JSON whitespace and key order. Purges.
BEGIN;
TRUNCATE order_items, orders, products, outbox, idempotency_keys CASCADE;
SELECT plan(27);

CREATE TEMP TABLE first AS
SELECT * FROM cmd_idempotent('key-1', interval '1 day', 'POST', '/api/products', 'create_product',
                             NULL, '{"name":"Lamp","category":"Home","price":30,"stock":3}');
SELECT is((SELECT replayed FROM first), false, 'the first request is not a replay');
SELECT is((SELECT count(*)::int FROM products), 1, 'the first request creates the product');
SELECT ok((SELECT result ? 'eventIds' FROM first), 'its result carries the event ids');

CREATE TEMP TABLE second AS
SELECT * FROM cmd_idempotent('key-1', interval '1 day', 'POST', '/api/products', 'create_product',
                             NULL, '{"stock": 3, "price": 30,  "category": "Home", "name": "Lamp"}');
SELECT is((SELECT result FROM second), (SELECT result FROM first),
          'a repeat (other whitespace and key order) returns the first response, same ids');
SELECT is((SELECT replayed FROM second), true, 'and says it is a replay');
SELECT is((SELECT count(*)::int FROM products), 1, 'and writes no second product');
SELECT is((SELECT count(*)::int FROM outbox), 1, 'nor a second event');

SELECT throws_ok($$SELECT cmd_idempotent('key-1', interval '1 day', 'POST', '/api/products', 'create_product', NULL, '{"name":"Other","category":"Home","price":1,"stock":1}')$$,
                 'CQ422', 'Idempotency-Key was already used for another request',
                 'the same key with another body is refused');
SELECT throws_ok($$SELECT cmd_idempotent('key-1', interval '1 day', 'POST', '/api/todos', 'create_todo', NULL, '{"name":"Lamp","category":"Home","price":30,"stock":3}')$$,
                 'CQ422', NULL, 'the same key on another path is refused');
SELECT throws_ok($$SELECT cmd_idempotent('key-1', interval '1 day', 'PATCH', '/api/products', 'create_product', NULL, '{"name":"Lamp","category":"Home","price":30,"stock":3}')$$,
                 'CQ422', NULL, 'the same key with another method is refused');
SELECT is((SELECT count(*)::int FROM products), 1, 'refusals write nothing');

-- a failed command does not keep the key
SELECT throws_ok($$SELECT cmd_idempotent('key-2', interval '1 day', 'POST', '/api/orders', 'create_order', NULL, '{"customerId":1,"items":[{"productId":987654321,"quantity":1}]}')$$,
                 'CQ404', NULL, 'the command fails');
SELECT is((SELECT count(*)::int FROM idempotency_keys WHERE key = 'key-2'), 0, 'its key is not kept');

SELECT is((SELECT result->>'total' FROM cmd_idempotent('key-3', interval '1 day', 'POST', '/api/orders', 'create_order', NULL,
          format('{"customerId":1,"items":[{"productId":%s,"quantity":1}]}', (SELECT id FROM products))::jsonb)),
          '30', 'an order under a key');
SELECT is((SELECT stock FROM products), 2, 'takes stock once');
SELECT is((SELECT replayed FROM cmd_idempotent('key-3', interval '1 day', 'POST', '/api/orders', 'create_order', NULL,
          format('{"customerId":1,"items":[{"productId":%s,"quantity":1}]}', (SELECT id FROM products))::jsonb)),
          true, 'the repeat is a replay');
SELECT is((SELECT stock FROM products), 2, 'and does not take stock again');

-- commands with an id in the path
SELECT is((SELECT result->>'status' FROM cmd_idempotent('key-4', interval '1 day', 'POST',
           format('/api/orders/%s/cancel', (SELECT id FROM orders)), 'cancel_order', (SELECT id FROM orders), '{}')),
          'CANCELLED', 'a cancel under a key');
SELECT is((SELECT result->>'status' FROM cmd_idempotent('key-4', interval '1 day', 'POST',
           format('/api/orders/%s/cancel', (SELECT id FROM orders)), 'cancel_order', (SELECT id FROM orders), '{}')),
          'CANCELLED', 'replays its answer instead of refusing a second cancel');

-- a key past its time-to-live is new again, even before the purge removed it
UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key = 'key-1';
SELECT is((SELECT replayed FROM cmd_idempotent('key-1', interval '1 day', 'POST', '/api/products', 'create_product',
           NULL, '{"name":"Desk","category":"Home","price":5,"stock":1}')),
          false, 'an expired key runs the command again');
SELECT is((SELECT count(*)::int FROM products), 2, 'which writes');

SELECT is(idempotency_request_hash('POST', '/api/todos', '{"a": 1, "b": [1, 2]}'),
          idempotency_request_hash('POST', '/api/todos', '{ "b":[1,2],"a":1 }'),
          'the hash ignores whitespace and key order');
SELECT isnt(idempotency_request_hash('POST', '/api/todos', '{"a": 1}'),
            idempotency_request_hash('POST', '/api/todos', '{"a": 2}'),
            'but not the values');

SELECT throws_ok($$INSERT INTO idempotency_keys (key, request_hash, command) VALUES ('has space', '\x00', 'x')$$,
                 '23514', NULL, 'a key must be visible ASCII');
SELECT throws_ok(format($$INSERT INTO idempotency_keys (key, request_hash, command) VALUES (%L, '\x00', 'x')$$, repeat('k', 256)),
                 '23514', NULL, 'of at most 255 characters');

UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key = 'key-3';
SELECT is(idempotency_purge(interval '1 day', 100), 1, 'expired keys are purged');
UPDATE outbox SET published_at = now() - interval '8 days' WHERE event_type = 'ProductCreated';
SELECT is(outbox_purge(interval '7 days', 100), 2, 'published rows past retention are purged, unpublished ones kept');

SELECT * FROM finish();
ROLLBACK;
