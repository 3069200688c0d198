-- Read DB: the consumer's statements planned once and looked up by key (docs/performance.md,
-- "The read side's cost per event").
--
-- Profiled (perf on the consumer's backend while orders flowed): a fifth of the time went to
-- fmgr_sql, i.e. parsing and planning the bodies of LANGUAGE sql functions on every call. A SQL
-- function that PostgreSQL cannot inline (one with a CTE, or a volatile one called through
-- PERFORM) is parsed and planned anew each time the statement calling it runs; a PL/pgSQL
-- function keeps its plans for the session. The same functions in PL/pgSQL, same signatures,
-- same results. And the statements that joined a batch's order items with products_read (the
-- items estimated at 10,000 rows, so planned as hash joins over a scan of the whole table, once
-- per event where the join sat in a per-event subquery) now look each product up by key: the
-- order projection collects the batch's products into arrays first; the early-event check asks
-- a scalar subquery, which the planner cannot turn into a join.

CREATE OR REPLACE FUNCTION proj_early_events(es jsonb) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        WITH typed AS (
            SELECT e, ord,
                   CASE WHEN e->>'eventType' IN ('ProductCreated', 'InventoryAdjusted') THEN 'product'
                        WHEN e->>'eventType' IN ('OrderCreated', 'OrderPaid', 'OrderShipped',
                                                 'OrderCompleted', 'OrderCancelled') THEN 'order'
                        WHEN e->>'eventType' IN ('TodoCreated', 'TodoCompleted', 'TodoReopened',
                                                 'TodoDeleted') THEN 'todo' END AS agg
            FROM jsonb_array_elements(es) WITH ORDINALITY AS x(e, ord)
        ), ev AS (
            -- the aggregate's id as its projection reads it
            SELECT e->>'eventId' AS id, ord, e->>'eventType' AS t, e->'items' AS items, agg,
                   (e->>'aggregateVersion')::integer AS v,
                   (e->>(CASE agg WHEN 'product' THEN 'productId' WHEN 'order' THEN 'orderId'
                                  ELSE 'todoId' END))::bigint AS agg_id
            FROM typed WHERE agg IS NOT NULL
        ), cur AS (
            SELECT ev.*,
                   coalesce(CASE agg
                       WHEN 'product' THEN (SELECT version FROM products_read WHERE product_id = agg_id)
                       WHEN 'order' THEN (SELECT version FROM orders_read WHERE order_id = agg_id)
                       WHEN 'todo' THEN (SELECT version FROM todos_read WHERE todo_id = agg_id) END,
                       -- unknown to the read model: a creating event starts the aggregate at its
                       -- own version (1 from the command functions; the current version in a rebuild
                       -- from the write DB's snapshot), anything else waits for its create
                       min(v) FILTER (WHERE t IN ('ProductCreated', 'OrderCreated', 'TodoCreated'))
                           OVER (PARTITION BY agg, agg_id) - 1,
                       0) AS have
            FROM ev
        ), ranked AS (
            -- the k-th distinct version above the read model's must be have + k
            SELECT cur.*, dense_rank() OVER (PARTITION BY agg, agg_id ORDER BY v) AS k
            FROM cur WHERE v > have
        )
        SELECT string_agg(id, ' ' ORDER BY ord) FROM ranked r
        WHERE r.v <> r.have + r.k
           OR (r.t IN ('OrderCreated', 'OrderCancelled') AND EXISTS (
                   SELECT 1 FROM jsonb_array_elements(r.items) AS i
                   -- a scalar lookup by key, which the planner cannot turn into an anti
                   -- join that hashes all of products_read once per event
                   WHERE (SELECT p.product_id FROM products_read p
                          WHERE p.product_id = (i->>'productId')::bigint) IS NULL
                     AND NOT EXISTS (SELECT 1 FROM ev c
                                     WHERE c.t = 'ProductCreated'
                                       AND c.agg_id = (i->>'productId')::bigint)))
    );
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

CREATE OR REPLACE FUNCTION event_attempt_clear(p_event_id uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_attempts WHERE event_id = p_event_id;
END $$;

CREATE OR REPLACE FUNCTION event_attempt_record(p_event_id uuid) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO event_attempts AS a (event_id, attempts) VALUES (p_event_id, 1)
    ON CONFLICT (event_id) DO UPDATE SET attempts = a.attempts + 1, last_at = clock_timestamp()
    RETURNING attempts INTO n;
    RETURN n;
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

    UPDATE order_totals SET total_orders = total_orders + jsonb_array_length(es);

    INSERT INTO customer_summary AS c (customer_id, total_orders)
    SELECT (e->>'customerId')::bigint, count(*) FROM jsonb_array_elements(es) AS e GROUP BY 1
    ON CONFLICT (customer_id) DO UPDATE SET total_orders = c.total_orders + excluded.total_orders;

    INSERT INTO order_status_counts AS s (status, n)
    SELECT e->>'status', count(*) FROM jsonb_array_elements(es) AS e GROUP BY 1
    ON CONFLICT (status) DO UPDATE SET n = s.n + excluded.n;

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
