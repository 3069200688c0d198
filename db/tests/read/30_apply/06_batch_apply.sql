-- apply_events applies a batch set-based; the result must equal applying its events one by one.
BEGIN;
\ir ../fixtures.psql
SELECT pg_temp.empty_read_model();
SELECT plan(6);

CREATE FUNCTION pg_temp.mk(p_id int, p_type text, p_agg_id int, p_version int, p_body jsonb)
RETURNS jsonb LANGUAGE sql AS $$ SELECT pg_temp.envelope(p_id, p_type, 'order', p_agg_id, p_version, '2026-03-01T10:00:00Z', p_body) $$;

CREATE TEMP TABLE batch AS SELECT jsonb_build_array(
    jsonb_build_object('eventId', '00000000-0000-0000-0000-000000000101', 'eventType', 'ProductCreated',
                       'occurredAt', '2026-03-01T09:00:00Z', 'aggregateType', 'product', 'aggregateId', 1,
                       'aggregateVersion', 1, 'productId', 1, 'name', 'Laptop', 'category', 'E', 'price', 10, 'stock', 100),
    pg_temp.mk(1, 'OrderCreated', 1, 1, '{"orderId":1,"customerId":7,"status":"CREATED","total":20,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":2,"price":10}]}'),
    pg_temp.mk(2, 'OrderCreated', 2, 1, '{"orderId":2,"customerId":7,"status":"CREATED","total":10,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":1,"price":10}]}'),
    pg_temp.mk(1, 'OrderCreated', 1, 1, '{"orderId":1,"customerId":7,"status":"CREATED","total":20,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":2,"price":10}]}'),
    pg_temp.mk(3, 'OrderPaid', 1, 2, '{"orderId":1,"customerId":7,"status":"PAID","previousStatus":"CREATED","total":20,"paymentId":1,"amount":20,"method":"card","paidAt":"2026-03-01T10:00:01Z"}'),
    pg_temp.mk(4, 'OrderCreated', 3, 1, '{"orderId":3,"customerId":8,"status":"CREATED","total":30,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":3,"price":10}]}'),
    pg_temp.mk(5, 'OrderCreated', 4, 1, '{"orderId":4,"customerId":7,"status":"CREATED","total":10,"items":[{"productId":1,"productName":"Laptop","category":"E","quantity":1,"price":10}]}'),
    pg_temp.mk(6, 'OrderCancelled', 2, 2, '{"orderId":2,"customerId":7,"status":"CANCELLED","previousStatus":"CREATED","total":10,"reason":"","items":[{"productId":1,"quantity":1}]}')
) AS es;

SAVEPOINT one_by_one;
DO $$
DECLARE
    ev jsonb;
BEGIN
    FOR ev IN SELECT value FROM batch, jsonb_array_elements(es) WITH ORDINALITY AS x(value, ord) ORDER BY ord LOOP
        PERFORM apply_event(ev);
    END LOOP;
END $$;
-- a psql variable outlives the rollback to the savepoint
SELECT pg_temp.snapshot() AS expected \gset
ROLLBACK TO SAVEPOINT one_by_one;

SELECT is(apply_events(es), '{"applied": 7, "duplicates": 1}'::jsonb,
          'a duplicate inside the batch is counted once') FROM batch;
SELECT is(pg_temp.snapshot(), :'expected'::jsonb, 'the batch equals applying its events one by one');
SELECT is((SELECT stock FROM products_read WHERE product_id = 1), 94, 'stock taken once per order, cancelled returned');
SELECT is(apply_events(es), '{"applied": 0, "duplicates": 8}'::jsonb, 'the whole batch again is all duplicates') FROM batch;
SELECT is(pg_temp.snapshot(), :'expected'::jsonb, 'and changes nothing');
SELECT throws_ok($$SELECT apply_events('[{"eventId":"00000000-0000-0000-0000-000000000999","eventType":"OrderCreated"}, 5]')$$,
                 'CQ422', NULL, 'a batch with a non-event fails as a whole');

SELECT * FROM finish();
ROLLBACK;
