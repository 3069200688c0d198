-- Write DB: the outbox: appending an event, and the NOTIFY that wakes the relay.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT notify_wanted FROM relay_state WHERE singleton) THEN
        PERFORM pg_notify('outbox_events', '');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE OR REPLACE FUNCTION outbox_append(p_aggregate_type text, p_aggregate_id bigint,
                                         p_version integer, p_event_type text, p_body jsonb)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_event_id uuid := gen_random_uuid();
    v_now timestamptz := clock_timestamp();
    v_schema integer := event_schema_version(p_event_type);
    -- an invalid one (a client's bad header) is dropped, never an error that fails the command
    v_trace text := current_setting('cqrs.traceparent', true);
BEGIN
    IF v_schema IS NULL THEN
        RAISE EXCEPTION 'event type % has no schema version (event_schema_version)', p_event_type;
    END IF;
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                        payload, created_at, traceparent)
    VALUES (v_event_id, p_event_type, p_aggregate_type, p_aggregate_id, p_version,
            jsonb_build_object('eventId', v_event_id,
                               'eventType', p_event_type,
                               'eventVersion', v_schema,
                               'occurredAt', iso_utc(v_now),
                               'aggregateType', p_aggregate_type,
                               'aggregateId', p_aggregate_id,
                               'aggregateVersion', p_version) || p_body,
            v_now,
            CASE WHEN traceparent_valid(v_trace) THEN v_trace END);
    RETURN v_event_id;
END $$;
