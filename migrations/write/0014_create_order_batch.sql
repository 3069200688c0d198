-- Write DB: natural batching of create-order (docs/performance.md). The command API gathers the
-- POST /api/orders requests that arrive while its previous batch runs and hands them to
-- cmd_create_orders in one statement, one transaction: one commit (one WAL flush), one round
-- trip and one plan for many orders. Each order keeps its own all-or-nothing result: it runs in
-- a subtransaction of its own (a plpgsql block with an exception handler), so an order that
-- fails a business rule (insufficient stock, unknown product, price mismatch, a reused
-- Idempotency-Key, invalid input) leaves nothing behind and its error is returned in its row
-- while the others commit. Every order keeps its own Idempotency-Key (through cmd_idempotent, as
-- a single request does), its own traceparent on its own outbox row.
--
-- Ordering and deadlocks: the orders' Idempotency-Keys are taken first (as advisory locks, in
-- order: idempotency_lock_class below), then every product the batch names, in id order.
-- Single commands lock their products in id order too (cmd_create_order,
-- cmd_cancel_order), so two batches, or a batch and a command, wait for each other but cannot
-- deadlock. Errors other than the business ones (a deadlock with some other lock order, a
-- timeout, a lost connection) fail the whole statement: the command API then runs each order of
-- the batch alone, as it would have without batching.
--
-- p_batch: a JSON array of {"body": <the request body>, "traceparent": text or null,
-- "key": the Idempotency-Key or absent, "ttl": its time-to-live in seconds, "path": the
-- request path the key is bound to}. One row per element, in order (ord from 0): answer is the
-- command's JSON (as cmd_create_order returns it) and replayed whether cmd_idempotent replayed
-- it, or err_state, err_message and err_column say why this order was refused.
-- A batch holds at most 64 orders: PostgreSQL caches 64 subtransaction ids per backend; more
-- would make every snapshot of the cluster slower while the batch runs.
-- Locks and Idempotency-Keys. A request with a key claims the key's row, then locks its
-- products; a batch (cmd_create_orders) locks all its products first, then claims its orders'
-- keys. A single request holding key K and waiting for product P, and a batch holding P and
-- waiting for K (a repeat of the same request), would deadlock. So every key is first taken as
-- a transaction-scoped advisory lock, before any row lock: by cmd_idempotent on entry, and by a
-- batch for all its keys, in order, before its products. Everyone then takes keys before
-- products, and products in id order: no cycle. (A hash collision of two keys only makes them
-- wait for each other.)
CREATE FUNCTION idempotency_lock_class() RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 1229212491  -- 'IDK' + 'K', a class of advisory locks of its own
$$;

