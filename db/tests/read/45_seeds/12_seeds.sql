-- The CQRS event broker seed's read shapes (0012_seeds.sql): the project's queries renamed, and
-- pending_orders, the orders holding a product's reservation.
BEGIN;
\ir ../fixtures.psql
SELECT pg_temp.empty_read_model();
SELECT plan(17);

-- order 1 (user 123): created, then paid; order 2 (user 123): created, then shipped after paying;
-- order 3 (user 123): created, then cancelled; order 4 (user 5): created
INSERT INTO story
SELECT * FROM pg_temp.story_products(99.99)
UNION ALL
SELECT * FROM pg_temp.order_story(3, 1, 123, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":2,"price":99.99}]',
                                  '{"status":"PAID","paymentId":9,"method":"card"}')
UNION ALL
SELECT * FROM pg_temp.order_story(13, 2, 123, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":99.99}]',
                                  '{"status":"PAID","paymentId":10,"method":"cash"}', '{"status":"SHIPPED"}')
UNION ALL
SELECT * FROM pg_temp.order_story(23, 3, 123, '[{"productId":2,"productName":"Pen","category":"Office","quantity":2,"price":2.5}]',
                                  '{"status":"CANCELLED","reason":"x"}')
UNION ALL
SELECT * FROM pg_temp.order_story(33, 4, 5, '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":99.99},
                                              {"productId":2,"productName":"Pen","category":"Office","quantity":1,"price":2.5}]');
SELECT apply_events((SELECT jsonb_agg(e ORDER BY name) FROM story WHERE name IN ('p1', 'p2')));
SELECT apply_event(e) FROM story WHERE name = 'o1';

-- GET /queries/orders/{id}
SELECT is((SELECT q_seed_order(1))::jsonb,
          '{"order_id": 1, "user_id": 123, "total_amount": 199.98, "status": "CREATED",
            "created_at": "2026-03-01T10:00:00.000000Z",
            "items": [{"product_id": 1, "product_name": "Laptop", "category": "Electronics", "quantity": 2, "price": 99.99}],
            "payment_info": null,
            "timeline": [{"event": "OrderCreated", "timestamp": "2026-03-01T10:00:00Z"}]}'::jsonb,
          'q_seed_order: the order in the seed''s words, payment_info null before a payment');
SELECT apply_event(e) FROM story WHERE name = 'o1paid';
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

SELECT apply_events((SELECT jsonb_agg(e ORDER BY name) FROM story WHERE name NOT IN ('p1', 'p2', 'o1', 'o1paid')));

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
