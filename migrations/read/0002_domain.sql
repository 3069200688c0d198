-- Read DB, version 2: order lifecycle, payments, reserved stock, customer summaries, analytics
-- (incremental summary tables behind materialized views refreshed by the consumer), todos.
--
-- Events of one order are applied in aggregateVersion order: an event already reflected in the
-- read model (version <= current) is stale and skipped; one that arrives before its predecessor
-- raises CQ425 so that the consumer retries it later.

ALTER TABLE orders_read
    ADD COLUMN payment jsonb,
    ADD COLUMN timeline jsonb NOT NULL DEFAULT '[]';
UPDATE orders_read
SET timeline = jsonb_build_array(jsonb_build_object('event', 'OrderCreated',
                                                    'at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
WHERE timeline = '[]';
CREATE INDEX orders_read_customer_status_idx ON orders_read (customer_id, status, created_at DESC);

-- reserved: quantity in orders not yet shipped and not cancelled
ALTER TABLE products_read ADD COLUMN reserved integer NOT NULL DEFAULT 0;

-- Incremental summaries, O(1) work per event. "Revenue" counts orders that are paid or later
-- (PAID, SHIPPED, COMPLETED) and not cancelled.
CREATE TABLE order_totals (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    total_orders   bigint NOT NULL DEFAULT 0,
    revenue        numeric(18, 2) NOT NULL DEFAULT 0,
    revenue_orders bigint NOT NULL DEFAULT 0
);
INSERT INTO order_totals DEFAULT VALUES;

CREATE TABLE order_status_counts (
    status text PRIMARY KEY,
    n      bigint NOT NULL DEFAULT 0
);

CREATE TABLE customer_summary (
    customer_id  bigint PRIMARY KEY,
    total_orders bigint NOT NULL DEFAULT 0,
    total_spent  numeric(18, 2) NOT NULL DEFAULT 0,
    spent_orders bigint NOT NULL DEFAULT 0
);

CREATE TABLE customer_status_counts (
    customer_id bigint NOT NULL,
    status      text NOT NULL,
    n           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, status)
);

-- quantities ordered per customer and product, cancelled orders excluded
CREATE TABLE customer_product_qty (
    customer_id  bigint NOT NULL,
    product_id   bigint NOT NULL,
    product_name text NOT NULL,
    quantity     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, product_id)
);
CREATE INDEX customer_product_qty_top_idx ON customer_product_qty (customer_id, quantity DESC, product_id);

-- per day the order was placed: orders not cancelled, and their revenue
CREATE TABLE sales_daily (
    day     date PRIMARY KEY,
    orders  bigint NOT NULL DEFAULT 0,
    revenue numeric(18, 2) NOT NULL DEFAULT 0
);

CREATE TABLE product_sales (
    product_id bigint PRIMARY KEY,
    name       text NOT NULL,
    units      bigint NOT NULL DEFAULT 0,
    revenue    numeric(18, 2) NOT NULL DEFAULT 0
);

CREATE TABLE category_sales (
    category text PRIMARY KEY,
    orders   bigint NOT NULL DEFAULT 0,
    units    bigint NOT NULL DEFAULT 0,
    revenue  numeric(18, 2) NOT NULL DEFAULT 0
);

CREATE TABLE todos_read (
    todo_id    bigint PRIMARY KEY,
    title      text NOT NULL,
    completed  boolean NOT NULL DEFAULT false,
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Materialized views the analytics endpoints read. Their refresh reads only the summary tables,
-- so it costs O(days + products + categories), never O(orders).
CREATE MATERIALIZED VIEW mv_order_stats AS
SELECT 1 AS id, t.total_orders, t.revenue, t.revenue_orders,
       coalesce((SELECT jsonb_object_agg(status, n ORDER BY status) FROM order_status_counts
                 WHERE n > 0), '{}') AS by_status
FROM order_totals t;
CREATE UNIQUE INDEX mv_order_stats_id ON mv_order_stats (id);

CREATE MATERIALIZED VIEW mv_sales_daily AS
SELECT day, orders, revenue FROM sales_daily WHERE orders > 0 OR revenue <> 0;
CREATE UNIQUE INDEX mv_sales_daily_day ON mv_sales_daily (day);

CREATE MATERIALIZED VIEW mv_top_products AS
SELECT product_id, name, units, revenue,
       row_number() OVER (ORDER BY units DESC, revenue DESC, product_id) AS rank
FROM product_sales WHERE units > 0
ORDER BY units DESC, revenue DESC, product_id
LIMIT 100;
CREATE UNIQUE INDEX mv_top_products_id ON mv_top_products (product_id);
CREATE INDEX mv_top_products_rank ON mv_top_products (rank);

CREATE MATERIALIZED VIEW mv_categories AS
SELECT category, orders, units, revenue FROM category_sales WHERE units > 0;
CREATE UNIQUE INDEX mv_categories_category ON mv_categories (category);

-- Refresh bookkeeping: projections mark the views their event touched; the consumer refreshes a
-- dirty view at most once per MV_REFRESH_INTERVAL_MS.
CREATE TABLE mv_state (
    view_name        text PRIMARY KEY,
    dirty            boolean NOT NULL DEFAULT false,
    refreshed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    refresh_count    bigint NOT NULL DEFAULT 0,
    last_duration_ms double precision NOT NULL DEFAULT 0
);
INSERT INTO mv_state (view_name)
VALUES ('mv_order_stats'), ('mv_sales_daily'), ('mv_top_products'), ('mv_categories');

-- ---- queries ----------------------------------------------------------------------------------

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
