-- Read DB, version 11: every projection is correct whatever order events of different
-- aggregates arrive in, with any number of consumers (issue 11, item 2).
--
-- The rule, for every aggregate with a version (products, orders, todos): an event whose
-- aggregateVersion the read model already reflects (version <= applied) is stale and skipped,
-- counted as a duplicate; the next one (applied + 1) is applied; a later one, or a non-creating
-- event of an aggregate the read model does not know, is early: it raises CQ425 and waits (the
-- consumer's local retries, then the retry queue, at most CONSUMER_EARLY_MAX_ATTEMPTS tries, then
-- the dead-letter queue). An event that refers to another aggregate the read model does not know
-- yet waits the same way: an OrderCreated (or OrderCancelled) naming an unknown product. Once an
-- event may apply, its effects commute with those of every other aggregate's events (stock and
-- counters move by deltas, UPDATE x = x + d), so the end state does not depend on the order the
-- aggregates' events were interleaved in. Moods have no later events: their counts are deltas,
-- deduplicated by event id.
--
-- The version checks hold under parallel transactions without any lock of the consumer's: each
-- is an UPDATE ... WHERE version = v - 1 (or reads the row FOR UPDATE), so two transactions
-- applying events of one aggregate serialise on its row; a check that finds nothing to do reads
-- the row again and says stale or early, never applies twice.
--
-- CQ425 names the early events in its DETAIL (their event ids, separated by spaces), so that the
-- consumer sets exactly those aside and applies the rest of its batch again at once, instead of
-- halving the batch down to each early event. apply_events looks for every early event of the
-- batch before it writes anything (proj_early_events) and names them all in one error.
--
-- A deleted todo stays in todos_read as a tombstone (deleted, with its version), so that a late
-- create or update is recognised as stale and never brings it back; q_todos hides tombstones.
--
-- apply_events applies the new events of a batch in (aggregateVersion, batch order), creating
-- events first and OrderCreated after the other creates: each aggregate's events keep their
-- order, an order never precedes a product created in the same batch, and every OrderCreated of
-- the batch is one set-based group.

ALTER TABLE todos_read ADD COLUMN deleted boolean NOT NULL DEFAULT false;

