-- Read DB: applying events: apply_events (the consumer's entry point), the version checks (stale,
-- early: CQ425), the dispatch to the projections, the consumer's attempt counts.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Raises CQ425 for an event that arrived before what it needs; DETAIL holds its event id.
CREATE OR REPLACE FUNCTION proj_early(e jsonb, p_why text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event % (% version % of % %) arrived early: %', e->>'eventId',
        e->>'eventType', e->>'aggregateVersion', e->>'aggregateType', e->>'aggregateId', p_why
        USING ERRCODE = 'CQ425', DETAIL = e->>'eventId';
END $$;

-- After a versioned update found its aggregate not at version - 1: p_have is the version the
-- read model holds (NULL: the aggregate is unknown). Returns false when the event is stale;
-- raises CQ425 when it is early.
CREATE OR REPLACE FUNCTION proj_version_missed(e jsonb, p_have integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF p_have >= (e->>'aggregateVersion')::integer THEN
        RETURN false;
    END IF;
    PERFORM proj_early(e, CASE WHEN p_have IS NULL
                               THEN format('the %s is not in the read model yet', e->>'aggregateType')
                               ELSE format('the %s is at version %s', e->>'aggregateType', p_have) END);
    RETURN false; -- not reached
END $$;

-- The projection of one event, without deduplication: true when applied, false when stale.
CREATE OR REPLACE FUNCTION proj_dispatch(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    CASE e->>'eventType'
        WHEN 'ProductCreated' THEN RETURN proj_product_created(e);
        WHEN 'OrderCreated' THEN RETURN proj_order_created(e);
        WHEN 'OrderPaid', 'OrderShipped', 'OrderCompleted' THEN RETURN proj_order_moved(e);
        WHEN 'OrderCancelled' THEN RETURN proj_order_cancelled(e);
        WHEN 'InventoryAdjusted' THEN RETURN proj_inventory_adjusted(e);
        WHEN 'TodoCreated', 'TodoCompleted', 'TodoReopened', 'TodoDeleted' THEN RETURN proj_todo(e);
        WHEN 'MoodRecorded' THEN PERFORM proj_mood_recorded(e); RETURN true;
        ELSE PERFORM proj_reject(e, format('unknown event type %s', e->>'eventType'));
    END CASE;
    RETURN false; -- not reached
END $$;

-- The newest schema version of each event type the projections read; NULL: an unknown type
-- (proj_dispatch refuses those).
CREATE OR REPLACE FUNCTION proj_known_event_version(p_event_type text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_event_type IN ('ProductCreated', 'InventoryAdjusted', 'OrderCreated',
                                      'OrderPaid', 'OrderShipped', 'OrderCompleted',
                                      'OrderCancelled', 'TodoCreated', 'TodoCompleted',
                                      'TodoReopened', 'TodoDeleted', 'MoodRecorded')
                THEN 1 END
$$;

-- Raises CQ422 naming the first event of es (a JSON array of envelopes) whose eventVersion is
-- not a positive integer or is newer than proj_known_event_version.
CREATE OR REPLACE FUNCTION proj_check_event_versions(es jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad jsonb;
BEGIN
    SELECT ev INTO bad
    FROM jsonb_array_elements(es) AS x(ev)
    WHERE ev ? 'eventVersion'
      AND (jsonb_typeof(ev->'eventVersion') IS DISTINCT FROM 'number'
           OR (ev->>'eventVersion')::numeric <> floor((ev->>'eventVersion')::numeric)
           OR (ev->>'eventVersion')::numeric < 1
           OR (ev->>'eventVersion')::numeric > coalesce(proj_known_event_version(ev->>'eventType'), 1))
    LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM proj_reject(bad, format('eventVersion %s of %s is not one this read model knows (up to %s)',
                                        bad->'eventVersion', bad->>'eventType',
                                        coalesce(proj_known_event_version(bad->>'eventType'), 1)));
    END IF;
END $$;

-- apply_event and apply_events, restated from 0014: each sends its one notification with the
-- keys of the events it applied (cache_notify(cache_event_keys(...))) once they are projected.
CREATE OR REPLACE FUNCTION apply_event(e jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('cq.events_notify', 'apply', true);
    IF jsonb_typeof(e) IS DISTINCT FROM 'object' OR e->>'eventId' IS NULL
       OR e->>'eventType' IS NULL THEN
        PERFORM proj_reject(e, 'not an event envelope');
    END IF;
    PERFORM proj_check_event_versions(jsonb_build_array(e));
    INSERT INTO processed_events (event_id, event_type, occurred_at)
    VALUES ((e->>'eventId')::uuid, e->>'eventType', (e->>'occurredAt')::timestamptz)
    ON CONFLICT (event_id) DO NOTHING;
    IF NOT FOUND THEN
        PERFORM cache_notify('');
        RETURN 'duplicate';
    END IF;
    PERFORM proj_lock_shared(jsonb_build_array(e));
    IF NOT proj_dispatch(e) THEN
        PERFORM cache_notify('');
        RETURN 'duplicate';
    END IF;
    PERFORM cache_notify(cache_event_keys(jsonb_build_array(e)));
    RETURN 'applied';
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
    PERFORM set_config('cq.events_notify', 'apply', true);
    IF jsonb_typeof(es) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'apply_events expects a JSON array' USING ERRCODE = 'CQ422';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(es) AS x(ev)
               WHERE jsonb_typeof(ev) IS DISTINCT FROM 'object' OR ev->>'eventId' IS NULL
                     OR ev->>'eventType' IS NULL) THEN
        PERFORM proj_reject(es, 'not an event envelope');
    END IF;
    PERFORM proj_check_event_versions(es);

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
    PERFORM proj_lock_shared(v_new);

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
    PERFORM cache_notify(cache_event_keys(v_new));
    RETURN jsonb_build_object('applied', v_applied,
                              'duplicates', jsonb_array_length(es) - v_applied);
END $$;

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

-- A redelivered event (consumer/crashguard.c): 0 when the read model has already applied it (a
-- partition handed over, or a connection lost after the commit: nothing to count, nothing to
-- apply, the consumer acks it at once), else the attempt recorded, as event_attempt_record.
CREATE OR REPLACE FUNCTION event_redelivered(p_event_id uuid) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM processed_events WHERE event_id = p_event_id) THEN
        RETURN 0;
    END IF;
    RETURN event_attempt_record(p_event_id);
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

-- The consumers' turn (CONSUMER_PARTITIONS = 1: consumers share one queue, consumer/project_tx.c):
-- a transaction-level advisory lock that one consumer at a time holds while it applies a batch,
-- noted in the transaction's setting cqrs.turn. A batch applied in its turn runs alone, so it
-- skips proj_lock_shared's ordering pass (about a fifth of a batch's cost), which only parallel
-- batches (partitioned consumers) need.
CREATE OR REPLACE FUNCTION consumer_take_turn() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cqrs.consumer'));
    PERFORM set_config('cqrs.turn', 'on', true);
END $$;

CREATE OR REPLACE FUNCTION consumer_has_turn() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('cqrs.turn', true), '') = 'on'
$$;

-- Locks, before any projection of the batch es writes, every shared row the batch will write,
-- and creates (with zero counts) the keys it will add, in ONE global order: table by table in the
-- order below, each table's keys ascending. Shared rows are those of the cross-aggregate read
-- models, which batches of different partitions (applied in parallel, without the consumers'
-- turn) both write:
--   1. products_read       the products of OrderCreated/Shipped/Cancelled, and of InventoryAdjusted
--   2. customer_summary    the customers of OrderCreated/Paid/Cancelled
--   3. customer_status_counts  every (customer, status) row of the batch's customers
--   4. customer_product_qty    (customer, product) of OrderCreated/Cancelled
--   5. sales_daily         the days the batch's orders were placed (OrderCreated/Paid/Cancelled)
--   6. product_sales       the products of OrderPaid/Cancelled
--   7. category_sales      the categories of OrderPaid/Cancelled
--   8. this session's shard rows: order_totals, order_status_counts (by status), mood_counts,
--      mv_touches (by view): written by one consumer at a time, but ordered all the same.
-- A transaction that waits here holds only rows that come before the one it waits for, so two
-- batches can never wait for each other (no deadlock, 40P01, whatever keys they share and
-- whatever their events' order). The projections then find their rows locked or created: their
-- own writes never wait. The keys come from the events and, for an order already in the read
-- model, from orders_read and order_items_read by key: O(items) per event. A key created here is
-- one the projection adds to anyway (an OrderCreated's customer, day and (customer, product) pair,
-- an OrderPaid's products and categories, an event's status), so no zero row is left that the
-- projections alone would not have made; a stale event's keys exist already.
-- Rows an aggregate owns (orders_read, todos_read, a product's own create) are not shared:
-- partitions never split an aggregate.
CREATE OR REPLACE FUNCTION proj_lock_shared(es jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_shard integer := apply_shard();
    f proj_order_fact[];
BEGIN
    IF consumer_has_turn() THEN
        RETURN; -- the batches of the consumers that take turns never run in parallel
    END IF;
    WITH ev AS (
        SELECT e->>'eventType' AS t, (e->>'orderId')::bigint AS order_id, e->>'status' AS status, e
        FROM jsonb_array_elements(es) AS e
        WHERE e->>'eventType' IN ('OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCompleted',
                                  'OrderCancelled')
    ), ids AS (
        SELECT DISTINCT order_id FROM ev
    ), known AS (
        -- each order once: from the read model, else from the batch's OrderCreated
        SELECT o.order_id, o.customer_id, (o.created_at AT TIME ZONE 'UTC')::date AS day,
               NULL::jsonb AS items
        FROM ids JOIN orders_read o ON o.order_id = ids.order_id
        UNION ALL
        SELECT DISTINCT ON (ev.order_id) ev.order_id, (e->>'customerId')::bigint,
               ((e->>'occurredAt')::timestamptz AT TIME ZONE 'UTC')::date, e->'items'
        FROM ev
        WHERE t = 'OrderCreated'
          AND NOT EXISTS (SELECT 1 FROM orders_read o WHERE o.order_id = ev.order_id)
    ), items AS (
        SELECT k.order_id, i.product_id, i.product_name, i.category
        FROM known k JOIN order_items_read i ON i.order_id = k.order_id
        WHERE k.items IS NULL
        UNION ALL
        SELECT k.order_id, (i->>'productId')::bigint, i->>'productName', i->>'category'
        FROM known k, jsonb_array_elements(k.items) AS i
        WHERE k.items IS NOT NULL
    )
    SELECT array_agg(ROW(ev.t, ev.order_id, ev.status, k.customer_id, k.day, i.product_id,
                         i.product_name, i.category)::proj_order_fact)
    INTO f
    FROM ev JOIN known k ON k.order_id = ev.order_id
    LEFT JOIN items i ON i.order_id = ev.order_id;

    -- 1. products_read (InventoryAdjusted's too)
    PERFORM 1 FROM products_read
    WHERE product_id IN (SELECT product_id FROM unnest(f)
                         WHERE event_type IN ('OrderCreated', 'OrderShipped', 'OrderCancelled')
                         UNION
                         SELECT (e->>'productId')::bigint FROM jsonb_array_elements(es) AS e
                         WHERE e->>'eventType' = 'InventoryAdjusted')
    ORDER BY product_id FOR UPDATE;
    IF f IS NOT NULL THEN
        -- 2. customer_summary
        INSERT INTO customer_summary (customer_id)
        SELECT DISTINCT customer_id FROM unnest(f) WHERE event_type = 'OrderCreated' ORDER BY 1
        ON CONFLICT (customer_id) DO NOTHING;
        PERFORM 1 FROM customer_summary
        WHERE customer_id IN (SELECT customer_id FROM unnest(f)
                              WHERE event_type IN ('OrderCreated', 'OrderPaid', 'OrderCancelled'))
        ORDER BY customer_id FOR UPDATE;
        -- 3. customer_status_counts
        INSERT INTO customer_status_counts (customer_id, status)
        SELECT DISTINCT customer_id, status FROM unnest(f) WHERE status IS NOT NULL ORDER BY 1, 2
        ON CONFLICT (customer_id, status) DO NOTHING;
        PERFORM 1 FROM customer_status_counts
        WHERE customer_id IN (SELECT customer_id FROM unnest(f))
        ORDER BY customer_id, status FOR UPDATE;
        -- 4. customer_product_qty
        INSERT INTO customer_product_qty (customer_id, product_id, product_name)
        SELECT customer_id, product_id, max(product_name) FROM unnest(f)
        WHERE event_type = 'OrderCreated' GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (customer_id, product_id) DO NOTHING;
        PERFORM 1 FROM customer_product_qty
        WHERE (customer_id, product_id) IN (SELECT customer_id, product_id FROM unnest(f)
                                            WHERE event_type IN ('OrderCreated', 'OrderCancelled'))
        ORDER BY customer_id, product_id FOR UPDATE;
        -- 5. sales_daily
        INSERT INTO sales_daily (day)
        SELECT DISTINCT day FROM unnest(f) WHERE event_type = 'OrderCreated' ORDER BY 1
        ON CONFLICT (day) DO NOTHING;
        PERFORM 1 FROM sales_daily
        WHERE day IN (SELECT day FROM unnest(f)
                      WHERE event_type IN ('OrderCreated', 'OrderPaid', 'OrderCancelled'))
        ORDER BY day FOR UPDATE;
        -- 6. product_sales
        INSERT INTO product_sales (product_id, name)
        SELECT product_id, max(product_name) FROM unnest(f) WHERE event_type = 'OrderPaid'
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (product_id) DO NOTHING;
        PERFORM 1 FROM product_sales
        WHERE product_id IN (SELECT product_id FROM unnest(f)
                             WHERE event_type IN ('OrderPaid', 'OrderCancelled'))
        ORDER BY product_id FOR UPDATE;
        -- 7. category_sales
        INSERT INTO category_sales (category)
        SELECT DISTINCT category FROM unnest(f) WHERE event_type = 'OrderPaid' ORDER BY 1
        ON CONFLICT (category) DO NOTHING;
        PERFORM 1 FROM category_sales
        WHERE category IN (SELECT category FROM unnest(f)
                           WHERE event_type IN ('OrderPaid', 'OrderCancelled'))
        ORDER BY category FOR UPDATE;
        -- 8. the shard's rows: its totals, its counts of the statuses the orders move to and
        -- from (each counted already, in some shard, or about to be), its views' touches
        INSERT INTO order_totals (shard) VALUES (v_shard) ON CONFLICT (shard) DO NOTHING;
        PERFORM 1 FROM order_totals WHERE shard = v_shard FOR UPDATE;
        INSERT INTO order_status_counts (shard, status)
        SELECT v_shard, status FROM unnest(f) WHERE status IS NOT NULL
        UNION
        SELECT v_shard, o.status FROM orders_read o
        WHERE o.order_id IN (SELECT order_id FROM unnest(f))
        ORDER BY 2
        ON CONFLICT (shard, status) DO NOTHING;
        PERFORM 1 FROM order_status_counts WHERE shard = v_shard ORDER BY status FOR UPDATE;
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(es) AS e WHERE e->>'eventType' = 'MoodRecorded') THEN
        INSERT INTO mood_counts (shard) VALUES (v_shard) ON CONFLICT (shard) DO NOTHING;
        PERFORM 1 FROM mood_counts WHERE shard = v_shard FOR UPDATE;
    END IF;
    IF f IS NOT NULL THEN
        INSERT INTO mv_touches (view_name, shard)
        SELECT view_name, v_shard FROM mv_refresh_state ORDER BY 1
        ON CONFLICT (view_name, shard) DO NOTHING;
        PERFORM 1 FROM mv_touches WHERE shard = v_shard ORDER BY view_name FOR UPDATE;
    END IF;
END $$;
