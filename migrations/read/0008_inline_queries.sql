-- Read DB, version 8: query functions the planner inlines.
--
-- A LANGUAGE sql function returning a scalar is inlined only when its body has no FROM and no
-- subquery; every q_* function reads tables, so each call ran through the SQL-function executor,
-- which parses and plans its body again on every call (its plan lives only as long as the calling
-- statement). pgbench of q_product: 17,500 calls/s, against 48,000/s for its body as a prepared
-- statement. A set-returning SQL function that is STABLE, not STRICT, not SECURITY DEFINER and
-- has no SET clause is inlined when it is called in FROM: the query API's prepared statements
-- (api/query/query.c) read SELECT (SELECT q FROM q_x($1) AS q), so the body is planned once per
-- connection with the statement: 39,600/s. A function finding nothing now returns no row, which
-- that statement still turns into NULL (the C code's "not found").
--
-- The bodies are unchanged: the latest definition of each (0002, 0003, 0005, 0007).

DROP FUNCTION q_product(bigint);
CREATE FUNCTION q_product(p_id bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('productId', product_id, 'name', name, 'category', category,
                             'price', trim_scale(price), 'stock', stock, 'reserved', reserved,
                             'lowStock', stock < low_stock_threshold,
                             'lowStockThreshold', low_stock_threshold)::text
    FROM products_read WHERE product_id = p_id
$$;

DROP FUNCTION q_products(integer,integer);
CREATE FUNCTION q_products(p_limit integer, p_offset integer) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'category', category, 'price', trim_scale(price),
                                               'stock', stock, 'reserved', reserved,
                                               'lowStock', stock < low_stock_threshold,
                                               'lowStockThreshold', low_stock_threshold)
                             ORDER BY product_id), '[]')::text
    FROM (SELECT * FROM products_read ORDER BY product_id LIMIT p_limit OFFSET p_offset) p
$$;

DROP FUNCTION q_order(bigint);
CREATE FUNCTION q_order(p_id bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
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

DROP FUNCTION q_customer_orders(bigint,text,integer,integer);
CREATE FUNCTION q_customer_orders(p_customer bigint, p_status text, p_limit integer, p_offset integer) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('orderId', order_id, 'customerId', customer_id,
                                               'status', status, 'total', trim_scale(total),
                                               'createdAt', iso_utc(created_at),
                                               'itemCount', jsonb_array_length(items))
                             ORDER BY created_at DESC, order_id DESC), '[]')::text
    FROM (SELECT * FROM orders_read
          WHERE customer_id = p_customer AND (p_status IS NULL OR status = p_status)
          ORDER BY created_at DESC, order_id DESC LIMIT p_limit OFFSET p_offset) o
$$;

DROP FUNCTION q_customer_summary(bigint);
CREATE FUNCTION q_customer_summary(p_customer bigint) RETURNS SETOF text LANGUAGE sql STABLE AS $$
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

DROP FUNCTION q_inventory(boolean);
CREATE FUNCTION q_inventory(p_low_only boolean) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'productName', name,
                                               'available', stock, 'reserved', reserved,
                                               'total', stock + reserved,
                                               'lowStock', stock < low_stock_threshold)
                             ORDER BY product_id), '[]')::text
    FROM products_read WHERE NOT p_low_only OR stock < low_stock_threshold
$$;

DROP FUNCTION q_analytics_orders();
CREATE FUNCTION q_analytics_orders() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'totalOrders', m.total_orders,
        'totalRevenue', trim_scale(m.revenue),
        'avgOrderValue', CASE WHEN m.revenue_orders > 0
                              THEN trim_scale(round(m.revenue / m.revenue_orders, 2)) ELSE 0 END,
        'byStatus', m.by_status,
        'asOf', (SELECT iso_utc(refreshed_at) FROM mv_state WHERE view_name = 'mv_order_stats'))::text
    FROM mv_order_stats m
$$;

DROP FUNCTION q_sales_daily(date,date);
CREATE FUNCTION q_sales_daily(p_from date, p_to date) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('day', to_char(day, 'YYYY-MM-DD'),
                                               'orders', orders,
                                               'revenue', trim_scale(revenue)) ORDER BY day),
                    '[]')::text
    FROM mv_sales_daily
    WHERE day BETWEEN coalesce(p_from, coalesce(p_to, (now() AT TIME ZONE 'UTC')::date) - 30)
                  AND coalesce(p_to, (now() AT TIME ZONE 'UTC')::date)