-- Raises CQ425 for an event that arrived before what it needs; DETAIL holds its event id.
CREATE FUNCTION proj_early(e jsonb, p_why text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event % (% version % of % %) arrived early: %', e->>'eventId',
        e->>'eventType', e->>'aggregateVersion', e->>'aggregateType', e->>'aggregateId', p_why
        USING ERRCODE = 'CQ425', DETAIL = e->>'eventId';
END $$;

-- Raises CQ425 when an event names a product the read model does not know yet (p_items: the
-- event's items, [{"productId": ...}, ...]).
CREATE FUNCTION proj_require_products(e jsonb, p_items jsonb) RETURNS void LANGUAGE plpgsql AS $$
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

-- After a versioned update found its aggregate not at version - 1: p_have is the version the
-- read model holds (NULL: the aggregate is unknown). Returns false when the event is stale;
-- raises CQ425 when it is early.
CREATE FUNCTION proj_version_missed(e jsonb, p_have integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF p_have >= (e->>'aggregateVersion')::integer THEN
        RETURN false;
    END IF;
    PERFORM proj_early(e, CASE WHEN p_have IS NULL
                               THEN format('the %s is not in the read model yet', e->>'aggregateType')
                               ELSE format('the %s is at version %s', e->>'aggregateType', p_have) END);
    RETURN false; -- not reached
END $$;

-- ---- products ---------------------------------------------------------------------------------

-- ProductCreated (version 1). Returns false when the product is there already (stale).
DROP FUNCTION proj_product_created(jsonb);
CREATE FUNCTION proj_product_created(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO products_read (product_id, name, category, price, stock, low_stock_threshold,
                               version)
    VALUES ((e->>'productId')::bigint, e->>'name', e->>'category', (e->>'price')::numeric,
            (e->>'stock')::integer, coalesce((e->>'lowStockThreshold')::integer, 10),
            (e->>'aggregateVersion')::integer)
    ON CONFLICT (product_id) DO NOTHING;
    RETURN FOUND;
END $$;

-- InventoryAdjusted (versions 2, 3, ... of the product; orders change its stock without a
-- version). Applies delta when the product is at version - 1; false when stale; CQ425 when early.
DROP FUNCTION proj_inventory_adjusted(jsonb);
CREATE FUNCTION proj_inventory_adjusted(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint := (e->>'productId')::bigint;
    v integer := (e->>'aggregateVersion')::integer;
BEGIN
    UPDATE products_read
    SET stock = stock + (e->>'delta')::integer, version = v, updated_at = clock_timestamp()
    WHERE product_id = v_id AND version = v - 1;
    IF FOUND THEN
        RETURN true;
    END IF;
    RETURN proj_version_missed(e, (SELECT version FROM products_read WHERE product_id = v_id));
END $$;

-- ---- orders -----------------------------------------------------------------------------------

-- OrderCreated for many orders at once, set-based: the same effects as each order alone. An
-- order already in the read model is stale and skipped; an order naming a product the read
-- model does not know yet makes the whole call raise CQ425, its DETAIL listing every such event.
-- Returns how many orders it applied.
DROP FUNCTION proj_orders_created(jsonb);
CREATE FUNCTION proj_orders_created(p_events jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    es jsonb;
    v_early text;
BEGIN
    SELECT coalesce(jsonb_agg(e ORDER BY ord), '[]') INTO es
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
    WHERE NOT EXISTS (SELECT 1 FROM orders_read o WHERE o.order_id = (e->>'orderId')::bigint);
    IF jsonb_array_length(es) = 0 THEN
        RETURN 0;
    END IF;

    SELECT string_agg(e->>'eventId', ' ' ORDER BY ord) INTO v_early
    FROM jsonb_array_elements(es) WITH ORDINALITY AS x(e, ord)
    WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(e->'items') AS i
                  WHERE NOT EXISTS (SELECT 1 FROM products_read p
                                    WHERE p.product_id = (i->>'productId')::bigint));
    IF v_early IS NOT NULL THEN
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
    FROM (SELECT (i->>'productId')::bigint AS pid, sum((i->>'quantity')::integer)::integer AS qty
          FROM jsonb_array_elements(es) AS e, jsonb_array_elements(e->'items') AS i
          GROUP BY 1) q
    WHERE pr.product_id = q.pid
      -- the same ids once more as an array: an index condition (0010_batch_stock_by_key.sql)
      AND pr.product_id = ANY (ARRAY(SELECT (i->>'productId')::bigint
                                     FROM jsonb_array_elements(es) AS e,
                                          jsonb_array_elements(e->'items') AS i));

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

-- One OrderCreated: the set-based function with one event, so that both paths are one code.
DROP FUNCTION proj_order_created(jsonb);
CREATE FUNCTION proj_order_created(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
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

-- The lifecycle projections return true when applied, false when stale.
DROP FUNCTION proj_order_paid(jsonb);
CREATE FUNCTION proj_order_paid(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    o orders_read := proj_order_step(e);
BEGIN
    IF o.order_id IS NULL THEN
        RETURN false;
    END IF;
    UPDATE orders_read
    SET payment = jsonb_build_object('paymentId', (e->>'paymentId')::bigint,
                                     'amount', (e->>'amount')::numeric,
                                     'method', e->>'method', 'paidAt', e->>'paidAt')
    WHERE order_id = o.order_id;
    PERFORM proj_revenue(o, 1);
    RETURN true;
END $$;

DROP FUNCTION proj_order_shipped(jsonb);
CREATE FUNCTION proj_order_shipped(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    o orders_read := proj_order_step(e);
BEGIN
    IF o.order_id IS NULL THEN
        RETURN false;
    END IF;
    PERFORM proj_release_reserved(o.order_id, false);
    RETURN true;
END $$;

DROP FUNCTION proj_order_completed(jsonb);
CREATE FUNCTION proj_order_completed(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RETURN (proj_order_step(e)).order_id IS NOT NULL;
END $$;

-- OrderCancelled returns the order's stock to its products: it waits (CQ425) while one of them
-- is unknown, which only an order applied before this version could have caused.
DROP FUNCTION proj_order_cancelled(jsonb);
CREATE FUNCTION proj_order_cancelled(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
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

-- ---- todos ------------------------------------------------------------------------------------

-- TodoCreated (version 1) inserts; TodoCompleted / TodoReopened / TodoDeleted (later versions)
-- apply when the todo is at version - 1. A delete keeps the row as a tombstone. Returns false
-- when stale (a create of a todo already there, deleted or not; an update already reflected).
DROP FUNCTION proj_todo(jsonb);
CREATE FUNCTION proj_todo(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint := (e->>'todoId')::bigint;
    v integer := (e->>'aggregateVersion')::integer;
    v_deleted boolean := e->>'eventType' = 'TodoDeleted';
BEGIN
    IF e->>'eventType' = 'TodoCreated' THEN
        INSERT INTO todos_read (todo_id, title, completed, version)
        VALUES (v_id, e->>'title', false, v) ON CONFLICT (todo_id) DO NOTHING;
        RETURN FOUND;
    END IF;
    UPDATE todos_read
    SET completed = CASE WHEN v_deleted THEN completed ELSE (e->>'completed')::boolean END,
        deleted = v_deleted, version = v, updated_at = clock_timestamp()
    WHERE todo_id = v_id AND version = v - 1;
    IF FOUND THEN
        RETURN true;
    END IF;
    RETURN proj_version_missed(e, (SELECT version FROM todos_read WHERE todo_id = v_id));
END $$;

-- GET /api/todos: tombstones hidden. Inlinable, as every q_* function (0008).
CREATE OR REPLACE FUNCTION q_todos() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', todo_id, 'title', title,
                                               'completed', completed) ORDER BY todo_id), '[]')::text
    FROM todos_read WHERE NOT deleted
$$;

-- ---- a batch's early events --------------------------------------------------------------------

-- The events of es (new ones, not yet applied) that are early, as a space-separated list of
-- their event ids in batch order, or NULL when none is: the same rule as the projections' own
-- checks, for the whole batch at once and counting what the batch itself brings. An event of a
-- product, an order or a todo is early when a version between the one the read model holds and
-- its own is missing from the read model and the batch (its versions, from the read model's + 1,
-- must be contiguous); an OrderCreated or OrderCancelled is early when it names a product neither
-- the read model nor a ProductCreated of the batch knows. apply_events raises CQ425 with this list
-- before it writes anything, so a batch with early events costs one short failed statement and
-- the consumer sets every early event aside at once. The projections keep their own checks (a
-- parallel transaction may change the picture between this look and the write).
CREATE FUNCTION proj_early_events(es jsonb) RETURNS text LANGUAGE sql STABLE AS $$
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
               WHERE NOT EXISTS (SELECT 1 FROM products_read p
                                 WHERE p.product_id = (i->>'productId')::bigint)
                 AND NOT EXISTS (SELECT 1 FROM ev c
                                 WHERE c.t = 'ProductCreated'
                                   AND c.agg_id = (i->>'productId')::bigint)))
$$;

-- ---- dispatch ---------------------------------------------------------------------------------

-- The projection of one event, without deduplication: true when applied, false when stale.
DROP FUNCTION proj_dispatch(jsonb);
CREATE FUNCTION proj_dispatch(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    CASE e->>'eventType'
        WHEN 'ProductCreated' THEN RETURN proj_product_created(e);
        WHEN 'OrderCreated' THEN RETURN proj_order_created(e);
        WHEN 'OrderPaid' THEN RETURN proj_order_paid(e);
        WHEN 'OrderShipped' THEN RETURN proj_order_shipped(e);
        WHEN 'OrderCompleted' THEN RETURN proj_order_completed(e);
        WHEN 'OrderCancelled' THEN RETURN proj_order_cancelled(e);
        WHEN 'InventoryAdjusted' THEN RETURN proj_inventory_adjusted(e);
        WHEN 'TodoCreated', 'TodoCompleted', 'TodoReopened', 'TodoDeleted' THEN RETURN proj_todo(e);
        WHEN 'MoodRecorded' THEN PERFORM proj_mood_recorded(e); RETURN true;
        ELSE PERFORM proj_reject(e, format('unknown event type %s', e->>'eventType'));
    END CASE;
    RETURN false; -- not reached
END $$;

-- Applies one event exactly once. Returns 'applied', or 'duplicate' for an event id already
-- recorded or a stale event (its version already reflected). Raises CQ425 for an early event.
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
    RETURN CASE WHEN proj_dispatch(e) THEN 'applied' ELSE 'duplicate' END;
END $$;

-- Applies a JSON array of events in the caller's transaction. Returns {"applied": n,
-- "duplicates": m}; m counts repeated event ids and stale events. Raises CQ425 (DETAIL: the early
-- events' ids) when an event is early: the consumer sets those aside and calls again.
CREATE OR REPLACE FUNCTION apply_events(es jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_new jsonb;
    v_applied integer;
    v_early text;
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

    -- the events not applied before, first occurrence of each id, in the order they will be
    -- applied: by aggregateVersion (each aggregate's events keep their order; every creating
    -- event comes first), OrderCreated after the other creates (an order after the products of
    -- the batch), then batch order
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
    SELECT coalesce(jsonb_agg(f.ev ORDER BY
                        CASE WHEN jsonb_typeof(f.ev->'aggregateVersion') = 'number'
                             THEN (f.ev->>'aggregateVersion')::numeric END NULLS FIRST,
                        f.ev->>'eventType' = 'OrderCreated', f.ord), '[]')
    INTO v_new
    FROM firsts f JOIN inserted i ON i.event_id = f.id;
    v_applied := jsonb_array_length(v_new);
    v_early := proj_early_events(v_new);
    IF v_early IS NOT NULL THEN
        RAISE EXCEPTION 'events arrived early: a predecessor or a product they name is not in the read model yet'
            USING ERRCODE = 'CQ425', DETAIL = v_early;
    END IF;

    -- each run of consecutive OrderCreated events is one group, applied set-based; every other
    -- event is a group of its own; groups are applied in that order
    FOR r IN
        WITH n AS (
            SELECT ev, ord, ev->>'eventType' = 'OrderCreated' AS created,
                   count(*) FILTER (WHERE ev->>'eventType' <> 'OrderCreated')
                       OVER (ORDER BY ord) AS others_before
            FROM jsonb_array_elements(v_new) WITH ORDINALITY AS x(ev, ord)
        )
        SELECT bool_and(created) AS created, jsonb_agg(ev ORDER BY ord) AS evs,
               count(*)::integer AS n, min(ord) AS first
        FROM n
        GROUP BY CASE WHEN created THEN -others_before ELSE ord END
        ORDER BY first
    LOOP
        IF r.created THEN
            v_applied := v_applied - (r.n - proj_orders_created(r.evs));
        ELSIF NOT proj_dispatch(r.evs->0) THEN
            v_applied := v_applied - 1;
        END IF;
    END LOOP;
    RETURN jsonb_build_object('applied', v_applied,
                              'duplicates', jsonb_array_length(es) - v_applied);
END $$;

SELECT grant_service_roles();
