-- Write DB: the commands (cmd_*), the entry points of the command API, and the aggregate rules they
-- share (locks, transitions, event bodies).
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- POST /api/products. p: {"name", "category", "price", "stock", "lowStockThreshold"?}
-- The command API has checked types, lengths and integer ranges; money is checked here, exactly.
CREATE OR REPLACE FUNCTION cmd_create_product(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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

-- The one error of a command that names what does not exist: "order 5 not found", SQLSTATE
-- CQ404 (the APIs' 404 not_found).
CREATE OR REPLACE FUNCTION not_found(p_what text, p_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% % not found', p_what, p_id USING ERRCODE = 'CQ404';
END $$;

-- Locks the order for the rest of the transaction, so concurrent commands on one order run one
-- after the other. Raises CQ404 when there is no such order.
CREATE OR REPLACE FUNCTION order_lock(p_id bigint) RETURNS orders LANGUAGE plpgsql AS $$
DECLARE
    o orders;
BEGIN
    SELECT * INTO o FROM orders WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM not_found('order', p_id);
    END IF;
    RETURN o;
END $$;

-- The order state machine: CREATED -> PAID -> SHIPPED -> COMPLETED, CREATED | PAID -> CANCELLED.
CREATE OR REPLACE FUNCTION order_transition_allowed(p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_from, p_to) IN (('CREATED', 'PAID'), ('PAID', 'SHIPPED'), ('SHIPPED', 'COMPLETED'),
                              ('CREATED', 'CANCELLED'), ('PAID', 'CANCELLED'))
$$;

-- Moves a locked order to p_to, or raises CQ411 naming its current state. Returns the new version.
CREATE OR REPLACE FUNCTION order_transition(o orders, p_to text) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF NOT order_transition_allowed(o.status, p_to) THEN
        RAISE EXCEPTION 'order % is %: it cannot become %', o.id, o.status, p_to
            USING ERRCODE = 'CQ411', DETAIL = o.status;
    END IF;
    UPDATE orders SET status = p_to, version = version + 1, updated_at = now() WHERE id = o.id;
    RETURN o.version + 1;
END $$;

-- The fields every order lifecycle event carries beside its own.
CREATE OR REPLACE FUNCTION order_event_body(o orders, p_status text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('orderId', o.id, 'customerId', o.customer_id, 'status', p_status,
                              'previousStatus', o.status, 'total', trim_scale(o.total))
$$;

-- Answer of the lifecycle commands.
CREATE OR REPLACE FUNCTION order_command_result(o orders, p_status text, p_event uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('orderId', o.id, 'status', p_status, 'total', trim_scale(o.total),
                              'eventIds', jsonb_build_array(p_event))
$$;

-- POST /api/orders/{id}/payments. p: {"amount", "method"}
CREATE OR REPLACE FUNCTION cmd_pay_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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

-- The ship and complete commands: locks order p_id, moves it to p_status and appends its
-- p_event_type event (the order's fields, nothing more).
CREATE OR REPLACE FUNCTION order_advance(p_id bigint, p_status text, p_event_type text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o orders := order_lock(p_id);
    v_version integer := order_transition(o, p_status);
BEGIN
    RETURN order_command_result(o, p_status,
        outbox_append('order', o.id, v_version, p_event_type, order_event_body(o, p_status)));
END $$;

-- POST /api/orders/{id}/ship
CREATE OR REPLACE FUNCTION cmd_ship_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN order_advance(p_id, 'SHIPPED', 'OrderShipped');
END $$;

-- POST /api/orders/{id}/complete
CREATE OR REPLACE FUNCTION cmd_complete_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN order_advance(p_id, 'COMPLETED', 'OrderCompleted');
END $$;

-- POST /api/orders/{id}/cancel. p: {"reason"?}. Returns the order's stock to the products.
CREATE OR REPLACE FUNCTION cmd_cancel_order(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION cmd_adjust_inventory(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
        PERFORM not_found('product', v_pid);
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
CREATE OR REPLACE FUNCTION cmd_create_todo(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION todo_lock(p_id bigint) RETURNS todos LANGUAGE plpgsql AS $$
DECLARE
    t todos;
BEGIN
    SELECT * INTO t FROM todos WHERE id = p_id AND deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM not_found('todo', p_id);
    END IF;
    RETURN t;
END $$;

-- PATCH /api/todos/{id}. p: {"completed": true|false}. Setting the value it already has changes
-- nothing and writes no event.
CREATE OR REPLACE FUNCTION cmd_update_todo(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION cmd_delete_todo(p_id bigint, p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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

-- POST /api/moods. p: {"type": "good" | "bad"}. The command API has validated the body; the
-- checks here keep the function safe to call on its own (CQ400, COLUMN names the field).
-- Returns {"message", "id", "eventIds"}; the event is
-- {<envelope>, "type": "good", "timestamp": "2026-02-16T16:15:00.000Z"}.
CREATE OR REPLACE FUNCTION cmd_record_mood(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_type text;
    v_key text;
    v_id bigint;
    v_at timestamptz;
    v_event uuid;
BEGIN
    IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
        PERFORM cmd_invalid('type', 'is required');
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(p) AS k WHERE k <> 'type' ORDER BY k LIMIT 1;
    IF v_key IS NOT NULL THEN
        PERFORM cmd_invalid(v_key, 'is not an allowed field');
    END IF;
    IF jsonb_typeof(p->'type') IS DISTINCT FROM 'string' OR p->>'type' NOT IN ('good', 'bad') THEN
        PERFORM cmd_invalid('type', 'must be "good" or "bad"');
    END IF;
    v_type := p->>'type';
    INSERT INTO moods (type) VALUES (v_type) RETURNING id, recorded_at INTO v_id, v_at;
    v_event := outbox_append('mood', v_id, 1, 'MoodRecorded',
        jsonb_build_object('type', v_type, 'timestamp', iso_utc_ms(v_at)));
    RETURN jsonb_build_object('message', 'Mood recorded.', 'id', v_id,
                              'eventIds', jsonb_build_array(v_event));
END $$;

CREATE OR REPLACE FUNCTION cmd_create_orders(p_batch jsonb)
RETURNS TABLE (ord integer, answer jsonb, replayed boolean, err_state text, err_message text,
               err_column text)
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    i integer := 0;
    v_pids bigint[];
    k integer;
BEGIN
    IF jsonb_typeof(p_batch) IS DISTINCT FROM 'array' OR jsonb_array_length(p_batch) > 64 THEN
        PERFORM cmd_invalid('batch', 'must be an array of at most 64 orders');
    END IF;
    SELECT array_agg(DISTINCT (it->>'productId')::bigint ORDER BY (it->>'productId')::bigint)
    INTO v_pids
    FROM jsonb_array_elements(p_batch) AS b(o),
         jsonb_array_elements(CASE jsonb_typeof(o->'body'->'items')
                                  WHEN 'array' THEN o->'body'->'items'
                                  ELSE '[]'::jsonb END) AS x(it)
    WHERE jsonb_typeof(it->'productId') = 'number';
    -- the orders' Idempotency-Keys first, in order, then the products (idempotency_lock_class)
    FOR k IN SELECT DISTINCT hashtext(o->>'key') AS h FROM jsonb_array_elements(p_batch) AS b(o)
             WHERE o ? 'key' ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(idempotency_lock_class(), k);
    END LOOP;
    -- one primary-key lookup per product (a plan that cannot turn into a catalogue scan)
    FOR k IN 1 .. coalesce(cardinality(v_pids), 0) LOOP
        PERFORM 1 FROM products WHERE id = v_pids[k] FOR UPDATE;
    END LOOP;

    FOR e IN SELECT x FROM jsonb_array_elements(p_batch) AS a(x) LOOP
        ord := i;
        i := i + 1;
        answer := NULL;
        replayed := false;
        err_state := NULL;
        err_message := NULL;
        err_column := NULL;
        BEGIN
            PERFORM set_config('cqrs.traceparent', coalesce(e->>'traceparent', ''), true);
            IF e ? 'key' THEN
                SELECT c.result, c.replayed INTO answer, replayed
                FROM cmd_idempotent(e->>'key', (e->>'ttl')::integer * interval '1 second',
                                    'POST', e->>'path', 'create_order', NULL, e->'body') AS c;
            ELSE
                answer := cmd_create_order(e->'body');
            END IF;
        EXCEPTION
            WHEN SQLSTATE 'CQ400' OR SQLSTATE 'CQ404' OR SQLSTATE 'CQ409' OR SQLSTATE 'CQ410'
                 OR SQLSTATE 'CQ422' OR data_exception OR integrity_constraint_violation THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE,
                                        err_message = MESSAGE_TEXT,
                                        err_column = COLUMN_NAME;
                answer := NULL;
                replayed := false;
        END;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('cqrs.traceparent', '', true);
END $$;

CREATE OR REPLACE FUNCTION cmd_create_order(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_customer bigint := (p->>'customerId')::bigint;
    v_line_pids bigint[];
    v_line_qtys integer[];
    v_line_prices numeric[];
    v_pids bigint[];   -- distinct products, ascending
    v_qtys integer[];  -- quantity per distinct product
    v_stocks integer[];
    v_prices numeric[];
    v_names text[];
    v_cats text[];
    v_order_id bigint;
    v_total numeric := 0;
    v_items jsonb := '[]';
    v_event uuid;
    v_pid bigint;
    pr record;
    k integer;
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

    -- each product once, by primary key, locked in id order (v_pids ascends); a missing one
    -- leaves NULLs in its places
    FOR k IN 1 .. cardinality(v_pids) LOOP
        SELECT stock, price, name, category INTO pr FROM products WHERE id = v_pids[k] FOR UPDATE;
        v_stocks[k] := pr.stock;
        v_prices[k] := pr.price;
        v_names[k] := pr.name;
        v_cats[k] := pr.category;
    END LOOP;
    FOR k IN 1 .. cardinality(v_pids) LOOP
        IF v_names[k] IS NULL THEN
            PERFORM not_found('product', v_pids[k]);
        END IF;
    END LOOP;
    FOR k IN 1 .. cardinality(v_pids) LOOP
        IF v_stocks[k] < v_qtys[k] THEN
            RAISE EXCEPTION 'insufficient stock for product %: requested %, available %',
                v_pids[k], v_qtys[k], v_stocks[k] USING ERRCODE = 'CQ409';
        END IF;
    END LOOP;
    FOR k IN 1 .. cardinality(v_line_pids) LOOP
        v_pid := v_line_pids[k];
        IF v_line_prices[k] IS NOT NULL
           AND v_line_prices[k] <> v_prices[array_position(v_pids, v_pid)] THEN
            RAISE EXCEPTION 'price mismatch for product %: catalogue price is %',
                v_pid, trim_scale(v_prices[array_position(v_pids, v_pid)]) USING ERRCODE = 'CQ410';
        END IF;
    END LOOP;

    FOR k IN 1 .. cardinality(v_pids) LOOP
        UPDATE products SET stock = stock - v_qtys[k] WHERE id = v_pids[k];
    END LOOP;

    SELECT sum(u.qty * v_prices[array_position(v_pids, u.pid)]),
           jsonb_agg(jsonb_build_object(
               'productId', u.pid,
               'productName', v_names[array_position(v_pids, u.pid)],
               'category', v_cats[array_position(v_pids, u.pid)],
               'quantity', u.qty,
               'price', trim_scale(v_prices[array_position(v_pids, u.pid)])) ORDER BY u.line_no)
    INTO v_total, v_items
    FROM unnest(v_line_pids, v_line_qtys) WITH ORDINALITY AS u(pid, qty, line_no);

    INSERT INTO orders (customer_id, status, total) VALUES (v_customer, 'CREATED', v_total)
    RETURNING id INTO v_order_id;
    INSERT INTO order_items (order_id, line_no, product_id, quantity, price)
    SELECT v_order_id, u.line_no, u.pid, u.qty, v_prices[array_position(v_pids, u.pid)]
    FROM unnest(v_line_pids, v_line_qtys) WITH ORDINALITY AS u(pid, qty, line_no);

    v_event := outbox_append('order', v_order_id, 1, 'OrderCreated', jsonb_build_object(
        'orderId', v_order_id,
        'customerId', v_customer,
        'status', 'CREATED',
        'total', trim_scale(v_total),
        'items', v_items));
    RETURN jsonb_build_object('orderId', v_order_id, 'total', trim_scale(v_total),
                              'status', 'CREATED', 'eventIds', jsonb_build_array(v_event));
END $$;
