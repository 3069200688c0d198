-- Read DB, version 2: order lifecycle, payments, reserved stock, customer summaries, analytics
-- (incremental summary tables behind materialized views refreshed by the consumer), todos.
--
-- Events of one order are applied in aggregateVersion order: an event already reflected in the
-- read model (version <= current) is stale and skipped; one that arrives before its predecessor
-- raises CQ425 so that the consumer retries it later.

-- ISO 8601 UTC with microseconds, as the write DB's occurredAt.
CREATE FUNCTION iso_utc(ts timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

ALTER TABLE orders_read
    ADD COLUMN payment jsonb,
    ADD COLUMN timeline jsonb NOT NULL DEFAULT '[]';
UPDATE orders_read
SET timeline = jsonb_build_array(jsonb_build_object('event', 'OrderCreated',
                                                    'at', iso_utc(created_at)))
WHERE timeline = '[]';
CREATE INDEX orders_read_customer_status_idx ON orders_read (customer_id, status, created_at DESC);

-- reserved: quantity in orders not yet shipped and not cancelled
ALTER TABLE products_read ADD COLUMN reserved integer NOT NULL DEFAULT 0;

-- Incremental summaries, O(1) work per event. "Revenue" counts orders that are paid or later
-- (PAID, SHIPPED, COMPLETED) and not cancelled.
CREATE TABLE order_totals (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    total_orders   bigint NOT NULL DEFAULT 0,
    revenue        numeric(18, 2) NOT NULL DEFAULT 0,
    revenue_orders bigint NOT NULL DEFAULT 0
);
INSERT INTO order_totals DEFAULT VALUES;

CREATE TABLE order_status_counts (
    status text PRIMARY KEY,
    n      bigint NOT NULL DEFAULT 0
);

CREATE TABLE customer_summary (
    customer_id  bigint PRIMARY KEY,
    total_orders bigint NOT NULL DEFAULT 0,
    total_spent  numeric(18, 2) NOT NULL DEFAULT 0,
    spent_orders bigint NOT NULL DEFAULT 0
);

CREATE TABLE customer_status_counts (
    customer_id bigint NOT NULL,
    status      text NOT NULL,
    n           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, status)
);

-- quantities ordered per customer and product, cancelled orders excluded
CREATE TABLE customer_product_qty (
    customer_id  bigint NOT NULL,
    product_id   bigint NOT NULL,
    product_name text NOT NULL,
    quantity     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, product_id)
);
CREATE INDEX customer_product_qty_top_idx ON customer_product_qty (customer_id, quantity DESC, product_id);

-- per day the order was placed: orders not cancelled, and their revenue
CREATE TABLE sales_daily (
    day     date PRIMARY KEY,
    orders  bigint NOT NULL DEFAULT 0,
    revenue numeric(18, 2) NOT NULL DEFAULT 0
);

CREATE TABLE product_sales (
    product_id bigint PRIMARY KEY,
    name       text NOT NULL,
    units      bigint NOT NULL DEFAULT 0,
    revenue    numeric(18, 2) NOT NULL DEFAULT 0
);

CREATE TABLE category_sales (
    category text PRIMARY KEY,
    orders   bigint NOT NULL DEFAULT 0,
    units    bigint NOT NULL DEFAULT 0,
    revenue  numeric(18, 2) NOT NULL DEFAULT 0
);

