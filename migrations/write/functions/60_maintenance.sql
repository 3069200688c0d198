-- Write DB: maintenance: the retention purges and what scripts/rebuild.sh reads (history gaps, the
-- snapshot of the current state).
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Deletes up to p_limit keys older than p_ttl; returns how many. Small batches that skip locked
-- rows: never blocks writers for long. The relay calls it with IDEMPOTENCY_KEY_TTL_S.
CREATE OR REPLACE FUNCTION idempotency_purge(p_ttl interval, p_limit integer) RETURNS integer
LANGUAGE sql AS $$
    WITH doomed AS (
        SELECT key FROM idempotency_keys WHERE created_at < now() - p_ttl
        ORDER BY created_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM idempotency_keys k USING doomed d WHERE k.key = d.key RETURNING 1
    )
    SELECT count(*)::integer FROM gone
$$;

-- Write DB, version 7: the outbox purge walks the rows by age.
--
-- outbox_purge (0005) picked its victims with ORDER BY id: with nothing old enough to delete, the
-- planner walked the primary key through every published row, filtering on published_at, and each
-- purge pass (every RELAY_PURGE_INTERVAL_MS) cost O(outbox) and held the relay that long: the
-- benchmark saw every event committed during a pass wait 100-250 ms. Ordered by published_at, the
-- scan is a range scan of outbox_published_idx: it reads only the rows it deletes, and finds
-- nothing to do in microseconds.
CREATE OR REPLACE FUNCTION outbox_purge(p_retention interval, p_limit integer) RETURNS integer
LANGUAGE sql AS $$
    WITH doomed AS (
        SELECT id FROM outbox
        WHERE published_at IS NOT NULL AND published_at < now() - p_retention
        ORDER BY published_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM outbox o USING doomed d WHERE o.id = d.id RETURNING 1
    )
    SELECT count(*)::integer FROM gone
$$;

CREATE OR REPLACE FUNCTION rebuild_history_gaps()
RETURNS TABLE (aggregate_type text, aggregate_id bigint, first_version integer)
LANGUAGE sql STABLE AS $$
    WITH agg (t, id) AS (
        SELECT 'product', id FROM products
        UNION ALL SELECT 'order', id FROM orders
        UNION ALL SELECT 'todo', id FROM todos
        UNION ALL SELECT 'mood', id FROM moods),
    h AS (SELECT o.aggregate_type, o.aggregate_id, min(o.aggregate_version) AS first
          FROM outbox o GROUP BY 1, 2)
    SELECT a.t, a.id, h.first
    FROM agg a LEFT JOIN h ON h.aggregate_type = a.t AND h.aggregate_id = a.id
    WHERE h.first IS DISTINCT FROM 1
    ORDER BY 1, 2
$$;

-- One synthesized event: the envelope with a fresh id, then the body.
CREATE OR REPLACE FUNCTION rebuild_event(p_type text, p_aggregate text, p_id bigint, p_version integer,
                              p_at timestamptz, p_body jsonb) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT jsonb_build_object('eventId', gen_random_uuid(), 'eventType', p_type,
                              'occurredAt', iso_utc(p_at), 'aggregateType', p_aggregate,
                              'aggregateId', p_id, 'aggregateVersion', p_version) || p_body
$$;

