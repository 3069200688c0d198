-- Write DB, version 1: products, orders, the transactional outbox and the relay's wake-up flag.
-- Money is numeric with at most 2 fraction digits; JSON output goes through trim_scale so that
-- 50000 stays 50000 and 99.99 stays 99.99.

CREATE TABLE products (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    category            text NOT NULL CHECK (char_length(category) BETWEEN 1 AND 100),
    price               numeric(14, 2) NOT NULL CHECK (price >= 0),
    stock               integer NOT NULL CHECK (stock >= 0),
    low_stock_threshold integer NOT NULL DEFAULT 10 CHECK (low_stock_threshold >= 0),
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL CHECK (customer_id > 0),
    status      text NOT NULL CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED')),
    total       numeric(14, 2) NOT NULL CHECK (total >= 0),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id);

CREATE TABLE order_items (
    order_id   bigint NOT NULL REFERENCES orders (id),
    line_no    integer NOT NULL CHECK (line_no > 0),
    product_id bigint NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    price      numeric(14, 2) NOT NULL CHECK (price >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);

-- The transactional outbox: one row per event, written in the same transaction as the change.
CREATE TABLE outbox (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    event_type        text NOT NULL,
    aggregate_type    text NOT NULL,
    aggregate_id      bigint NOT NULL,
    aggregate_version integer NOT NULL,
    payload           jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at      timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- The relay's wake-up switch. The outbox trigger sends a NOTIFY only while notify_wanted is true:
-- the relay clears it while it drains the outbox and sets it (then looks once more) before it
-- sleeps, so under load committing writers do not serialise on NOTIFY's commit-time lock.
CREATE TABLE relay_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    notify_wanted boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO relay_state DEFAULT VALUES;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT notify_wanted FROM relay_state WHERE singleton) THEN
        PERFORM pg_notify('outbox_events', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- ISO 8601 UTC with microseconds, the clock of every event's occurredAt.
CREATE FUNCTION iso_utc(ts timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Appends one event: builds the envelope around body and inserts the outbox row.
-- Returns the event id.
CREATE FUNCTION outbox_append(p_aggregate_type text, p_aggregate_id bigint, p_version integer,
                              p_event_type text, p_body jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id uuid := gen_random_uuid();
    v_now timestamptz := clock_timestamp();
BEGIN
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                        payload, created_at)
    VALUES (v_event_id, p_event_type, p_aggregate_type, p_aggregate_id, p_version,
            jsonb_build_object('eventId', v_event_id,
                               'eventType', p_event_type,
                               'occurredAt', iso_utc(v_now),
                               'aggregateType', p_aggregate_type,
                               'aggregateId', p_aggregate_id,
                               'aggregateVersion', p_version) || p_body,
            v_now);
    RETURN v_event_id;
END $$;

-- Validation failures raised by command functions: SQLSTATE CQ400, COLUMN names the field.
CREATE FUNCTION cmd_invalid(p_field text, p_message text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: %', p_field, p_message USING ERRCODE = 'CQ400', COLUMN = p_field;
END $$;

-- Reads an exact money amount from a JSON number: >= 0, at most 2 fraction digits, < 10^12.
CREATE FUNCTION json_money(p_value jsonb, p_field text) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v numeric;
BEGIN
    IF p_value IS NULL OR jsonb_typeof(p_value) <> 'number' THEN
        PERFORM cmd_invalid(p_field, 'must be a number');
    END IF;
    v := p_value::numeric;
    IF v < 0 OR v >= 1000000000000 THEN
        PERFORM cmd_invalid(p_field, 'must be between 0 and 999999999999.99');
    END IF;
    IF scale(trim_scale(v)) > 2 THEN
        PERFORM cmd_invalid(p_field, 'must have at most 2 fraction digits');
    END IF;
    RETURN trim_scale(v);
END $$;

-- POST /api/products. p: {"name", "category", "price", "stock", "lowStockThreshold"?}
-- The command API has checked types, lengths and integer ranges; money is checked here, exactly.
CREATE FUNCTION cmd_create_product(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_price numeric := json_money(p->'price', 'price');
    v_id bigint;
    v_threshold integer := coalesce((p->>'lowStockThreshold')::integer, 10);
    v_event uuid;
BEGIN
    INSERT INTO products (name, category, price, stock, low_stock_threshold)
    VALUES (p->>'name', p->>'category', v_price, (p->>'stock')::integer, v_threshold)
    RETURNING id INTO v_id;
    v_event := outbox_append('product', v_id, 1, 'ProductCreated', jsonb_build_object(
        'productId', v_id,
        'name', p->>'name',
        'category', p->>'category',
        'price', v_price,
        'stock', (p->>'stock')::integer,
        'lowStockThreshold', v_threshold));
    RETURN jsonb_build_object('productId', v_id, 'eventIds', jsonb_build_array(v_event));
END $$;

-- POST /api/orders. p: {"customerId", "items": [{"productId", "quantity", "price"?}]}
-- Validates supplied prices, locks the order's products in id order (so concurrent orders never
-- deadlock), checks existence, summed quantity per product against stock and each supplied price
-- against the catalogue, then writes the order, its items, the stock decrements and the
-- OrderCreated event. Any failure raises, so nothing is written.
CREATE FUNCTION cmd_create_order(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_customer bigint := (p->>'customerId')::bigint;
    v_line_pids bigint[];
    v_line_qtys integer[];
    v_line_prices numeric[];
    v_pids bigint[];
    v_qtys integer[];
    v_locked integer;
    v_order_id bigint;
    v_total numeric;
    v_items jsonb;
    v_event uuid;
    r record;
BEGIN
    SELECT array_agg((e->>'productId')::bigint ORDER BY ord),
           array_agg((e->>'quantity')::integer ORDER BY ord),
           array_agg(CASE WHEN e->'price' IS NULL OR jsonb_typeof(e->'price') = 'null' THEN NULL
                          ELSE json_money(e->'price', format('items[%s].price', ord - 1)) END
                     ORDER BY ord)
    INTO v_line_pids, v_line_qtys, v_line_prices
    FROM jsonb_array_elements(p->'items') WITH ORDINALITY AS x(e, ord);
    IF v_line_pids IS NULL THEN
        PERFORM cmd_invalid('items', 'must hold at least one item');
    END IF;

    SELECT array_agg(pid ORDER BY pid), array_agg(qty ORDER BY pid) INTO v_pids, v_qtys
    FROM (SELECT pid, sum(qty)::integer AS qty
          FROM unnest(v_line_pids, v_line_qtys) AS u(pid, qty) GROUP BY pid) s;

    SELECT count(*) INTO v_locked
    FROM (SELECT 1 FROM products WHERE id = ANY (v_pids) ORDER BY id FOR UPDATE) l;
    IF v_locked < cardinality(v_pids) THEN
        SELECT u.pid INTO r FROM unnest(v_pids) AS u(pid)
        WHERE NOT EXISTS (SELECT 1 FROM products WHERE id = u.pid) ORDER BY u.pid LIMIT 1;
        RAISE EXCEPTION 'product % not found', r.pid USING ERRCODE = 'CQ404';
    END IF;

    FOR r IN
        SELECT u.pid, u.qty, pr.stock
        FROM unnest(v_pids, v_qtys) AS u(pid, qty) JOIN products pr ON pr.id = u.pid
        WHERE pr.stock < u.qty ORDER BY u.pid LIMIT 1
    LOOP
        RAISE EXCEPTION 'insufficient stock for product %: requested %, available %',
            r.pid, r.qty, r.stock USING ERRCODE = 'CQ409';
    END LOOP;

    FOR r IN
        SELECT u.pid, pr.price
        FROM unnest(v_line_pids, v_line_prices) AS u(pid, price) JOIN products pr ON pr.id = u.pid
        WHERE u.price IS NOT NULL AND u.price <> pr.price LIMIT 1
    LOOP
        RAISE EXCEPTION 'price mismatch for product %: catalogue price is %',
            r.pid, trim_scale(r.price) USING ERRCODE = 'CQ410';
    END LOOP;

    UPDATE products pr SET stock = pr.stock - u.qty
    FROM unnest(v_pids, v_qtys) AS u(pid, qty)
    WHERE pr.id = u.pid;

    SELECT sum(u.qty * pr.price),
           jsonb_agg(jsonb_build_object('productId', pr.id, 'productName', pr.name,
                                        'category', pr.category, 'quantity', u.qty,
                                        'price', trim_scale(pr.price)) ORDER BY u.line_no)
    INTO v_total, v_items
    FROM unnest(v_line_pids, v_line_qtys) WITH ORDINALITY AS u(pid, qty, line_no)
    JOIN products pr ON pr.id = u.pid;

    INSERT INTO orders (customer_id, status, total) VALUES (v_customer, 'CREATED', v_total)
    RETURNING id INTO v_order_id;
    INSERT INTO order_items (order_id, line_no, product_id, quantity, price)
    SELECT v_order_id, u.line_no, u.pid, u.qty, pr.price
    FROM unnest(v_line_pids, v_line_qtys) WITH ORDINALITY AS u(pid, qty, line_no)
    JOIN products pr ON pr.id = u.pid;

    v_event := outbox_append('order', v_order_id, 1, 'OrderCreated', jsonb_build_object(
        'orderId', v_order_id,
        'customerId', v_customer,
        'status', 'CREATED',
        'total', trim_scale(v_total),
        'items', v_items));
    RETURN jsonb_build_object('orderId', v_order_id, 'total', trim_scale(v_total),
                              'status', 'CREATED', 'eventIds', jsonb_build_array(v_event));
END $$;
