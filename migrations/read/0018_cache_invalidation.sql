-- Read DB, version 18: precise invalidation of the query API's answer cache (docs/api.md#caching).
--
-- The query API keeps the JSON of GET /api/orders/{id}, /api/products/{id} and
-- /api/customers/{id}/summary in memory, keyed order:<id>, product:<id> and customer:<id>. The
-- consumer's transaction tells it which keys changed, in ONE notification on the channel it
-- already listens on (events_applied, 0005), delivered at commit: the payload is the distinct
-- keys separated by spaces ("customer:45 order:123 product:7"), empty when nothing cached
-- changed (a todo, a mood, a duplicate), or "*" (forget everything) when the keys would not fit
-- in a notification (8000 bytes), an event type is not known to cache_event_keys, or a table the
-- answers read is truncated (a rebuild).
--
-- How: apply_events (and apply_event) compute the keys from the events they applied, in one
-- statement per call (cache_event_keys), and send them with pg_notify at their end. That
-- notification replaces 0005's: while apply_event(s) runs, processed_events_notify stays quiet
-- (cq.events_notify = 'apply'), so a consumer transaction still sends one notification; any
-- other path recording events still wakes the read-your-writes waiters through the trigger.
--
-- Why not triggers on orders_read and products_read (robust to a later rewrite of the
-- projections, the reasoning of 0005)? Measured here (2 shared cores, noisy, best of 3), they
-- cost too much per event: a row-level AFTER trigger appending the row's key to a
-- transaction-local setting added 16 us to each single-row UPDATE (10 us for the UPDATE
-- itself), a statement-level one with a transition table 20-25 us, and flushing the keys once
-- at commit through a deferred constraint trigger on a pending-row table added 240 us per
-- transaction (0.31 ms against 0.07 ms for a bare pg_notify). Computing the keys from the
-- events costs nothing per statement: apply_events of a batch of 50 order events (25
-- OrderCreated, 25 OrderPaid, rolled back each time, 180 calls alternating with 0014's
-- definitions) took 9,880 us (min) / 11,989 us (median) against 9,722 / 11,627 without, so
-- +160 to +360 us a batch, 3-7 us an event, 1.6-3 %; the notification itself replaces 0005's
-- (a bare pg_notify is 2 us; the flag and the payload's bookkeeping 9 us a call). A later
-- migration that restates apply_events must keep the cache_notify call:
-- db/tests/read/18_cache.sql fails without it.

-- Sends the one notification of an apply_event(s) call: p_keys, or "*" when too long. The
-- payload sent last in the transaction is kept in cq.cache_notified, for the tests.
CREATE FUNCTION cache_notify(p_keys text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_payload text := CASE WHEN length(p_keys) > 7999 THEN '*' ELSE coalesce(p_keys, '*') END;
BEGIN
    PERFORM set_config('cq.cache_notified', v_payload, true);
    PERFORM pg_notify('events_applied', v_payload);
END $$;

-- 0005's statement trigger on processed_events: quiet while apply_event(s) runs, which sends
-- the transaction's notification itself, with its keys.
CREATE OR REPLACE FUNCTION events_applied_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cq.events_notify', true) IS DISTINCT FROM 'apply' THEN
        PERFORM pg_notify('events_applied', '');
    END IF;
    RETURN NULL;
END $$;

-- The keys of the cached answers a batch of events (a JSON array of envelopes, already applied)
-- changed: an order event its order and its customer (the summary; every order event carries
-- customerId, docs/events.md), and when it moves stock (created, shipped, cancelled) the
-- products of its items; a product event its product; todos and moods nothing. Read from the
-- events, but for a shipment's products (order_items_read). An event type this function does not know gives "*": a projection
-- added later forgets every answer until it is taught here.
CREATE FUNCTION cache_event_keys(es jsonb) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN bool_or(k = '*') THEN '*' ELSE coalesce(string_agg(DISTINCT k, ' '), '') END
    FROM jsonb_array_elements(es) AS x(ev)
    CROSS JOIN LATERAL (
        SELECT ev->>'eventType' AS t
    ) e
    CROSS JOIN LATERAL (
        SELECT 'product:' || (ev->>'productId') WHERE t IN ('ProductCreated', 'InventoryAdjusted')
        UNION ALL
        SELECT unnest(ARRAY['order:' || (ev->>'orderId'), 'customer:' || (ev->>'customerId')])
        WHERE t IN ('OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCompleted', 'OrderCancelled')
        UNION ALL
        -- the stock an order reserves (created) or returns (cancelled): its items, in the event
        SELECT 'product:' || (i->>'productId')
        FROM jsonb_array_elements(CASE WHEN t IN ('OrderCreated', 'OrderCancelled')
                                       THEN ev->'items' ELSE '[]' END) AS i
        UNION ALL
        -- a shipment releases the reserved stock of the order's items, not in the event
        SELECT 'product:' || oi.product_id FROM order_items_read oi
        WHERE t = 'OrderShipped' AND oi.order_id = (ev->>'orderId')::bigint
        UNION ALL
        SELECT '*' WHERE t NOT IN ('ProductCreated', 'InventoryAdjusted', 'OrderCreated',
                                   'OrderPaid', 'OrderShipped', 'OrderCompleted',
                                   'OrderCancelled', 'TodoCreated', 'TodoCompleted',
                                   'TodoReopened', 'TodoDeleted', 'MoodRecorded')
    ) AS keys(k)
$$;

-- TRUNCATE of a table the cached answers read (a rebuild): everything.
CREATE FUNCTION cache_all_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cache_notify('*');
    RETURN NULL;
END $$;

CREATE TRIGGER orders_read_cache_truncate AFTER TRUNCATE ON orders_read
    FOR EACH STATEMENT EXECUTE FUNCTION cache_all_changed();
CREATE TRIGGER products_read_cache_truncate AFTER TRUNCATE ON products_read
    FOR EACH STATEMENT EXECUTE FUNCTION cache_all_changed();
CREATE TRIGGER customer_summary_cache_truncate AFTER TRUNCATE ON customer_summary
    FOR EACH STATEMENT EXECUTE FUNCTION cache_all_changed();

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

SELECT grant_service_roles();
