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

-- In the projections' transaction. PL/pgSQL, so that its statement is planned once per session.
CREATE OR REPLACE FUNCTION mv_touch(p_views text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mv_state SET touched = touched + 1 WHERE view_name = ANY (p_views);
END $$;

-- Refreshes p_view (CONCURRENTLY: readers are never blocked) when it is dirty and was last
-- refreshed at least p_min_interval_ms ago. Returns whether it did. A refresher that finds another
-- one refreshing the same view leaves it (a transaction-level advisory lock per view). The
-- mv_state row is written last, so a batch's mv_touch waits for it only while this commits.
CREATE FUNCTION mv_refresh_if_due(p_view text, p_min_interval_ms integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_seen bigint;
    v_start timestamptz;
BEGIN
    SELECT touched INTO v_seen FROM mv_state
    WHERE view_name = p_view AND touched > refreshed
      AND refreshed_at <= clock_timestamp() - make_interval(secs => p_min_interval_ms / 1000.0);
    IF NOT FOUND OR NOT pg_try_advisory_xact_lock(hashtext('cqrs.mv_refresh'), hashtext(p_view)) THEN
        RETURN false;
    END IF;
    v_start := clock_timestamp();
    EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', p_view);
    UPDATE mv_state
    SET refreshed = greatest(refreshed, v_seen), refreshed_at = clock_timestamp(),
        refresh_count = refresh_count + 1,
        last_duration_ms = extract(epoch FROM clock_timestamp() - v_start) * 1000
    WHERE view_name = p_view;
    RETURN true;
END $$;

-- The refresher's call: refreshes the due view that waited longest, if any, and returns its name
-- (NULL when none is due). One view per call, so one per transaction.
CREATE FUNCTION refresh_next_view(p_min_interval_ms integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOR v IN
        SELECT view_name FROM mv_state
        WHERE touched > refreshed
          AND refreshed_at <= clock_timestamp() - make_interval(secs => p_min_interval_ms / 1000.0)
        ORDER BY refreshed_at, view_name
    LOOP
        IF mv_refresh_if_due(v, p_min_interval_ms) THEN
            RETURN v;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- Every due view at once, each at most once (scripts/rebuild.sh, tests). One transaction: it
-- holds the rows of the views it refreshed until it ends, so running batches wait for it.
CREATE OR REPLACE FUNCTION refresh_due_views(p_min_interval_ms integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    v text;
    v_done text[] := '{}';
BEGIN
    FOR v IN SELECT view_name FROM mv_state ORDER BY view_name LOOP
        IF mv_refresh_if_due(v, p_min_interval_ms) THEN
            v_done := v_done || v;
        END IF;
    END LOOP;
    RETURN v_done;
END $$;

SELECT grant_service_roles();
