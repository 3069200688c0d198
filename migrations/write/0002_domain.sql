-- Write DB, version 2: order lifecycle and payments, inventory adjustments, todos.

CREATE TABLE payments (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL UNIQUE REFERENCES orders (id),
    amount   numeric(14, 2) NOT NULL CHECK (amount >= 0),
    method   text NOT NULL CHECK (char_length(method) BETWEEN 1 AND 50),
    paid_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE inventory_adjustments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products (id),
    delta       integer NOT NULL CHECK (delta <> 0),
    reason      text NOT NULL DEFAULT '',
    stock_after integer NOT NULL CHECK (stock_after >= 0),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inventory_adjustments_product_idx ON inventory_adjustments (product_id);

CREATE TABLE todos (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    completed  boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Locks the order for the rest of the transaction, so concurrent commands on one order run one
-- after the other. Raises CQ404 when there is no such order.
CREATE FUNCTION order_lock(p_id bigint) RETURNS orders LANGUAGE plpgsql AS $$
DECLARE
    o orders;
BEGIN
    SELECT * INTO o FROM orders WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order % not found', p_id USING ERRCODE = 'CQ404';
    END IF;
    RETURN o;
END $$;

-- The order state machine: CREATED -> PAID -> SHIPPED -> COMPLETED, CREATED | PAID -> CANCELLED.
CREATE FUNCTION order_transition_allowed(p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_from, p_to) IN (('CREATED', 'PAID'), ('PAID', 'SHIPPED'), ('SHIPPED', 'COMPLETED'),
                              ('CREATED', 'CANCELLED'), ('PAID', 'CANCELLED'))
$$;

-- Moves a locked order to p_to, or raises CQ411 naming its current state. Returns the new version.
CREATE FUNCTION order_transition(o orders, p_to text) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF NOT order_transition_allowed(o.status, p_to) THEN
        RAISE EXCEPTION 'order % is %: it cannot become %', o.id, o.status, p_to
            USING ERRCODE = 'CQ411', DETAIL = o.status;
    END IF;
    UPDATE orders SET status = p_to, version = version + 1, updated_at = now() WHERE id = o.id;
    RETURN o.version + 1;
END $$;

-- The fields every order lifecycle event carries beside its own.
CREATE FUNCTION order_event_body(o orders, p_status text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('orderId', o.id, 'customerId', o.customer_id, 'status', p_status,
                              'previousStatus', o.status, 'total', trim_scale(o.total))
$$;

-- Answer of the lifecycle commands.
CREATE FUNCTION order_command_result(o orders, p_status text, p_event uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('orderId', o.id, 'status', p_status, 'total', trim_scale(o.total),
                              'eventIds', jsonb_build_array(p_event))
$$;

-- POST /api/orders/{id}/payments. p: {"amount", "method"}
CREATE FUNCTION cmd_pay_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o orders := order_lock(p_id);
    v_amount numeric := json_money(p->'amount', 'amount');
    v_payment payments;
    v_version integer;
    v_event uuid;
BEGIN
    IF o.status <> 'CANCELLED' AND EXISTS (SELECT 1 FROM payments WHERE order_id = o.id) THEN
        RAISE EXCEPTION 'order % is already paid', o.id USING ERRCODE = 'CQ413';
    END IF;
    IF NOT order_transition_allowed(o.status, 'PAID') THEN
        PERFORM order_transition(o, 'PAID'); -- raises invalid_transition
    END IF;
    IF v_amount <> o.total THEN
        RAISE EXCEPTION 'payment amount % does not equal the order total %', v_amount,
            trim_scale(o.total) USING ERRCODE = 'CQ412';
    END IF;
    INSERT INTO payments (order_id, amount, method) VALUES (o.id, v_amount, p->>'method')
    RETURNING * INTO v_payment;
    v_version := order_transition(o, 'PAID');
    v_event := outbox_append('order', o.id, v_version, 'OrderPaid',
        order_event_body(o, 'PAID') || jsonb_build_object(
            'paymentId', v_payment.id, 'amount', trim_scale(v_payment.amount),
            'method', v_payment.method, 'paidAt', iso_utc(v_payment.paid_at)));
    RETURN jsonb_build_object('paymentId', v_payment.id, 'orderId', o.id, 'status', 'PAID',
                              'amount', trim_scale(v_payment.amount), 'method', v_payment.method,
                              'eventIds', jsonb_build_array(v_event));
END $$;

-- POST /api/orders/{id}/ship
CREATE FUNCTION cmd_ship_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o orders := order_lock(p_id);
    v_version integer := order_transition(o, 'SHIPPED');
BEGIN
    RETURN order_command_result(o, 'SHIPPED',
        outbox_append('order', o.id, v_version, 'OrderShipped', order_event_body(o, 'SHIPPED')));
END $$;

-- POST /api/orders/{id}/complete
CREATE FUNCTION cmd_complete_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o orders := order_lock(p_id);
    v_version integer := order_transition(o, 'COMPLETED');
BEGIN
    RETURN order_command_result(o, 'COMPLETED',
        outbox_append('order', o.id, v_version, 'OrderCompleted', order_event_body(o, 'COMPLETED')));
END $$;

-- POST /api/orders/{id}/cancel. p: {"reason"?}. Returns the order's stock to the products.
CREATE FUNCTION cmd_cancel_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o orders := order_lock(p_id);
    v_version integer := order_transition(o, 'CANCELLED');
    v_items jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_object('productId', product_id, 'quantity', qty) ORDER BY product_id)
    INTO v_items
    FROM (SELECT product_id, sum(quantity)::integer AS qty FROM order_items
          WHERE order_id = o.id GROUP BY product_id) q;
    -- ascending id order, like cmd_create_order, so the two never deadlock
    PERFORM 1 FROM products
    WHERE id IN (SELECT product_id FROM order_items WHERE order_id = o.id) ORDER BY id FOR UPDATE;
    UPDATE products pr SET stock = pr.stock + q.qty
    FROM (SELECT product_id, sum(quantity)::integer AS qty FROM order_items
          WHERE order_id = o.id GROUP BY product_id) q
    WHERE pr.id = q.product_id;
    RETURN order_command_result(o, 'CANCELLED',
        outbox_append('order', o.id, v_version, 'OrderCancelled',
            order_event_body(o, 'CANCELLED') || jsonb_build_object(
                'reason', coalesce(p->>'reason', ''), 'items', v_items)));
END $$;

-- POST /api/inventory. p: {"productId", "delta", "reason"?}. Stock never goes below zero.
CREATE FUNCTION cmd_adjust_inventory(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_pid bigint := (p->>'productId')::bigint;
    v_delta integer := (p->>'delta')::integer;
    v_reason text := coalesce(p->>'reason', '');
    pr products;
    v_adj bigint;
    v_event uuid;
BEGIN
    SELECT * INTO pr FROM products WHERE id = v_pid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'product % not found', v_pid USING ERRCODE = 'CQ404';
    END IF;
    IF pr.stock + v_delta < 0 THEN
        RAISE EXCEPTION 'insufficient stock for product %: adjusting by % would leave %',
            pr.id, v_delta, pr.stock + v_delta USING ERRCODE = 'CQ409';
    END IF;
    UPDATE products SET stock = stock + v_delta, version = version + 1 WHERE id = pr.id;
    INSERT INTO inventory_adjustments (product_id, delta, reason, stock_after)
    VALUES (pr.id, v_delta, v_reason, pr.stock + v_delta) RETURNING id INTO v_adj;
    v_event := outbox_append('product', pr.id, pr.version + 1, 'InventoryAdjusted',
        jsonb_build_object('productId', pr.id, 'adjustmentId', v_adj, 'delta', v_delta,
                           'reason', v_reason, 'stock', pr.stock + v_delta));
    RETURN jsonb_build_object('adjustmentId', v_adj, 'productId', pr.id, 'delta', v_delta,
                              'stock', pr.stock + v_delta, 'eventIds', jsonb_build_array(v_event));
END $$;

-- POST /api/todos. p: {"title"}
CREATE FUNCTION cmd_create_todo(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_event uuid;
BEGIN
    INSERT INTO todos (title) VALUES (p->>'title') RETURNING id INTO v_id;
    v_event := outbox_append('todo', v_id, 1, 'TodoCreated',
        jsonb_build_object('todoId', v_id, 'title', p->>'title', 'completed', false));
    RETURN jsonb_build_object('message', 'Todo created successfully.', 'id', v_id,
                              'eventIds', jsonb_build_array(v_event));
END $$;

CREATE FUNCTION todo_lock(p_id bigint) RETURNS todos LANGUAGE plpgsql AS $$
DECLARE
    t todos;
BEGIN
    SELECT * INTO t FROM todos WHERE id = p_id AND deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'todo % not found', p_id USING ERRCODE = 'CQ404';
    END IF;
    RETURN t;
END $$;

-- PATCH /api/todos/{id}. p: {"completed": true|false}. Setting the value it already has changes
-- nothing and writes no event.
CREATE FUNCTION cmd_update_todo(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    t todos := todo_lock(p_id);
    v_completed boolean := (p->>'completed')::boolean;
    v_events jsonb := '[]';
BEGIN
    IF v_completed IS DISTINCT FROM t.completed THEN
        UPDATE todos SET completed = v_completed, version = version + 1, updated_at = now()
        WHERE id = t.id;
        v_events := jsonb_build_array(outbox_append('todo', t.id, t.version + 1,
            CASE WHEN v_completed THEN 'TodoCompleted' ELSE 'TodoReopened' END,
            jsonb_build_object('todoId', t.id, 'title', t.title, 'completed', v_completed)));
    END IF;
    RETURN jsonb_build_object('id', t.id, 'title', t.title, 'completed', v_completed,
                              'eventIds', v_events);
END $$;

-- DELETE /api/todos/{id}
CREATE FUNCTION cmd_delete_todo(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    t todos := todo_lock(p_id);
    v_event uuid;
BEGIN
    UPDATE todos SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = t.id;
    v_event := outbox_append('todo', t.id, t.version + 1, 'TodoDeleted',
        jsonb_build_object('todoId', t.id));
    RETURN jsonb_build_object('message', 'Todo deleted successfully.', 'id', t.id,
                              'eventIds', jsonb_build_array(v_event));
END $$;
