-- Read DB: the read side refuses an event whose eventVersion (the schema version of its type,
-- written by the write DB's event_schema_version, docs/events.md) is newer than the projections
-- know, instead of misreading it: the event fails (CQ422) and follows the retry and dead-letter
-- path, to be requeued once an upgraded consumer runs. An event without eventVersion (written
-- before it existed) is version 1. apply_event and apply_events are restated from 0011 with the
-- check added after the envelope check.

-- The newest schema version of each event type the projections read; NULL: an unknown type
-- (proj_dispatch refuses those).
CREATE FUNCTION proj_known_event_version(p_event_type text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_event_type IN ('ProductCreated', 'InventoryAdjusted', 'OrderCreated',
                                      'OrderPaid', 'OrderShipped', 'OrderCompleted',
                                      'OrderCancelled', 'TodoCreated', 'TodoCompleted',
                                      'TodoReopened', 'TodoDeleted', 'MoodRecorded')
                THEN 1 END
$$;

-- Raises CQ422 naming the first event of es (a JSON array of envelopes) whose eventVersion is
-- not a positive integer or is newer than proj_known_event_version.
CREATE FUNCTION proj_check_event_versions(es jsonb) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION apply_event(e jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF jsonb_typeof(e) IS DISTINCT FROM 'object' OR e->>'eventId' IS NULL
       OR e->>'eventType' IS NULL THEN
        PERFORM proj_reject(e, 'not an event envelope');
    END IF;
    PERFORM proj_check_event_versions(jsonb_build_array(e));
    INSERT INTO processed_events (event_id, event_type, occurred_at)
    VALUES ((e->>'eventId')::uuid, e->>'eventType', (e->>'occurredAt')::timestamptz)
    ON CONFLICT (event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    RETURN CASE WHEN proj_dispatch(e) THEN 'applied' ELSE 'duplicate' END;
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
    RETURN jsonb_build_object('applied', v_applied,
                              'duplicates', jsonb_array_length(es) - v_applied);
END $$;

SELECT grant_service_roles();
