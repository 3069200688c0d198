-- Write DB, version 8: the relay's leader lease, with fencing (docs/architecture.md, "Outbox
-- relay"; issue 11 item 3).
--
-- Leadership was a session advisory lock: a leader that froze (SIGSTOP, a VM pause, a hung
-- thread) kept its session, so the lock, forever, and nothing was published. Now the leader holds
-- a lease in this one-row table and renews it from its main loop; a standby takes it over once it
-- has expired (or at once when the holder's session is gone) and fences the old leader: it
-- terminates the old holder's backend, so that the old leader's connection and any transaction on
-- it go, and the old leader's marks are refused by relay_mark_published, which checks in the same
-- statement that the caller's session still holds the lease.
--
-- The functions run as their caller (SECURITY INVOKER): pg_terminate_backend() allows a role to
-- terminate the backends of a role whose privileges it has, so relays that connect as the same
-- role (RELAY_DATABASE_URL) may fence one another, as the owner may. A SECURITY DEFINER function
-- would check the owner instead, who is not a member of the relays' login role.
CREATE TABLE relay_lease (
    singleton            boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    holder               text,        -- the relay's id (host:pid:random), kept after a release
    holder_pid           integer,     -- its backend (pg_backend_pid()); NULL: released or never held
    holder_backend_start timestamptz, -- that backend's start, so that a reused pid is never fenced
    epoch                bigint NOT NULL DEFAULT 0, -- + 1 at each change of holder
    acquired_at          timestamptz,
    renewed_at           timestamptz,
    expires_at           timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO relay_lease DEFAULT VALUES;

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
