-- Read DB, version 3: the mood board's counters. apply_event (0002_domain.sql) calls
-- proj_mood_recorded for MoodRecorded after recording the event id, so a redelivered event is
-- skipped before it gets here. The projection notifies channel mood_stats in the consumer's
-- transaction: the query API's stream listens on it and pushes the new figures to the walls.

CREATE TABLE mood_counts (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    happy      bigint NOT NULL DEFAULT 0 CHECK (happy >= 0), -- "good" moods
    sad        bigint NOT NULL DEFAULT 0 CHECK (sad >= 0),   -- "bad" moods
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO mood_counts DEFAULT VALUES;

CREATE FUNCTION proj_mood_recorded(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_good integer;
BEGIN
    CASE e->>'type'
        WHEN 'good' THEN v_good := 1;
        WHEN 'bad' THEN v_good := 0;
        ELSE PERFORM proj_reject(e, 'type must be "good" or "bad"');
    END CASE;
    INSERT INTO mood_counts AS m (happy, sad) VALUES (v_good, 1 - v_good)
    ON CONFLICT (singleton) DO UPDATE
    SET happy = m.happy + v_good, sad = m.sad + 1 - v_good, updated_at = clock_timestamp();
    -- delivered at commit; one per transaction, however many moods the batch held
    PERFORM pg_notify('mood_stats', '');
END $$;

-- GET /api/moods/stats: {"happy": n, "sad": n, "score": happy - sad}
CREATE FUNCTION q_mood_stats() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('happy', coalesce(sum(happy), 0), 'sad', coalesce(sum(sad), 0),
                             'score', coalesce(sum(happy - sad), 0))::text
    FROM mood_counts
$$;
