-- Write DB schema: tables, keys, the constraints that protect invariants, the outbox trigger.
BEGIN;
SELECT plan(17);

SELECT has_table('products');
SELECT has_table('orders');
SELECT has_table('order_items');
SELECT has_table('outbox');
SELECT has_table('relay_state');
SELECT col_is_pk('outbox', 'id');
SELECT col_is_unique('outbox', 'event_id');
SELECT col_type_is('products', 'price', 'numeric(14,2)');
SELECT col_type_is('orders', 'total', 'numeric(14,2)');
SELECT col_not_null('outbox', 'payload');
SELECT trigger_is('outbox', 'outbox_notify', 'outbox_notify');
SELECT has_function('cmd_create_product', ARRAY['jsonb']);
SELECT has_function('cmd_create_order', ARRAY['jsonb']);

-- stock can never go negative, whatever writes it
INSERT INTO products (name, category, price, stock) VALUES ('T', 'C', 1, 1);
SELECT throws_ok($$UPDATE products SET stock = -1 WHERE name = 'T'$$, '23514', NULL,
                 'a negative stock violates a CHECK constraint');
SELECT throws_ok($$INSERT INTO orders (customer_id, status, total) VALUES (1, 'LOST', 1)$$,
                 '23514', NULL, 'an unknown order status is refused');
SELECT throws_ok($$INSERT INTO products (name, category, price, stock) VALUES ('', 'C', 1, 1)$$,
                 '23514', NULL, 'an empty product name is refused');
SELECT is((SELECT count(*)::int FROM relay_state), 1, 'relay_state holds exactly one row');

SELECT * FROM finish();
ROLLBACK;
