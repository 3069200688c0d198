-- Read DB, version 4: set-based batch application.
--
-- apply_events() used to run apply_event() once per event: a dozen statements each. Now it
-- deduplicates the whole batch with one INSERT into processed_events, then applies each run of
-- consecutive OrderCreated events with one statement per table (aggregated per customer, product
-- and day), and every other event one at a time, in batch order. Any error still aborts the whole
-- batch (the consumer then applies its events one by one to isolate the culprit).

-- The projection of one event, without deduplication.
CREATE FUNCTION proj_dispatch(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    CASE e->>'eventType'
        WHEN 'ProductCreated' THEN PERFORM proj_product_created(e);
        WHEN 'OrderCreated' THEN PERFORM proj_order_created(e);
        WHEN 'OrderPaid' THEN PERFORM proj_order_paid(e);
        WHEN 'OrderShipped' THEN PERFORM proj_order_shipped(e);
        WHEN 'OrderCompleted' THEN PERFORM proj_order_completed(e);
        WHEN 'OrderCancelled' THEN PERFORM proj_order_cancelled(e);
        WHEN 'InventoryAdjusted' THEN PERFORM proj_inventory_adjusted(e);
        WHEN 'TodoCreated', 'TodoCompleted', 'TodoReopened', 'TodoDeleted' THEN PERFORM proj_todo(e);
        WHEN 'MoodRecorded' THEN PERFORM proj_mood_recorded(e);
        ELSE PERFORM proj_reject(e, format('unknown event type %s', e->>'eventType'));
    END CASE;
END $$;

CREATE OR REPLACE FUNCTION apply_event(e jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF jsonb_typeof(e) IS DISTINCT FROM 'object' OR e->>'eventId' IS NULL
       OR e->>'eventType' IS NULL THEN
        PERFORM proj_reject(e, 'not an event envelope');
    END IF;
    INSERT INTO processed_events (event_id, event_type, occurred_at)
    VALUES ((e->>'eventId')::uuid, e->>'eventType', (e->>'occurredAt')::timestamptz)
    ON CONFLICT (event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    PERFORM proj_dispatch(e);
    RETURN 'applied';
END $$;

-- OrderCreated for many orders at once: the same effects as proj_order_created for each.
CREATE FUNCTION proj_orders_created(es jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
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
    -- touches a row once
    UPDATE products_read pr
    SET stock = pr.stock - q.qty, reserved = pr.reserved + q.qty, updated_at = clock_timestamp()
    FROM (SELECT (i->>'productId')::bigint AS pid, sum((i->>'quantity')::integer)::integer AS qty
          FROM jsonb_array_elements(es) AS e, jsonb_array_elements(e->'items') AS i
          GROUP BY 1) q
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
END $$;

CREATE OR REPLACE FUNCTION apply_events(es jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_new jsonb;
    v_applied integer;
    r record;
BEGIN
    IF jsonb_typeof(es) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'apply_events expects a JSON array' USING ERRCODE = 'CQ422';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(es) AS x(ev)
               WHERE jsonb_typeof(ev) IS DISTINCT FROM 'object' OR ev->>'eventId' IS NULL
                     OR ev->>'eventType' IS NULL) THEN
        PERFORM proj_reject(es, 'not an event envelope');
    END IF;

    -- the events not applied before, first occurrence of each id, in batch order
    WITH input AS (
        SELECT ev, ord, (ev->>'eventId')::uuid AS id
        FROM jsonb_array_elements(es) WITH ORDINALITY AS x(ev, ord)
    ), firsts AS (
        SELECT DISTINCT ON (id) id, ord, ev FROM input ORDER BY id, ord
    ), inserted AS (
        INSERT INTO processed_events (event_id, event_type, occurred_at)
        SELECT id, ev->>'eventType', (ev->>'occurredAt')::timestamptz FROM firsts
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
    )
    SELECT coalesce(jsonb_agg(f.ev ORDER BY f.ord), '[]') INTO v_new
    FROM firsts f JOIN inserted i ON i.event_id = f.id;
    v_applied := jsonb_array_length(v_new);

    -- each run of consecutive OrderCreated events is one group, applied set-based; every other
    -- event is a group of its own; groups are applied in batch order
    FOR r IN
        WITH n AS (
            SELECT ev, ord, ev->>'eventType' = 'OrderCreated' AS created,
                   count(*) FILTER (WHERE ev->>'eventType' <> 'OrderCreated')
                       OVER (ORDER BY ord) AS others_before
            FROM jsonb_array_elements(v_new) WITH ORDINALITY AS x(ev, ord)
        )
        SELECT bool_and(created) AS created, jsonb_agg(ev ORDER BY ord) AS evs, min(ord) AS first
        FROM n
        GROUP BY CASE WHEN created THEN -others_before ELSE ord END
        ORDER BY first
    LOOP
        IF r.created THEN
            PERFORM proj_orders_created(r.evs);
        ELSE
            PERFORM proj_dispatch(r.evs->0);
        END IF;
    END LOOP;
    RETURN jsonb_build_object('applied', v_applied,
                              'duplicates', jsonb_array_length(es) - v_applied);
END $$;
