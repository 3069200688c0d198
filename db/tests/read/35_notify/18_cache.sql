-- The query API's answer cache (0018_cache_invalidation.sql): each transaction that changes the
-- read model sends one notification on events_applied naming the keys it changed: an order event
-- its order and customer (and the products whose stock it moved), a product or inventory event
-- its product, a todo nothing; "*" when the keys would not fit (8000 bytes) or on TRUNCATE.
-- A notification is only delivered at commit (never, here: the test rolls back); the payload
-- sent last is in cq.cache_notified.
BEGIN;
TRUNCATE order_items_read, orders_read, products_read, processed_events, customer_summary,
         customer_status_counts, customer_product_qty, sales_daily, product_sales, category_sales,
         order_status_counts, todos_read;
UPDATE order_totals SET total_orders = 0, revenue = 0, revenue_orders = 0;
\ir ../fixtures.psql
SELECT plan(22);

CREATE FUNCTION pg_temp.mk(p_id int, p_type text, p_agg text, p_agg_id int, p_version int, p_body jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT pg_temp.envelope(p_id, p_type, p_agg, p_agg_id, p_version, '2026-04-01T10:00:00Z', p_body) $$;

-- the payload sent since the last call ('-' when none)
CREATE FUNCTION pg_temp.flushed() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text := coalesce(current_setting('cq.cache_notified', true), '-');
BEGIN
    PERFORM set_config('cq.cache_notified', '-', true);
    RETURN v;
END $$;

SELECT is(pg_temp.flushed(), '*', 'a TRUNCATE of the read model forgets every answer');
SELECT is(pg_temp.flushed(), '-', 'nothing more was sent');
SELECT is((SELECT tgtype & 32 FROM pg_trigger
           WHERE tgrelid = 'orders_read'::regclass AND tgname = 'orders_read_cache_truncate')::int,
          32, 'orders_read has a TRUNCATE trigger');

SELECT lives_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.mk(1, 'ProductCreated', 'product', 1, 1, '{"productId":1,"name":"Laptop","category":"E","price":100,"stock":10}'),
    pg_temp.mk(2, 'ProductCreated', 'product', 2, 1, '{"productId":2,"name":"Pen","category":"O","price":2,"stock":50}')))$$,
    'two products are created');
SELECT is(pg_temp.flushed(), 'product:1 product:2', 'product events name their products');

SELECT lives_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.mk(3, 'InventoryAdjusted', 'product', 1, 2, '{"productId":1,"adjustmentId":1,"delta":5,"reason":"","stock":15}')))$$,
    'an inventory adjustment');
SELECT is(pg_temp.flushed(), 'product:1', 'an inventory event names its product only');

SELECT lives_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.mk(4, 'OrderCreated', 'order', 10, 1, '{"orderId":10,"customerId":45,"status":"CREATED","total":102,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":1,"price":100},{"productId":2,"productName":"Pen","category":"O","quantity":1,"price":2}]}'),
    pg_temp.mk(5, 'OrderCreated', 'order', 11, 1, '{"orderId":11,"customerId":45,"status":"CREATED","total":100,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":1,"price":100}]}')))$$,
    'two orders of one customer');
SELECT is(pg_temp.flushed(), 'customer:45 order:10 order:11 product:1 product:2',
          'order creations name their orders, their customer once, and the products they reserved');

SELECT lives_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.mk(6, 'OrderPaid', 'order', 10, 2, '{"orderId":10,"customerId":45,"status":"PAID","previousStatus":"CREATED","total":102,"paymentId":1,"amount":102,"method":"card","paidAt":"2026-04-02T10:00:00.000000Z"}')))$$,
    'a payment');
SELECT is(pg_temp.flushed(), 'customer:45 order:10', 'an order event names its order and customer');

SELECT lives_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.mk(7, 'TodoCreated', 'todo', 9001, 1, '{"todoId":9001,"title":"t","completed":false}')))$$,
    'a todo');
SELECT is(pg_temp.flushed(), '', 'an event that changes no cached answer still notifies, with no key');

SELECT is(apply_event(pg_temp.mk(7, 'TodoCreated', 'todo', 9001, 1, '{"todoId":9001,"title":"t","completed":false}')),
          'duplicate', 'a redelivered event');
SELECT is(pg_temp.flushed(), '', 'a duplicate changes no cached answer: no key');

SELECT is(apply_event(pg_temp.mk(8, 'OrderShipped', 'order', 10, 3, '{"orderId":10,"customerId":45,"status":"SHIPPED","previousStatus":"PAID"}')),
          'applied', 'a shipment, one event alone (apply_event)');
SELECT is(pg_temp.flushed(), 'customer:45 order:10 product:1 product:2',
          'a shipment names its order, its customer and the products whose reserved stock left');
SELECT is(apply_event(pg_temp.mk(9, 'OrderCompleted', 'order', 10, 4, '{"orderId":10,"customerId":45,"status":"COMPLETED","previousStatus":"SHIPPED"}')),
          'applied', 'a completion');
SELECT is(pg_temp.flushed(), 'customer:45 order:10', 'a completion moves no stock: no product');

SELECT is(cache_event_keys('[{"eventType":"GiftWrapped","orderId":10}]'), '*',
          'an event type the keys do not know forgets everything');

-- more keys than a notification holds: everything
SELECT lives_ok($$SELECT apply_events((SELECT jsonb_agg(pg_temp.mk(1000 + i, 'ProductCreated', 'product', 100000 + i, 1,
    jsonb_build_object('productId', 100000 + i, 'name', 'p', 'category', 'c', 'price', 1, 'stock', 1)))
    FROM generate_series(1, 800) AS i))$$, '800 products in one batch');
SELECT is(pg_temp.flushed(), '*', 'their keys do not fit in a notification: "*"');

SELECT * FROM finish();
ROLLBACK;
