-- Write DB, version 5: Idempotency-Key support and outbox retention.
--
-- A command sent with an Idempotency-Key runs through cmd_idempotent(): the key is claimed in the
-- same transaction as the command, and the command's response is stored with it. A repeat with
-- the same key and the same request (method, path and body, hashed by the API) returns the stored
-- response and writes nothing; the same key with another request raises CQ422. A command that
-- fails rolls back its claim too, so a failed request can be retried with the same key. Two
-- concurrent requests with one key serialise on the key's primary key: the second waits for the
-- first and then replays its response.

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    command      text NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE FUNCTION cmd_idempotent(p_key text, p_hash text, p_command text, p_id bigint, p_body jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    k idempotency_keys;
    v jsonb;
BEGIN
    INSERT INTO idempotency_keys (key, request_hash, command) VALUES (p_key, p_hash, p_command)
    ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO k FROM idempotency_keys WHERE key = p_key;
        IF k.request_hash <> p_hash THEN
            RAISE EXCEPTION 'Idempotency-Key % was used for another request', p_key
                USING ERRCODE = 'CQ422';
        END IF;
        RETURN k.response || '{"replayed": true}';
    END IF;
    v := CASE p_command
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
    IF v IS NULL THEN
        RAISE EXCEPTION 'unknown command %', p_command;
    END IF;
    UPDATE idempotency_keys SET response = v WHERE key = p_key;
    RETURN v;
END $$;

-- Deletes up to p_limit keys older than p_ttl; returns how many. Small batches: never blocks
-- writers for long.
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
