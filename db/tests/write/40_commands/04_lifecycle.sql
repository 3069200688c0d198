-- Order lifecycle and payments: the state machine, payment rules, stock returned on cancel,
-- one event per transition with the next aggregate version.
BEGIN;
TRUNCATE payments, order_items, orders, inventory_adjustments, products, outbox;
SELECT plan(30);

SELECT cmd_create_product('{"name":"Laptop","category":"Electronics","price":50000,"stock":10}');
CREATE TEMP TABLE p AS SELECT id FROM products WHERE name = 'Laptop';
CREATE TEMP TABLE o AS
SELECT (cmd_create_order(format('{"customerId":5,"items":[{"productId":%s,"quantity":2}]}', id)::jsonb)->>'orderId')::bigint AS a,
       (cmd_create_order(format('{"customerId":5,"items":[{"productId":%s,"quantity":3}]}', id)::jsonb)->>'orderId')::bigint AS b
FROM p;
SELECT is((SELECT stock FROM products), 5, 'two orders took 5');

-- payments
SELECT throws_ok(format($$SELECT cmd_pay_order(%s, '{"amount": 99999, "method": "card"}')$$, (SELECT a FROM o)),
                 'CQ412', NULL, 'an amount other than the total is refused');
SELECT throws_ok(format($$SELECT cmd_pay_order(%s, '{"amount": 100000.001, "method": "card"}')$$, (SELECT a FROM o)),
                 'CQ400', 'amount: must have at most 2 fraction digits', 'the amount is exact money');
SELECT is((SELECT count(*)::int FROM payments), 0, 'refused payments wrote nothing');
SELECT is(cmd_pay_order((SELECT a FROM o), '{"amount": 100000, "method": "card"}')->>'status', 'PAID',
          'paying the exact total succeeds');
SELECT is((SELECT status FROM orders WHERE id = (SELECT a FROM o)), 'PAID', 'the order is PAID');
SELECT is((SELECT version FROM orders WHERE id = (SELECT a FROM o)), 2, 'its version is 2');
SELECT throws_ok(format($$SELECT cmd_pay_order(%s, '{"amount": 100000, "method": "card"}')$$, (SELECT a FROM o)),
                 'CQ413', NULL, 'a second payment is refused');
SELECT is((SELECT count(*)::int FROM payments), 1, 'one payment exists');
SELECT is((SELECT payload->>'amount' FROM outbox WHERE event_type = 'OrderPaid'), '100000',
          'OrderPaid carries the amount');
SELECT ok((SELECT payload ?& ARRAY['paymentId', 'method', 'paidAt', 'orderId', 'customerId', 'total']
           FROM outbox WHERE event_type = 'OrderPaid'), 'OrderPaid carries the payment info');
SELECT is((SELECT aggregate_version FROM outbox WHERE event_type = 'OrderPaid'), 2,
          'OrderPaid is version 2 of the order');

-- transitions
SELECT throws_ok(format($$SELECT cmd_complete_order(%s, '{}')$$, (SELECT a FROM o)),
                 'CQ411', format('order %s is PAID: it cannot become COMPLETED', (SELECT a FROM o)),
                 'PAID -> COMPLETED is invalid and names the current state');
SELECT is(cmd_ship_order((SELECT a FROM o), '{}')->>'status', 'SHIPPED', 'PAID -> SHIPPED');
SELECT throws_ok(format($$SELECT cmd_cancel_order(%s, '{}')$$, (SELECT a FROM o)),
                 'CQ411', NULL, 'a shipped order cannot be cancelled');
SELECT is(cmd_complete_order((SELECT a FROM o), '{}')->>'status', 'COMPLETED', 'SHIPPED -> COMPLETED');
SELECT throws_ok(format($$SELECT cmd_ship_order(%s, '{}')$$, (SELECT a FROM o)), 'CQ411', NULL,
                 'a completed order cannot be shipped again');
SELECT is((SELECT array_agg(event_type ORDER BY id) FROM outbox WHERE aggregate_type = 'order' AND aggregate_id = (SELECT a FROM o)),
          ARRAY['OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCompleted'], 'one event per transition');
SELECT is((SELECT array_agg(aggregate_version ORDER BY id) FROM outbox WHERE aggregate_type = 'order' AND aggregate_id = (SELECT a FROM o)),
          ARRAY[1, 2, 3, 4], 'versions increase by one');
SELECT throws_ok(format($$SELECT cmd_ship_order(%s, '{}')$$, (SELECT b FROM o)), 'CQ411', NULL,
                 'CREATED -> SHIPPED is invalid');

-- cancellation returns stock
SELECT is(cmd_cancel_order((SELECT b FROM o), '{"reason": "changed my mind"}')->>'status', 'CANCELLED',
          'CREATED -> CANCELLED');
SELECT is((SELECT stock FROM products), 8, 'cancelling returned 3 to stock');
SELECT is((SELECT payload->>'reason' FROM outbox WHERE event_type = 'OrderCancelled'), 'changed my mind',
          'OrderCancelled carries the reason');
SELECT is((SELECT payload->'items' FROM outbox WHERE event_type = 'OrderCancelled'),
          format('[{"productId": %s, "quantity": 3}]', (SELECT id FROM p))::jsonb, 'OrderCancelled lists the returned items');
SELECT throws_ok(format($$SELECT cmd_cancel_order(%s, '{}')$$, (SELECT b FROM o)), 'CQ411', NULL,
                 'cancelling twice is invalid');
SELECT throws_ok(format($$SELECT cmd_pay_order(%s, '{"amount": 150000, "method": "card"}')$$, (SELECT b FROM o)),
                 'CQ411', NULL, 'a cancelled order cannot be paid');
SELECT is((SELECT stock FROM products), 8, 'refused commands changed no stock');

-- a paid order can be cancelled too
CREATE TEMP TABLE c AS
SELECT (cmd_create_order(format('{"customerId":6,"items":[{"productId":%s,"quantity":1}]}', id)::jsonb)->>'orderId')::bigint AS id FROM p;
SELECT cmd_pay_order((SELECT id FROM c), '{"amount": 50000, "method": "cash"}');
SELECT is(cmd_cancel_order((SELECT id FROM c), '{}')->>'status', 'CANCELLED', 'PAID -> CANCELLED');
SELECT is((SELECT stock FROM products), 8, 'and its stock came back');

SELECT throws_ok($$SELECT cmd_ship_order(987654321, '{}')$$, 'CQ404', 'order 987654321 not found',
                 'an unknown order is not found');

SELECT * FROM finish();
ROLLBACK;
