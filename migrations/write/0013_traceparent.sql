-- Write DB: the W3C trace context of the request that wrote an event travels with it
-- (docs/observability.md, "Request ids and traces"). The command API passes the request's
-- traceparent through cmd_trace() in the argument list of the command it calls, in the same
-- statement (one round trip, no extra SET): cmd_trace stores it in the transaction-local setting
-- cqrs.traceparent, and outbox_append writes it, when valid, into the new nullable
-- outbox.traceparent of every event of that transaction. The relay sends it as the AMQP header
-- `traceparent`. (Validity is checked where it is written, not by a CHECK constraint: a CHECK
-- would run again on the relay's UPDATE of published_at, as the relay's role.)

-- A version-00 traceparent, strictly (lib/tracing.h says the same in C): lowercase hex, neither
-- the trace id nor the parent id all zeros.
CREATE FUNCTION traceparent_valid(p text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(p ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                    AND substr(p, 4, 32) <> repeat('0', 32)
                    AND substr(p, 37, 16) <> repeat('0', 16), false)
$$;

ALTER TABLE outbox ADD COLUMN traceparent text;

-- Sets the transaction's traceparent (NULL clears it) and returns p_body unchanged, so that a
-- command's statement can call it on its body argument: arguments are evaluated before the call.
CREATE FUNCTION cmd_trace(p_traceparent text, p_body jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('cqrs.traceparent', coalesce(p_traceparent, ''), true);
    RETURN p_body;
END $$;

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

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