CREATE OR REPLACE FUNCTION cmd_idempotent(p_key text, p_ttl interval, p_method text, p_path text,
                               p_command text, p_id bigint, p_body jsonb,
                               OUT result jsonb, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_hash bytea := idempotency_request_hash(p_method, p_path, p_body);
    k idempotency_keys;
BEGIN
    -- the key's lock first, before any row lock (idempotency_lock_class)
    PERFORM pg_advisory_xact_lock(idempotency_lock_class(), hashtext(p_key));
    -- claim the key; a conflicting row is locked (also when the WHERE says no), so the purge
    -- cannot take it away before it is read below
    INSERT INTO idempotency_keys AS i (key, request_hash, command)
    VALUES (p_key, v_hash, p_command)
    ON CONFLICT (key) DO UPDATE
        SET request_hash = excluded.request_hash, command = excluded.command, response = NULL,
            created_at = now()
        WHERE i.created_at < now() - p_ttl;
    IF NOT FOUND THEN
        SELECT * INTO k FROM idempotency_keys WHERE key = p_key;
        IF k.request_hash <> v_hash THEN
            RAISE EXCEPTION 'Idempotency-Key was already used for another request'
                USING ERRCODE = 'CQ422', COLUMN = 'Idempotency-Key';
        END IF;
        result := k.response;
        replayed := true;
        RETURN;
    END IF;
    result := CASE p_command
        WHEN 'create_product' THEN cmd_create_product(p_body)
        WHEN 'create_order' THEN cmd_create_order(p_body)
        WHEN 'pay_order' THEN cmd_pay_order(p_id, p_body)
        WHEN 'ship_order' THEN cmd_ship_order(p_id, p_body)
        WHEN 'complete_order' THEN cmd_complete_order(p_id, p_body)
        WHEN 'cancel_order' THEN cmd_cancel_order(p_id, p_body)
        WHEN 'adjust_inventory' THEN cmd_adjust_inventory(p_body)
        WHEN 'create_todo' THEN cmd_create_todo(p_body)
        WHEN 'update_todo' THEN cmd_update_todo(p_id, p_body)
        WHEN 'delete_todo' THEN cmd_delete_todo(p_id, p_body)
        WHEN 'record_mood' THEN cmd_record_mood(p_body)
    END;
    IF result IS NULL THEN
        RAISE EXCEPTION 'unknown command %', p_command;
    END IF;
    UPDATE idempotency_keys SET response = result WHERE key = p_key;
    replayed := false;
END $$;

CREATE FUNCTION cmd_create_orders(p_batch jsonb)
RETURNS TABLE (ord integer, answer jsonb, replayed boolean, err_state text, err_message text,
               err_column text)
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    i integer := 0;
    v_pids bigint[];
    k integer;
BEGIN
    IF jsonb_typeof(p_batch) IS DISTINCT FROM 'array' OR jsonb_array_length(p_batch) > 64 THEN
        PERFORM cmd_invalid('batch', 'must be an array of at most 64 orders');
    END IF;
    SELECT array_agg(DISTINCT (it->>'productId')::bigint ORDER BY (it->>'productId')::bigint)
    INTO v_pids
    FROM jsonb_array_elements(p_batch) AS b(o),
         jsonb_array_elements(CASE jsonb_typeof(o->'body'->'items')
                                  WHEN 'array' THEN o->'body'->'items'
                                  ELSE '[]'::jsonb END) AS x(it)
    WHERE jsonb_typeof(it->'productId') = 'number';
    -- the orders' Idempotency-Keys first, in order, then the products (idempotency_lock_class)
    FOR k IN SELECT DISTINCT hashtext(o->>'key') AS h FROM jsonb_array_elements(p_batch) AS b(o)
             WHERE o ? 'key' ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(idempotency_lock_class(), k);
    END LOOP;
    -- one primary-key lookup per product (a plan that cannot turn into a catalogue scan)
    FOR k IN 1 .. coalesce(cardinality(v_pids), 0) LOOP
        PERFORM 1 FROM products WHERE id = v_pids[k] FOR UPDATE;
    END LOOP;

    FOR e IN SELECT x FROM jsonb_array_elements(p_batch) AS a(x) LOOP
        ord := i;
        i := i + 1;
        answer := NULL;
        replayed := false;
        err_state := NULL;
        err_message := NULL;
        err_column := NULL;
        BEGIN
            PERFORM set_config('cqrs.traceparent', coalesce(e->>'traceparent', ''), true);
            IF e ? 'key' THEN
                SELECT c.result, c.replayed INTO answer, replayed
                FROM cmd_idempotent(e->>'key', (e->>'ttl')::integer * interval '1 second',
                                    'POST', e->>'path', 'create_order', NULL, e->'body') AS c;
            ELSE
                answer := cmd_create_order(e->'body');
            END IF;
        EXCEPTION
            WHEN SQLSTATE 'CQ400' OR SQLSTATE 'CQ404' OR SQLSTATE 'CQ409' OR SQLSTATE 'CQ410'
                 OR SQLSTATE 'CQ422' OR data_exception OR integrity_constraint_violation THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE,
                                        err_message = MESSAGE_TEXT,
                                        err_column = COLUMN_NAME;
                answer := NULL;
                replayed := false;
        END;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('cqrs.traceparent', '', true);
END $$;

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
