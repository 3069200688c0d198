-- Read DB, version 11: every projection is correct whatever order events of different
-- aggregates arrive in, with any number of consumers (issue 11, item 2).
--
-- The rule, for every aggregate with a version (products, orders, todos): an event whose
-- aggregateVersion the read model already reflects (version <= applied) is stale and skipped,
-- counted as a duplicate; the next one (applied + 1) is applied; a later one, or a non-creating
-- event of an aggregate the read model does not know, is early: it raises CQ425 and waits (the
-- consumer's local retries, then the retry queue, at most CONSUMER_EARLY_MAX_ATTEMPTS tries, then
-- the dead-letter queue). An event that refers to another aggregate the read model does not know
-- yet waits the same way: an OrderCreated (or OrderCancelled) naming an unknown product. Once an
-- event may apply, its effects commute with those of every other aggregate's events (stock and
-- counters move by deltas, UPDATE x = x + d), so the end state does not depend on the order the
-- aggregates' events were interleaved in. Moods have no later events: their counts are deltas,
-- deduplicated by event id.
--
-- The version checks hold under parallel transactions without any lock of the consumer's: each
-- is an UPDATE ... WHERE version = v - 1 (or reads the row FOR UPDATE), so two transactions
-- applying events of one aggregate serialise on its row; a check that finds nothing to do reads
-- the row again and says stale or early, never applies twice.
--
-- CQ425 names the early events in its DETAIL (their event ids, separated by spaces), so that the
-- consumer sets exactly those aside and applies the rest of its batch again at once, instead of
-- halving the batch down to each early event. apply_events looks for every early event of the
-- batch before it writes anything (proj_early_events) and names them all in one error.
--
-- A deleted todo stays in todos_read as a tombstone (deleted, with its version), so that a late
-- create or update is recognised as stale and never brings it back; q_todos hides tombstones.
--
-- apply_events applies the new events of a batch in (aggregateVersion, batch order), creating
-- events first and OrderCreated after the other creates: each aggregate's events keep their
-- order, an order never precedes a product created in the same batch, and every OrderCreated of
-- the batch is one set-based group.

ALTER TABLE todos_read ADD COLUMN deleted boolean NOT NULL DEFAULT false;

-- ---- products ---------------------------------------------------------------------------------
DROP FUNCTION IF EXISTS proj_product_created(jsonb);

DROP FUNCTION IF EXISTS proj_inventory_adjusted(jsonb);

-- ---- orders -----------------------------------------------------------------------------------
DROP FUNCTION IF EXISTS proj_orders_created(jsonb);

DROP FUNCTION IF EXISTS proj_order_created(jsonb);

DROP FUNCTION IF EXISTS proj_order_paid(jsonb);

DROP FUNCTION IF EXISTS proj_order_shipped(jsonb);

DROP FUNCTION IF EXISTS proj_order_completed(jsonb);

DROP FUNCTION IF EXISTS proj_order_cancelled(jsonb);

-- ---- todos ------------------------------------------------------------------------------------
DROP FUNCTION IF EXISTS proj_todo(jsonb);

-- ---- a batch's early events --------------------------------------------------------------------

-- ---- dispatch ---------------------------------------------------------------------------------
DROP FUNCTION IF EXISTS proj_dispatch(jsonb);

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
