-- Write DB, version 3: the mood board. One row per recorded mood; its MoodRecorded event goes to
-- the outbox in the same transaction (routing key mood.MoodRecorded).

CREATE TABLE moods (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        text NOT NULL CHECK (type IN ('good', 'bad')),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- ISO 8601 UTC with milliseconds, e.g. 2026-02-16T16:15:00.000Z: the mood events' timestamp.
CREATE FUNCTION iso_utc_ms(ts timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- POST /api/moods. p: {"type": "good" | "bad"}. The command API has validated the body; the
-- checks here keep the function safe to call on its own (CQ400, COLUMN names the field).
-- Returns {"message", "id", "eventIds"}; the event is
-- {<envelope>, "type": "good", "timestamp": "2026-02-16T16:15:00.000Z"}.
CREATE FUNCTION cmd_record_mood(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_type text;
    v_key text;
    v_id bigint;
    v_at timestamptz;
    v_event uuid;
BEGIN
    IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
        PERFORM cmd_invalid('type', 'is required');
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(p) AS k WHERE k <> 'type' ORDER BY k LIMIT 1;
    IF v_key IS NOT NULL THEN
        PERFORM cmd_invalid(v_key, 'is not an allowed field');
    END IF;
    IF jsonb_typeof(p->'type') IS DISTINCT FROM 'string' OR p->>'type' NOT IN ('good', 'bad') THEN
        PERFORM cmd_invalid('type', 'must be "good" or "bad"');
    END IF;
    v_type := p->>'type';
    INSERT INTO moods (type) VALUES (v_type) RETURNING id, recorded_at INTO v_id, v_at;
    v_event := outbox_append('mood', v_id, 1, 'MoodRecorded',
        jsonb_build_object('type', v_type, 'timestamp', iso_utc_ms(v_at)));
    RETURN jsonb_build_object('message', 'Mood recorded.', 'id', v_id,
                              'eventIds', jsonb_build_array(v_event));
END $$;
