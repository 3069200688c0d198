-- cmd_create_orders: a batch of create-order commands in one transaction, each order all or
-- nothing: a refused order leaves nothing behind and says why in its own row while the others
-- commit; keys, traceparents and outbox rows stay per order.
BEGIN;
TRUNCATE order_items, orders, products, outbox, idempotency_keys CASCADE;
SELECT plan(25);

CREATE TEMP TABLE p AS
SELECT (cmd_create_product('{"name":"Lamp","category":"Home","price":30,"stock":5}')->>'productId')::bigint AS lamp,
       (cmd_create_product('{"name":"Desk","category":"Home","price":100,"stock":1}')->>'productId')::bigint AS desk;
DELETE FROM outbox;

CREATE TEMP TABLE r AS
SELECT * FROM cmd_create_orders(jsonb_build_array(
    jsonb_build_object('body', jsonb_build_object('customerId', 1, 'items',
        jsonb_build_array(jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 2))),
        'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
    jsonb_build_object('body', jsonb_build_object('customerId', 2, 'items',
        jsonb_build_array(jsonb_build_object('productId', (SELECT desk FROM p), 'quantity', 2),
                          jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 1)))),
    jsonb_build_object('body', jsonb_build_object('customerId', 3, 'items',
        jsonb_build_array(jsonb_build_object('productId', 987654321, 'quantity', 1)))),
    jsonb_build_object('body', jsonb_build_object('customerId', 4, 'items',
        jsonb_build_array(jsonb_build_object('productId', (SELECT desk FROM p), 'quantity', 1),
                          jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 1)))),
    jsonb_build_object('body', jsonb_build_object('customerId', 5, 'items',
        jsonb_build_array(jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 1,
                                             'price', 29)))),
    jsonb_build_object('body', jsonb_build_object('customerId', 6, 'items', '[]'::jsonb))));

SELECT is((SELECT array_agg(ord ORDER BY ord) FROM r), ARRAY[0, 1, 2, 3, 4, 5],
          'one row per order, in order');
SELECT is((SELECT answer->>'status' FROM r WHERE ord = 0), 'CREATED', 'the first order is created');
SELECT is((SELECT err_state FROM r WHERE ord = 0), NULL, 'with no error');
SELECT is((SELECT err_state FROM r WHERE ord = 1), 'CQ409',
          'the second asks for more desks than there are: insufficient stock');
SELECT matches((SELECT err_message FROM r WHERE ord = 1), 'insufficient stock for product',
               'with the single command''s message');
SELECT is((SELECT answer FROM r WHERE ord = 1), NULL, 'and no answer');
SELECT is((SELECT err_state FROM r WHERE ord = 2), 'CQ404', 'an unknown product: not found');
SELECT is((SELECT answer->>'total' FROM r WHERE ord = 3), '130',
          'the fourth order takes the desk the second could not');
SELECT is((SELECT err_state FROM r WHERE ord = 4), 'CQ410', 'a wrong price: price mismatch');
SELECT is((SELECT err_state FROM r WHERE ord = 5), 'CQ400', 'no items: invalid');
SELECT is((SELECT err_column FROM r WHERE ord = 5), 'items', 'naming the field');

SELECT is((SELECT count(*)::int FROM orders), 2, 'two orders written, the refused ones none');
SELECT is((SELECT stock FROM products WHERE id = (SELECT lamp FROM p)), 2,
          'lamps: 5 - 2 - 1, nothing taken by the refused orders');
SELECT is((SELECT stock FROM products WHERE id = (SELECT desk FROM p)), 0, 'desks: 1 - 1');
SELECT is((SELECT count(*)::int FROM order_items), 3, 'only the created orders have items');
SELECT is((SELECT array_agg(aggregate_id ORDER BY aggregate_id) FROM outbox),
          (SELECT array_agg((answer->>'orderId')::bigint ORDER BY ord) FROM r
           WHERE answer IS NOT NULL),
          'one OrderCreated per created order');
SELECT is((SELECT traceparent FROM outbox WHERE aggregate_id = (SELECT (answer->>'orderId')::bigint FROM r WHERE ord = 0)),
          '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
          'each outbox row carries its own order''s traceparent');
SELECT is((SELECT traceparent FROM outbox WHERE aggregate_id = (SELECT (answer->>'orderId')::bigint FROM r WHERE ord = 3)),
          NULL, 'an order sent without one has none');
SELECT is((SELECT (answer->'eventIds'->>0)::uuid FROM r WHERE ord = 0),
          (SELECT event_id FROM outbox WHERE aggregate_id = (SELECT (answer->>'orderId')::bigint FROM r WHERE ord = 0)),
          'the answer names its event');

-- Idempotency-Keys inside a batch: the first use runs, a repeat in the same batch replays it,
-- the same key with another body is refused without harming the others
CREATE TEMP TABLE k AS
SELECT * FROM cmd_create_orders(jsonb_build_array(
    jsonb_build_object('key', 'batch-key-1', 'ttl', 86400, 'path', '/api/orders',
        'body', jsonb_build_object('customerId', 7, 'items',
            jsonb_build_array(jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 1)))),
    jsonb_build_object('key', 'batch-key-1', 'ttl', 86400, 'path', '/api/orders',
        'body', jsonb_build_object('customerId', 7, 'items',
            jsonb_build_array(jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 1)))),
    jsonb_build_object('key', 'batch-key-1', 'ttl', 86400, 'path', '/api/orders',
        'body', jsonb_build_object('customerId', 8, 'items',
            jsonb_build_array(jsonb_build_object('productId', (SELECT lamp FROM p), 'quantity', 1))))));
SELECT is((SELECT array_agg(replayed ORDER BY ord) FROM k WHERE err_state IS NULL),
          ARRAY[false, true], 'a key runs once, its repeat in the same batch is a replay');
SELECT is((SELECT answer FROM k WHERE ord = 1), (SELECT answer FROM k WHERE ord = 0),
          'with the same answer');
SELECT is((SELECT err_state FROM k WHERE ord = 2), 'CQ422', 'the key with another body is refused');
SELECT is((SELECT stock FROM products WHERE id = (SELECT lamp FROM p)), 1, 'one lamp taken, once');
SELECT ok(EXISTS (SELECT 1 FROM pg_locks
                  WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                    AND classid = idempotency_lock_class()::oid
                    AND objid = (hashtext('batch-key-1')::bigint & 4294967295)::oid),
          'the key was taken as an advisory lock (before any product: no deadlock with a single request)');

SELECT throws_ok($$SELECT * FROM cmd_create_orders(
                     (SELECT jsonb_agg(jsonb_build_object('body', '{}'::jsonb)) FROM generate_series(1, 65)))$$,
                 'CQ400', NULL, 'more than 64 orders in one batch are refused');

SELECT * FROM finish();
ROLLBACK;
