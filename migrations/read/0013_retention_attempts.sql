-- Read DB, version 13: bounded bookkeeping, and attempts that survive a crash.
--
-- processed_events is the deduplication record: a redelivered event whose id is in it is skipped.
-- A redelivery can only come while the event can still be sent again: the broker redelivers what
-- a consumer did not ack (seconds to minutes), and the relay publishes only rows still in the
-- outbox, which it purges after OUTBOX_RETENTION. So a row older than that horizon guards
-- nothing, and the consumer deletes it (PROCESSED_EVENTS_RETENTION, default 7 days like
-- OUTBOX_RETENTION; docs/reliability.md). processed_events_processed_at_idx (0007) finds them.
--
-- event_attempts counts the deliveries of an event that the broker redelivered (redelivered=true:
-- a consumer took it and went away without settling it, for example because applying it crashed
-- the process). The consumer records the attempt in a statement of its own, committed before it
-- applies the event, so a crash cannot undo the count; past CONSUMER_MAX_ATTEMPTS it
-- dead-letters the event without applying it. A row is deleted once its event is settled, and
-- with processed_events' retention otherwise.

CREATE TABLE event_attempts (
    event_id uuid PRIMARY KEY,
    attempts integer NOT NULL CHECK (attempts > 0),
    last_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX event_attempts_last_at_idx ON event_attempts (last_at);

-- One more attempt of p_event_id; returns the attempts so far, this one included.
CREATE FUNCTION event_attempt_record(p_event_id uuid) RETURNS integer LANGUAGE sql AS $$
    INSERT INTO event_attempts AS a (event_id, attempts) VALUES (p_event_id, 1)
    ON CONFLICT (event_id) DO UPDATE SET attempts = a.attempts + 1, last_at = clock_timestamp()
    RETURNING attempts
$$;

-- The event is settled (applied, skipped as a duplicate, retried later or dead-lettered).
CREATE FUNCTION event_attempt_clear(p_event_id uuid) RETURNS void LANGUAGE sql AS $$
    DELETE FROM event_attempts WHERE event_id = p_event_id
$$;

-- Deletes up to p_limit processed_events rows (and as many event_attempts rows) older than
-- p_retention, oldest first; returns how many processed_events rows went. Rows another
-- transaction holds are skipped (SKIP LOCKED), so a purge never waits for a batch.
CREATE FUNCTION processed_events_purge(p_retention interval, p_limit integer DEFAULT 500)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_cut timestamptz := clock_timestamp() - p_retention;
    v_n integer;
BEGIN
    IF p_retention < interval '0' OR p_limit < 1 THEN
        RAISE EXCEPTION 'processed_events_purge: retention must be >= 0 and limit >= 1'
            USING ERRCODE = '22023';
    END IF;
    DELETE FROM processed_events WHERE event_id IN (
        SELECT event_id FROM processed_events WHERE processed_at < v_cut
        ORDER BY processed_at LIMIT p_limit FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM event_attempts WHERE event_id IN (
        SELECT event_id FROM event_attempts WHERE last_at < v_cut
        ORDER BY last_at LIMIT p_limit FOR UPDATE SKIP LOCKED);
    RETURN v_n;
END $$;

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
