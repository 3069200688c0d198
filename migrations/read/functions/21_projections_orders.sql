-- Read DB: the projections of orders: creation (set-based), the lifecycle steps, reserved stock and
-- the incremental summaries.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- status counters, globally (in this session's shard: a move may take 1 from a status whose
-- orders another shard counted, so one shard's n may be negative; their sum is what counts) and
-- per customer
CREATE OR REPLACE FUNCTION proj_status_move(p_customer bigint, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_from IS NOT NULL THEN
        INSERT INTO order_status_counts AS s (shard, status, n) VALUES (apply_shard(), p_from, -1)
        ON CONFLICT (shard, status) DO UPDATE SET n = s.n - 1;
        UPDATE customer_status_counts SET n = n - 1
        WHERE customer_id = p_customer AND status = p_from;
    END IF;
    INSERT INTO order_status_counts AS s (shard, status, n) VALUES (apply_shard(), p_to, 1)
    ON CONFLICT (shard, status) DO UPDATE SET n = s.n + 1;
    INSERT INTO customer_status_counts (customer_id, status, n) VALUES (p_customer, p_to, 1)
    ON CONFLICT (customer_id, status) DO UPDATE SET n = customer_status_counts.n + 1;
END $$;

-- Adds (p_sign = 1) or removes (p_sign = -1) an order's revenue from every revenue figure.
CREATE OR REPLACE FUNCTION proj_revenue(o orders_read, p_sign integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_totals AS t (shard, revenue, revenue_orders)
    VALUES (apply_shard(), p_sign * o.total, p_sign)
    ON CONFLICT (shard) DO UPDATE SET revenue = t.revenue + excluded.revenue,
                                      revenue_orders = t.revenue_orders + excluded.revenue_orders;
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

-- Raises CQ425 when an event names a product the read model does not know yet (p_items: the
-- event's items, [{"productId": ...}, ...]).
CREATE OR REPLACE FUNCTION proj_require_products(e jsonb, p_items jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_missing bigint;
BEGIN
    SELECT (i->>'productId')::bigint INTO v_missing
    FROM jsonb_array_elements(coalesce(p_items, '[]')) AS i
    WHERE NOT EXISTS (SELECT 1 FROM products_read p WHERE p.product_id = (i->>'productId')::bigint)
    LIMIT 1;
    IF FOUND THEN
        PERFORM proj_early(e, format('product %s is not in the read model yet', v_missing));
    END IF;
END $$;

-- One OrderCreated: the set-based function with one event, so that both paths are one code.
CREATE OR REPLACE FUNCTION proj_order_created(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RETURN proj_orders_created(jsonb_build_array(e)) = 1;
END $$;

-- Takes the next event of an order: returns the order as it was before the event, or NULL when
-- the event is stale (already reflected). Raises CQ425 when an earlier event is still missing.
-- The order's row stays locked (FOR UPDATE) until the transaction ends.
CREATE OR REPLACE FUNCTION proj_order_step(e jsonb) RETURNS orders_read LANGUAGE plpgsql AS $$
DECLARE
    o orders_read;
    v integer := (e->>'aggregateVersion')::integer;
BEGIN
    SELECT * INTO o FROM orders_read WHERE order_id = (e->>'orderId')::bigint FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM proj_early(e, 'the order is not in the read model yet');
    END IF;
    IF v > o.version + 1 THEN
        PERFORM proj_early(e, format('the order is at version %s', o.version));
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

-- OrderPaid, OrderShipped and OrderCompleted: the order's next status (proj_order_step), and
-- what the event brings besides: a payment (and its revenue), the shipment of the reserved
-- stock. True when applied, false when stale.
CREATE OR REPLACE FUNCTION proj_order_moved(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    o orders_read := proj_order_step(e);
BEGIN
    IF o.order_id IS NULL THEN
        RETURN false;
    END IF;
    CASE e->>'eventType'
        WHEN 'OrderPaid' THEN
            UPDATE orders_read
            SET payment = jsonb_build_object('paymentId', (e->>'paymentId')::bigint,
                                             'amount', (e->>'amount')::numeric,
                                             'method', e->>'method', 'paidAt', e->>'paidAt')
            WHERE order_id = o.order_id;
            PERFORM proj_revenue(o, 1);
        WHEN 'OrderShipped' THEN
            PERFORM proj_release_reserved(o.order_id, false);
        ELSE NULL; -- OrderCompleted: the status alone
    END CASE;
    RETURN true;
END $$;
-- they were one function each until proj_order_moved took their place (proj_dispatch)
DROP FUNCTION IF EXISTS proj_order_paid(jsonb), proj_order_shipped(jsonb), proj_order_completed(jsonb);

-- OrderCancelled returns the order's stock to its products: it waits (CQ425) while one of them
-- is unknown, which only an order applied before this version could have caused.
CREATE OR REPLACE FUNCTION proj_order_cancelled(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    o orders_read;
BEGIN
    PERFORM proj_require_products(e, e->'items');
    o := proj_order_step(e);
    IF o.order_id IS NULL THEN
        RETURN false;
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
    RETURN true;
END $$;

CREATE OR REPLACE FUNCTION proj_release_reserved(p_order_id bigint, p_release_to_available boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE products_read pr
    SET reserved = pr.reserved - q.qty,
        stock = pr.stock + CASE WHEN p_release_to_available THEN q.qty ELSE 0 END,
        updated_at = clock_timestamp()
    FROM (SELECT product_id, sum(quantity)::integer AS qty FROM order_items_read
          WHERE order_id = p_order_id GROUP BY product_id) q
    WHERE pr.product_id = q.product_id;
END $$;

CREATE OR REPLACE FUNCTION proj_orders_created(p_events jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    es jsonb;
    v_early text;
    v_pids bigint[];   -- the batch's products, distinct
    v_qtys integer[];  -- and the quantity each loses to the batch
    v_missing bigint[];
BEGIN
    SELECT coalesce(jsonb_agg(e ORDER BY ord), '[]') INTO es
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
    WHERE NOT EXISTS (SELECT 1 FROM orders_read o WHERE o.order_id = (e->>'orderId')::bigint);
    IF jsonb_array_length(es) = 0 THEN
        RETURN 0;
    END IF;

    -- the products once, as arrays: each statement below then looks them up by key (a join
    -- with the events' items is estimated at 10,000 rows and planned as a catalogue scan)
    SELECT array_agg(pid ORDER BY pid), array_agg(qty ORDER BY pid) INTO v_pids, v_qtys
    FROM (SELECT (i->>'productId')::bigint AS pid, sum((i->>'quantity')::integer)::integer AS qty
          FROM jsonb_array_elements(es) AS e, jsonb_array_elements(e->'items') AS i
          GROUP BY 1) q;
    SELECT array_agg(u.pid) INTO v_missing FROM unnest(v_pids) AS u(pid)
    WHERE (SELECT p.product_id FROM products_read p WHERE p.product_id = u.pid) IS NULL;
    IF v_missing IS NOT NULL THEN
        SELECT string_agg(e->>'eventId', ' ' ORDER BY ord) INTO v_early
        FROM jsonb_array_elements(es) WITH ORDINALITY AS x(e, ord)
        WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(e->'items') AS i
                      WHERE (i->>'productId')::bigint = ANY (v_missing));
        RAISE EXCEPTION 'OrderCreated events arrived early: a product they name is not in the read model yet'
            USING ERRCODE = 'CQ425', DETAIL = v_early;
    END IF;

    INSERT INTO orders_read (order_id, customer_id, status, total, created_at, items, version,
                             occurred_at, timeline)
    SELECT (e->>'orderId')::bigint, (e->>'customerId')::bigint, e->>'status',
           (e->>'total')::numeric, (e->>'occurredAt')::timestamptz, e->'items',
           (e->>'aggregateVersion')::integer, (e->>'occurredAt')::timestamptz,
           jsonb_build_array(jsonb_build_object('event', 'OrderCreated', 'at', e->>'occurredAt'))
    FROM jsonb_array_elements(es) AS e;

    INSERT INTO order_items_read (order_id, line_no, product_id, product_name, category,
                                  quantity, price)
    SELECT (e->>'orderId')::bigint, ord::integer, (i->>'productId')::bigint, i->>'productName',
           i->>'category', (i->>'quantity')::integer, (i->>'price')::numeric
    FROM jsonb_array_elements(es) AS e,
         jsonb_array_elements(e->'items') WITH ORDINALITY AS x(i, ord);

    -- per product, customer, customer x product and day: one row each, so that every upsert
    -- touches a row once; every change is a delta, so concurrent batches commute
    UPDATE products_read pr
    SET stock = pr.stock - q.qty, reserved = pr.reserved + q.qty, updated_at = clock_timestamp()
    FROM unnest(v_pids, v_qtys) AS q(pid, qty)
    WHERE pr.product_id = q.pid;

    INSERT INTO order_totals AS t (shard, total_orders) VALUES (apply_shard(), jsonb_array_length(es))
    ON CONFLICT (shard) DO UPDATE SET total_orders = t.total_orders + excluded.total_orders;

    INSERT INTO customer_summary AS c (customer_id, total_orders)
    SELECT (e->>'customerId')::bigint, count(*) FROM jsonb_array_elements(es) AS e GROUP BY 1
    ON CONFLICT (customer_id) DO UPDATE SET total_orders = c.total_orders + excluded.total_orders;

    INSERT INTO order_status_counts AS s (shard, status, n)
    SELECT apply_shard(), e->>'status', count(*) FROM jsonb_array_elements(es) AS e GROUP BY 2
    ORDER BY 2
    ON CONFLICT (shard, status) DO UPDATE SET n = s.n + excluded.n;

    INSERT INTO customer_status_counts AS s (customer_id, status, n)
    SELECT (e->>'customerId')::bigint, e->>'status', count(*)
    FROM jsonb_array_elements(es) AS e GROUP BY 1, 2
    ON CONFLICT (customer_id, status) DO UPDATE SET n = s.n + excluded.n;

    INSERT INTO customer_product_qty AS c (customer_id, product_id, product_name, quantity)
    SELECT (e->>'customerId')::bigint, (i->>'productId')::bigint, max(i->>'productName'),
           sum((i->>'quantity')::integer)
    FROM jsonb_array_elements(es) AS e, jsonb_array_elements(e->'items') AS i
    GROUP BY 1, 2
    ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = c.quantity + excluded.quantity;

    INSERT INTO sales_daily AS s (day, orders)
    SELECT ((e->>'occurredAt')::timestamptz AT TIME ZONE 'UTC')::date, count(*)
    FROM jsonb_array_elements(es) AS e GROUP BY 1
    ON CONFLICT (day) DO UPDATE SET orders = s.orders + excluded.orders;

    PERFORM mv_touch(ARRAY['mv_order_stats', 'mv_sales_daily']);
    RETURN jsonb_array_length(es);
END $$;
