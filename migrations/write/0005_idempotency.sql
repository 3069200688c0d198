-- Write DB, version 5: Idempotency-Key support and outbox retention.
--
-- A command sent with an Idempotency-Key runs through cmd_idempotent(): the key is claimed in the
-- same transaction as the command, and the command's response (with its event ids, the
-- X-Consistency-Token) is stored with it. A repeat with the same key and the same request
-- (method, path and body; see idempotency_request_hash) returns the stored response and writes
-- nothing; the same key with another request raises CQ422. A command that fails rolls back its
-- claim too, so a failed request can be retried with the same key. Two concurrent requests with
-- one key serialise on the key's row: the second waits for the first and then replays its
-- response (or runs, if the first failed). A key older than the time-to-live the API passes
-- counts as unused even before idempotency_purge removes it.

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY CHECK (key ~ '^[!-~]{1,255}$'), -- 1..255 visible ASCII
    request_hash bytea NOT NULL,                                  -- idempotency_request_hash
    command      text NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
