-- Write DB, version 3: the mood board. One row per recorded mood; its MoodRecorded event goes to
-- the outbox in the same transaction (routing key mood.MoodRecorded).

CREATE TABLE moods (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        text NOT NULL CHECK (type IN ('good', 'bad')),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
