-- apply_event / apply_events: projections of ProductCreated and OrderCreated, exactly once.
BEGIN;
TRUNCATE order_items_read, orders_read, products_read, processed_events CASCADE;
SELECT plan(22);

CREATE TEMP TABLE ev (name text PRIMARY KEY, e jsonb);
INSERT INTO ev VALUES
('p1', '{"eventId":"00000000-0000-0000-0000-000000000001","eventType":"ProductCreated","occurredAt":"2026-01-01T10:00:00.000001Z","aggregateType":"product","aggregateId":1,"aggregateVersion":1,"productId":1,"name":"Laptop","category":"Electronics","price":50000,"stock":10,"lowStockThreshold":10}'),
('p2', '{"eventId":"00000000-0000-0000-0000-000000000002","eventType":"ProductCreated","occurredAt":"2026-01-01T10:00:01Z","aggregateType":"product","aggregateId":2,"aggregateVersion":1,"productId":2,"name":"Pen","category":"Office","price":99.99,"stock":100}'),
('o1', '{"eventId":"00000000-0000-0000-0000-000000000003","eventType":"OrderCreated","occurredAt":"2026-01-01T10:00:02Z","aggregateType":"order","aggregateId":1,"aggregateVersion":1,"orderId":1,"customerId":101,"status":"CREATED","total":100299.97,"items":[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":2,"price":50000},{"productId":2,"productName":"Pen","category":"Office","quantity":3,"price":99.99}]}');

SELECT is(apply_event(e), 'applied', 'ProductCreated is applied') FROM ev WHERE name = 'p1';
SELECT is((SELECT (name, category, price, stock) FROM products_read WHERE product_id = 1),
          ('Laptop'::text, 'Electronics'::text, 50000::numeric(14,2), 10),
          'products_read holds the product');
SELECT is(apply_event(e), 'duplicate', 'the same event again is a duplicate') FROM ev WHERE name = 'p1';
SELECT is((SELECT count(*)::int FROM products_read), 1, 'a duplicate adds nothing');
SELECT is((SELECT low_stock_threshold FROM products_read WHERE product_id = 1), 10, 'threshold kept');

SELECT is(apply_events(jsonb_build_array((SELECT e FROM ev WHERE name = 'p2'),
                                         (SELECT e FROM ev WHERE name = 'o1'))),
          '{"applied": 2, "duplicates": 0}'::jsonb, 'apply_events applies a batch in order');
SELECT is((SELECT (customer_id, status, total) FROM orders_read WHERE order_id = 1),
          (101::bigint, 'CREATED'::text, 100299.97::numeric(14,2)), 'orders_read holds the order');
SELECT is((SELECT jsonb_array_length(items) FROM orders_read WHERE order_id = 1), 2,
          'orders_read holds the items');
SELECT is((SELECT count(*)::int FROM order_items_read WHERE order_id = 1), 2, 'item rows written');
SELECT is((SELECT stock FROM products_read WHERE product_id = 1), 8, 'OrderCreated takes laptop stock');
SELECT is((SELECT stock FROM products_read WHERE product_id = 2), 97, 'OrderCreated takes pen stock');
SELECT is((SELECT created_at FROM orders_read WHERE order_id = 1), '2026-01-01T10:00:02Z'::timestamptz,
          'createdAt is the event time');

-- redelivery of the whole batch changes nothing
SELECT is(apply_events(jsonb_build_array((SELECT e FROM ev WHERE name = 'p2'),
                                         (SELECT e FROM ev WHERE name = 'o1'))),
          '{"applied": 0, "duplicates": 2}'::jsonb, 'a redelivered batch is all duplicates');
SELECT is((SELECT stock FROM products_read WHERE product_id = 1), 8, 'stock is taken once');
SELECT is((SELECT count(*)::int FROM order_items_read), 2, 'items are written once');
SELECT is((SELECT count(*)::int FROM processed_events), 3, 'each event id is recorded once');

-- what cannot be applied raises, and so leaves no trace
SELECT throws_ok($$SELECT apply_event('{"eventId":"00000000-0000-0000-0000-0000000000ff","eventType":"Nope"}')$$,
                 'CQ422', NULL, 'an unknown event type raises');
SELECT throws_ok($$SELECT apply_event('{"eventType":"OrderCreated"}')$$, 'CQ422', NULL,
                 'an event without eventId raises');
SELECT throws_ok($$SELECT apply_event('[1,2]')$$, 'CQ422', NULL, 'a non-object raises');
SELECT throws_ok($$SELECT apply_events('{}')$$, 'CQ422', NULL, 'apply_events needs an array');
SELECT throws_ok($$SELECT apply_event('{"eventId":"00000000-0000-0000-0000-0000000000fe","eventType":"OrderCreated","aggregateVersion":1}')$$,
                 NULL, NULL, 'an OrderCreated without its fields raises');
SELECT is((SELECT count(*)::int FROM processed_events), 3, 'a failed event is not recorded');

SELECT * FROM finish();
ROLLBACK;
