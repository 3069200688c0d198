-- Write DB: every event carries `eventVersion`, the schema version of its event type
-- (docs/events.md: an additive change keeps the version, any other change raises it, and the
-- read side refuses a version it does not know instead of misreading it).
-- event_schema_version is the one place that says which version each type is written in; an
-- event type it does not name is a programming error and fails the command.

CREATE FUNCTION event_schema_version(p_event_type text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_event_type
        WHEN 'ProductCreated' THEN 1
        WHEN 'InventoryAdjusted' THEN 1
        WHEN 'OrderCreated' THEN 1
        WHEN 'OrderPaid' THEN 1
        WHEN 'OrderShipped' THEN 1
        WHEN 'OrderCompleted' THEN 1
        WHEN 'OrderCancelled' THEN 1
        WHEN 'TodoCreated' THEN 1
        WHEN 'TodoCompleted' THEN 1
        WHEN 'TodoReopened' THEN 1
        WHEN 'TodoDeleted' THEN 1
        WHEN 'MoodRecorded' THEN 1
    END
$$;

CREATE OR REPLACE FUNCTION outbox_append(p_aggregate_type text, p_aggregate_id bigint,
                                         p_version integer, p_event_type text, p_body jsonb)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_event_id uuid := gen_random_uuid();
    v_now timestamptz := clock_timestamp();
    v_schema integer := event_schema_version(p_event_type);
BEGIN
    IF v_schema IS NULL THEN
        RAISE EXCEPTION 'event type % has no schema version (event_schema_version)', p_event_type;
    END IF;
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                        payload, created_at)
    VALUES (v_event_id, p_event_type, p_aggregate_type, p_aggregate_id, p_version,
            jsonb_build_object('eventId', v_event_id,
                               'eventType', p_event_type,
                               'eventVersion', v_schema,
                               'occurredAt', iso_utc(v_now),
                               'aggregateType', p_aggregate_type,
                               'aggregateId', p_aggregate_id,
                               'aggregateVersion', p_version) || p_body,
            v_now);
    RETURN v_event_id;
END $$;

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
