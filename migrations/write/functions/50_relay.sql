-- Write DB: the relay's lease and its marking of published events.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Whether the backend that holds the lease still exists (the same pid AND the same start time).
CREATE OR REPLACE FUNCTION relay_lease_holder_alive(p_pid integer, p_backend_start timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_pid IS NOT NULL AND EXISTS (
        SELECT 1 FROM pg_stat_activity a
        WHERE a.pid = p_pid
          -- backend_start is NULL for a backend of a role whose statistics we may not see: then
          -- the pid alone decides (conservative: the lease must expire first)
          AND (a.backend_start IS NULL OR p_backend_start IS NULL
               OR a.backend_start = p_backend_start))
$$;

-- Takes the lease for p_holder on this session, or renews it when this session holds it already.
-- Takes it over when it is free, has expired, its holder's backend is gone, or its holder is
-- p_holder itself on an earlier session (the same process after a reconnect); the old holder's
-- backend, if it is still there, is terminated first (waiting up to 2 s for it to go).
-- acquired says whether this session holds the lease now; holder and epoch are the lease's
-- afterwards; fenced_pid the backend that was terminated, if any.
CREATE OR REPLACE FUNCTION relay_lease_acquire(p_holder text, p_lease_ms integer)
RETURNS TABLE (acquired boolean, holder text, epoch bigint, fenced_pid integer)
LANGUAGE plpgsql AS $$
DECLARE
    l relay_lease%ROWTYPE;
    t timestamptz;
    alive boolean;
    fenced integer;
BEGIN
    IF p_holder IS NULL OR p_holder = '' OR p_lease_ms IS NULL OR p_lease_ms <= 0 THEN
        RAISE EXCEPTION 'relay_lease_acquire needs a holder and a positive lease'
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO l FROM relay_lease WHERE singleton FOR UPDATE;
    t := clock_timestamp();
    IF l.holder = p_holder AND l.holder_pid = pg_backend_pid() THEN
        UPDATE relay_lease r SET renewed_at = t, expires_at = t + p_lease_ms * interval '1 ms'
        WHERE r.singleton;
        RETURN QUERY SELECT true, p_holder, l.epoch, NULL::integer;
        RETURN;
    END IF;
    alive := relay_lease_holder_alive(l.holder_pid, l.holder_backend_start);
    IF alive AND l.expires_at > t AND l.holder IS DISTINCT FROM p_holder THEN
        RETURN QUERY SELECT false, l.holder, l.epoch, NULL::integer;
        RETURN;
    END IF;
    IF alive AND l.holder_pid <> pg_backend_pid() THEN
        -- fencing: the old leader's session goes, with its connection and any transaction
        BEGIN
            PERFORM pg_terminate_backend(l.holder_pid, 2000);
            fenced := l.holder_pid;
        EXCEPTION WHEN insufficient_privilege THEN
            -- another role's relay: its marks are still refused (relay_mark_published)
            RAISE WARNING 'relay lease taken over without terminating backend %: %',
                l.holder_pid, SQLERRM;
        END;
    END IF;
    UPDATE relay_lease r
    SET holder = p_holder, holder_pid = pg_backend_pid(),
        holder_backend_start = (SELECT a.backend_start FROM pg_stat_activity a
                                WHERE a.pid = pg_backend_pid()),
        epoch = r.epoch + 1, acquired_at = t, renewed_at = t,
        expires_at = t + p_lease_ms * interval '1 ms'
    WHERE r.singleton;
    RETURN QUERY SELECT true, p_holder, l.epoch + 1, fenced;
END $$;

-- Extends the lease by p_lease_ms from now, only if this session holds it for p_holder. False:
-- the lease was taken over (the caller stops publishing and stands by).
CREATE OR REPLACE FUNCTION relay_lease_renew(p_holder text, p_lease_ms integer) RETURNS boolean
LANGUAGE sql AS $$
    WITH renewed AS (
        UPDATE relay_lease
        SET renewed_at = clock_timestamp(),
            expires_at = clock_timestamp() + p_lease_ms * interval '1 ms'
        WHERE singleton AND holder = p_holder AND holder_pid = pg_backend_pid()
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM renewed)
$$;

-- Gives the lease up (a clean shutdown), so that a standby takes over at once. False when this
-- session did not hold it.
CREATE OR REPLACE FUNCTION relay_lease_release(p_holder text) RETURNS boolean
LANGUAGE sql AS $$
    WITH released AS (
        UPDATE relay_lease
        SET holder_pid = NULL, holder_backend_start = NULL, expires_at = clock_timestamp()
        WHERE singleton AND holder = p_holder AND holder_pid = pg_backend_pid()
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM released)
$$;

-- Marks the outbox rows p_ids published, only while this session holds the lease for p_holder:
-- the fencing condition is part of the statement. The lease row is read FOR SHARE, so a takeover
-- that is committing meanwhile is waited for and then seen. Returns the number of rows marked
-- (a row already marked keeps its first published_at), or NULL when the caller is not the holder:
-- a deposed leader can never mark.
CREATE OR REPLACE FUNCTION relay_mark_published(p_ids bigint[], p_holder text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM 1 FROM relay_lease
    WHERE singleton AND holder = p_holder AND holder_pid = pg_backend_pid()
    FOR SHARE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE outbox SET published_at = now() WHERE id = ANY (p_ids) AND published_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

REVOKE EXECUTE ON FUNCTION relay_lease_holder_alive(integer, timestamptz),
    relay_lease_acquire(text, integer), relay_lease_renew(text, integer),
    relay_lease_release(text), relay_mark_published(bigint[], text) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cqrs_relay') THEN
        GRANT EXECUTE ON FUNCTION relay_lease_holder_alive(integer, timestamptz),
            relay_lease_acquire(text, integer), relay_lease_renew(text, integer),
            relay_lease_release(text), relay_mark_published(bigint[], text) TO cqrs_relay;
        -- the functions run as the relay: they read and update the lease row (FOR SHARE and
        -- FOR UPDATE need UPDATE too)
        GRANT SELECT, UPDATE ON relay_lease TO cqrs_relay;
    ELSE
        RAISE WARNING 'role cqrs_relay does not exist: no privileges granted on relay_lease';
    END IF;
END $$;
