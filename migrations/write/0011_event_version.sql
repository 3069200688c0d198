-- Write DB: every event carries `eventVersion`, the schema version of its event type
-- (docs/events.md: an additive change keeps the version, any other change raises it, and the
-- read side refuses a version it does not know instead of misreading it).
-- event_schema_version is the one place that says which version each type is written in; an
-- event type it does not name is a programming error and fails the command.

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