CREATE TABLE todos_read (
    todo_id    bigint PRIMARY KEY,
    title      text NOT NULL,
    completed  boolean NOT NULL DEFAULT false,
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Materialized views the analytics endpoints read. Their refresh reads only the summary tables,
-- so it costs O(days + products + categories), never O(orders).
CREATE MATERIALIZED VIEW mv_order_stats AS
SELECT 1 AS id, t.total_orders, t.revenue, t.revenue_orders,
       coalesce((SELECT jsonb_object_agg(status, n ORDER BY status) FROM order_status_counts
                 WHERE n > 0), '{}') AS by_status
FROM order_totals t;
CREATE UNIQUE INDEX mv_order_stats_id ON mv_order_stats (id);

CREATE MATERIALIZED VIEW mv_sales_daily AS
SELECT day, orders, revenue FROM sales_daily WHERE orders > 0 OR revenue <> 0;
CREATE UNIQUE INDEX mv_sales_daily_day ON mv_sales_daily (day);

CREATE MATERIALIZED VIEW mv_top_products AS
SELECT product_id, name, units, revenue,
       row_number() OVER (ORDER BY units DESC, revenue DESC, product_id) AS rank
FROM product_sales WHERE units > 0
ORDER BY units DESC, revenue DESC, product_id
LIMIT 100;
CREATE UNIQUE INDEX mv_top_products_id ON mv_top_products (product_id);
CREATE INDEX mv_top_products_rank ON mv_top_products (rank);

CREATE MATERIALIZED VIEW mv_categories AS
SELECT category, orders, units, revenue FROM category_sales WHERE units > 0;
CREATE UNIQUE INDEX mv_categories_category ON mv_categories (category);

-- Refresh bookkeeping: projections mark the views their event touched; the consumer refreshes a
-- dirty view at most once per MV_REFRESH_INTERVAL_MS.
CREATE TABLE mv_state (
    view_name        text PRIMARY KEY,
    dirty            boolean NOT NULL DEFAULT false,
    refreshed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    refresh_count    bigint NOT NULL DEFAULT 0,
    last_duration_ms double precision NOT NULL DEFAULT 0
);
INSERT INTO mv_state (view_name)
VALUES ('mv_order_stats'), ('mv_sales_daily'), ('mv_top_products'), ('mv_categories');

CREATE FUNCTION mv_touch(p_views text[]) RETURNS void LANGUAGE sql AS $$
    UPDATE mv_state SET dirty = true WHERE view_name = ANY (p_views) AND NOT dirty
$$;

-- Refreshes (CONCURRENTLY) every dirty view last refreshed at least p_min_interval_ms ago.
-- Returns the names refreshed.
CREATE FUNCTION refresh_due_views(p_min_interval_ms integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    v text;
    v_done text[] := '{}';
    v_start timestamptz;
BEGIN
    FOR v IN
        SELECT view_name FROM mv_state
        WHERE dirty AND refreshed_at <= clock_timestamp() - make_interval(secs => p_min_interval_ms / 1000.0)
        ORDER BY view_name FOR UPDATE SKIP LOCKED
    LOOP
        v_start := clock_timestamp();
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', v);
        UPDATE mv_state
        SET dirty = false, refreshed_at = clock_timestamp(), refresh_count = refresh_count + 1,
            last_duration_ms = extract(epoch FROM clock_timestamp() - v_start) * 1000
        WHERE view_name = v;
        v_done := v_done || v;
    END LOOP;
    RETURN v_done;
END $$;

-- status counters, globally and per customer
CREATE FUNCTION proj_status_move(p_customer bigint, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_from IS NOT NULL THEN
        UPDATE order_status_counts SET n = n - 1 WHERE status = p_from;
        UPDATE customer_status_counts SET n = n - 1
        WHERE customer_id = p_customer AND status = p_from;
    END IF;
    INSERT INTO order_status_counts (status, n) VALUES (p_to, 1)
    ON CONFLICT (status) DO UPDATE SET n = order_status_counts.n + 1;
    INSERT INTO customer_status_counts (customer_id, status, n) VALUES (p_customer, p_to, 1)
    ON CONFLICT (customer_id, status) DO UPDATE SET n = customer_status_counts.n + 1;
END $$;

-- Adds (p_sign = 1) or removes (p_sign = -1) an order's revenue from every revenue figure.
CREATE FUNCTION proj_revenue(o orders_read, p_sign integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_totals SET revenue = revenue + p_sign * o.total,
                            revenue_orders = revenue_orders + p_sign;
    UPDATE customer_summary SET total_spent = total_spent + p_sign * o.total,
                                spent_orders = spent_orders + p_sign
    WHERE customer_id = o.customer_id;
    UPDATE sales_daily SET revenue = revenue + p_sign * o.total
    WHERE day = (o.created_at AT TIME ZONE 'UTC')::date;
    INSERT INTO product_sales AS s (product_id, name, units, revenue)
    SELECT product_id, max(product_name), p_sign * sum(quantity), p_sign * sum(quantity * price)
    FROM order_items_read WHERE order_id = o.order_id GROUP BY product_id
    ON CONFLICT (product_id) DO UPDATE
        SET units = s.units + excluded.units, revenue = s.revenue + excluded.revenue;
    INSERT INTO category_sales AS s (category, orders, units, revenue)
    SELECT category, p_sign, p_sign * sum(quantity), p_sign * sum(quantity * price)
    FROM order_items_read WHERE order_id = o.order_id GROUP BY category
    ON CONFLICT (category) DO UPDATE
        SET orders = s.orders + excluded.orders, units = s.units + excluded.units,
            revenue = s.revenue + excluded.revenue;
    PERFORM mv_touch(ARRAY['mv_order_stats', 'mv_sales_daily', 'mv_top_products', 'mv_categories']);
END $$;

-- Moves reserved stock of an order: p_release_to_available returns it to available stock
-- (cancellation); otherwise it leaves the warehouse (shipment).
CREATE FUNCTION proj_release_reserved(p_order_id bigint, p_release_to_available boolean)
RETURNS void LANGUAGE sql AS $$
    UPDATE products_read pr
    SET reserved = pr.reserved - q.qty,
        stock = pr.stock + CASE WHEN p_release_to_available THEN q.qty ELSE 0 END,
        updated_at = clock_timestamp()
    FROM (SELECT product_id, sum(quantity)::integer AS qty FROM order_items_read
          WHERE order_id = p_order_id GROUP BY product_id) q
    WHERE pr.product_id = q.product_id
$$;

CREATE OR REPLACE FUNCTION proj_order_created(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_order_id bigint := (e->>'orderId')::bigint;
    v_customer bigint := (e->>'customerId')::bigint;
    v_at timestamptz := (e->>'occurredAt')::timestamptz;
BEGIN
    INSERT INTO orders_read (order_id, customer_id, status, total, created_at, items, version,
                             occurred_at, timeline)
    VALUES (v_order_id, v_customer, e->>'status', (e->>'total')::numeric, v_at, e->'items',
            (e->>'aggregateVersion')::integer, v_at,
            jsonb_build_array(jsonb_build_object('event', 'OrderCreated', 'at', e->>'occurredAt')));
    INSERT INTO order_items_read (order_id, line_no, product_id, product_name, category,
                                  quantity, price)
    SELECT v_order_id, ord::integer, (i->>'productId')::bigint, i->>'productName',
           i->>'category', (i->>'quantity')::integer, (i->>'price')::numeric
    FROM jsonb_array_elements(e->'items') WITH ORDINALITY AS x(i, ord);
    -- the order reserves stock: available drops, reserved grows
    UPDATE products_read pr
    SET stock = pr.stock - q.qty, reserved = pr.reserved + q.qty, updated_at = clock_timestamp()
    FROM (SELECT product_id, sum(quantity)::integer AS qty FROM order_items_read
          WHERE order_id = v_order_id GROUP BY product_id) q
    WHERE pr.product_id = q.product_id;

    UPDATE order_totals SET total_orders = total_orders + 1;
    INSERT INTO customer_summary AS c (customer_id, total_orders) VALUES (v_customer, 1)
    ON CONFLICT (customer_id) DO UPDATE SET total_orders = c.total_orders + 1;
    PERFORM proj_status_move(v_customer, NULL, e->>'status');
    INSERT INTO customer_product_qty AS c (customer_id, product_id, product_name, quantity)
    SELECT v_customer, product_id, max(product_name), sum(quantity)
    FROM order_items_read WHERE order_id = v_order_id GROUP BY product_id
    ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = c.quantity + excluded.quantity;
    INSERT INTO sales_daily AS s (day, orders) VALUES ((v_at AT TIME ZONE 'UTC')::date, 1)
    ON CONFLICT (day) DO UPDATE SET orders = s.orders + 1;
    PERFORM mv_touch(ARRAY['mv_order_stats', 'mv_sales_daily']);
END $$;

-- Takes the next event of an order: returns the order as it was before the event, or NULL when
-- the event is stale (already reflected). Raises CQ425 when an earlier event is still missing.
CREATE FUNCTION proj_order_step(e jsonb) RETURNS orders_read LANGUAGE plpgsql AS $$
DECLARE
    o orders_read;
    v integer := (e->>'aggregateVersion')::integer;
BEGIN
    SELECT * INTO o FROM orders_read WHERE order_id = (e->>'orderId')::bigint FOR UPDATE;
    IF NOT FOUND OR v > o.version + 1 THEN
        RAISE EXCEPTION 'event % (version %) of order % arrived before its predecessor',
            e->>'eventId', v, e->>'orderId' USING ERRCODE = 'CQ425';
    END IF;
    IF v <= o.version THEN
        RETURN NULL;
    END IF;
    UPDATE orders_read
    SET status = e->>'status', version = v, occurred_at = (e->>'occurredAt')::timestamptz,
        projected_at = clock_timestamp(),
        timeline = timeline || jsonb_build_array(jsonb_build_object('event', e->>'eventType',
                                                                    'at', e->>'occurredAt'))
    WHERE order_id = o.order_id;
    PERFORM proj_status_move(o.customer_id, o.status, e->>'status');
    PERFORM mv_touch(ARRAY['mv_order_stats']);
    RETURN o;
END $$;

CREATE FUNCTION proj_order_paid(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    o orders_read := proj_order_step(e);
BEGIN
    IF o.order_id IS NULL THEN
        RETURN;
    END IF;
    UPDATE orders_read
    SET payment = jsonb_build_object('paymentId', (e->>'paymentId')::bigint,
                                     'amount', (e->>'amount')::numeric,
                                     'method', e->>'method', 'paidAt', e->>'paidAt')
    WHERE order_id = o.order_id;
    PERFORM proj_revenue(o, 1);
END $$;

CREATE FUNCTION proj_order_shipped(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    o orders_read := proj_order_step(e);
BEGIN
    IF o.order_id IS NOT NULL THEN
        PERFORM proj_release_reserved(o.order_id, false);
    END IF;
END $$;

CREATE FUNCTION proj_order_completed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM proj_order_step(e);
END $$;

CREATE FUNCTION proj_order_cancelled(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    o orders_read := proj_order_step(e);
BEGIN
    IF o.order_id IS NULL THEN
        RETURN;
    END IF;
    PERFORM proj_release_reserved(o.order_id, true);
    IF o.status = 'PAID' THEN
        PERFORM proj_revenue(o, -1);
    END IF;
    UPDATE sales_daily SET orders = orders - 1 WHERE day = (o.created_at AT TIME ZONE 'UTC')::date;
    UPDATE customer_product_qty c SET quantity = c.quantity - q.qty
    FROM (SELECT product_id, sum(quantity) AS qty FROM order_items_read
          WHERE order_id = o.order_id GROUP BY product_id) q
    WHERE c.customer_id = o.customer_id AND c.product_id = q.product_id;
    PERFORM mv_touch(ARRAY['mv_sales_daily']);
END $$;

CREATE FUNCTION proj_inventory_adjusted(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE products_read
    SET stock = stock + (e->>'delta')::integer,
        version = greatest(version, (e->>'aggregateVersion')::integer),
        updated_at = clock_timestamp()
    WHERE product_id = (e->>'productId')::bigint;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % adjusts product % before it exists', e->>'eventId',
            e->>'productId' USING ERRCODE = 'CQ425';
    END IF;
END $$;

CREATE FUNCTION proj_todo(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint := (e->>'todoId')::bigint;
    v integer := (e->>'aggregateVersion')::integer;
BEGIN
    IF e->>'eventType' = 'TodoCreated' THEN
        INSERT INTO todos_read (todo_id, title, completed, version)
        VALUES (v_id, e->>'title', false, v) ON CONFLICT (todo_id) DO NOTHING;
    ELSIF e->>'eventType' = 'TodoDeleted' THEN
        DELETE FROM todos_read WHERE todo_id = v_id AND version < v;
    ELSE
        UPDATE todos_read SET completed = (e->>'completed')::boolean, version = v,
                              updated_at = clock_timestamp()
        WHERE todo_id = v_id AND version < v;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION apply_event(e jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    IF jsonb_typeof(e) IS DISTINCT FROM 'object' OR e->>'eventId' IS NULL
       OR e->>'eventType' IS NULL THEN
        PERFORM proj_reject(e, 'not an event envelope');
    END IF;
    v_id := (e->>'eventId')::uuid;
    INSERT INTO processed_events (event_id, event_type, occurred_at)
    VALUES (v_id, e->>'eventType', (e->>'occurredAt')::timestamptz)
    ON CONFLICT (event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    CASE e->>'eventType'
        WHEN 'ProductCreated' THEN PERFORM proj_product_created(e);
        WHEN 'OrderCreated' THEN PERFORM proj_order_created(e);
        WHEN 'OrderPaid' THEN PERFORM proj_order_paid(e);
        WHEN 'OrderShipped' THEN PERFORM proj_order_shipped(e);
        WHEN 'OrderCompleted' THEN PERFORM proj_order_completed(e);
        WHEN 'OrderCancelled' THEN PERFORM proj_order_cancelled(e);
        WHEN 'InventoryAdjusted' THEN PERFORM proj_inventory_adjusted(e);
        WHEN 'TodoCreated', 'TodoCompleted', 'TodoReopened', 'TodoDeleted' THEN PERFORM proj_todo(e);
        -- defined with the mood board's tables (0003_moods.sql)
        WHEN 'MoodRecorded' THEN PERFORM proj_mood_recorded(e);
        ELSE PERFORM proj_reject(e, format('unknown event type %s', e->>'eventType'));
    END CASE;
    RETURN 'applied';
END $$;

-- ---- queries ----------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION q_product(p_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('productId', product_id, 'name', name, 'category', category,
                             'price', trim_scale(price), 'stock', stock, 'reserved', reserved,
                             'lowStock', stock < low_stock_threshold,
                             'lowStockThreshold', low_stock_threshold)::text
    FROM products_read WHERE product_id = p_id
$$;

CREATE OR REPLACE FUNCTION q_products(p_limit integer, p_offset integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'category', category, 'price', trim_scale(price),
                                               'stock', stock, 'reserved', reserved,
                                               'lowStock', stock < low_stock_threshold,
                                               'lowStockThreshold', low_stock_threshold)
                             ORDER BY product_id), '[]')::text
    FROM (SELECT * FROM products_read ORDER BY product_id LIMIT p_limit OFFSET p_offset) p
$$;

CREATE OR REPLACE FUNCTION q_order(p_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
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

-- newest first; p_status NULL means any status
CREATE FUNCTION q_customer_orders(p_customer bigint, p_status text, p_limit integer,
                                  p_offset integer) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('orderId', order_id, 'customerId', customer_id,
                                               'status', status, 'total', trim_scale(total),
                                               'createdAt', iso_utc(created_at),
                                               'itemCount', jsonb_array_length(items))
                             ORDER BY created_at DESC, order_id DESC), '[]')::text
    FROM (SELECT * FROM orders_read
          WHERE customer_id = p_customer AND (p_status IS NULL OR status = p_status)
          ORDER BY created_at DESC, order_id DESC LIMIT p_limit OFFSET p_offset) o
$$;

CREATE FUNCTION q_customer_summary(p_customer bigint) RETURNS text LANGUAGE sql STABLE AS $$
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

CREATE FUNCTION q_inventory(p_low_only boolean) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'productName', name,
                                               'available', stock, 'reserved', reserved,
                                               'total', stock + reserved,
                                               'lowStock', stock < low_stock_threshold)
                             ORDER BY product_id), '[]')::text
    FROM products_read WHERE NOT p_low_only OR stock < low_stock_threshold
$$;

CREATE FUNCTION q_analytics_orders() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'totalOrders', m.total_orders,
        'totalRevenue', trim_scale(m.revenue),
        'avgOrderValue', CASE WHEN m.revenue_orders > 0
                              THEN trim_scale(round(m.revenue / m.revenue_orders, 2)) ELSE 0 END,
        'byStatus', m.by_status,
        'asOf', (SELECT iso_utc(refreshed_at) FROM mv_state WHERE view_name = 'mv_order_stats'))::text
    FROM mv_order_stats m
$$;

-- p_from / p_to may be NULL: the range then ends today (UTC) and spans 30 days
CREATE FUNCTION q_sales_daily(p_from date, p_to date) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('day', to_char(day, 'YYYY-MM-DD'),
                                               'orders', orders,
                                               'revenue', trim_scale(revenue)) ORDER BY day),
                    '[]')::text
    FROM mv_sales_daily
    WHERE day BETWEEN coalesce(p_from, coalesce(p_to, (now() AT TIME ZONE 'UTC')::date) - 30)
                  AND coalesce(p_to, (now() AT TIME ZONE 'UTC')::date)
$$;

CREATE FUNCTION q_top_products(p_limit integer) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'unitsSold', units,
                                               'revenue', trim_scale(revenue)) ORDER BY rank),
                    '[]')::text
    FROM (SELECT * FROM mv_top_products WHERE rank <= p_limit) t
$$;

CREATE FUNCTION q_categories() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('category', category, 'orders', orders,
                                               'unitsSold', units,
                                               'revenue', trim_scale(revenue))
                             ORDER BY revenue DESC, category), '[]')::text
    FROM mv_categories
$$;

CREATE FUNCTION q_todos() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', todo_id, 'title', title,
                                               'completed', completed) ORDER BY todo_id), '[]')::text
    FROM todos_read
$$;
