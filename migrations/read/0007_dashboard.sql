-- Read DB, version 6: the live operations dashboard (query API: GET /, GET /api/dashboard and
-- its server-sent events, GET /api/dashboard/stream).
--
-- q_dashboard() builds the whole document in one statement, from small tables only: today's
-- orders and revenue (sales_daily), all-time totals (order_totals), orders per status
-- (order_status_counts), the top products (mv_top_products, refreshed by the consumer), the
-- low-stock products (products_read) and the pipeline's health: events applied per second over the
-- last 10 s and the projection lag of the last applied event, from processed_events. The outbox
-- backlog lives in the write DB, which the query API never reads: the query API passes the
-- figures the relay publishes on its /metrics (p_outbox_backlog, p_outbox_oldest_age_s), NULL
-- when it could not get them.

-- Both pipeline figures read processed_events by processed_at (a range of the last 10 s, and the
-- newest row); without this index each would scan the whole table. processed_at only grows, so
-- its entries go to the right edge of the index: cheap to maintain (see docs/observability.md for
-- the measurement).
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
