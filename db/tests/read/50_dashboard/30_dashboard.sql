-- q_dashboard(): the operations dashboard's document. Today's orders and revenue, totals, every
-- status (also at 0), top products (from mv_top_products), low-stock products (lowest first),
-- the pipeline figures from processed_events (through the processed_at index) and the relay's
-- outbox figures from its last status message (relay_status, 0015_pipeline_status.sql).
BEGIN;
TRUNCATE relay_status, queue_status, dead_letters, order_items_read, orders_read, products_read, processed_events, customer_summary,
         customer_status_counts, customer_product_qty, sales_daily, product_sales, category_sales,
         order_status_counts;
UPDATE order_totals SET total_orders = 0, revenue = 0, revenue_orders = 0;
REFRESH MATERIALIZED VIEW mv_top_products;
\ir ../fixtures.psql
SELECT plan(22);

SELECT has_function('q_dashboard', ARRAY['bigint'], 'q_dashboard(bigint) exists');
SELECT has_index('processed_events', 'processed_events_processed_at_idx', 'processed_at',
                 'processed_events is indexed by processed_at');

CREATE TEMP TABLE d (step text PRIMARY KEY, j jsonb);
INSERT INTO d SELECT 'empty', (SELECT q_dashboard())::jsonb;

SELECT is((SELECT j->'today' FROM d WHERE step = 'empty'),
          jsonb_build_object('day', to_char((now() AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'),
                             'orders', 0, 'revenue', 0),
          'no orders yet: today is all zero, and the day is today (UTC)');
SELECT is((SELECT j->'byStatus' FROM d WHERE step = 'empty'),
          '{"CREATED": 0, "PAID": 0, "SHIPPED": 0, "COMPLETED": 0, "CANCELLED": 0}'::jsonb,
          'every status is there, at 0');
SELECT is((SELECT j->'topProducts' FROM d WHERE step = 'empty'), '[]'::jsonb, 'no top products');
SELECT is((SELECT j->'lowStock' FROM d WHERE step = 'empty'), '{"count": 0, "products": []}'::jsonb,
          'no low-stock products');
SELECT is((SELECT (j->'pipeline') - 'stages' - 'queues' FROM d WHERE step = 'empty'),
          '{"eventsPerSecond": 0.0, "eventsLast10s": 0, "projectionLagMs": null, "lastEventAt": null,
            "lastAppliedAgeMs": null, "outboxBacklog": null, "outboxOldestAgeMs": null,
            "relayStatusAgeMs": null, "relayLeader": null, "relayBlocked": null,
            "relayUnroutable": null, "queueDepth": null, "consumers": null,
            "consumerStatusAgeMs": null, "stallAfterMs": 5000, "stalled": false,
            "stalledReason": null}'::jsonb,
          'no events: rate 0, no lag, outbox figures unknown before the relay reported, not stalled');

-- events as the write DB produces them, occurring now (minus a little: the lag)
CREATE FUNCTION pg_temp.mk(p_id int, p_type text, p_agg text, p_agg_id int, p_version int, p_body jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT pg_temp.envelope(p_id, p_type, p_agg, p_agg_id, p_version, to_char((clock_timestamp() - interval '250 ms') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), p_body) $$;
SELECT apply_events(jsonb_build_array(
    pg_temp.mk(1, 'ProductCreated', 'product', 1, 1, '{"productId":1,"name":"Laptop","category":"Electronics","price":1000,"stock":12}'),
    pg_temp.mk(2, 'ProductCreated', 'product', 2, 1, '{"productId":2,"name":"Pen","category":"Office","price":2.5,"stock":100,"lowStockThreshold":5}'),
    pg_temp.mk(3, 'ProductCreated', 'product', 3, 1, '{"productId":3,"name":"Mug","category":"Kitchen","price":8,"stock":4}'),
    pg_temp.mk(4, 'OrderCreated', 'order', 1, 1, '{"orderId":1,"customerId":7,"status":"CREATED","total":3000,"items":[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":3,"price":1000}]}'),
    pg_temp.mk(5, 'OrderCreated', 'order', 2, 1, '{"orderId":2,"customerId":8,"status":"CREATED","total":5,"items":[{"productId":2,"productName":"Pen","category":"Office","quantity":2,"price":2.5}]}'),
    pg_temp.mk(6, 'OrderPaid', 'order', 1, 2, '{"orderId":1,"customerId":7,"status":"PAID","previousStatus":"CREATED","total":3000,"paymentId":1,"amount":3000,"method":"card","paidAt":"2026-03-01T10:00:01.000000Z"}')));
REFRESH MATERIALIZED VIEW mv_top_products;
SELECT record_relay_status(jsonb_build_object('at', iso_utc(now()), 'backlog', 42,
                                              'oldestAgeMs', 1500, 'leader', true,
                                              'unroutable', 0, 'blocked', false));
INSERT INTO d SELECT 'orders', (SELECT q_dashboard())::jsonb;

SELECT is((SELECT (j->'today'->'orders')::int FROM d WHERE step = 'orders'), 2, 'two orders placed today');
SELECT is((SELECT (j->'today'->>'revenue')::numeric FROM d WHERE step = 'orders'), 3000::numeric,
          'revenue today counts the paid order only');
SELECT is((SELECT j->'totals' FROM d WHERE step = 'orders'), '{"orders": 2, "revenue": 3000}'::jsonb,
          'all-time totals');
SELECT is((SELECT j->'byStatus' FROM d WHERE step = 'orders'),
          '{"CREATED": 1, "PAID": 1, "SHIPPED": 0, "COMPLETED": 0, "CANCELLED": 0}'::jsonb,
          'orders by status');
SELECT is((SELECT jsonb_path_query_array(j, '$.topProducts[*].productId') FROM d WHERE step = 'orders'),
          '[1]'::jsonb, 'top products: units of paid orders (as the analytics count), from the view');
SELECT is((SELECT j->'topProducts'->0 FROM d WHERE step = 'orders'),
          '{"productId": 1, "name": "Laptop", "unitsSold": 3, "revenue": 3000}'::jsonb,
          'a top product has its units and revenue');
SELECT is((SELECT j->'lowStock' FROM d WHERE step = 'orders'),
          '{"count": 2, "products": [
              {"productId": 3, "name": "Mug", "available": 4, "threshold": 10},
              {"productId": 1, "name": "Laptop", "available": 9, "threshold": 10}]}'::jsonb,
          'low stock: available under the threshold, lowest first (the Pen is above its own 5)');
