-- Read DB: the consumers' partition leases (migrations/read/0022, docs/reliability.md,
-- "Partitions"): which consumer process applies which partition queue read_model.p<N>.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Raises 22023 unless p_holder names a consumer: non-empty, at most 200 characters.
CREATE OR REPLACE FUNCTION consumer_holder_check(p_holder text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_holder IS NULL OR p_holder = '' OR length(p_holder) > 200 THEN
        RAISE EXCEPTION 'invalid partition holder: it must be 1 to 200 characters, got %',
            coalesce(length(p_holder)::text || ' characters', 'NULL')
            USING ERRCODE = '22023';
    END IF;
END $$;

-- Raises 22023 unless p_lease_ms is a lease: 100 to 600000 ms.
CREATE OR REPLACE FUNCTION consumer_lease_check(p_lease_ms integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_lease_ms IS NULL OR p_lease_ms NOT BETWEEN 100 AND 600000 THEN
        RAISE EXCEPTION 'invalid partition lease % ms: it must be 100 to 600000 ms', p_lease_ms
            USING ERRCODE = '22023';
    END IF;
END $$;

-- One consumer's periodic call (every lease / 3 or so), in a transaction of its own. Atomically:
--   1. marks p_holder alive until now + p_lease_ms;
--   2. forgets the members whose lease passed, and frees the partitions whose lease passed or
--      whose holder is no longer a member;
--   3. makes sure partitions 0..p_partitions-1 exist (rows >= p_partitions are never claimed
--      nor returned; p_holder lets go of its own);
--   4. computes p_holder's quota: with n live members ranked by holder name (COLLATE "C"),
--      rank r gets p_partitions / n, plus one when r < p_partitions % n: the quotas sum to
--      p_partitions, and once each member has called they spread the partitions evenly;
--   5. renews the lease of the partitions p_holder holds, releases its highest-numbered ones
--      beyond its quota, and claims the lowest free ones up to it.
-- Returns p_holder's partitions, ascending (empty: a hot spare, every partition is taken).
-- Callers are serialised by a transaction-level advisory lock of their own, so two consumers
-- never hold one partition. A partition released here is free at once: the broker's single
-- active consumer keeps the old holder on that queue until it cancels its subscription, and the
-- projections' version checks make the overlap harmless.
-- Sets the session's cqrs.shard (apply_shard) to the lowest partition returned; keeps it when
-- none is.
CREATE OR REPLACE FUNCTION consumer_claim_partitions(p_holder text, p_partitions integer,
                                                     p_lease_ms integer)
RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz;
    v_until timestamptz;
    v_members integer;
    v_rank integer;
    v_quota integer;
    v_held integer;
    v_mine integer[];
BEGIN
    PERFORM consumer_holder_check(p_holder);
    IF p_partitions IS NULL OR p_partitions NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'invalid partition count %: it must be 1 to 1024', p_partitions
            USING ERRCODE = '22023';
    END IF;
    PERFORM consumer_lease_check(p_lease_ms);
    PERFORM pg_advisory_xact_lock(hashtext('cqrs.consumer_partitions'));
    v_now := clock_timestamp(); -- after the wait for the lock
    v_until := v_now + make_interval(secs => p_lease_ms / 1000.0);

    INSERT INTO consumer_members AS m (holder, seen_until) VALUES (p_holder, v_until)
    ON CONFLICT (holder) DO UPDATE SET seen_until = excluded.seen_until;
    DELETE FROM consumer_members WHERE seen_until < v_now;
    UPDATE consumer_partitions p SET holder = NULL, lease_until = NULL, since = NULL
    WHERE p.holder IS NOT NULL
      AND (p.lease_until < v_now
           OR NOT EXISTS (SELECT 1 FROM consumer_members m WHERE m.holder = p.holder)
           OR (p.holder = p_holder AND p.partition >= p_partitions));
    INSERT INTO consumer_partitions (partition)
    SELECT generate_series(0, p_partitions - 1) ON CONFLICT (partition) DO NOTHING;

    SELECT count(*)::integer,
           count(*) FILTER (WHERE holder COLLATE "C" < p_holder COLLATE "C")::integer
    INTO v_members, v_rank FROM consumer_members;
    v_quota := p_partitions / v_members + CASE WHEN v_rank < p_partitions % v_members THEN 1 ELSE 0 END;

    UPDATE consumer_partitions SET lease_until = v_until
    WHERE holder = p_holder AND partition < p_partitions;
    GET DIAGNOSTICS v_held = ROW_COUNT;
    IF v_held > v_quota THEN
        UPDATE consumer_partitions SET holder = NULL, lease_until = NULL, since = NULL
        WHERE partition IN (SELECT partition FROM consumer_partitions
                            WHERE holder = p_holder AND partition < p_partitions
                            ORDER BY partition DESC LIMIT v_held - v_quota);
    ELSIF v_held < v_quota THEN
        UPDATE consumer_partitions SET holder = p_holder, lease_until = v_until, since = v_now
        WHERE partition IN (SELECT partition FROM consumer_partitions
                            WHERE holder IS NULL AND partition < p_partitions
                            ORDER BY partition LIMIT v_quota - v_held);
    END IF;

    SELECT coalesce(array_agg(partition ORDER BY partition), '{}') INTO v_mine
    FROM consumer_partitions WHERE holder = p_holder AND partition < p_partitions;
    IF cardinality(v_mine) > 0 THEN
        PERFORM set_config('cqrs.shard', v_mine[1]::text, false);
    END IF;
    RETURN v_mine;
END $$;

-- A consumer's first call, a third of a lease before its first claim: marks p_holder alive
-- until now + p_lease_ms and claims nothing. Consumers started together (a deployment, a
-- restart) thus all count as members when the first of them claims, and split the partitions
-- without handing any over (a hand-over returns the old holder's unacknowledged deliveries).
CREATE OR REPLACE FUNCTION consumer_join_partitions(p_holder text, p_lease_ms integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM consumer_holder_check(p_holder);
    PERFORM consumer_lease_check(p_lease_ms);
    PERFORM pg_advisory_xact_lock(hashtext('cqrs.consumer_partitions'));
    INSERT INTO consumer_members AS m (holder, seen_until)
    VALUES (p_holder, clock_timestamp() + make_interval(secs => p_lease_ms / 1000.0))
    ON CONFLICT (holder) DO UPDATE SET seen_until = excluded.seen_until;
END $$;

-- A consumer's clean shutdown: forgets p_holder and frees its partitions at once, so that the
-- others take them at their next call instead of after the lease.
CREATE OR REPLACE FUNCTION consumer_leave_partitions(p_holder text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM consumer_holder_check(p_holder);
    PERFORM pg_advisory_xact_lock(hashtext('cqrs.consumer_partitions'));
    UPDATE consumer_partitions SET holder = NULL, lease_until = NULL, since = NULL
    WHERE holder = p_holder;
    DELETE FROM consumer_members WHERE holder = p_holder;
END $$;

-- For operators and the dashboard: every partition as {partition, holder, leaseExpiresInMs}
-- (holder and leaseExpiresInMs null when free; an expired lease shows as free), ascending.
CREATE OR REPLACE FUNCTION consumer_partitions_status() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'partition', partition,
               'holder', CASE WHEN lease_until >= now() THEN holder END,
               'leaseExpiresInMs', CASE WHEN lease_until >= now() THEN ms_between(now(), lease_until) END)
           ORDER BY partition), '[]')
    FROM consumer_partitions
$$;
