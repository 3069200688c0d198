-- Read DB: the query API's answers (q_*), JSON built by PostgreSQL.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

CREATE OR REPLACE FUNCTION q_product(p_id bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('productId', product_id, 'name', name, 'category', category,
                             'price', trim_scale(price), 'stock', stock, 'reserved', reserved,
                             'lowStock', stock < low_stock_threshold,
                             'lowStockThreshold', low_stock_threshold)::text
    FROM products_read WHERE product_id = p_id
$$;

CREATE OR REPLACE FUNCTION q_order(p_id bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('orderId', o.order_id, 'customerId', o.customer_id,
                             'status', o.status, 'total', trim_scale(o.total),
                             'createdAt', iso_utc(o.created_at),
                             'items', o.items,
                             'payment', CASE WHEN o.payment IS NULL THEN NULL
                                             ELSE jsonb_set(o.payment, '{amount}',
                                                  to_jsonb(trim_scale((o.payment->>'amount')::numeric))) END,
                             'timeline', o.timeline)::text
    FROM orders_read o WHERE o.order_id = p_id
$$;

CREATE OR REPLACE FUNCTION q_customer_summary(p_customer bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'customerId', c.customer_id,
        'totalOrders', c.total_orders,
        'totalSpent', trim_scale(c.total_spent),
        'avgOrderValue', CASE WHEN c.spent_orders > 0
                              THEN trim_scale(round(c.total_spent / c.spent_orders, 2)) ELSE 0 END,
        'favoriteProducts', coalesce((
            SELECT json_agg(json_build_object('productId', f.product_id, 'name', f.product_name,
                                              'quantity', f.quantity)
                            ORDER BY f.quantity DESC, f.product_id)
            FROM (SELECT * FROM customer_product_qty
                  WHERE customer_id = c.customer_id AND quantity > 0
                  ORDER BY quantity DESC, product_id LIMIT 3) f), '[]'),
        'orderStatuses', coalesce((
            SELECT json_object_agg(status, n ORDER BY status) FROM customer_status_counts
            WHERE customer_id = c.customer_id AND n > 0), '{}'))::text
    FROM customer_summary c WHERE c.customer_id = p_customer
$$;

CREATE OR REPLACE FUNCTION q_analytics_orders() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'totalOrders', m.total_orders,
        'totalRevenue', trim_scale(m.revenue),
        'avgOrderValue', CASE WHEN m.revenue_orders > 0
                              THEN trim_scale(round(m.revenue / m.revenue_orders, 2)) ELSE 0 END,
        'byStatus', m.by_status,
        'asOf', (SELECT iso_utc(refreshed_at) FROM mv_state WHERE view_name = 'mv_order_stats'))::text
    FROM mv_order_stats m
$$;

CREATE OR REPLACE FUNCTION q_sales_daily(p_from date, p_to date) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('day', to_char(day, 'YYYY-MM-DD'),
                                               'orders', orders,
                                               'revenue', trim_scale(revenue)) ORDER BY day),
                    '[]')::text
    FROM mv_sales_daily
    WHERE day BETWEEN coalesce(p_from, coalesce(p_to, (now() AT TIME ZONE 'UTC')::date) - 30)
                  AND coalesce(p_to, (now() AT TIME ZONE 'UTC')::date)
$$;

CREATE OR REPLACE FUNCTION q_top_products(p_limit integer) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'unitsSold', units,
                                               'revenue', trim_scale(revenue)) ORDER BY rank),
                    '[]')::text
    FROM (SELECT * FROM mv_top_products WHERE rank <= p_limit) t
$$;

CREATE OR REPLACE FUNCTION q_categories() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('category', category, 'orders', orders,
                                               'unitsSold', units,
                                               'revenue', trim_scale(revenue))
                             ORDER BY revenue DESC, category), '[]')::text
    FROM mv_categories
$$;

CREATE OR REPLACE FUNCTION q_mood_stats() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('happy', coalesce(sum(happy), 0), 'sad', coalesce(sum(sad), 0),
                             'score', coalesce(sum(happy - sad), 0))::text
    FROM mood_counts
$$;

CREATE OR REPLACE FUNCTION q_events_applied(p_ids uuid[]) RETURNS SETOF boolean LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM unnest(p_ids) AS u(id)
        WHERE NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = u.id))
$$;

CREATE OR REPLACE FUNCTION q_products_page(p_limit integer, p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'category', category, 'price', trim_scale(price),
                                               'stock', stock, 'reserved', reserved,
                                               'lowStock', stock < low_stock_threshold,
                                               'lowStockThreshold', low_stock_threshold)
                             ORDER BY product_id) FILTER (WHERE p_limit IS NULL OR n <= p_limit),
                    '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.product_id) AS n
          FROM (SELECT * FROM products_read ORDER BY product_id
                LIMIT p_limit + 1 OFFSET p_offset) l) p
$$;

CREATE OR REPLACE FUNCTION q_products(p_limit integer, p_offset integer)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_products_page(p_limit, p_offset)
$$;

CREATE OR REPLACE FUNCTION q_customer_orders_page(p_customer bigint, p_status text, p_limit integer,
                                       p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('orderId', order_id, 'customerId', customer_id,
                                               'status', status, 'total', trim_scale(total),
                                               'createdAt', iso_utc(created_at),
                                               'itemCount', jsonb_array_length(items))
                             ORDER BY created_at DESC, order_id DESC)
                        FILTER (WHERE p_limit IS NULL OR n <= p_limit), '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.created_at DESC, l.order_id DESC) AS n
          FROM (SELECT * FROM orders_read
                WHERE customer_id = p_customer AND (p_status IS NULL OR status = p_status)
                ORDER BY created_at DESC, order_id DESC
                LIMIT p_limit + 1 OFFSET p_offset) l) o
$$;

CREATE OR REPLACE FUNCTION q_customer_orders(p_customer bigint, p_status text, p_limit integer,
                                             p_offset integer)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_customer_orders_page(p_customer, p_status, p_limit, p_offset)
$$;

CREATE OR REPLACE FUNCTION q_inventory_page(p_low_only boolean, p_limit integer, p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'productName', name,
                                               'available', stock, 'reserved', reserved,
                                               'total', stock + reserved,
                                               'lowStock', stock < low_stock_threshold)
                             ORDER BY product_id) FILTER (WHERE p_limit IS NULL OR n <= p_limit),
                    '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.product_id) AS n
          FROM (SELECT * FROM products_read
                WHERE NOT p_low_only OR stock < low_stock_threshold
                ORDER BY product_id LIMIT p_limit + 1 OFFSET p_offset) l) p
$$;

-- every product: GET /queries/inventory (q_seed_inventory) reads it whole
CREATE OR REPLACE FUNCTION q_inventory(p_low_only boolean) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_inventory_page(p_low_only, NULL, 0)
$$;

CREATE OR REPLACE FUNCTION q_todos_page(p_limit integer, p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', todo_id, 'title', title,
                                               'completed', completed) ORDER BY todo_id)
                        FILTER (WHERE p_limit IS NULL OR n <= p_limit), '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.todo_id) AS n
          FROM (SELECT * FROM todos_read WHERE NOT deleted ORDER BY todo_id
                LIMIT p_limit + 1 OFFSET p_offset) l) t
$$;

-- every todo: the todo demo's GET /todos (docs/seeds.md) lists them all
CREATE OR REPLACE FUNCTION q_todos() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_todos_page(NULL, 0)
$$;
