-- Write DB: idempotency keys: the request hash, the per-key lock, the replay of a stored answer
-- (cmd_idempotent).
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- sha256 over the method, the path and the body as jsonb text: whitespace and key order in the
-- body do not matter, any other difference does.
CREATE OR REPLACE FUNCTION idempotency_request_hash(p_method text, p_path text, p_body jsonb) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(p_method || ' ' || p_path || E'\n' || p_body::text, 'UTF8'))
$$;

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
CREATE OR REPLACE FUNCTION idempotency_lock_class() RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
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
