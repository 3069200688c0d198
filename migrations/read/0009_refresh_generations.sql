-- Read DB, version 9: views are refreshed beside the projections, not between their batches.
--
-- Until now the consumer refreshed due views between two batches, in the batches' advisory-lock
-- turn: a refresh whose snapshot predated a concurrent batch would otherwise have cleared the
-- dirty flag that batch found already set, and the view would have stayed stale. Every event
-- arriving meanwhile waited for the refreshes (4-25 ms per view, every MV_REFRESH_INTERVAL_MS).
--
-- Now a view's staleness is a pair of counters instead of a flag: every batch that changes a
-- view's sources adds one to touched (in the batch's transaction); a refresh first reads touched,
-- then refreshes (a later snapshot, which holds every batch that count included) and then records
-- that count as refreshed. A batch its snapshot missed has raised touched beyond it, so the view
-- stays due. No refresh needs the batches' turn: the consumer's refresher runs on a connection
-- and a thread of its own (consumer/refresher.c), and the batches never wait for it.

ALTER TABLE mv_state
    ADD COLUMN touched bigint NOT NULL DEFAULT 0,
    ADD COLUMN refreshed bigint NOT NULL DEFAULT 0;
UPDATE mv_state SET touched = 1 WHERE dirty;
ALTER TABLE mv_state DROP COLUMN dirty;
ALTER TABLE mv_state ADD COLUMN dirty boolean GENERATED ALWAYS AS (touched > refreshed) STORED;

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
