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

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
