-- Read DB, version 4: set-based batch application.
--
-- apply_events() used to run apply_event() once per event: a dozen statements each. Now it
-- deduplicates the whole batch with one INSERT into processed_events, then applies each run of
-- consecutive OrderCreated events with one statement per table (aggregated per customer, product
-- and day), and every other event one at a time, in batch order. Any error still aborts the whole
-- batch (the consumer then applies its events one by one to isolate the culprit).

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
