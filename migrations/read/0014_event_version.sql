-- Read DB: the read side refuses an event whose eventVersion (the schema version of its type,
-- written by the write DB's event_schema_version, docs/events.md) is newer than the projections
-- know, instead of misreading it: the event fails (CQ422) and follows the retry and dead-letter
-- path, to be requeued once an upgraded consumer runs. An event without eventVersion (written
-- before it existed) is version 1. apply_event and apply_events are restated from 0011 with the
-- check added after the envelope check.

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
