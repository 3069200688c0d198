-- Read DB, version 16: list queries that say whether more remains, so the query API can send
-- `Link: <...?limit=L&offset=O>; rel="next"` (docs/api.md#pagination) without a second query:
-- each *_page function reads limit + 1 rows, answers the first `limit` of them as the JSON array
-- (built here, as every answer) and `more` = whether the extra row was there. A NULL limit reads
-- everything (more is then false). GET /api/inventory and GET /api/todos are paginated too.
-- The former functions keep their names and answers (the seeds' routes and q_seed_inventory
-- read them) and become the page functions' `body`, so each JSON shape has one body.
-- Set-returning LANGUAGE sql STABLE functions, inlined like every q_* function (0008).

CREATE FUNCTION q_products_page(p_limit integer, p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'category', category, 'price', trim_scale(price),
                                               'stock', stock, 'reserved', reserved,
                                               'lowStock', stock < low_stock_threshold,
                                               'lowStockThreshold', low_stock_threshold)
                             ORDER BY product_id) FILTER (WHERE p_limit IS NULL OR n <= p_limit),
                    '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.product_id) AS n
          FROM (SELECT * FROM products_read ORDER BY product_id
                LIMIT p_limit + 1 OFFSET p_offset) l) p
$$;

CREATE OR REPLACE FUNCTION q_products(p_limit integer, p_offset integer)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_products_page(p_limit, p_offset)
$$;

CREATE FUNCTION q_customer_orders_page(p_customer bigint, p_status text, p_limit integer,
                                       p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('orderId', order_id, 'customerId', customer_id,
                                               'status', status, 'total', trim_scale(total),
                                               'createdAt', iso_utc(created_at),
                                               'itemCount', jsonb_array_length(items))
                             ORDER BY created_at DESC, order_id DESC)
                        FILTER (WHERE p_limit IS NULL OR n <= p_limit), '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.created_at DESC, l.order_id DESC) AS n
          FROM (SELECT * FROM orders_read
                WHERE customer_id = p_customer AND (p_status IS NULL OR status = p_status)
                ORDER BY created_at DESC, order_id DESC
                LIMIT p_limit + 1 OFFSET p_offset) l) o
$$;

CREATE OR REPLACE FUNCTION q_customer_orders(p_customer bigint, p_status text, p_limit integer,
                                             p_offset integer)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_customer_orders_page(p_customer, p_status, p_limit, p_offset)
$$;

CREATE FUNCTION q_inventory_page(p_low_only boolean, p_limit integer, p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'productName', name,
                                               'available', stock, 'reserved', reserved,
                                               'total', stock + reserved,
                                               'lowStock', stock < low_stock_threshold)
                             ORDER BY product_id) FILTER (WHERE p_limit IS NULL OR n <= p_limit),
                    '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.product_id) AS n
          FROM (SELECT * FROM products_read
                WHERE NOT p_low_only OR stock < low_stock_threshold
                ORDER BY product_id LIMIT p_limit + 1 OFFSET p_offset) l) p
$$;

-- every product: GET /queries/inventory (q_seed_inventory) reads it whole
CREATE OR REPLACE FUNCTION q_inventory(p_low_only boolean) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_inventory_page(p_low_only, NULL, 0)
$$;

CREATE FUNCTION q_todos_page(p_limit integer, p_offset integer)
RETURNS TABLE (body text, more boolean) LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', todo_id, 'title', title,
                                               'completed', completed) ORDER BY todo_id)
                        FILTER (WHERE p_limit IS NULL OR n <= p_limit), '[]')::text,
           coalesce(count(*) > p_limit, false)
    FROM (SELECT l.*, row_number() OVER (ORDER BY l.todo_id) AS n
          FROM (SELECT * FROM todos_read WHERE NOT deleted ORDER BY todo_id
                LIMIT p_limit + 1 OFFSET p_offset) l) t
$$;

-- every todo: the todo demo's GET /todos (docs/seeds.md) lists them all
CREATE OR REPLACE FUNCTION q_todos() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT body FROM q_todos_page(NULL, 0)
$$;

SELECT grant_service_roles();
