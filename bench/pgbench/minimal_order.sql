-- pgbench baseline of the write path's physical limit: the same writes as one create-order, as
-- one plain SQL statement (no function, no trigger, no NOTIFY), in the scratch database that
-- bench/minimal.sh builds in the same cluster (bench_minimal: the write DB's products, orders,
-- order_items and outbox with their keys, indexes and constraints, no trigger, the same
-- catalogue). One order of 2 lines (2 distinct random products in :pmin..:pmax, quantity 1 to 3)
-- for a customer in 1..:customers: the 2 products locked in id order (as cmd_create_order does,
-- so concurrent orders never deadlock) and their stock decremented, the order, its 2 items and
-- one outbox row with the columns and the OrderCreated payload cmd_create_order writes (a
-- traceparent of the same length as the command API's). Run with -M prepared and
-- -D customers=.. -D pmin=.. -D pmax=..
\set cid random(1, :customers)
\set p1 random(:pmin, :pmax)
\set p2 :pmin + (:p1 - :pmin + random(1, :pmax - :pmin)) % (:pmax - :pmin + 1)
\set q1 random(1, 3)
\set q2 random(1, 3)
WITH l AS (
    SELECT id FROM products WHERE id IN (:p1::bigint, :p2::bigint) ORDER BY id FOR UPDATE
), s AS (
    UPDATE products p SET stock = p.stock - v.qty
    FROM l, (VALUES (1, :p1::bigint, :q1::integer), (2, :p2::bigint, :q2::integer))
            AS v(line_no, pid, qty)
    WHERE p.id = l.id AND v.pid = l.id
    RETURNING v.line_no, p.id, p.name, p.category, p.price, v.qty
), o AS (
    INSERT INTO orders (customer_id, status, total)
    SELECT :cid::bigint, 'CREATED', sum(s.qty * s.price) FROM s
    RETURNING id, total
), i AS (
    INSERT INTO order_items (order_id, line_no, product_id, quantity, price)
    SELECT o.id, s.line_no, s.id, s.qty, s.price FROM o, s
), e AS (
    SELECT gen_random_uuid() AS id, clock_timestamp() AS at
)
INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                    payload, created_at, traceparent)
SELECT e.id, 'OrderCreated', 'order', o.id, 1,
       jsonb_build_object(
           'eventId', e.id, 'eventType', 'OrderCreated', 'eventVersion', 1,
           'occurredAt', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS.US"Z"'),
           'aggregateType', 'order', 'aggregateId', o.id, 'aggregateVersion', 1,
           'orderId', o.id, 'customerId', :cid::bigint, 'status', 'CREATED',
           'total', trim_scale(o.total),
           'items', (SELECT jsonb_agg(jsonb_build_object(
                                'productId', s.id, 'productName', s.name, 'category', s.category,
                                'quantity', s.qty, 'price', trim_scale(s.price)) ORDER BY s.line_no)
                     FROM s)),
       e.at, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
FROM o, e;