-- phase 0: retained events of gap aggregates (folded into the synthesized state; payload is the
--          event, to be recorded as processed, not applied)
-- phase 1: synthesized products        phase 2: retained events of products without a gap
-- phase 3: synthesized orders, todos (deleted ones too) and moods
-- phase 4: retained events of the other aggregates without a gap
-- Within a phase, apply in ord order.
CREATE OR REPLACE FUNCTION rebuild_snapshot() RETURNS TABLE (phase integer, ord bigint, payload jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF to_regclass('pg_temp.rebuild_gaps') IS NOT NULL THEN
        DROP TABLE pg_temp.rebuild_gaps;
    END IF;
    CREATE TEMP TABLE rebuild_gaps ON COMMIT DROP AS
    SELECT g.aggregate_type, g.aggregate_id FROM rebuild_history_gaps() g;
    CREATE INDEX ON rebuild_gaps (aggregate_type, aggregate_id);
    ANALYZE rebuild_gaps;

    RETURN QUERY
    SELECT CASE WHEN g.aggregate_id IS NOT NULL THEN 0
                WHEN o.aggregate_type = 'product' THEN 2 ELSE 4 END,
           o.id, o.payload
    FROM outbox o
    LEFT JOIN rebuild_gaps g ON g.aggregate_type = o.aggregate_type
                            AND g.aggregate_id = o.aggregate_id;

    -- a product: stock as it would be before every order that still holds its quantity (those
    -- orders' OrderCreated take it again; cancelled ones gave it back)
    RETURN QUERY
    SELECT 1, p.id, rebuild_event('ProductCreated', 'product', p.id, p.version, p.created_at,
        jsonb_build_object('productId', p.id, 'name', p.name, 'category', p.category,
                           'price', trim_scale(p.price),
                           'stock', p.stock + coalesce((
                               SELECT sum(i.quantity) FROM order_items i
                               JOIN orders od ON od.id = i.order_id
                               WHERE i.product_id = p.id AND od.status <> 'CANCELLED'), 0),
                           'lowStockThreshold', p.low_stock_threshold))
    FROM products p JOIN rebuild_gaps g ON g.aggregate_type = 'product' AND g.aggregate_id = p.id;

    -- an order: created, paid if it has a payment, then the transitions to its status
    RETURN QUERY
    WITH od AS (
        SELECT o.*, pay.id AS payment_id, pay.amount, pay.method, pay.paid_at,
               (SELECT jsonb_agg(jsonb_build_object('productId', pr.id, 'productName', pr.name,
                                                    'category', pr.category, 'quantity', i.quantity,
                                                    'price', trim_scale(i.price)) ORDER BY i.line_no)
                FROM order_items i JOIN products pr ON pr.id = i.product_id
                WHERE i.order_id = o.id) AS items,
               (SELECT jsonb_agg(jsonb_build_object('productId', q.product_id, 'quantity', q.qty)
                                 ORDER BY q.product_id)
                FROM (SELECT i.product_id, sum(i.quantity)::integer AS qty FROM order_items i
                      WHERE i.order_id = o.id GROUP BY i.product_id) q) AS returned
        FROM orders o
        JOIN rebuild_gaps g ON g.aggregate_type = 'order' AND g.aggregate_id = o.id
        LEFT JOIN payments pay ON pay.order_id = o.id),
    steps AS (
        -- (order, step, event type, status after, status before, time)
        SELECT od.*, s.n, s.type, s.status_to, s.status_from, s.at
        FROM od, LATERAL (
            SELECT * FROM (VALUES
                (1, 'OrderCreated', 'CREATED', NULL, od.created_at, true),
                (2, 'OrderPaid', 'PAID', 'CREATED', od.paid_at, od.payment_id IS NOT NULL),
                (3, 'OrderShipped', 'SHIPPED', 'PAID', od.updated_at,
                 od.status IN ('SHIPPED', 'COMPLETED')),
                (4, 'OrderCompleted', 'COMPLETED', 'SHIPPED', od.updated_at, od.status = 'COMPLETED'),
                (5, 'OrderCancelled', 'CANCELLED',
                 CASE WHEN od.payment_id IS NOT NULL THEN 'PAID' ELSE 'CREATED' END, od.updated_at,
                 od.status = 'CANCELLED')
            ) AS v(n, type, status_to, status_from, at, present) WHERE v.present) s),
    versioned AS (
        SELECT steps.*, row_number() OVER (PARTITION BY steps.id ORDER BY steps.n)::integer AS v
        FROM steps)
    SELECT 3, x.id * 8 + x.v, rebuild_event(x.type, 'order', x.id, x.v, x.at,
        CASE WHEN x.type = 'OrderCreated' THEN
            jsonb_build_object('orderId', x.id, 'customerId', x.customer_id, 'status', 'CREATED',
                               'total', trim_scale(x.total), 'items', x.items)
        ELSE
            jsonb_build_object('orderId', x.id, 'customerId', x.customer_id,
                               'status', x.status_to, 'previousStatus', x.status_from,
                               'total', trim_scale(x.total))
            || CASE x.type
                   WHEN 'OrderPaid' THEN jsonb_build_object(
                       'paymentId', x.payment_id, 'amount', trim_scale(x.amount),
                       'method', x.method, 'paidAt', iso_utc(x.paid_at))
                   WHEN 'OrderCancelled' THEN jsonb_build_object('reason', '', 'items', x.returned)
                   ELSE '{}'::jsonb END
        END)
    FROM versioned x;

    -- a todo: created, completed if it is, deleted if it is (the read side keeps a tombstone or
    -- drops the row, as its projection does), the last step at the todo's version
    RETURN QUERY
    WITH t AS (
        SELECT todos.*, 1 + completed::integer + (deleted_at IS NOT NULL)::integer AS steps
        FROM todos JOIN rebuild_gaps g ON g.aggregate_type = 'todo' AND g.aggregate_id = todos.id)
    SELECT 3, (1::bigint << 60) + t.id * 4 + s.n,
           rebuild_event(s.type, 'todo', t.id, t.version - t.steps + s.n,
                         CASE WHEN s.type = 'TodoCreated' THEN t.created_at ELSE t.updated_at END,
                         CASE WHEN s.type = 'TodoDeleted' THEN jsonb_build_object('todoId', t.id)
                              ELSE jsonb_build_object('todoId', t.id, 'title', t.title,
                                                      'completed', s.type = 'TodoCompleted') END)
    FROM t, LATERAL (SELECT 1 AS n, 'TodoCreated' AS type
                     UNION ALL SELECT 2, 'TodoCompleted' WHERE t.completed
                     UNION ALL SELECT 1 + t.completed::integer + 1, 'TodoDeleted'
                     WHERE t.deleted_at IS NOT NULL) s;

    RETURN QUERY
    SELECT 3, (1::bigint << 61) + m.id,
           rebuild_event('MoodRecorded', 'mood', m.id, 1, m.recorded_at,
                         jsonb_build_object('type', m.type, 'timestamp', iso_utc_ms(m.recorded_at)))
    FROM moods m JOIN rebuild_gaps g ON g.aggregate_type = 'mood' AND g.aggregate_id = m.id;
END $$;
