-- Lifecycle projections: order status, payment, timeline, reserved stock, customer summary,
-- analytics summaries and their materialized views, version ordering.
BEGIN;
\ir ../fixtures.psql
SELECT pg_temp.empty_read_model();
SELECT plan(37);

-- events as the write DB produces them: story(name, e); order 1 goes all the way, order 2 is paid,
-- then cancelled
INSERT INTO story
SELECT * FROM pg_temp.story_products(1000)
UNION ALL
SELECT * FROM pg_temp.order_story(3, 1, 7, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":2,"price":1000},
                                             {"productId":2,"productName":"Pen","category":"Office","quantity":2,"price":2.5}]',
                                  '{"status":"PAID","paymentId":9,"method":"card"}', '{"status":"SHIPPED"}', '{"status":"COMPLETED"}')
UNION ALL
SELECT * FROM pg_temp.order_story(13, 2, 7, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":1000}]',
                                  '{"status":"PAID","paymentId":10,"method":"cash"}', '{"status":"CANCELLED","reason":"x"}')
UNION ALL
VALUES ('inv', pg_temp.march(16, 'InventoryAdjusted', 'product', 2, 2, '{"productId":2,"delta":-90,"reason":"audit","stock":8}'));

SELECT apply_events((SELECT jsonb_agg(e ORDER BY name) FROM story WHERE name IN ('p1', 'p2')));
SELECT is(apply_event(e), 'applied') FROM story WHERE name = 'o1';
SELECT is((SELECT (stock, reserved) FROM products_read WHERE product_id = 1), (8, 2), 'an order reserves stock');

-- out of order: OrderShipped (v3) before OrderPaid (v2) must wait
SELECT throws_ok((SELECT format('SELECT apply_event(%L)', e) FROM story WHERE name = 'o1ship'), 'CQ425', NULL,
                 'an event ahead of its predecessor raises CQ425 so it is retried later');
SELECT is(apply_event(e), 'applied') FROM story WHERE name = 'o1paid';
SELECT is((SELECT status FROM orders_read WHERE order_id = 1), 'PAID', 'OrderPaid moves the order to PAID');
SELECT is((SELECT payment->>'method' FROM orders_read WHERE order_id = 1), 'card', 'the payment is recorded');
SELECT is((SELECT (total_spent, spent_orders) FROM customer_summary WHERE customer_id = 7), (2005.00::numeric(18,2), 1::bigint),
          'a paid order counts in totalSpent');
SELECT is(apply_event(e), 'applied') FROM story WHERE name = 'o1ship';
SELECT is((SELECT (stock, reserved) FROM products_read WHERE product_id = 1), (8, 0), 'shipping releases the reservation');
SELECT is(apply_event(e), 'applied') FROM story WHERE name = 'o1done';

-- a stale redelivery under a new id (as from a second relay) changes nothing and is counted as a
-- duplicate (0011_ordering.sql)
SELECT is(apply_event(jsonb_set(e, '{eventId}', '"00000000-0000-0000-0000-0000000000aa"')), 'duplicate')
FROM story WHERE name = 'o1paid';
SELECT is((SELECT (status, version) FROM orders_read WHERE order_id = 1), ('COMPLETED'::text, 4),
          'a stale event does not move the order back');
SELECT is((SELECT revenue_orders FROM order_totals), 1::bigint, 'a stale payment adds no revenue');

SELECT is((SELECT jsonb_agg(t->>'event') FROM orders_read, jsonb_array_elements(timeline) t WHERE order_id = 1),
          '["OrderCreated", "OrderPaid", "OrderShipped", "OrderCompleted"]'::jsonb, 'one timeline entry per event, in order');

