-- Ordering (0011_ordering.sql): whatever order events arrive in, one by one or in batches, the
-- read model ends the same; each aggregate's events apply in version order; stale events are
-- skipped, early ones wait (CQ425, naming them in DETAIL), unknown products make an order wait.
BEGIN;
\ir ../fixtures.psql
SELECT pg_temp.empty_read_model();
SELECT plan(38);

CREATE FUNCTION pg_temp.mk(p_id int, p_type text, p_agg text, p_agg_id int, p_version int, p_body jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT pg_temp.envelope(p_id, p_type, p_agg, p_agg_id, p_version, format('2026-04-0%sT10:00:00Z', 1 + p_id % 3), p_body) $$;


-- The consumer, one event at a time: each pass applies what it can; an early event (CQ425) is
-- rolled back alone and tried again in the next pass. Returns the number of passes.
CREATE FUNCTION pg_temp.deliver_singly(p_events jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_pending jsonb := p_events;
    v_next jsonb;
    v_passes integer := 0;
    e jsonb;
BEGIN
    WHILE jsonb_array_length(v_pending) > 0 LOOP
        v_passes := v_passes + 1;
        IF v_passes > 20 THEN
            RAISE EXCEPTION 'no progress: % events still early', jsonb_array_length(v_pending);
        END IF;
        v_next := '[]';
        FOR e IN SELECT value FROM jsonb_array_elements(v_pending) WITH ORDINALITY AS x(value, o) ORDER BY o LOOP
            BEGIN
                PERFORM apply_event(e);
            EXCEPTION WHEN SQLSTATE 'CQ425' THEN
                v_next := v_next || jsonb_build_array(e);
            END;
        END LOOP;
        v_pending := v_next;
    END LOOP;
    RETURN v_passes;
END $$;

-- The consumer in batches of p_size: apply_events on each batch; when it raises CQ425, the events
-- its DETAIL names are held and the rest applied again at once; held events join the next batch,
-- and after the last batch are tried again until none is left. Returns the number of calls.
CREATE FUNCTION pg_temp.deliver_batches(p_events jsonb, p_size integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_held jsonb := '[]';
    v_batch jsonb;
    v_detail text;
    v_named integer;
    v_calls integer := 0;
    v_last boolean;
    v_chunk integer := 0;
    v_nchunks integer := (jsonb_array_length(p_events) + p_size - 1) / p_size;
BEGIN
    LOOP
        v_last := v_chunk >= v_nchunks;
        IF v_last AND jsonb_array_length(v_held) = 0 THEN
            RETURN v_calls;
        END IF;
        SELECT v_held || coalesce(jsonb_agg(value ORDER BY o), '[]') INTO v_batch
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(value, o)
        WHERE o > v_chunk * p_size AND o <= (v_chunk + 1) * p_size;
        v_chunk := v_chunk + 1;
        v_held := '[]';
        WHILE jsonb_array_length(v_batch) > 0 LOOP
            v_calls := v_calls + 1;
            IF v_calls > 200 THEN
                RAISE EXCEPTION 'no progress';
            END IF;
            BEGIN
                PERFORM apply_events(v_batch);
                v_batch := '[]';
            EXCEPTION WHEN SQLSTATE 'CQ425' THEN
                GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
                SELECT count(*) FILTER (WHERE value->>'eventId' = ANY (string_to_array(v_detail, ' '))),
                       v_held || coalesce(jsonb_agg(value ORDER BY o) FILTER (
                           WHERE value->>'eventId' = ANY (string_to_array(v_detail, ' '))), '[]'),
                       coalesce(jsonb_agg(value ORDER BY o) FILTER (
                           WHERE NOT value->>'eventId' = ANY (string_to_array(v_detail, ' '))), '[]')
                INTO v_named, v_held, v_batch
                FROM jsonb_array_elements(v_batch) WITH ORDINALITY AS x(value, o);
                IF v_named = 0 THEN
                    RAISE EXCEPTION 'CQ425 named no event of the batch: %', v_detail;
                END IF;
            END;
        END LOOP;
        IF v_last AND v_calls > 100 THEN
            RAISE EXCEPTION 'no progress after the last batch';
        END IF;
    END LOOP;
END $$;

-- ---- products, orders and inventory --------------------------------------------------------
CREATE TEMP TABLE ev (n int PRIMARY KEY, e jsonb);
INSERT INTO ev VALUES
(1, pg_temp.mk(1, 'ProductCreated', 'product', 1, 1, '{"productId":1,"name":"Laptop","category":"E","price":100,"stock":10}')),
(2, pg_temp.mk(2, 'ProductCreated', 'product', 2, 1, '{"productId":2,"name":"Pen","category":"O","price":2,"stock":50}')),
(3, pg_temp.mk(3, 'OrderCreated', 'order', 1, 1, '{"orderId":1,"customerId":7,"status":"CREATED","total":204,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":2,"price":100},{"productId":2,"productName":"Pen","category":"O","quantity":2,"price":2}]}')),
(4, pg_temp.mk(4, 'InventoryAdjusted', 'product', 1, 2, '{"productId":1,"adjustmentId":1,"delta":5,"reason":"","stock":13}')),
(5, pg_temp.mk(5, 'OrderCreated', 'order', 2, 1, '{"orderId":2,"customerId":8,"status":"CREATED","total":100,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":1,"price":100}]}')),
(6, pg_temp.mk(6, 'OrderPaid', 'order', 1, 2, '{"orderId":1,"customerId":7,"status":"PAID","previousStatus":"CREATED","total":204,"paymentId":1,"amount":204,"method":"card","paidAt":"2026-04-02T10:00:00.000000Z"}')),
(7, pg_temp.mk(7, 'InventoryAdjusted', 'product', 1, 3, '{"productId":1,"adjustmentId":2,"delta":-3,"reason":"","stock":9}')),
(8, pg_temp.mk(8, 'OrderPaid', 'order', 2, 2, '{"orderId":2,"customerId":8,"status":"PAID","previousStatus":"CREATED","total":100,"paymentId":2,"amount":100,"method":"card","paidAt":"2026-04-02T10:00:00.000000Z"}')),
(9, pg_temp.mk(9, 'OrderCancelled', 'order', 2, 3, '{"orderId":2,"customerId":8,"status":"CANCELLED","previousStatus":"PAID","total":100,"reason":"","items":[{"productId":1,"quantity":1}]}')),
(10, pg_temp.mk(10, 'OrderShipped', 'order', 1, 3, '{"orderId":1,"customerId":7,"status":"SHIPPED","previousStatus":"PAID","total":204}')),
(11, pg_temp.mk(11, 'InventoryAdjusted', 'product', 2, 2, '{"productId":2,"adjustmentId":3,"delta":-10,"reason":"","stock":38}')),
(12, pg_temp.mk(12, 'OrderCreated', 'order', 3, 1, '{"orderId":3,"customerId":7,"status":"CREATED","total":4,"items":[{"productId":2,"productName":"Pen","category":"O","quantity":2,"price":2}]}')),
(13, pg_temp.mk(13, 'OrderCancelled', 'order', 3, 2, '{"orderId":3,"customerId":7,"status":"CANCELLED","previousStatus":"CREATED","total":4,"reason":"","items":[{"productId":2,"quantity":2}]}')),
(14, pg_temp.mk(14, 'OrderCompleted', 'order', 1, 4, '{"orderId":1,"customerId":7,"status":"COMPLETED","previousStatus":"SHIPPED","total":204}')),
(15, pg_temp.mk(15, 'TodoCreated', 'todo', 1, 1, '{"todoId":1,"title":"one","completed":false}')),
(16, pg_temp.mk(16, 'TodoCompleted', 'todo', 1, 2, '{"todoId":1,"title":"one","completed":true}')),
(17, pg_temp.mk(17, 'TodoCreated', 'todo', 2, 1, '{"todoId":2,"title":"two","completed":false}')),
(18, pg_temp.mk(18, 'TodoReopened', 'todo', 1, 3, '{"todoId":1,"title":"one","completed":false}')),
(19, pg_temp.mk(19, 'TodoCompleted', 'todo', 2, 2, '{"todoId":2,"title":"two","completed":true}')),
(20, pg_temp.mk(20, 'TodoDeleted', 'todo', 1, 4, '{"todoId":1}')),
(21, pg_temp.mk(21, 'MoodRecorded', 'mood', 1, 1, '{"type":"good","timestamp":"2026-04-01T10:00:00.000Z"}'));

-- the reference: every event in write order, one by one
SAVEPOINT reference;
SELECT is(pg_temp.deliver_singly((SELECT jsonb_agg(e ORDER BY n) FROM ev)), 1,
          'in write order no event is early');
SELECT pg_temp.snapshot() AS expected \gset
ROLLBACK TO SAVEPOINT reference;
SELECT is((:'expected'::jsonb)->'products',
          '[{"name":"Laptop","price":100.00,"stock":10,"version":3,"category":"E","reserved":0,"product_id":1,"low_stock_threshold":10},
            {"name":"Pen","price":2.00,"stock":38,"version":2,"category":"O","reserved":0,"product_id":2,"low_stock_threshold":10}]'::jsonb,
          'the reference: stock after orders, adjustments, a shipment and cancellations');
SELECT is((:'expected'::jsonb)->'todo_list', '[{"id":2,"title":"two","completed":true}]'::jsonb,
          'the reference lists todo 2 only');

-- permutations: reversed, and 6 shuffles (fixed seed), each delivered singly and in batches
CREATE TEMP TABLE perm (k int, n int, pos double precision);
SELECT setseed(0.11);
INSERT INTO perm SELECT 0, n, -n FROM ev;
INSERT INTO perm SELECT k, n, random() FROM generate_series(1, 6) AS k, ev;
CREATE TEMP TABLE perms AS
SELECT k, jsonb_agg(e ORDER BY pos) AS es FROM perm JOIN ev USING (n) GROUP BY k;

CREATE FUNCTION pg_temp.check_perm(p_k int, p_how text, p_size int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_es jsonb := (SELECT es FROM perms WHERE k = p_k);
    v_expected jsonb := current_setting('ordering.expected')::jsonb;
    v_ok boolean;
BEGIN
    PERFORM pg_temp.empty_read_model();
    IF p_how = 'singly' THEN
        PERFORM pg_temp.deliver_singly(v_es);
    ELSE
        PERFORM pg_temp.deliver_batches(v_es, p_size);
    END IF;
    v_ok := pg_temp.snapshot() - 'processed' = v_expected - 'processed'
            AND pg_temp.snapshot()->'processed' = v_expected->'processed';
    IF NOT v_ok THEN
        RAISE NOTICE 'permutation % (%, %): % instead of %', p_k, p_how, p_size, pg_temp.snapshot(), v_expected;
    END IF;
    RETURN v_ok;
END $$;
SELECT set_config('ordering.expected', :'expected', true);

-- each permutation (0: reversed) delivered one event at a time (size 1) or in batches of size
-- (21: all in one): the same read model
SELECT ok(pg_temp.check_perm(k, CASE size WHEN 1 THEN 'singly' ELSE 'batches' END, size),
          format('%s, %s: the same read model', CASE k WHEN 0 THEN 'reversed' ELSE 'shuffle ' || k END,
                 CASE size WHEN 1 THEN 'one event at a time' ELSE 'in batches of ' || size END))
FROM (VALUES (0, 1), (0, 3), (0, 21), (1, 1), (1, 4), (2, 1), (2, 2), (3, 1), (3, 5), (4, 3), (5, 7),
             (6, 1)) AS p(k, size);

-- ---- stale and early, one by one --------------------------------------------------------------
SELECT pg_temp.empty_read_model();
SELECT throws_ok($$SELECT apply_event((SELECT e FROM ev WHERE n = 3))$$, 'CQ425', NULL,
                 'an order naming unknown products waits');
SELECT is((SELECT count(*)::int FROM orders_read) + (SELECT count(*)::int FROM processed_events), 0,
          'and nothing of it is written, not even its event id');
SELECT throws_ok($$SELECT apply_event((SELECT e FROM ev WHERE n = 4))$$, 'CQ425', NULL,
                 'an adjustment of an unknown product waits');
SELECT is(apply_event((SELECT e FROM ev WHERE n = 1)), 'applied', 'its product is created');
SELECT throws_ok($$SELECT apply_event((SELECT e FROM ev WHERE n = 7))$$, 'CQ425', NULL,
                 'an adjustment two versions ahead waits');
SELECT is(apply_event((SELECT e FROM ev WHERE n = 4)), 'applied', 'the next version applies');
SELECT is(apply_event((SELECT e FROM ev WHERE n = 7)), 'applied', 'then the one after it');
SELECT is(apply_event(jsonb_set((SELECT e FROM ev WHERE n = 4), '{eventId}', '"00000000-0000-0000-0000-000000000904"')),
          'duplicate', 'a version already applied under another event id is stale, counted as a duplicate');
SELECT is((SELECT (stock, version) FROM products_read WHERE product_id = 1), (12, 3),
          'the stale event changed nothing');
SELECT is(apply_event(jsonb_set((SELECT e FROM ev WHERE n = 1), '{eventId}', '"00000000-0000-0000-0000-000000000901"')),
          'duplicate', 'a second ProductCreated is stale');
SELECT throws_ok($$SELECT apply_event((SELECT e FROM ev WHERE n = 13))$$, 'CQ425', NULL,
                 'a cancellation naming an unknown product waits');

-- the early events a batch names in its error
DO $$
DECLARE
    v_detail text;
    v_state text;
BEGIN
    PERFORM apply_events(jsonb_build_array((SELECT e FROM ev WHERE n = 2), (SELECT e FROM ev WHERE n = 12),
                                           (SELECT e FROM ev WHERE n = 3),
                                           pg_temp.mk(30, 'OrderCreated', 'order', 9, 1, '{"orderId":9,"customerId":7,"status":"CREATED","total":1,"items":[{"productId":99,"productName":"X","category":"X","quantity":1,"price":1}]}'),
                                           pg_temp.mk(31, 'OrderCreated', 'order', 10, 1, '{"orderId":10,"customerId":7,"status":"CREATED","total":1,"items":[{"productId":98,"productName":"X","category":"X","quantity":1,"price":1}]}')));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL, v_state = RETURNED_SQLSTATE;
    PERFORM set_config('ordering.detail', v_state || ': ' || v_detail, true);
END $$;
SELECT is(current_setting('ordering.detail'),
          'CQ425: 00000000-0000-0000-0000-000000000030 00000000-0000-0000-0000-000000000031',
          'a batch with early orders names every one of them, and only them');
SELECT is(proj_early_events(jsonb_build_array(
              (SELECT e FROM ev WHERE n = 8),                        -- paid v2 of order 2, unknown
              (SELECT e FROM ev WHERE n = 11),                       -- product 2 v2: its create follows
              (SELECT e FROM ev WHERE n = 2),                        -- its create: ready
              (SELECT e FROM ev WHERE n = 6),                        -- paid v2 of order 1: created here
              (SELECT e FROM ev WHERE n = 3),                        -- order 1: ready with product 2
              (SELECT e FROM ev WHERE n = 10),                       -- shipped v3 of order 1: ready
              (SELECT e FROM ev WHERE n = 14),                       -- completed v4 of order 1: ready
              (SELECT e FROM ev WHERE n = 9),                        -- cancelled v3 of order 2: gap
              (SELECT e FROM ev WHERE n = 16),                       -- todo 1 v2, unknown todo
              (SELECT e FROM ev WHERE n = 21))),                     -- a mood: never early
          '00000000-0000-0000-0000-000000000008 00000000-0000-0000-0000-000000000009 00000000-0000-0000-0000-000000000016',
          'proj_early_events counts what the batch brings: only events whose predecessor or product is missing are early');
SELECT is(proj_early_events(jsonb_build_array((SELECT e FROM ev WHERE n = 7), (SELECT e FROM ev WHERE n = 4),
                                              (SELECT e FROM ev WHERE n = 1))),
          NULL, 'versions the read model holds already are stale, not early');
SELECT is(apply_events(jsonb_build_array((SELECT e FROM ev WHERE n = 12), (SELECT e FROM ev WHERE n = 3),
                                         (SELECT e FROM ev WHERE n = 2))),
          '{"applied": 3, "duplicates": 0}'::jsonb, 'in one batch, orders arriving before their product wait for nothing');
SELECT is((SELECT (stock, reserved) FROM products_read WHERE product_id = 2), (46, 4),
          'and reserve their stock');
SELECT is(apply_events(jsonb_build_array(jsonb_set((SELECT e FROM ev WHERE n = 3), '{eventId}', '"00000000-0000-0000-0000-000000000903"'))),
          '{"applied": 0, "duplicates": 1}'::jsonb, 'an order already there is stale in a batch too');

-- ---- todos: tombstones --------------------------------------------------------------------
SELECT throws_ok($$SELECT apply_event((SELECT e FROM ev WHERE n = 20))$$, 'CQ425', NULL,
                 'a delete of an unknown todo waits');
SELECT is(apply_events((SELECT jsonb_agg(e ORDER BY n DESC) FROM ev WHERE n IN (15, 16, 18, 20))),
          '{"applied": 4, "duplicates": 0}'::jsonb, 'a todo''s events in reverse order in one batch all apply');
SELECT is((SELECT (deleted, version) FROM todos_read WHERE todo_id = 1), (true, 4), 'a deleted todo stays as a tombstone');
SELECT is(apply_event(jsonb_set((SELECT e FROM ev WHERE n = 15), '{eventId}', '"00000000-0000-0000-0000-000000000915"')),
          'duplicate', 'a late create of a deleted todo is stale');
SELECT is(apply_event(jsonb_set((SELECT e FROM ev WHERE n = 16), '{eventId}', '"00000000-0000-0000-0000-000000000916"')),
          'duplicate', 'a late update of a deleted todo is stale');
SELECT is((SELECT q FROM q_todos() AS q), '[]', 'and the deleted todo stays hidden');

SELECT * FROM finish();
ROLLBACK;
