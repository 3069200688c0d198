-- Read DB: maintenance: the materialized views' refresh generations and the retention purge of
-- processed events.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- In the projections' transaction: one more touch of each view in p_views, counted in this
-- session's shard (mv_touches, one row per view and shard: parallel batches of different shards
-- never wait for each other's row), rows taken in view-name order. PL/pgSQL, so that its
-- statement is planned once per session.
CREATE OR REPLACE FUNCTION mv_touch(p_views text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mv_touches AS m (view_name, shard, touched)
    SELECT v, apply_shard(), 1 FROM unnest(p_views) AS v
    WHERE v IN (SELECT view_name FROM mv_refresh_state) ORDER BY v
    ON CONFLICT (view_name, shard) DO UPDATE SET touched = m.touched + 1;
END $$;

-- Refreshes p_view (CONCURRENTLY: readers are never blocked) when it is dirty and was last
-- refreshed at least p_min_interval_ms ago. Returns whether it did. A refresher that finds another
-- one refreshing the same view leaves it (a transaction-level advisory lock per view).
-- The generations (migrations/read/0009): v_seen, the sum of the view's touches over every shard,
-- is read before the refresh's snapshot; each shard's count only grows, so their sum does too,
-- and a batch that snapshot missed, whatever its shard, has raised the sum beyond v_seen: the
-- view stays due. The refresher writes only mv_refresh_state, never a touch row, so batches
-- never wait for it.
CREATE OR REPLACE FUNCTION mv_refresh_if_due(p_view text, p_min_interval_ms integer) RETURNS boolean
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
    UPDATE mv_refresh_state
    SET refreshed = greatest(refreshed, v_seen), refreshed_at = clock_timestamp(),
        refresh_count = refresh_count + 1,
        last_duration_ms = extract(epoch FROM clock_timestamp() - v_start) * 1000
    WHERE view_name = p_view;
    RETURN true;
END $$;

-- The refresher's call: refreshes the due view that waited longest, if any, and returns its name
-- (NULL when none is due). One view per call, so one per transaction.
CREATE OR REPLACE FUNCTION refresh_next_view(p_min_interval_ms integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOR v IN
        SELECT view_name FROM mv_state
        WHERE dirty
          AND refreshed_at <= clock_timestamp() - make_interval(secs => p_min_interval_ms / 1000.0)
        ORDER BY refreshed_at, view_name
    LOOP
        IF mv_refresh_if_due(v, p_min_interval_ms) THEN
            RETURN v;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- Every due view at once, each at most once (scripts/rebuild.sh, tests). One transaction.
CREATE OR REPLACE FUNCTION refresh_due_views(p_min_interval_ms integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    v text;
    v_done text[] := '{}';
BEGIN
    FOR v IN SELECT view_name FROM mv_refresh_state ORDER BY view_name LOOP
        IF mv_refresh_if_due(v, p_min_interval_ms) THEN
            v_done := v_done || v;
        END IF;
    END LOOP;
    RETURN v_done;
END $$;

-- Deletes up to p_limit processed_events rows (and as many event_attempts rows) older than
-- p_retention, oldest first; returns how many processed_events rows went. Rows another
-- transaction holds are skipped (SKIP LOCKED), so a purge never waits for a batch.
CREATE OR REPLACE FUNCTION processed_events_purge(p_retention interval, p_limit integer DEFAULT 500)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_cut timestamptz := clock_timestamp() - p_retention;
    v_n integer;
BEGIN
    IF p_retention < interval '0' OR p_limit < 1 THEN
        RAISE EXCEPTION 'processed_events_purge: retention must be >= 0 and limit >= 1'
            USING ERRCODE = '22023';
    END IF;
    DELETE FROM processed_events WHERE event_id IN (
        SELECT event_id FROM processed_events WHERE processed_at < v_cut
        ORDER BY processed_at LIMIT p_limit FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM event_attempts WHERE event_id IN (
        SELECT event_id FROM event_attempts WHERE last_at < v_cut
        ORDER BY last_at LIMIT p_limit FOR UPDATE SKIP LOCKED);
    RETURN v_n;
END $$;
