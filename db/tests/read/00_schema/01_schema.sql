-- Read DB schema: the read tables and the projection and query functions.
BEGIN;
SELECT plan(23);

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
-- partitioned consumers (0022): the leases, the shard keys, the sums
SELECT has_table('consumer_members');
SELECT has_table('consumer_partitions');
SELECT col_is_pk('order_totals', 'shard');
SELECT col_is_pk('order_status_counts', ARRAY['shard', 'status']);
SELECT col_is_pk('mood_counts', 'shard');
SELECT col_is_pk('mv_touches', ARRAY['view_name', 'shard']);
SELECT has_view('mv_state');
SELECT has_view('order_totals_all');
SELECT has_view('order_status_counts_all');
SELECT has_view('mood_counts_all');
SELECT function_returns('consumer_claim_partitions', ARRAY['text', 'integer', 'integer'], 'integer[]',
                        'consumer_claim_partitions(text, integer, integer) returns integer[] (the consumer calls it so)');

SELECT * FROM finish();
ROLLBACK;