$$;

DROP FUNCTION q_top_products(integer);
CREATE FUNCTION q_top_products(p_limit integer) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'unitsSold', units,
                                               'revenue', trim_scale(revenue)) ORDER BY rank),
                    '[]')::text
    FROM (SELECT * FROM mv_top_products WHERE rank <= p_limit) t
$$;

DROP FUNCTION q_categories();
CREATE FUNCTION q_categories() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('category', category, 'orders', orders,
                                               'unitsSold', units,
                                               'revenue', trim_scale(revenue))
                             ORDER BY revenue DESC, category), '[]')::text
    FROM mv_categories
$$;

DROP FUNCTION q_todos();
CREATE FUNCTION q_todos() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', todo_id, 'title', title,
                                               'completed', completed) ORDER BY todo_id), '[]')::text
    FROM todos_read
$$;

DROP FUNCTION q_mood_stats();
CREATE FUNCTION q_mood_stats() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('happy', coalesce(sum(happy), 0), 'sad', coalesce(sum(sad), 0),
                             'score', coalesce(sum(happy - sad), 0))::text
    FROM mood_counts
$$;

DROP FUNCTION q_events_applied(uuid[]);
CREATE FUNCTION q_events_applied(p_ids uuid[]) RETURNS SETOF boolean LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM unnest(p_ids) AS u(id)
        WHERE NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = u.id))
$$;

DROP FUNCTION q_dashboard(bigint,double precision);
CREATE FUNCTION q_dashboard(p_outbox_backlog bigint DEFAULT NULL, p_outbox_oldest_age_s double precision DEFAULT NULL) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'at', iso_utc(now()),
        'today', (
            SELECT json_build_object('day', to_char(t.day, 'YYYY-MM-DD'),
                                     'orders', coalesce(s.orders, 0),
                                     'revenue', coalesce(trim_scale(s.revenue), 0))
            FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day) t
            LEFT JOIN sales_daily s ON s.day = t.day),
        'totals', (
            SELECT json_build_object('orders', coalesce(max(total_orders), 0),
                                     'revenue', coalesce(trim_scale(max(revenue)), 0))
            FROM order_totals),
        'byStatus', (
            SELECT json_object_agg(u.status, coalesce(c.n, 0) ORDER BY u.ord)
            FROM unnest(ARRAY['CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'])
                 WITH ORDINALITY AS u(status, ord)
            LEFT JOIN order_status_counts c ON c.status = u.status),
        'topProducts', coalesce((
            SELECT json_agg(json_build_object('productId', product_id, 'name', name,
                                              'unitsSold', units, 'revenue', trim_scale(revenue))
                            ORDER BY rank)
            FROM mv_top_products WHERE rank <= 5), '[]'),
        'lowStock', json_build_object(
            'count', (SELECT count(*) FROM products_read WHERE stock < low_stock_threshold),
            'products', coalesce((
                SELECT json_agg(json_build_object('productId', product_id, 'name', name,
                                                  'available', stock,
                                                  'threshold', low_stock_threshold)
                                ORDER BY stock, product_id)
                FROM (SELECT product_id, name, stock, low_stock_threshold FROM products_read
                      WHERE stock < low_stock_threshold
                      ORDER BY stock, product_id LIMIT 8) p), '[]')),
        'pipeline', (
            SELECT json_build_object(
                'eventsPerSecond', round(r.n / 10.0, 1),
                'eventsLast10s', r.n,
                'projectionLagMs',
                    round(extract(epoch FROM l.processed_at - l.occurred_at) * 1000)::bigint,
                'lastEventAt', iso_utc(l.processed_at),
                'outboxBacklog', p_outbox_backlog,
                'outboxOldestAgeMs', round(p_outbox_oldest_age_s * 1000)::bigint)
            FROM (SELECT count(*) AS n FROM processed_events
                  WHERE processed_at > now() - interval '10 seconds') r
            LEFT JOIN LATERAL (SELECT processed_at, occurred_at FROM processed_events
                               ORDER BY processed_at DESC LIMIT 1) l ON true))::text
$$;

-- the query role lost EXECUTE with the dropped functions
SELECT grant_service_roles();
