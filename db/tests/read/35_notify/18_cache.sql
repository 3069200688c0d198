-- The query API's answer cache (0018_cache_invalidation.sql): each transaction that changes the
-- read model sends one notification on events_applied naming the keys it changed: an order event
-- its order and customer (and the products whose stock it moved), a product or inventory event
-- its product, a todo nothing; "*" when the keys would not fit (8000 bytes) or on TRUNCATE.
-- A notification is only delivered at commit (never, here: the test rolls back); the payload
-- sent last is in cq.cache_notified.
BEGIN;
\ir ../fixtures.psql
SELECT pg_temp.empty_read_model();
SELECT plan(22);

-- the payload sent since the last call ('-' when none)
CREATE FUNCTION pg_temp.flushed() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text := coalesce(current_setting('cq.cache_notified', true), '-');
BEGIN
    PERFORM set_config('cq.cache_notified', '-', true);
    RETURN v;
END $$;

-- the events of the test: the March story's catalogue, an inventory adjustment, order 10 (paid,
-- shipped, completed) and order 11 of one customer, and a todo
INSERT INTO story
SELECT * FROM pg_temp.story_products(100)
UNION ALL
SELECT * FROM pg_temp.order_story(4, 10, 45, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":100},
                                              {"productId":2,"productName":"Pen","category":"Office","quantity":1,"price":2.5}]',
                                  '{"status":"PAID","paymentId":1,"method":"card"}', '{"status":"SHIPPED"}', '{"status":"COMPLETED"}')
UNION ALL
SELECT * FROM pg_temp.order_story(8, 11, 45, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":100}]')
UNION ALL
VALUES ('inv', pg_temp.march(3, 'InventoryAdjusted', 'product', 1, 2, '{"productId":1,"adjustmentId":1,"delta":5,"reason":"","stock":15}')),
       ('todo', pg_temp.march(9, 'TodoCreated', 'todo', 9001, 1, '{"todoId":9001,"title":"t","completed":false}'));

-- applies the events p_names in one batch (lives_ok, p_what), then checks what it sent (p_sent,
-- p_why)
CREATE FUNCTION pg_temp.batch_sends(p_names text[], p_what text, p_sent text, p_why text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEXT lives_ok(format('SELECT apply_events(%L)', (SELECT jsonb_agg(e ORDER BY array_position(p_names, name))
                                                           FROM story WHERE name = ANY (p_names))),
                         p_what);
    RETURN NEXT is(pg_temp.flushed(), p_sent, p_why);
END $$;

-- applies the event p_name alone (apply_event answers p_result, p_what), then checks what it sent
CREATE FUNCTION pg_temp.event_sends(p_name text, p_result text, p_what text, p_sent text, p_why text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEXT is(apply_event((SELECT e FROM story WHERE name = p_name)), p_result, p_what);
    RETURN NEXT is(pg_temp.flushed(), p_sent, p_why);
END $$;

SELECT is(pg_temp.flushed(), '*', 'a TRUNCATE of the read model forgets every answer');
SELECT is(pg_temp.flushed(), '-', 'nothing more was sent');
SELECT is((SELECT tgtype & 32 FROM pg_trigger
           WHERE tgrelid = 'orders_read'::regclass AND tgname = 'orders_read_cache_truncate')::int,
          32, 'orders_read has a TRUNCATE trigger');

SELECT pg_temp.batch_sends(names, what, sent, why) FROM (VALUES
    (ARRAY['p1', 'p2'], 'two products are created', 'product:1 product:2', 'product events name their products'),
    (ARRAY['inv'], 'an inventory adjustment', 'product:1', 'an inventory event names its product only'),
    (ARRAY['o10', 'o11'], 'two orders of one customer', 'customer:45 order:10 order:11 product:1 product:2',
     'order creations name their orders, their customer once, and the products they reserved'),
    (ARRAY['o10paid'], 'a payment', 'customer:45 order:10', 'an order event names its order and customer'),
    (ARRAY['todo'], 'a todo', '', 'an event that changes no cached answer still notifies, with no key'))
    AS s(names, what, sent, why);

SELECT pg_temp.event_sends(name, result, what, sent, why) FROM (VALUES
    ('todo', 'duplicate', 'a redelivered event', '', 'a duplicate changes no cached answer: no key'),
    ('o10ship', 'applied', 'a shipment, one event alone (apply_event)', 'customer:45 order:10 product:1 product:2',
     'a shipment names its order, its customer and the products whose reserved stock left'),
    ('o10done', 'applied', 'a completion', 'customer:45 order:10', 'a completion moves no stock: no product'))
    AS s(name, result, what, sent, why);

SELECT is(cache_event_keys('[{"eventType":"GiftWrapped","orderId":10}]'), '*',
          'an event type the keys do not know forgets everything');

-- more keys than a notification holds: everything
INSERT INTO story
SELECT 'bulk' || i, pg_temp.envelope(1000 + i, 'ProductCreated', 'product', 100000 + i, 1, '2026-03-01T10:00:00Z',
                                     jsonb_build_object('productId', 100000 + i, 'name', 'p', 'category', 'c', 'price', 1, 'stock', 1))
FROM generate_series(1, 800) AS i;
SELECT pg_temp.batch_sends(ARRAY(SELECT name FROM story WHERE name LIKE 'bulk%' ORDER BY e->>'eventId'),
                           '800 products in one batch', '*', 'their keys do not fit in a notification: "*"');

SELECT * FROM finish();
ROLLBACK;
