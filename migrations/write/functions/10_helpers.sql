-- Write DB: the small helpers every command and event uses (time formats, money, the trace context,
-- the event schema version, the invalid-argument error).
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- ISO 8601 UTC with microseconds, the clock of every event's occurredAt. STABLE as to_char is,
-- so that it is inlined (migrations/write/0016 says why); so is iso_utc_ms.
CREATE OR REPLACE FUNCTION iso_utc(ts timestamptz) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Validation failures raised by command functions: SQLSTATE CQ400, COLUMN names the field.
CREATE OR REPLACE FUNCTION cmd_invalid(p_field text, p_message text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: %', p_field, p_message USING ERRCODE = 'CQ400', COLUMN = p_field;
END $$;

-- Reads an exact money amount from a JSON number: >= 0, at most 2 fraction digits, < 10^12.
CREATE OR REPLACE FUNCTION json_money(p_value jsonb, p_field text) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v numeric;
BEGIN
    IF p_value IS NULL OR jsonb_typeof(p_value) <> 'number' THEN
        PERFORM cmd_invalid(p_field, 'must be a number');
    END IF;
    v := p_value::numeric;
    IF v < 0 OR v >= 1000000000000 THEN
        PERFORM cmd_invalid(p_field, 'must be between 0 and 999999999999.99');
    END IF;
    IF scale(trim_scale(v)) > 2 THEN
        PERFORM cmd_invalid(p_field, 'must have at most 2 fraction digits');
    END IF;
    RETURN trim_scale(v);
END $$;

-- ISO 8601 UTC with milliseconds, e.g. 2026-02-16T16:15:00.000Z: the mood events' timestamp.
CREATE OR REPLACE FUNCTION iso_utc_ms(ts timestamptz) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE OR REPLACE FUNCTION event_schema_version(p_event_type text) RETURNS integer
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

-- A version-00 traceparent, strictly (lib/tracing.h says the same in C): lowercase hex, neither
-- the trace id nor the parent id all zeros.
CREATE OR REPLACE FUNCTION traceparent_valid(p text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(p ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                    AND substr(p, 4, 32) <> repeat('0', 32)
                    AND substr(p, 37, 16) <> repeat('0', 16), false)
$$;

-- Sets the transaction's traceparent (NULL clears it) and returns p_body unchanged, so that a
-- command's statement can call it on its body argument: arguments are evaluated before the call.
CREATE OR REPLACE FUNCTION cmd_trace(p_traceparent text, p_body jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('cqrs.traceparent', coalesce(p_traceparent, ''), true);
    RETURN p_body;
END $$;
