-- Read DB schema: the read tables and the projection and query functions.
BEGIN;
SELECT plan(12);

SELECT has_table('processed_events');
SELECT col_is_pk('processed_events', 'event_id');
SELECT has_table('products_read');
SELECT has_table('orders_read');
SELECT has_table('order_items_read');
SELECT has_column('orders_read', 'items');
SELECT has_function('apply_event', ARRAY['jsonb']);
SELECT has_function('apply_events', ARRAY['jsonb']);
SELECT has_function('q_product', ARRAY['bigint']);
SELECT has_function('q_products', ARRAY['integer', 'integer']);
SELECT has_function('q_order', ARRAY['bigint']);
SELECT col_type_is('orders_read', 'total', 'numeric(14,2)');

SELECT * FROM finish();
ROLLBACK;
