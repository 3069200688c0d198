-- Read DB, version 6: the live operations dashboard (query API: GET /, GET /api/dashboard and
-- its server-sent events, GET /api/dashboard/stream).
--
-- q_dashboard() builds the whole document in one statement, from small tables only: today's
-- orders and revenue (sales_daily), all-time totals (order_totals), orders per status
-- (order_status_counts), the top products (mv_top_products, refreshed by the consumer), the
-- low-stock products (products_read) and the pipeline's health: events applied per second over the
-- last 10 s and the projection lag of the last applied event, from processed_events. The outbox
-- backlog lives in the write DB, which the query API never reads: the query API passes the
-- figures the relay publishes on its /metrics (p_outbox_backlog, p_outbox_oldest_age_s), NULL
-- when it could not get them.

-- Both pipeline figures read processed_events by processed_at (a range of the last 10 s, and the
-- newest row); without this index each would scan the whole table. processed_at only grows, so
-- its entries go to the right edge of the index: cheap to maintain (see docs/observability.md for
-- the measurement).
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- {"at": ..., "today": {"day", "orders", "revenue"}, "totals": {"orders", "revenue"},
--  "byStatus": {"CREATED": n, ... every status}, "topProducts": [{productId, name, unitsSold,
--  revenue}] (5), "lowStock": {"count": n, "products": [{productId, name, available, threshold}]
--  (8, lowest first)}, "pipeline": {eventsPerSecond, eventsLast10s, projectionLagMs,
--  lastEventAt, outboxBacklog, outboxOldestAgeMs}}. Revenue counts orders paid or later and not
-- cancelled, on the day the order was placed (UTC), as the analytics do.
CREATE FUNCTION q_dashboard(p_outbox_backlog bigint DEFAULT NULL,
                            p_outbox_oldest_age_s double precision DEFAULT NULL)
RETURNS text LANGUAGE sql STABLE AS $$
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

-- With least privilege in place (0006_roles.sql), the query role gets EXECUTE on the new query
-- function.
DO $$
BEGIN
    IF to_regproc('grant_service_roles') IS NOT NULL THEN
        PERFORM grant_service_roles();
    END IF;
END $$;
