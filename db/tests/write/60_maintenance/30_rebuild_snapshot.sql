-- rebuild_history_gaps and rebuild_snapshot (migrations/write/0009_rebuild_snapshot.sql): which
-- aggregates lost their creating event to the retention purge, and the events that rebuild their
-- current state.
BEGIN;
TRUNCATE payments, order_items, orders, inventory_adjustments, products, outbox, todos, moods;
SELECT plan(17);

SELECT cmd_create_product('{"name":"Lamp","category":"Home","price":20,"stock":10}');
SELECT cmd_create_product('{"name":"Desk","category":"Home","price":100,"stock":5}');
CREATE TEMP TABLE p AS SELECT (SELECT id FROM products WHERE name = 'Lamp') AS lamp,
                              (SELECT id FROM products WHERE name = 'Desk') AS desk;
SELECT cmd_adjust_inventory(format('{"productId": %s, "delta": 4}', lamp)::jsonb) FROM p;
CREATE TEMP TABLE o AS
SELECT (cmd_create_order(format('{"customerId":7,"items":[{"productId":%s,"quantity":2}]}', lamp)::jsonb)->>'orderId')::bigint AS created,
       (cmd_create_order(format('{"customerId":7,"items":[{"productId":%s,"quantity":3},{"productId":%s,"quantity":1}]}', lamp, desk)::jsonb)->>'orderId')::bigint AS completed,
       (cmd_create_order(format('{"customerId":8,"items":[{"productId":%s,"quantity":1}]}', lamp)::jsonb)->>'orderId')::bigint AS cancelled
FROM p;
SELECT cmd_pay_order(completed, '{"amount": 160, "method": "card"}') FROM o;
SELECT cmd_ship_order(completed, '{}') FROM o;
SELECT cmd_complete_order(completed, '{}') FROM o;
SELECT cmd_pay_order(cancelled, '{"amount": 20, "method": "cash"}') FROM o;
SELECT cmd_cancel_order(cancelled, '{"reason": "changed my mind"}') FROM o;
SELECT cmd_create_todo('{"title": "kept"}');
SELECT cmd_update_todo((SELECT max(id) FROM todos), '{"completed": true}');
SELECT cmd_create_todo('{"title": "gone"}');
SELECT cmd_update_todo((SELECT max(id) FROM todos), '{"completed": true}');
SELECT cmd_update_todo((SELECT max(id) FROM todos), '{"completed": false}');
SELECT cmd_delete_todo((SELECT max(id) FROM todos), '{}');
SELECT cmd_record_mood('{"type": "good"}');

SELECT is((SELECT count(*)::integer FROM rebuild_history_gaps()), 0, 'with the whole history retained there is no gap');

-- the purge removed everything but the desk's history and the completed order's last two events
DELETE FROM outbox WHERE NOT (aggregate_type = 'product' AND aggregate_id = (SELECT desk FROM p))
                     AND NOT (aggregate_type = 'order' AND aggregate_id = (SELECT completed FROM o) AND aggregate_version >= 3);
SELECT bag_eq($$SELECT aggregate_type || ' ' || coalesce(first_version::text, '-') FROM rebuild_history_gaps()$$,
              ARRAY['product -', 'order -', 'order 3', 'order -', 'todo -', 'todo -', 'mood -'],
              'every aggregate without its creating event is a gap, also those with no event left');
SELECT ok(NOT EXISTS (SELECT 1 FROM rebuild_history_gaps() WHERE aggregate_type = 'product' AND aggregate_id = (SELECT desk FROM p)),
          'an aggregate whose history starts at version 1 is not');

CREATE TEMP TABLE s AS SELECT * FROM rebuild_snapshot();
SELECT set_eq($$SELECT payload->>'eventType' FROM s WHERE phase = 0$$, ARRAY['OrderShipped', 'OrderCompleted'],
              'phase 0: the retained events of a gap aggregate are folded');
SELECT set_eq($$SELECT payload->>'eventType' FROM s WHERE phase = 2$$, ARRAY['ProductCreated'],
              'phase 2: the retained history of a product without a gap is replayed');
SELECT is((SELECT count(*)::integer FROM s WHERE phase = 4), 0, 'phase 4: nothing else is retained');
SELECT is((SELECT payload->'stock' FROM s WHERE phase = 1), '14'::jsonb,
          'the lamp is created with its stock plus what its orders took (9 + 2 + 3; the cancelled one gave its 1 back)');
SELECT is((SELECT (payload->>'aggregateVersion')::integer FROM s WHERE phase = 1), 2, 'at its current version (one adjustment)');
SELECT is((SELECT string_agg(payload->>'eventType' || '@' || (payload->>'aggregateVersion'), ',' ORDER BY ord)
           FROM s WHERE phase = 3 AND payload->>'aggregateType' = 'order' AND (payload->>'orderId')::bigint = (SELECT completed FROM o)),
          'OrderCreated@1,OrderPaid@2,OrderShipped@3,OrderCompleted@4', 'a completed order: created, paid, shipped, completed');
SELECT is((SELECT string_agg(payload->>'eventType' || '@' || (payload->>'aggregateVersion') || ':' || coalesce(payload->>'previousStatus', ''), ',' ORDER BY ord)
           FROM s WHERE phase = 3 AND (payload->>'orderId')::bigint = (SELECT cancelled FROM o)),
          'OrderCreated@1:,OrderPaid@2:CREATED,OrderCancelled@3:PAID', 'a paid then cancelled order');
SELECT is((SELECT payload->'items' FROM s WHERE phase = 3 AND payload->>'eventType' = 'OrderCancelled'),
          format('[{"productId": %s, "quantity": 1}]', (SELECT lamp FROM p))::jsonb, 'the cancellation returns its items');
SELECT is((SELECT payload->'paidAt' FROM s WHERE phase = 3 AND payload->>'eventType' = 'OrderPaid' AND (payload->>'orderId')::bigint = (SELECT cancelled FROM o)),
          (SELECT to_jsonb(iso_utc(paid_at)) FROM payments WHERE order_id = (SELECT cancelled FROM o)), 'paid at the payment''s time');
SELECT is((SELECT string_agg(payload->>'eventType' || '@' || (payload->>'aggregateVersion'), ',' ORDER BY ord)
           FROM s WHERE payload->>'aggregateType' = 'todo' AND payload->>'title' = 'kept'),
          'TodoCreated@1,TodoCompleted@2', 'a completed todo: created, then completed at its version');
SELECT is((SELECT string_agg(payload->>'eventType' || '@' || (payload->>'aggregateVersion'), ',' ORDER BY ord)
           FROM s WHERE payload->>'aggregateType' = 'todo' AND (payload->>'todoId')::bigint = (SELECT max(id) FROM todos)),
          'TodoCreated@3,TodoDeleted@4', 'a deleted todo (reopened before): created, then deleted at its version');
SELECT is((SELECT payload->>'type' FROM s WHERE payload->>'aggregateType' = 'mood'), 'good', 'a mood');
SELECT is((SELECT count(DISTINCT payload->>'eventId')::integer FROM s WHERE phase IN (1, 3)),
          (SELECT count(*)::integer FROM s WHERE phase IN (1, 3)), 'every synthesized event has an id of its own');
SELECT is((SELECT count(*)::integer FROM s s1 JOIN outbox ob ON ob.event_id = (s1.payload->>'eventId')::uuid WHERE s1.phase IN (1, 3)),
          0, 'none is the id of a real event');

SELECT * FROM finish();
ROLLBACK;
