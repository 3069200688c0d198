-- Read DB: a creating event (ProductCreated, OrderCreated, TodoCreated) of an aggregate the read
-- model does not know starts it at its own aggregateVersion. The command functions always write
-- creates at version 1; scripts/rebuild.sh --snapshot synthesizes a create at the aggregate's
-- current version for aggregates whose early history the outbox retention purged (write 0009),
-- and the batch check (proj_early_events, from 0011) called those early. The projections already
-- insert a create at its version; this restates proj_early_events with that rule for the batch.

CREATE OR REPLACE FUNCTION proj_early_events(es jsonb) RETURNS text LANGUAGE sql STABLE AS $$
    WITH typed AS (
        SELECT e, ord,
               CASE WHEN e->>'eventType' IN ('ProductCreated', 'InventoryAdjusted') THEN 'product'
                    WHEN e->>'eventType' IN ('OrderCreated', 'OrderPaid', 'OrderShipped',
                                             'OrderCompleted', 'OrderCancelled') THEN 'order'
                    WHEN e->>'eventType' IN ('TodoCreated', 'TodoCompleted', 'TodoReopened',
                                             'TodoDeleted') THEN 'todo' END AS agg
        FROM jsonb_array_elements(es) WITH ORDINALITY AS x(e, ord)
    ), ev AS (
        -- the aggregate's id as its projection reads it
        SELECT e->>'eventId' AS id, ord, e->>'eventType' AS t, e->'items' AS items, agg,
               (e->>'aggregateVersion')::integer AS v,
               (e->>(CASE agg WHEN 'product' THEN 'productId' WHEN 'order' THEN 'orderId'
                              ELSE 'todoId' END))::bigint AS agg_id
        FROM typed WHERE agg IS NOT NULL
    ), cur AS (
        SELECT ev.*,
               coalesce(CASE agg
                   WHEN 'product' THEN (SELECT version FROM products_read WHERE product_id = agg_id)
                   WHEN 'order' THEN (SELECT version FROM orders_read WHERE order_id = agg_id)
                   WHEN 'todo' THEN (SELECT version FROM todos_read WHERE todo_id = agg_id) END,
                   -- unknown to the read model: a creating event starts the aggregate at its
                   -- own version (1 from the command functions; the current version in a rebuild
                   -- from the write DB's snapshot), anything else waits for its create
                   min(v) FILTER (WHERE t IN ('ProductCreated', 'OrderCreated', 'TodoCreated'))
                       OVER (PARTITION BY agg, agg_id) - 1,
                   0) AS have
        FROM ev
    ), ranked AS (
        -- the k-th distinct version above the read model's must be have + k
        SELECT cur.*, dense_rank() OVER (PARTITION BY agg, agg_id ORDER BY v) AS k
        FROM cur WHERE v > have
    )
    SELECT string_agg(id, ' ' ORDER BY ord) FROM ranked r
    WHERE r.v <> r.have + r.k
       OR (r.t IN ('OrderCreated', 'OrderCancelled') AND EXISTS (
               SELECT 1 FROM jsonb_array_elements(r.items) AS i
               WHERE NOT EXISTS (SELECT 1 FROM products_read p
                                 WHERE p.product_id = (i->>'productId')::bigint)
                 AND NOT EXISTS (SELECT 1 FROM ev c
                                 WHERE c.t = 'ProductCreated'
                                   AND c.agg_id = (i->>'productId')::bigint)))
$$;

SELECT grant_service_roles();
