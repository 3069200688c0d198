-- Read DB, version 15: the dashboard learns the pipeline's state from what the read side receives
-- (joined only by events: the query API no longer reads the relay's /metrics).
--
-- - relay_status: the newest status message of the relay (routing key relay.RelayStatus, sent by
--   the leader every RELAY_STATUS_INTERVAL_MS; relay/status.h). One row.
-- - queue_status: the consumer's view of the broker, by passive queue.declare of its four queues
--   every CONSUMER_STATUS_INTERVAL_MS (consumer/status.h). One row per queue role.
-- - dead_letters: every event the consumer sent to the dead-letter queue, with why.
-- q_dashboard(p_stall_after_ms) adds the per-stage figures and the stalled verdict; q_dead_letters
-- lists the dead letters for the dashboard's panel.

CREATE TABLE relay_status (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    at timestamptz NOT NULL,          -- the relay's clock, when it measured
    received_at timestamptz NOT NULL, -- the read DB's clock, when the consumer stored it
    backlog bigint NOT NULL CHECK (backlog >= 0),
    oldest_age_ms bigint NOT NULL CHECK (oldest_age_ms >= 0),
    leader boolean NOT NULL,
    unroutable bigint NOT NULL CHECK (unroutable >= 0),
    blocked boolean NOT NULL
);

CREATE TABLE queue_status (
    role text PRIMARY KEY CHECK (role IN ('readModel', 'retry', 'dead', 'mood')),
    queue text NOT NULL,
    messages bigint NOT NULL CHECK (messages >= 0), -- ready (not yet delivered) messages
    consumers bigint NOT NULL CHECK (consumers >= 0),
    at timestamptz NOT NULL
);

CREATE TABLE dead_letters (
    event_id text PRIMARY KEY,
    event_type text,
    aggregate_type text,
    aggregate_id text,
    reason text NOT NULL,
    sqlstate text,
    attempts integer NOT NULL CHECK (attempts >= 0),
    dead_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'requeued', 'dropped')),
    status_at timestamptz NOT NULL
);
CREATE INDEX dead_letters_dead_at_idx ON dead_letters (dead_at DESC, event_id);

DROP FUNCTION IF EXISTS q_dashboard(bigint, double precision);

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
