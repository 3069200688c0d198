-- Write DB, version 5: Idempotency-Key support and outbox retention.
--
-- A command sent with an Idempotency-Key runs through cmd_idempotent(): the key is claimed in the
-- same transaction as the command, and the command's response (with its event ids, the
-- X-Consistency-Token) is stored with it. A repeat with the same key and the same request
-- (method, path and body; see idempotency_request_hash) returns the stored response and writes
-- nothing; the same key with another request raises CQ422. A command that fails rolls back its
-- claim too, so a failed request can be retried with the same key. Two concurrent requests with
-- one key serialise on the key's row: the second waits for the first and then replays its
-- response (or runs, if the first failed). A key older than the time-to-live the API passes
-- counts as unused even before idempotency_purge removes it.

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY CHECK (key ~ '^[!-~]{1,255}$'), -- 1..255 visible ASCII
    request_hash bytea NOT NULL,                                  -- idempotency_request_hash
    command      text NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- sha256 over the method, the path and the body as jsonb text: whitespace and key order in the
-- body do not matter, any other difference does.
CREATE FUNCTION idempotency_request_hash(p_method text, p_path text, p_body jsonb) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(p_method || ' ' || p_path || E'\n' || p_body::text, 'UTF8'))
$$;

-- Runs command p_command (the command API's statement name) under key p_key, or replays it.
-- result: the command's JSON (with "eventIds"); replayed: true when it is the stored response
-- of an earlier request.
CREATE FUNCTION cmd_idempotent(p_key text, p_ttl interval, p_method text, p_path text,
                               p_command text, p_id bigint, p_body jsonb,
                               OUT result jsonb, OUT replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_hash bytea := idempotency_request_hash(p_method, p_path, p_body);
    k idempotency_keys;
BEGIN
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

-- Deletes up to p_limit keys older than p_ttl; returns how many. Small batches that skip locked
-- rows: never blocks writers for long. The relay calls it with IDEMPOTENCY_KEY_TTL_S.
CREATE FUNCTION idempotency_purge(p_ttl interval, p_limit integer) RETURNS integer
LANGUAGE sql AS $$
    WITH doomed AS (
        SELECT key FROM idempotency_keys WHERE created_at < now() - p_ttl
        ORDER BY created_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM idempotency_keys k USING doomed d WHERE k.key = d.key RETURNING 1
    )
    SELECT count(*)::integer FROM gone
$$;

-- Published outbox rows are the event history for p_retention, then deleted in batches of at
-- most p_limit rows (SKIP LOCKED: never waits for the relay or for writers). Returns how many.
CREATE FUNCTION outbox_purge(p_retention interval, p_limit integer) RETURNS integer
LANGUAGE sql AS $$
    WITH doomed AS (
        SELECT id FROM outbox
        WHERE published_at IS NOT NULL AND published_at < now() - p_retention
        ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM outbox o USING doomed d WHERE o.id = d.id RETURNING 1
    )
    SELECT count(*)::integer FROM gone
$$;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- With least privilege in place (0006_roles.sql, if it was applied first), the command role gets
-- EXECUTE on cmd_idempotent and the relay's on idempotency_purge.
DO $$
BEGIN
    IF to_regproc('grant_service_roles') IS NOT NULL THEN
        PERFORM grant_service_roles();
    END IF;
END $$;
