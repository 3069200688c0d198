-- Write DB: create-order without re-planning and without scanning the catalogue
-- (docs/performance.md, "The write path's cost per order").
--
-- Profiled under pgbench (perf, one client): a fifth of a create-order's backend time went to
-- planning (GetCachedPlan -> pg_plan_query: PL/pgSQL re-plans a statement with parameters as a
-- "custom plan" on every call while it judges the custom plans cheaper than the generic one),
-- and, once plans were generic, the joins of the order's lines with products became hash joins
-- over a sequential scan of the whole catalogue, six per order, each checking the visibility
-- (and multixact members) of every product row. So:
--   * the command functions run with plan_cache_mode = force_generic_plan: each statement is
--     planned once per connection;
--   * cmd_create_order reads each product it needs once, by primary key, locking it (in id
--     order, as before), and computes the checks, the total, the lines and the event from
--     those values in memory; the stock update is one primary-key update per product.
-- Same arguments, same answer, same errors in the same precedence (invalid input, then the
-- lowest unknown product, then the lowest product short of stock, then the first line whose
-- price does not match), same events: db/tests/write/03_create_order.sql holds it to that.

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
            RAISE EXCEPTION 'product % not found', v_pids[k] USING ERRCODE = 'CQ404';
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

-- Every command function plans its statements once per connection (see above). The setting
-- holds for the call and the functions it calls (outbox_append, cmd_idempotent's command).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
          AND p.proname LIKE 'cmd\_%' AND p.proname <> 'cmd_invalid'
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    END LOOP;
END $$;

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
