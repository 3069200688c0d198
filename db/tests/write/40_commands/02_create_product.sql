-- cmd_create_product: the product row and its ProductCreated event, atomically; exact money.
BEGIN;
-- start from empty tables (rolled back at the end) so the test holds on any database
TRUNCATE order_items, orders, products, outbox CASCADE;
SELECT plan(16);

SELECT lives_ok($$SELECT cmd_create_product('{"name":"Laptop","category":"Electronics","price":50000,"stock":10}')$$,
                'a valid product is created');
SELECT is((SELECT price FROM products WHERE name = 'Laptop'), 50000.00::numeric, 'price stored');
SELECT is((SELECT low_stock_threshold FROM products WHERE name = 'Laptop'), 10,
          'lowStockThreshold defaults to 10');

CREATE TEMP TABLE r AS
SELECT cmd_create_product('{"name":"Pen","category":"Office","price":99.99,"stock":5,"lowStockThreshold":2}') AS j;
SELECT is((SELECT (j->>'productId')::bigint FROM r), (SELECT id FROM products WHERE name = 'Pen'),
          'the response carries the new productId');
SELECT is((SELECT jsonb_array_length(j->'eventIds') FROM r), 1, 'one event id is returned');

SELECT is(o.event_type, 'ProductCreated', 'outbox row has the event type')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(o.payload->>'price', '99.99', '99.99 stays 99.99 in the event')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT ok(o.payload ?& ARRAY['eventId', 'eventType', 'occurredAt', 'aggregateType', 'aggregateId',
                             'aggregateVersion', 'productId', 'name', 'category', 'price', 'stock'],
          'the event has the envelope and the product fields')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(o.payload->>'eventId', o.event_id::text, 'envelope eventId equals the outbox event_id')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT ok(o.published_at IS NULL, 'a new outbox row is unpublished')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is((SELECT payload->>'price' FROM outbox WHERE payload->>'name' = 'Laptop'), '50000',
          '50000 stays 50000 in the event');

SELECT throws_ok($$SELECT cmd_create_product('{"name":"X","category":"C","price":1.001,"stock":1}')$$,
                 'CQ400', 'price: must have at most 2 fraction digits', 'three fraction digits are refused');
SELECT throws_ok($$SELECT cmd_create_product('{"name":"X","category":"C","price":-1,"stock":1}')$$,
                 'CQ400', NULL, 'a negative price is refused');
SELECT throws_ok($$SELECT cmd_create_product('{"name":"X","category":"C","price":"5","stock":1}')$$,
                 'CQ400', 'price: must be a number', 'a price given as a string is refused');
SELECT throws_ok($$SELECT cmd_create_product('{"name":"X","category":"C","price":1e12,"stock":1}')$$,
                 'CQ400', NULL, 'a price of 10^12 or more is refused');
SELECT is((SELECT count(*)::int FROM products WHERE name = 'X'), 0, 'refused products wrote nothing');

SELECT * FROM finish();
ROLLBACK;
