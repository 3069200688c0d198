-- Read DB, version 8: query functions the planner inlines.
--
-- A LANGUAGE sql function returning a scalar is inlined only when its body has no FROM and no
-- subquery; every q_* function reads tables, so each call ran through the SQL-function executor,
-- which parses and plans its body again on every call (its plan lives only as long as the calling
-- statement). pgbench of q_product: 17,500 calls/s, against 48,000/s for its body as a prepared
-- statement. A set-returning SQL function that is STABLE, not STRICT, not SECURITY DEFINER and
-- has no SET clause is inlined when it is called in FROM: the query API's prepared statements
-- (api/query/query.c) read SELECT (SELECT q FROM q_x($1) AS q), so the body is planned once per
-- connection with the statement: 39,600/s. A function finding nothing now returns no row, which
-- that statement still turns into NULL (the C code's "not found").
--
-- The bodies are unchanged: the latest definition of each (0002, 0003, 0005, 0007).
DROP FUNCTION IF EXISTS q_product(bigint);

DROP FUNCTION IF EXISTS q_products(integer,integer);

DROP FUNCTION IF EXISTS q_order(bigint);

DROP FUNCTION IF EXISTS q_customer_orders(bigint,text,integer,integer);

DROP FUNCTION IF EXISTS q_customer_summary(bigint);

DROP FUNCTION IF EXISTS q_inventory(boolean);

DROP FUNCTION IF EXISTS q_analytics_orders();

DROP FUNCTION IF EXISTS q_sales_daily(date,date);

DROP FUNCTION IF EXISTS q_top_products(integer);

DROP FUNCTION IF EXISTS q_categories();

DROP FUNCTION IF EXISTS q_todos();

DROP FUNCTION IF EXISTS q_mood_stats();

DROP FUNCTION IF EXISTS q_events_applied(uuid[]);

DROP FUNCTION IF EXISTS q_dashboard(bigint,double precision);

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
