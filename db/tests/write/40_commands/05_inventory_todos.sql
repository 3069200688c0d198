-- Inventory adjustments and todos.
BEGIN;
TRUNCATE payments, order_items, orders, inventory_adjustments, products, todos, outbox;
SELECT plan(20);

SELECT cmd_create_product('{"name":"Cup","category":"Kitchen","price":5,"stock":4}');
CREATE TEMP TABLE p AS SELECT id FROM products;

SELECT is((cmd_adjust_inventory(format('{"productId":%s,"delta":25,"reason":"restock"}', (SELECT id FROM p))::jsonb)->>'stock')::int,
          29, 'a restock adds to stock');
SELECT is((SELECT payload->>'stock' FROM outbox WHERE event_type = 'InventoryAdjusted'), '29',
          'InventoryAdjusted carries the new stock');
SELECT is((SELECT payload->>'delta' FROM outbox WHERE event_type = 'InventoryAdjusted'), '25',
          'InventoryAdjusted carries the delta');
SELECT is((SELECT aggregate_version FROM outbox WHERE event_type = 'InventoryAdjusted'), 2,
          'InventoryAdjusted is version 2 of the product');
SELECT is((cmd_adjust_inventory(format('{"productId":%s,"delta":-29}', (SELECT id FROM p))::jsonb)->>'stock')::int,
          0, 'a negative delta may bring stock to zero');
SELECT throws_ok(format($$SELECT cmd_adjust_inventory('{"productId":%s,"delta":-1}')$$, (SELECT id FROM p)),
                 'CQ409', NULL, 'but not below zero');
SELECT throws_ok($$SELECT cmd_adjust_inventory('{"productId":987654321,"delta":1}')$$, 'CQ404', NULL,
                 'an unknown product is not found');
SELECT is((SELECT count(*)::int FROM inventory_adjustments), 2, 'refused adjustments wrote nothing');
SELECT is((SELECT stock FROM products), 0, 'stock is 0');

-- todos
CREATE TEMP TABLE t AS SELECT cmd_create_todo('{"title":"Learn CQRS"}') AS j;
SELECT is((SELECT j->>'message' FROM t), 'Todo created successfully.', 'create answers the message');
SELECT is((SELECT (j->>'id')::bigint FROM t), (SELECT id FROM todos), 'create answers the id');
SELECT is((SELECT payload->>'title' FROM outbox WHERE event_type = 'TodoCreated'), 'Learn CQRS',
          'TodoCreated carries the title');
SELECT is(cmd_update_todo((SELECT id FROM todos), '{"completed":true}')->>'completed', 'true',
          'a todo can be completed');
SELECT is((SELECT count(*)::int FROM outbox WHERE event_type = 'TodoCompleted'), 1, 'TodoCompleted written');
SELECT is(jsonb_array_length(cmd_update_todo((SELECT id FROM todos), '{"completed":true}')->'eventIds'), 0,
          'completing a completed todo writes no event');
SELECT is(cmd_update_todo((SELECT id FROM todos), '{"completed":false}')->>'completed', 'false',
          'a todo can be reopened');
SELECT is(cmd_delete_todo((SELECT id FROM todos), '{}')->>'message', 'Todo deleted successfully.',
          'a todo can be deleted');
SELECT throws_ok(format($$SELECT cmd_delete_todo(%s, '{}')$$, (SELECT id FROM todos)), 'CQ404', NULL,
                 'a deleted todo is gone');
SELECT throws_ok(format($$SELECT cmd_update_todo(%s, '{"completed":true}')$$, (SELECT id FROM todos)), 'CQ404', NULL,
                 'a deleted todo cannot be updated');
SELECT throws_ok($$SELECT cmd_create_todo('{"title":""}')$$, '23514', NULL, 'an empty title is refused');

SELECT * FROM finish();
ROLLBACK;
