-- traceparent: cmd_trace() in a command's arguments puts the request's W3C trace context on
-- every event of that transaction (outbox.traceparent); none or an invalid one leaves it NULL.
BEGIN;
TRUNCATE order_items, orders, products, outbox CASCADE;
SELECT plan(10);

SELECT is(cmd_trace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '{"a":1}'),
          '{"a":1}'::jsonb, 'cmd_trace returns its body unchanged');
SELECT lives_ok($$SELECT cmd_create_product(cmd_trace(
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '{"name":"T","category":"C","price":1,"stock":5}'))$$, 'a traced command runs');
SELECT is((SELECT traceparent FROM outbox WHERE event_type = 'ProductCreated'),
          '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          'its event carries the traceparent');
SELECT is(current_setting('cqrs.traceparent', true),
          '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          'the setting is the transaction''s (set_config local)');

SELECT lives_ok($$SELECT cmd_adjust_inventory(cmd_trace(NULL,
    jsonb_build_object('productId', (SELECT id FROM products WHERE name = 'T'), 'delta', 1)))$$,
    'a command without a traceparent runs');
SELECT is((SELECT traceparent FROM outbox WHERE event_type = 'InventoryAdjusted'), NULL,
          'its event has none (NULL clears the setting)');

SELECT lives_ok($$SELECT cmd_adjust_inventory(cmd_trace(
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    jsonb_build_object('productId', (SELECT id FROM products WHERE name = 'T'), 'delta', 1)))$$,
    'an invalid traceparent does not fail the command');
SELECT is((SELECT count(*)::integer FROM outbox WHERE traceparent IS NULL), 2,
          'an invalid traceparent is ignored');
DO $$ BEGIN
    PERFORM set_config('cqrs.traceparent', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', true);
END $$;
SELECT lives_ok($$SELECT cmd_create_todo('{"title":"t"}')$$,
                'a malformed setting set by hand does not fail the command');
SELECT is((SELECT traceparent FROM outbox WHERE event_type = 'TodoCreated'), NULL,
          'outbox_append stores only a valid traceparent');

SELECT * FROM finish();
ROLLBACK;
