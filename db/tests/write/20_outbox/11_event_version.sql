-- eventVersion: every event names the schema version of its type; an unknown type fails.
BEGIN;
TRUNCATE order_items, orders, products, outbox CASCADE;
SELECT plan(6);

SELECT is(event_schema_version('OrderCreated'), 1, 'OrderCreated is written in version 1');
SELECT is(event_schema_version('NoSuchEvent'), NULL, 'an unknown type has no version');
SELECT is((SELECT count(*)::integer FROM unnest(ARRAY['ProductCreated', 'InventoryAdjusted',
          'OrderCreated', 'OrderPaid', 'OrderShipped', 'OrderCompleted', 'OrderCancelled',
          'TodoCreated', 'TodoCompleted', 'TodoReopened', 'TodoDeleted', 'MoodRecorded']) t
          WHERE event_schema_version(t) IS NOT NULL), 12, 'every event type has a version');

SELECT lives_ok($$SELECT cmd_create_product('{"name":"V","category":"C","price":1,"stock":1}')$$,
                'a command writes its event');
SELECT is((SELECT (payload->>'eventVersion')::integer FROM outbox WHERE event_type = 'ProductCreated'),
          1, 'the event carries eventVersion');
SELECT throws_ok($$SELECT outbox_append('product', 1, 1, 'NoSuchEvent', '{}')$$,
                 'P0001', 'event type NoSuchEvent has no schema version (event_schema_version)',
                 'an event type without a schema version cannot be written');

SELECT * FROM finish();
ROLLBACK;
