-- The CQRS event broker seed's read shapes (0012_seeds.sql): the project's queries renamed, and
-- pending_orders, the orders holding a product's reservation.
BEGIN;
TRUNCATE order_items_read, orders_read, products_read, processed_events, customer_summary,
         customer_status_counts, customer_product_qty, sales_daily, product_sales, category_sales,
         order_status_counts;
UPDATE order_totals SET total_orders = 0, revenue = 0, revenue_orders = 0;
\ir ../fixtures.psql
SELECT plan(17);

CREATE TEMP TABLE ev (name text PRIMARY KEY, e jsonb);
CREATE FUNCTION pg_temp.mk(p_id int, p_type text, p_agg text, p_agg_id int, p_version int, p_body jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT pg_temp.envelope(p_id, p_type, p_agg, p_agg_id, p_version, format('2026-03-0%sT10:00:00Z', 1 + p_id / 10), p_body) $$;
INSERT INTO ev VALUES
('p1', pg_temp.mk(1, 'ProductCreated', 'product', 1, 1, '{"productId":1,"name":"Laptop","category":"Electronics","price":99.99,"stock":10,"lowStockThreshold":5}')),
('p2', pg_temp.mk(2, 'ProductCreated', 'product', 2, 1, '{"productId":2,"name":"Pen","category":"Office","price":2.5,"stock":100}')),
-- order 1 (user 123): created, then paid; order 2 (user 123): created, then shipped after paying;
-- order 3 (user 123): created, then cancelled; order 4 (user 5): created
('o1', pg_temp.mk(3, 'OrderCreated', 'order', 1, 1, '{"orderId":1,"customerId":123,"status":"CREATED","total":199.98,"items":[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":2,"price":99.99}]}')),
('o1paid', pg_temp.mk(4, 'OrderPaid', 'order', 1, 2, '{"orderId":1,"customerId":123,"status":"PAID","previousStatus":"CREATED","total":199.98,"paymentId":9,"amount":199.98,"method":"card","paidAt":"2026-03-01T10:00:01.000000Z"}')),
('o2', pg_temp.mk(13, 'OrderCreated', 'order', 2, 1, '{"orderId":2,"customerId":123,"status":"CREATED","total":99.99,"items":[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":99.99}]}')),
('o2paid', pg_temp.mk(14, 'OrderPaid', 'order', 2, 2, '{"orderId":2,"customerId":123,"status":"PAID","previousStatus":"CREATED","total":99.99,"paymentId":10,"amount":99.99,"method":"cash","paidAt":"2026-03-02T10:00:01.000000Z"}')),
('o2ship', pg_temp.mk(15, 'OrderShipped', 'order', 2, 3, '{"orderId":2,"customerId":123,"status":"SHIPPED","previousStatus":"PAID","total":99.99}')),
('o3', pg_temp.mk(23, 'OrderCreated', 'order', 3, 1, '{"orderId":3,"customerId":123,"status":"CREATED","total":5,"items":[{"productId":2,"productName":"Pen","category":"Office","quantity":2,"price":2.5}]}')),
('o3cancel', pg_temp.mk(24, 'OrderCancelled', 'order', 3, 2, '{"orderId":3,"customerId":123,"status":"CANCELLED","previousStatus":"CREATED","total":5,"reason":"x","items":[{"productId":2,"quantity":2}]}')),
('o4', pg_temp.mk(33, 'OrderCreated', 'order', 4, 1, '{"orderId":4,"customerId":5,"status":"CREATED","total":102.49,"items":[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":99.99},{"productId":2,"productName":"Pen","category":"Office","quantity":1,"price":2.5}]}'));
SELECT apply_events((SELECT jsonb_agg(e ORDER BY name) FROM ev WHERE name IN ('p1', 'p2')));
SELECT apply_event(e) FROM ev WHERE name = 'o1';

-- GET /queries/orders/{id}
SELECT is((SELECT q_seed_order(1))::jsonb,
          '{"order_id": 1, "user_id": 123, "total_amount": 199.98, "status": "CREATED",
            "created_at": "2026-03-01T10:00:00.000000Z",
            "items": [{"product_id": 1, "product_name": "Laptop", "category": "Electronics", "quantity": 2, "price": 99.99}],
            "payment_info": null,
            "timeline": [{"event": "OrderCreated", "timestamp": "2026-03-01T10:00:00Z"}]}'::jsonb,
          'q_seed_order: the order in the seed''s words, payment_info null before a payment');
SELECT apply_event(e) FROM ev WHERE name = 'o1paid';
SELECT is((SELECT q_seed_order(1))::jsonb->'payment_info',
          '{"payment_id": 9, "amount": 199.98, "method": "card", "paid_at": "2026-03-01T10:00:01.000000Z"}'::jsonb,
          'payment_info once paid');
