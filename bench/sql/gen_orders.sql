-- Generates :n orders straight into the write DB, set-based, in one transaction: the orders,
-- their items, the stock decrements and each order's OrderCreated outbox row with the payload
-- cmd_create_order would have written; then :paid_pct percent of them are paid (payments rows,
-- status PAID, version 2, an OrderPaid outbox row after all the OrderCreated ones). Orders are
-- placed at random times over the last :days days (0: now). Customers 1..:customers, 1 to 3
-- lines of a random existing product with quantity 1 to 3, as bench/lua/order.lua sends.
-- With published=yes the outbox rows are history the relay already published (published_at
-- set); with published=no the relay has them still to publish.
-- Run with psql -v n=.. -v paid_pct=.. -v days=.. -v customers=.. -v published=yes|no and
-- ON_ERROR_STOP.
-- It locks products and orders against the command functions while it assigns order ids.
BEGIN;
LOCK TABLE products, orders IN EXCLUSIVE MODE;

SELECT min(id) AS pmin, max(id) AS pmax FROM products \gset

CREATE TEMP TABLE gen_orders ON COMMIT DROP AS
SELECT g AS k,
       1 + floor(random() * :customers)::bigint AS customer_id,
       1 + floor(random() * 3)::integer AS nitems,
       CASE WHEN :days = 0 THEN clock_timestamp()
            ELSE now() - random() * make_interval(days => :days) END AS at,
       random() * 100 < :paid_pct AS paid,
       gen_random_uuid() AS created_event,
       gen_random_uuid() AS paid_event
FROM generate_series(1, :n) g;

CREATE TEMP TABLE gen_items ON COMMIT DROP AS
SELECT o.k, l AS line_no, :pmin + floor(random() * (:pmax - :pmin + 1))::bigint AS pid,
       1 + floor(random() * 3)::integer AS qty
FROM gen_orders o CROSS JOIN LATERAL generate_series(1, o.nitems) l;

CREATE TEMP TABLE gen_totals ON COMMIT DROP AS
SELECT i.k, sum(i.qty * p.price) AS total,
       jsonb_agg(jsonb_build_object('productId', p.id, 'productName', p.name,
                                    'category', p.category, 'quantity', i.qty,
                                    'price', trim_scale(p.price)) ORDER BY i.line_no) AS items
FROM gen_items i JOIN products p ON p.id = i.pid
GROUP BY i.k;

-- a block of order ids: base .. base + n - 1
SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS base \gset
SELECT setval(pg_get_serial_sequence('orders', 'id'), :base + :n - 1) \g /dev/null

INSERT INTO orders (id, customer_id, status, total, version, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT :base + o.k - 1, o.customer_id, CASE WHEN o.paid THEN 'PAID' ELSE 'CREATED' END,
       t.total, CASE WHEN o.paid THEN 2 ELSE 1 END, o.at, o.at
FROM gen_orders o JOIN gen_totals t USING (k)
ORDER BY o.k;

INSERT INTO order_items (order_id, line_no, product_id, quantity, price)
SELECT :base + i.k - 1, i.line_no, i.pid, i.qty, p.price
FROM gen_items i JOIN products p ON p.id = i.pid;

UPDATE products p SET stock = p.stock - s.qty
FROM (SELECT pid, sum(qty)::integer AS qty FROM gen_items GROUP BY pid) s
WHERE p.id = s.pid;

INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                    payload, created_at, published_at)
SELECT o.created_event, 'OrderCreated', 'order', :base + o.k - 1, 1,
       jsonb_build_object('eventId', o.created_event, 'eventType', 'OrderCreated',
                          'occurredAt', iso_utc(o.at), 'aggregateType', 'order',
                          'aggregateId', :base + o.k - 1, 'aggregateVersion', 1,
                          'orderId', :base + o.k - 1, 'customerId', o.customer_id,
                          'status', 'CREATED', 'total', trim_scale(t.total), 'items', t.items),
       o.at, CASE WHEN :'published' = 'yes' THEN now() END
FROM gen_orders o JOIN gen_totals t USING (k)
ORDER BY o.k;

WITH paid AS (
    INSERT INTO payments (order_id, amount, method, paid_at)
    SELECT :base + o.k - 1, t.total, 'card', o.at + (clock_timestamp() - o.at) / 2
    FROM gen_orders o JOIN gen_totals t USING (k)
    WHERE o.paid
    ORDER BY o.k
    RETURNING id, order_id, amount, method, paid_at
)
INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                    payload, created_at, published_at)
SELECT o.paid_event, 'OrderPaid', 'order', p.order_id, 2,
       jsonb_build_object('eventId', o.paid_event, 'eventType', 'OrderPaid',
                          'occurredAt', iso_utc(p.paid_at), 'aggregateType', 'order',
                          'aggregateId', p.order_id, 'aggregateVersion', 2,
                          'orderId', p.order_id, 'customerId', o.customer_id, 'status', 'PAID',
                          'previousStatus', 'CREATED', 'total', trim_scale(p.amount),
                          'paymentId', p.id, 'amount', trim_scale(p.amount),
                          'method', p.method, 'paidAt', iso_utc(p.paid_at)),
       p.paid_at, CASE WHEN :'published' = 'yes' THEN now() END
FROM paid p JOIN gen_orders o ON o.k = p.order_id - :base + 1
ORDER BY p.order_id;
COMMIT;
