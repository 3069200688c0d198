-- cmd_create_order: order + items + stock decrement + OrderCreated in one transaction, or nothing.
BEGIN;
-- start from empty tables (rolled back at the end) so the test holds on any database
TRUNCATE order_items, orders, products, outbox CASCADE;
SELECT plan(24);

CREATE TEMP TABLE p AS
SELECT (cmd_create_product('{"name":"Laptop","category":"Electronics","price":50000,"stock":10}')->>'productId')::bigint AS laptop,
       (cmd_create_product('{"name":"Pen","category":"Office","price":99.99,"stock":100}')->>'productId')::bigint AS pen;

CREATE TEMP TABLE r AS
SELECT cmd_create_order(format('{"customerId":101,"items":[{"productId":%s,"quantity":2,"price":50000},{"productId":%s,"quantity":3}]}',
                               laptop, pen)::jsonb) AS j FROM p;
SELECT is((SELECT j->>'status' FROM r), 'CREATED', 'the new order is CREATED');
SELECT is((SELECT j->>'total' FROM r), '100299.97', 'total is exact: 2 x 50000 + 3 x 99.99');
SELECT is((SELECT total FROM orders WHERE id = (SELECT (j->>'orderId')::bigint FROM r)),
          100299.97::numeric, 'the order row holds the total');
SELECT is((SELECT count(*)::int FROM order_items WHERE order_id = (SELECT (j->>'orderId')::bigint FROM r)),
          2, 'both items are written');
SELECT is((SELECT stock FROM products, p WHERE id = p.laptop), 8, 'laptop stock decremented by 2');
SELECT is((SELECT stock FROM products, p WHERE id = p.pen), 97, 'pen stock decremented by 3');
SELECT is(o.event_type, 'OrderCreated', 'the OrderCreated event is in the outbox')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(o.payload->>'total', '100299.97', 'the event carries the exact total')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is((o.payload->>'customerId')::bigint, 101::bigint, 'the event carries customerId')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(jsonb_array_length(o.payload->'items'), 2, 'the event carries the items')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(o.payload->'items'->0->>'productName', 'Laptop', 'items carry the product name')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is((o.aggregate_type, o.aggregate_id), ('order'::text, (r.j->>'orderId')::bigint),
          'the outbox row names its aggregate')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;

-- failures write nothing
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_items) AS items,
       (SELECT count(*) FROM outbox) AS events, (SELECT sum(stock) FROM products) AS stock;

SELECT throws_ok(format($$SELECT cmd_create_order('{"customerId":1,"items":[{"productId":%s,"quantity":1},{"productId":%s,"quantity":9}]}')$$,
                        (SELECT pen FROM p), (SELECT laptop FROM p)),
                 'CQ409', NULL, 'short stock on any item refuses the whole order');
SELECT throws_ok(format($$SELECT cmd_create_order('{"customerId":1,"items":[{"productId":%s,"quantity":5},{"productId":%s,"quantity":4}]}')$$,
                        (SELECT laptop FROM p), (SELECT laptop FROM p)),
                 'CQ409', NULL, 'quantities of the same product are summed against stock');
SELECT throws_ok(format($$SELECT cmd_create_order('{"customerId":1,"items":[{"productId":%s,"quantity":1,"price":99.98}]}')$$,
                        (SELECT pen FROM p)),
                 'CQ410', NULL, 'a supplied price that differs from the catalogue is refused');
SELECT throws_ok($$SELECT cmd_create_order('{"customerId":1,"items":[{"productId":999999,"quantity":1}]}')$$,
                 'CQ404', 'product 999999 not found', 'an unknown product is refused');
SELECT throws_ok(format($$SELECT cmd_create_order('{"customerId":1,"items":[{"productId":%s,"quantity":1,"price":99.991}]}')$$,
                        (SELECT pen FROM p)),
                 'CQ400', 'items[0].price: must have at most 2 fraction digits',
                 'a supplied price with 3 fraction digits is a validation error naming the item');
SELECT throws_ok($$SELECT cmd_create_order('{"customerId":1,"items":[]}')$$,
                 'CQ400', 'items: must hold at least one item', 'an empty order is refused');
SELECT is((SELECT count(*) FROM orders), (SELECT orders FROM before), 'no order was written');
SELECT is((SELECT count(*) FROM order_items), (SELECT items FROM before), 'no item was written');
SELECT is((SELECT count(*) FROM outbox), (SELECT events FROM before), 'no event was written');
SELECT is((SELECT sum(stock) FROM products), (SELECT stock FROM before), 'no stock was taken');

-- the exact remaining stock can be ordered, and then none is left
SELECT lives_ok(format($$SELECT cmd_create_order('{"customerId":2,"items":[{"productId":%s,"quantity":8}]}')$$,
                       (SELECT laptop FROM p)), 'ordering exactly the remaining stock succeeds');
SELECT is((SELECT stock FROM products, p WHERE id = p.laptop), 0, 'stock reaches 0, not below');

SELECT * FROM finish();
ROLLBACK;
