-- Write DB: iso_utc and iso_utc_ms are STABLE, as what they call is: to_char(timestamp, text)
-- depends on the session's locale settings, so PostgreSQL marks it STABLE, and it refuses to
-- inline an IMMUTABLE SQL function whose body calls something less than IMMUTABLE. Declared
-- IMMUTABLE, they ran as separate SQL functions, parsed and planned on every call (fmgr_sql in
-- the write backend's profile: every event's occurredAt); declared honestly, they are inlined
-- into the statement that calls them. No index, constraint or generated column uses them.

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
