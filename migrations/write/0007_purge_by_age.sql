

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
