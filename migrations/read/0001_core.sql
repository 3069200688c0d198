-- Read DB, version 1: the read model the consumer projects from events, and the JSON the query
-- API passes through. Every projection runs inside apply_event(), which records the event id in
-- processed_events in the same transaction, so a redelivered event changes nothing.

CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    event_type   text NOT NULL,
    occurred_at  timestamptz,
    processed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE products_read (
    product_id          bigint PRIMARY KEY,
    name                text NOT NULL,
    category            text NOT NULL,
    price               numeric(14, 2) NOT NULL,
    stock               integer NOT NULL,
    low_stock_threshold integer NOT NULL DEFAULT 10,
    version             integer NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE orders_read (
    order_id     bigint PRIMARY KEY,
    customer_id  bigint NOT NULL,
    status       text NOT NULL,
    total        numeric(14, 2) NOT NULL,
    created_at   timestamptz NOT NULL,
    items        jsonb NOT NULL,
    version      integer NOT NULL,
    occurred_at  timestamptz NOT NULL,  -- occurredAt of the last applied event
    projected_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orders_read_customer_idx ON orders_read (customer_id, created_at DESC, order_id DESC);

CREATE TABLE order_items_read (
    order_id     bigint NOT NULL REFERENCES orders_read (order_id),
    line_no      integer NOT NULL,
    product_id   bigint NOT NULL,
    product_name text NOT NULL,
    category     text NOT NULL,
    quantity     integer NOT NULL,
    price        numeric(14, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_read_product_idx ON order_items_read (product_id);

-- Raised for an event the projections cannot apply (unknown type, missing fields).
CREATE FUNCTION proj_reject(p_event jsonb, p_reason text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cannot apply event %: %', coalesce(p_event->>'eventId', '?'), p_reason
        USING ERRCODE = 'CQ422';
END $$;

CREATE FUNCTION proj_product_created(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO products_read (product_id, name, category, price, stock, low_stock_threshold,
                               version)
    VALUES ((e->>'productId')::bigint, e->>'name', e->>'category', (e->>'price')::numeric,
            (e->>'stock')::integer, coalesce((e->>'lowStockThreshold')::integer, 10),
            (e->>'aggregateVersion')::integer)
    ON CONFLICT (product_id) DO NOTHING;
END $$;

CREATE FUNCTION proj_order_created(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_order_id bigint := (e->>'orderId')::bigint;
    v_at timestamptz := (e->>'occurredAt')::timestamptz;
BEGIN
    INSERT INTO orders_read (order_id, customer_id, status, total, created_at, items, version,
                             occurred_at)
    VALUES (v_order_id, (e->>'customerId')::bigint, e->>'status', (e->>'total')::numeric, v_at,
            e->'items', (e->>'aggregateVersion')::integer, v_at);
    INSERT INTO order_items_read (order_id, line_no, product_id, product_name, category,
                                  quantity, price)
    SELECT v_order_id, ord::integer, (i->>'productId')::bigint, i->>'productName',
           i->>'category', (i->>'quantity')::integer, (i->>'price')::numeric
    FROM jsonb_array_elements(e->'items') WITH ORDINALITY AS x(i, ord);
    -- the order reserved stock: available stock drops by the ordered quantity
    UPDATE products_read pr SET stock = pr.stock - q.qty, updated_at = clock_timestamp()
    FROM (SELECT (i->>'productId')::bigint AS pid, sum((i->>'quantity')::integer) AS qty
          FROM jsonb_array_elements(e->'items') AS i GROUP BY 1) q
    WHERE pr.product_id = q.pid;
END $$;

-- Applies one event exactly once. Returns 'applied' or 'duplicate'.
CREATE FUNCTION apply_event(e jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    IF jsonb_typeof(e) IS DISTINCT FROM 'object' OR e->>'eventId' IS NULL
       OR e->>'eventType' IS NULL THEN
        PERFORM proj_reject(e, 'not an event envelope');
    END IF;
    v_id := (e->>'eventId')::uuid;
    INSERT INTO processed_events (event_id, event_type, occurred_at)
    VALUES (v_id, e->>'eventType', (e->>'occurredAt')::timestamptz)
    ON CONFLICT (event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    CASE e->>'eventType'
        WHEN 'ProductCreated' THEN PERFORM proj_product_created(e);
        WHEN 'OrderCreated' THEN PERFORM proj_order_created(e);
        ELSE PERFORM proj_reject(e, format('unknown event type %s', e->>'eventType'));
    END CASE;
    RETURN 'applied';
END $$;

-- Applies a JSON array of events in order, in the caller's transaction.
-- Returns {"applied": n, "duplicates": m}.
CREATE FUNCTION apply_events(es jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    v_applied integer := 0;
    v_dups integer := 0;
BEGIN
    IF jsonb_typeof(es) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'apply_events expects a JSON array' USING ERRCODE = 'CQ422';
    END IF;
    FOR e IN SELECT value FROM jsonb_array_elements(es) LOOP
        IF apply_event(e) = 'applied' THEN
            v_applied := v_applied + 1;
        ELSE
            v_dups := v_dups + 1;
        END IF;
    END LOOP;
    RETURN jsonb_build_object('applied', v_applied, 'duplicates', v_dups);
END $$;

-- Query API: each returns the response JSON as text, or NULL when the id is unknown.
CREATE FUNCTION q_product(p_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('productId', product_id, 'name', name, 'category', category,
                             'price', trim_scale(price), 'stock', stock,
                             'lowStock', stock < low_stock_threshold,
                             'lowStockThreshold', low_stock_threshold)::text
    FROM products_read WHERE product_id = p_id
$$;

CREATE FUNCTION q_products(p_limit integer, p_offset integer) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('productId', product_id, 'name', name,
                                               'category', category, 'price', trim_scale(price),
                                               'stock', stock,
                                               'lowStock', stock < low_stock_threshold,
                                               'lowStockThreshold', low_stock_threshold)
                             ORDER BY product_id), '[]')::text
    FROM (SELECT * FROM products_read ORDER BY product_id LIMIT p_limit OFFSET p_offset) p
$$;

CREATE FUNCTION q_order(p_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('orderId', o.order_id, 'customerId', o.customer_id,
                             'status', o.status, 'total', trim_scale(o.total),
                             'createdAt', to_char(o.created_at AT TIME ZONE 'UTC',
                                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             'items', o.items)::text
    FROM orders_read o WHERE o.order_id = p_id
$$;
