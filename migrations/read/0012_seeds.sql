-- Read DB, version 12: the read shapes of the CQRS event broker seed (docs/seeds.md), answered by
-- the query API's /queries/... routes. Each one renames what a project query answers (q_order,
-- q_inventory, q_analytics_orders): snake_case keys, the seed's field names, so no figure is
-- computed twice; only pending_orders is new (which orders hold a product's reservation).
-- Set-returning LANGUAGE sql STABLE functions, inlined into the query API's prepared statements
-- like every q_* function (0008_inline_queries.sql), with the project query inlined into them.

-- The orders that hold a reservation (not yet shipped, not cancelled: what products_read.reserved
-- counts) are few beside all orders; this index finds them without reading the others.
CREATE INDEX orders_read_reserving_idx ON orders_read (order_id) WHERE status IN ('CREATED', 'PAID');

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
