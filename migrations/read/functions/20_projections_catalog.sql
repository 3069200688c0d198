-- Read DB: the projections of products, inventory, todos and moods.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

CREATE OR REPLACE FUNCTION proj_mood_recorded(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_good integer;
BEGIN
    CASE e->>'type'
        WHEN 'good' THEN v_good := 1;
        WHEN 'bad' THEN v_good := 0;
        ELSE PERFORM proj_reject(e, 'type must be "good" or "bad"');
    END CASE;
    INSERT INTO mood_counts AS m (shard, happy, sad) VALUES (apply_shard(), v_good, 1 - v_good)
    ON CONFLICT (shard) DO UPDATE
    SET happy = m.happy + v_good, sad = m.sad + 1 - v_good, updated_at = clock_timestamp();
    -- delivered at commit; one per transaction, however many moods the batch held
    PERFORM pg_notify('mood_stats', '');
END $$;

-- ProductCreated (version 1). Returns false when the product is there already (stale).
CREATE OR REPLACE FUNCTION proj_product_created(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION proj_inventory_adjusted(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
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

-- TodoCreated (version 1) inserts; TodoCompleted / TodoReopened / TodoDeleted (later versions)
-- apply when the todo is at version - 1. A delete keeps the row as a tombstone. Returns false
-- when stale (a create of a todo already there, deleted or not; an update already reflected).
CREATE OR REPLACE FUNCTION proj_todo(e jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
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
