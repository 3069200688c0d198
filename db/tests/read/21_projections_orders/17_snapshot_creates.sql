-- A create at a version above 1 (a rebuild from the write DB's snapshot) starts its aggregate
-- there, in a batch as alone; the events after it follow; a non-creating event of an unknown
-- aggregate still waits (CQ425).
BEGIN;
SELECT plan(7);

CREATE FUNCTION pg_temp.ev(p_type text, p_agg text, p_id bigint, p_v integer, p_body jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('eventId', gen_random_uuid(), 'eventType', p_type,
        'occurredAt', now(), 'aggregateType', p_agg, 'aggregateId', p_id,
        'aggregateVersion', p_v) || p_body
$$;

SELECT lives_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.ev('ProductCreated', 'product', 990001, 3, '{"productId": 990001, "name": "P", "category": "C", "price": 5, "stock": 10}'),
    pg_temp.ev('InventoryAdjusted', 'product', 990001, 4, '{"productId": 990001, "adjustmentId": 1, "delta": 2, "reason": "", "stock": 12}'),
    pg_temp.ev('TodoCreated', 'todo', 990002, 2, '{"todoId": 990002, "title": "t", "completed": false}'),
    pg_temp.ev('TodoCompleted', 'todo', 990002, 3, '{"todoId": 990002, "title": "t", "completed": true}')))$$,
    'a batch with creates at versions above 1 and the events after them applies');
SELECT is((SELECT version FROM products_read WHERE product_id = 990001), 4, 'the product is at version 4');
SELECT is((SELECT stock FROM products_read WHERE product_id = 990001), 12, 'its adjustment applied');
SELECT is((SELECT (version, completed)::text FROM todos_read WHERE todo_id = 990002), '(3,t)',
          'the todo is at version 3, completed');
SELECT throws_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.ev('InventoryAdjusted', 'product', 990003, 2, '{"productId": 990003, "adjustmentId": 2, "delta": 1, "reason": "", "stock": 1}')))$$,
    'CQ425', NULL, 'an adjustment of an unknown product still waits');
SELECT throws_ok($$SELECT apply_events(jsonb_build_array(
    pg_temp.ev('ProductCreated', 'product', 990004, 2, '{"productId": 990004, "name": "P", "category": "C", "price": 5, "stock": 1}'),
    pg_temp.ev('InventoryAdjusted', 'product', 990004, 4, '{"productId": 990004, "adjustmentId": 3, "delta": 1, "reason": "", "stock": 2}')))$$,
    'CQ425', NULL, 'a gap after a create at version 2 is still early');
SELECT is(apply_event(pg_temp.ev('ProductCreated', 'product', 990001, 1,
          '{"productId": 990001, "name": "P", "category": "C", "price": 5, "stock": 10}')), 'duplicate',
          'a create of a known product is stale');

SELECT * FROM finish();
ROLLBACK;