-- second order: paid, then cancelled
SELECT apply_events((SELECT jsonb_agg(e ORDER BY name) FROM story WHERE name IN ('o2', 'o2paid')));
SELECT is((SELECT (stock, reserved) FROM products_read WHERE product_id = 1), (7, 1), 'order 2 reserves one');
SELECT is(apply_event(e), 'applied') FROM story WHERE name = 'o2cancel';
SELECT is((SELECT (stock, reserved) FROM products_read WHERE product_id = 1), (8, 0), 'cancelling returns the reservation');
SELECT is((SELECT (total_spent, spent_orders, total_orders) FROM customer_summary WHERE customer_id = 7),
          (2005.00::numeric(18,2), 1::bigint, 2::bigint), 'a cancelled order is not spent, but still an order');
SELECT is((SELECT (revenue, revenue_orders, total_orders) FROM order_totals),
          (2005.00::numeric(18,2), 1::bigint, 2::bigint), 'revenue excludes the cancelled order');
SELECT is((SELECT orders FROM sales_daily WHERE day = '2026-03-02'), 0::bigint, 'the cancelled order leaves the daily count');

SELECT is(apply_event(e), 'applied') FROM story WHERE name = 'inv';
SELECT is((SELECT stock FROM products_read WHERE product_id = 2), 8, 'InventoryAdjusted applies the delta');

-- queries
SELECT is((SELECT q_customer_summary(7))::jsonb,
          '{"customerId":7,"totalOrders":2,"totalSpent":2005,"avgOrderValue":2005,
            "favoriteProducts":[{"productId":1,"name":"Laptop","quantity":2},{"productId":2,"name":"Pen","quantity":2}],
            "orderStatuses":{"CANCELLED":1,"COMPLETED":1}}'::jsonb, 'q_customer_summary');
SELECT is((SELECT q_customer_summary(8)), NULL, 'an unknown customer is NULL');
SELECT is(json_array_length((SELECT q_customer_orders(7, NULL, 10, 0))::json), 2, 'q_customer_orders lists both');
SELECT is((SELECT q_customer_orders(7, NULL, 10, 0))::jsonb->0->>'orderId', '2', 'newest first');
SELECT is((SELECT q_customer_orders(7, 'COMPLETED', 10, 0))::jsonb->0->>'orderId', '1', 'filtered by status');
SELECT is((SELECT q_customer_orders(7, NULL, 1, 1))::jsonb->0->>'orderId', '1', 'paginated');
SELECT is((SELECT q_inventory(false))::jsonb->0,
          '{"productId":1,"productName":"Laptop","available":8,"reserved":0,"total":8,"lowStock":false}'::jsonb,
          'q_inventory');
SELECT is((SELECT q_inventory(true))::jsonb, '[{"productId":2,"productName":"Pen","available":8,"reserved":0,"total":8,"lowStock":true}]'::jsonb,
          'q_inventory(lowStock)');
SELECT is((SELECT q_order(1))::jsonb->'payment', '{"paymentId":9,"amount":2005,"method":"card","paidAt":"2026-03-01T10:00:01.000000Z"}'::jsonb,
          'q_order shows the payment');

-- analytics: the views answer what the summaries say once refreshed
SELECT ok((SELECT bool_and(dirty) FROM mv_state), 'the events marked every view dirty');
SELECT is(cardinality(refresh_due_views(0)), 4, 'all dirty views are refreshed');
SELECT is((SELECT q_analytics_orders())::jsonb - 'asOf',
          '{"totalOrders":2,"totalRevenue":2005,"avgOrderValue":2005,"byStatus":{"CANCELLED":1,"COMPLETED":1}}'::jsonb,
          'q_analytics_orders');
SELECT is((SELECT q_top_products(1))::jsonb, '[{"productId":1,"name":"Laptop","unitsSold":2,"revenue":2000}]'::jsonb,
          'q_top_products counts only revenue orders');
SELECT is((SELECT q_categories())::jsonb,
          '[{"category":"Electronics","orders":1,"unitsSold":2,"revenue":2000},{"category":"Office","orders":1,"unitsSold":2,"revenue":5}]'::jsonb,
          'q_categories');
SELECT is((SELECT q_sales_daily('2026-03-01', '2026-03-31'))::jsonb, '[{"day":"2026-03-01","orders":1,"revenue":2005}]'::jsonb,
          'q_sales_daily');

SELECT * FROM finish();
ROLLBACK;
