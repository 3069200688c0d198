-- Read DB: the small helpers of projections and queries (time formats, rejecting an event).
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Raised for an event the projections cannot apply (unknown type, missing fields).
CREATE OR REPLACE FUNCTION proj_reject(p_event jsonb, p_reason text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cannot apply event %: %', coalesce(p_event->>'eventId', '?'), p_reason
        USING ERRCODE = 'CQ422';
END $$;

-- ISO 8601 UTC with microseconds, as the write DB's occurredAt. STABLE as to_char is, so that it
-- is inlined (migrations/read/0021 says why).
CREATE OR REPLACE FUNCTION iso_utc(ts timestamptz) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Milliseconds from p_from to p_to (NULL for NULL).
CREATE OR REPLACE FUNCTION ms_between(p_from timestamptz, p_to timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(extract(epoch FROM p_to - p_from) * 1000)::bigint
$$;

-- The shard this session's projections write their summary rows to (migrations/read/0022): the
-- setting cqrs.shard, which consumer_claim_partitions sets to the lowest partition its consumer
-- holds; 0 when unset or not a number; at most 1023. Readers sum over the shards, so any value
-- gives the same answers: the shard only spreads the row locks of parallel batches.
CREATE OR REPLACE FUNCTION apply_shard() RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s ~ '^[0-9]{1,9}$' THEN least(s::integer, 1023) ELSE 0 END
    FROM (SELECT coalesce(current_setting('cqrs.shard', true), '') AS s) c
$$;