SELECT is((SELECT q_seed_order(1))::jsonb->'timeline',
          '[{"event": "OrderCreated", "timestamp": "2026-03-01T10:00:00Z"},
            {"event": "OrderPaid", "timestamp": "2026-03-01T10:00:00Z"}]'::jsonb,
          'timeline: one {event, timestamp} per event, in order');
SELECT is((SELECT q_seed_order(1))::jsonb->>'status', 'PAID', 'the status follows the events');
SELECT is((SELECT q_seed_order(1))::json->>'total_amount', '199.98', 'money stays exact');
SELECT is((SELECT q_seed_order(99)), NULL, 'an unknown order is NULL (404)');
SELECT is((SELECT q_seed_order(1))::jsonb - 'order_id' - 'user_id' - 'total_amount' - 'status'
              - 'created_at' - 'items' - 'payment_info' - 'timeline',
          '{}'::jsonb, 'no other keys');

SELECT apply_events((SELECT jsonb_agg(e ORDER BY name) FROM ev WHERE name NOT IN ('p1', 'p2', 'o1', 'o1paid')));

-- GET /queries/users/{id}/orders
SELECT is((SELECT jsonb_agg(o->'order_id') FROM jsonb_array_elements((SELECT q_seed_user_orders(123, 100, 0))::jsonb) o),
          '[3, 2, 1]'::jsonb, 'q_seed_user_orders: every order of the user, newest first');
SELECT is((SELECT q_seed_user_orders(123, 100, 0))::jsonb->2, (SELECT q_seed_order(1))::jsonb,
          'each order as q_seed_order answers it');
SELECT is((SELECT jsonb_agg(o->'order_id') FROM jsonb_array_elements((SELECT q_seed_user_orders(123, 1, 1))::jsonb) o),
          '[2]'::jsonb, 'limit and offset page through them');
SELECT is((SELECT q_seed_user_orders(77, 100, 0)), '[]', 'a user without orders has []');

-- GET /queries/inventory
SELECT is((SELECT q_seed_inventory())::jsonb,
          '[{"product_id": 1, "product_name": "Laptop", "available_quantity": 6, "reserved_quantity": 3,
             "total_quantity": 9, "low_stock_alert": false, "pending_orders": [1, 4]},
            {"product_id": 2, "product_name": "Pen", "available_quantity": 99, "reserved_quantity": 1,
             "total_quantity": 100, "low_stock_alert": false, "pending_orders": [4]}]'::jsonb,
          'q_seed_inventory: the figures of q_inventory, and the orders holding a reservation (not the shipped or cancelled ones)');
SELECT is((SELECT jsonb_agg(jsonb_build_object('productId', s->'product_id', 'productName', s->'product_name',
                                               'available', s->'available_quantity', 'reserved', s->'reserved_quantity',
                                               'total', s->'total_quantity', 'lowStock', s->'low_stock_alert'))
           FROM jsonb_array_elements((SELECT q_seed_inventory())::jsonb) s),
          (SELECT q_inventory(false))::jsonb, 'the same figures as /api/inventory, renamed');
UPDATE products_read SET stock = 4 WHERE product_id = 1;
SELECT is((SELECT q_seed_inventory())::jsonb->0->'low_stock_alert', 'true'::jsonb,
          'low_stock_alert when available is under the threshold');

-- GET /queries/statistics/orders
SELECT is((SELECT q_seed_order_statistics())::jsonb,
          (SELECT jsonb_build_object('total_orders', a->'totalOrders', 'total_revenue', a->'totalRevenue',
                                     'average_order_value', a->'avgOrderValue',
                                     'orders_by_status', a->'byStatus', 'as_of', a->'asOf')
           FROM (SELECT q_analytics_orders()::jsonb AS a) x),
          'q_seed_order_statistics: /api/analytics/orders renamed');
REFRESH MATERIALIZED VIEW mv_order_stats;
SELECT is((SELECT q_seed_order_statistics())::jsonb - 'as_of',
          '{"total_orders": 4, "total_revenue": 299.97, "average_order_value": 149.99,
            "orders_by_status": {"CANCELLED": 1, "CREATED": 1, "PAID": 1, "SHIPPED": 1}}'::jsonb,
          'the figures: revenue of the paid and shipped orders');

-- inlined like every query function (08_inline_queries.sql checks their form)
SELECT alike(pg_temp.plan_of('SELECT (SELECT q FROM q_seed_order(1::bigint) AS q)'),
             '%Index Scan using orders_read_pkey%', 'q_seed_order and q_order are inlined: an index scan of orders_read');

SELECT * FROM finish();
ROLLBACK;
