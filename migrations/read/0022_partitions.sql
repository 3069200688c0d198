-- Read DB, version 22: partitioned consumers (docs/reliability.md, "Partitions").
--
-- 1. Partition leases. Consumers claim the partition queues read_model.p0..pP-1 under leases kept
--    here (consumer_claim_partitions, migrations/read/functions/70_partitions.sql): one row per
--    live consumer (consumer_members) and one per partition (consumer_partitions).
-- 2. Shards. Once partitions apply in parallel, the rows every batch updated (the single rows of
--    order_totals and mood_counts, the few of order_status_counts and mv_state's touch counts)
--    would serialise every batch on one row lock. Each is now keyed by a shard, the session's
--    cqrs.shard (apply_shard(): the lowest partition its consumer holds, 0 by default), and every
--    reader sums over the shards (the *_all views below). The existing rows become shard 0.
-- 3. mv_state keeps its shape as a view: the refresh bookkeeping moves to mv_refresh_state and
--    the touch counts to mv_touches, one row per (view, shard); touched is their sum.

CREATE TABLE consumer_members (
    holder     text PRIMARY KEY CHECK (holder <> '' AND length(holder) <= 200),
    seen_until timestamptz NOT NULL,
    joined_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE consumer_partitions (
    partition   integer PRIMARY KEY CHECK (partition BETWEEN 0 AND 1023),
    holder      text,
    lease_until timestamptz,
    since       timestamptz, -- when holder claimed it
    CHECK ((holder IS NULL) = (lease_until IS NULL))
);
CREATE INDEX consumer_partitions_holder_idx ON consumer_partitions (holder) WHERE holder IS NOT NULL;

-- ---- shards ------------------------------------------------------------------------------------
DROP MATERIALIZED VIEW mv_order_stats;

ALTER TABLE order_totals DROP COLUMN singleton,
    ADD COLUMN shard integer NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 1023);
ALTER TABLE order_totals ADD PRIMARY KEY (shard);

ALTER TABLE order_status_counts DROP CONSTRAINT order_status_counts_pkey,
    ADD COLUMN shard integer NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 1023);
ALTER TABLE order_status_counts ADD PRIMARY KEY (shard, status);

ALTER TABLE mood_counts DROP COLUMN singleton,
    ADD COLUMN shard integer NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 1023);
ALTER TABLE mood_counts ADD PRIMARY KEY (shard);

-- the sums every reader uses: exactly what the single rows held
CREATE VIEW order_totals_all AS
SELECT coalesce(sum(total_orders), 0)::bigint AS total_orders,
       coalesce(sum(revenue), 0)::numeric(18, 2) AS revenue,
       coalesce(sum(revenue_orders), 0)::bigint AS revenue_orders
FROM order_totals;

CREATE VIEW order_status_counts_all AS
SELECT status, sum(n)::bigint AS n FROM order_status_counts GROUP BY status;

CREATE VIEW mood_counts_all AS
SELECT coalesce(sum(happy), 0)::bigint AS happy, coalesce(sum(sad), 0)::bigint AS sad
FROM mood_counts;

CREATE MATERIALIZED VIEW mv_order_stats AS
SELECT 1 AS id, t.total_orders, t.revenue, t.revenue_orders,
       coalesce((SELECT jsonb_object_agg(status, n ORDER BY status) FROM order_status_counts_all
                 WHERE n > 0), '{}') AS by_status
FROM order_totals_all t;
CREATE UNIQUE INDEX mv_order_stats_id ON mv_order_stats (id);

-- ---- refresh bookkeeping -------------------------------------------------------------------------
CREATE TABLE mv_touches (
    view_name text NOT NULL,
    shard     integer NOT NULL CHECK (shard BETWEEN 0 AND 1023),
    touched   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (view_name, shard)
);
INSERT INTO mv_touches (view_name, shard, touched) SELECT view_name, 0, touched FROM mv_state;

ALTER TABLE mv_state DROP COLUMN dirty, DROP COLUMN touched;
ALTER TABLE mv_state RENAME TO mv_refresh_state;
ALTER TABLE mv_refresh_state RENAME CONSTRAINT mv_state_pkey TO mv_refresh_state_pkey;

CREATE VIEW mv_state AS
SELECT s.view_name, t.touched, s.refreshed, t.touched > s.refreshed AS dirty, s.refreshed_at,
       s.refresh_count, s.last_duration_ms
FROM mv_refresh_state s
CROSS JOIN LATERAL (SELECT coalesce(sum(touched), 0)::bigint AS touched FROM mv_touches m
                    WHERE m.view_name = s.view_name) t;

-- ---- the batch's shared rows ---------------------------------------------------------------------
-- What proj_lock_shared (migrations/read/functions/30_apply.sql) knows of each order event of a
-- batch: one row per event and item of its order.
CREATE TYPE proj_order_fact AS (
    event_type   text,
    order_id     bigint,
    status       text,   -- the status the event moves the order to
    customer_id  bigint,
    day          date,   -- the day the order was placed (UTC)
    product_id   bigint,
    product_name text,
    category     text
);

-- Its functions live in migrations/read/functions/ (repeatable, one current body each:
-- docs/architecture.md, "SQL by role").
