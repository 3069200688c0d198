-- Read DB: the seeds' queries (q_seed_*).
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- GET /queries/orders/{id}: q_order as {"order_id", "user_id", "total_amount", "status",
-- "created_at", "items": [{"product_id", "product_name", "category", "quantity", "price"}],
-- "payment_info": {"payment_id", "amount", "method", "paid_at"} | null,
-- "timeline": [{"event", "timestamp"}]}
CREATE OR REPLACE FUNCTION q_seed_order(p_id bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'order_id', a->'orderId',
        'user_id', a->'customerId',
        'total_amount', a->'total',
        'status', a->'status',
        'created_at', a->'createdAt',
        'items', (SELECT coalesce(json_agg(json_build_object(
                                      'product_id', i->'productId', 'product_name', i->'productName',
                                      'category', i->'category', 'quantity', i->'quantity',
                                      'price', i->'price') ORDER BY n), '[]')
                  FROM jsonb_array_elements(a->'items') WITH ORDINALITY AS x(i, n)),
        'payment_info', CASE WHEN jsonb_typeof(a->'payment') = 'object' THEN json_build_object(
                                 'payment_id', a->'payment'->'paymentId',
                                 'amount', a->'payment'->'amount',
                                 'method', a->'payment'->'method',
                                 'paid_at', a->'payment'->'paidAt') END,
        'timeline', (SELECT coalesce(json_agg(json_build_object('event', t->'event',
                                                                'timestamp', t->'at') ORDER BY n), '[]')
                     FROM jsonb_array_elements(a->'timeline') WITH ORDINALITY AS y(t, n)))::text
    FROM q_order(p_id) AS q, LATERAL (SELECT q::jsonb AS a) AS j
$$;

-- GET /queries/users/{id}/orders: the user's orders, newest first, each as q_seed_order gives it;
-- [] for a user without orders. p_limit / p_offset page through them.
CREATE OR REPLACE FUNCTION q_seed_user_orders(p_user bigint, p_limit integer, p_offset integer)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(q::json ORDER BY o.created_at DESC, o.order_id DESC), '[]')::text
    FROM (SELECT order_id, created_at FROM orders_read WHERE customer_id = p_user
          ORDER BY created_at DESC, order_id DESC LIMIT p_limit OFFSET p_offset) o,
         LATERAL q_seed_order(o.order_id) AS q
$$;

-- GET /queries/inventory: q_inventory per product as {"product_id", "product_name",
-- "available_quantity", "reserved_quantity", "total_quantity", "low_stock_alert",
-- "pending_orders"}: available, reserved, total (= available + reserved) and lowStock renamed,
-- and pending_orders the ids of the orders holding a reservation of the product (not yet
-- shipped, not cancelled: the orders products_read.reserved counts), ascending.
CREATE OR REPLACE FUNCTION q_seed_inventory() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'product_id', e->'productId',
               'product_name', e->'productName',
               'available_quantity', e->'available',
               'reserved_quantity', e->'reserved',
               'total_quantity', e->'total',
               'low_stock_alert', e->'lowStock',
               'pending_orders', coalesce(r.orders, '[]'))
           ORDER BY n), '[]')::text
    FROM q_inventory(false) AS q,
         LATERAL jsonb_array_elements(q::jsonb) WITH ORDINALITY AS x(e, n)
    LEFT JOIN (SELECT i.product_id, json_agg(DISTINCT i.order_id ORDER BY i.order_id) AS orders
               FROM orders_read o JOIN order_items_read i ON i.order_id = o.order_id
               WHERE o.status IN ('CREATED', 'PAID')
               GROUP BY i.product_id) r ON r.product_id = (e->>'productId')::bigint
$$;

-- GET /queries/statistics/orders: q_analytics_orders as {"total_orders", "total_revenue",
-- "average_order_value", "orders_by_status", "as_of"} (revenue: orders paid or later, never
-- cancelled ones; as fresh as the analytics views).
CREATE OR REPLACE FUNCTION q_seed_order_statistics() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'total_orders', a->'totalOrders',
        'total_revenue', a->'totalRevenue',
        'average_order_value', a->'avgOrderValue',
        'orders_by_status', a->'byStatus',
        'as_of', a->'asOf')::text
    FROM q_analytics_orders() AS q, LATERAL (SELECT q::jsonb AS a) AS j
$$;
