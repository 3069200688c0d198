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

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
