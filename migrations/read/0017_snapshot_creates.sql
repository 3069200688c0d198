-- Read DB: a creating event (ProductCreated, OrderCreated, TodoCreated) of an aggregate the read
-- model does not know starts it at its own aggregateVersion. The command functions always write
-- creates at version 1; scripts/rebuild.sh --snapshot synthesizes a create at the aggregate's
-- current version for aggregates whose early history the outbox retention purged (write 0009),
-- and the batch check (proj_early_events, from 0011) called those early. The projections already
-- insert a create at its version; this restates proj_early_events with that rule for the batch.

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
