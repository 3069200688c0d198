-- Read DB: what the query API listens to: the events-applied NOTIFY and the answer cache's
-- invalidation, with their triggers.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Sends the one notification of an apply_event(s) call: p_keys, or "*" when too long. The
-- payload sent last in the transaction is kept in cq.cache_notified, for the tests.
CREATE OR REPLACE FUNCTION cache_notify(p_keys text) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE TRIGGER processed_events_notify AFTER INSERT ON processed_events
    FOR EACH STATEMENT EXECUTE FUNCTION events_applied_notify();

-- The keys of the cached answers a batch of events (a JSON array of envelopes, already applied)
-- changed: an order event its order and its customer (the summary; every order event carries
-- customerId, docs/events.md), and when it moves stock (created, shipped, cancelled) the
-- products of its items; a product event its product; todos and moods nothing. Read from the
-- events, but for a shipment's products (order_items_read). An event type this function does not know gives "*": a projection
-- added later forgets every answer until it is taught here.
CREATE OR REPLACE FUNCTION cache_event_keys(es jsonb) RETURNS text LANGUAGE sql STABLE AS $$
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
CREATE OR REPLACE FUNCTION cache_all_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cache_notify('*');
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER orders_read_cache_truncate AFTER TRUNCATE ON orders_read
    FOR EACH STATEMENT EXECUTE FUNCTION cache_all_changed();

CREATE OR REPLACE TRIGGER products_read_cache_truncate AFTER TRUNCATE ON products_read
    FOR EACH STATEMENT EXECUTE FUNCTION cache_all_changed();

CREATE OR REPLACE TRIGGER customer_summary_cache_truncate AFTER TRUNCATE ON customer_summary
    FOR EACH STATEMENT EXECUTE FUNCTION cache_all_changed();