SELECT is((SELECT (j->'pipeline'->'eventsLast10s')::int FROM d WHERE step = 'orders'), 6,
          'six events applied in the last 10 s');
SELECT is((SELECT (j->'pipeline'->>'eventsPerSecond')::numeric FROM d WHERE step = 'orders'), 0.6,
          'events per second over the last 10 s');
SELECT cmp_ok((SELECT (j->'pipeline'->'projectionLagMs')::int FROM d WHERE step = 'orders'), '>=', 250,
              'the projection lag is processed_at minus occurredAt of the last event');
SELECT ok((SELECT (j->'pipeline'->>'lastEventAt') ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' FROM d WHERE step = 'orders'),
          'lastEventAt is an ISO 8601 UTC time');
SELECT is((SELECT (j->'pipeline'->'outboxBacklog')::int FROM d WHERE step = 'orders'), 42,
          'the outbox backlog of the relay''s status is shown');
SELECT is((SELECT (j->'pipeline'->'outboxOldestAgeMs')::int FROM d WHERE step = 'orders'), 1500,
          'the oldest unpublished age is shown in ms');

-- events older than 10 s no longer count in the rate
UPDATE processed_events SET processed_at = processed_at - interval '1 minute';
SELECT is(((SELECT q_dashboard())::jsonb->'pipeline'->'eventsLast10s')::int, 0, 'the rate window is the last 10 s');

SELECT ok(NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cqrs_query')
          OR has_function_privilege('cqrs_query', 'q_dashboard(bigint)', 'EXECUTE'),
          'the query role may run q_dashboard');

SELECT * FROM finish();
ROLLBACK;
