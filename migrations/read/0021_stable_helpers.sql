-- Read DB: iso_utc is STABLE, as to_char(timestamp, text) is (the write DB's
-- migrations/write/0016 says why): declared IMMUTABLE it could not be inlined and ran as a
-- separate SQL function, parsed and planned on every call, in every query answer and projection
-- that formats a time. dash_stalled_reason calls format(), also STABLE. The query role keeps
-- EXECUTE on them: grant_service_roles grants it the read-only SQL helpers, STABLE as well as
-- IMMUTABLE (the queries call them with its rights).

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
