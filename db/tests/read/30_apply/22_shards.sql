-- Shards (migrations/read/0022): the same events applied by sessions of different shards
-- (SET cqrs.shard, as consumer_claim_partitions sets it), a lifecycle's steps spread over the
-- shards, give every query and dashboard answer exactly as all of them in shard 0 do; and
-- proj_lock_shared creates no row the projections alone would not have made.
BEGIN;
\ir ../fixtures.psql
SELECT plan(8);

-- the story: two products, five orders of two customers through their lifecycles, moods
INSERT INTO story SELECT * FROM pg_temp.story_products(1200);
INSERT INTO story SELECT * FROM pg_temp.order_story(10, 1, 7,
    '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":1200},
      {"productId":2,"productName":"Pen","category":"Office","quantity":3,"price":2.5}]',
    '{"status":"PAID","paymentId":1,"method":"card"}', '{"status":"SHIPPED"}', '{"status":"COMPLETED"}');
INSERT INTO story SELECT * FROM pg_temp.order_story(20, 2, 8,
    '[{"productId":2,"productName":"Pen","category":"Office","quantity":10,"price":2.5}]',
    '{"status":"PAID","paymentId":2,"method":"card"}', '{"status":"CANCELLED","reason":"changed mind"}');
INSERT INTO story SELECT * FROM pg_temp.order_story(30, 3, 7,
    '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":2,"price":1200}]',
    '{"status":"CANCELLED","reason":"too dear"}');
INSERT INTO story SELECT * FROM pg_temp.order_story(40, 4, 8,
    '[{"productId":2,"productName":"Pen","category":"Office","quantity":1,"price":2.5}]',
    '{"status":"PAID","paymentId":4,"method":"cash"}');
INSERT INTO story SELECT * FROM pg_temp.order_story(50, 5, 7,
    '[{"productId":1,"productName":"Laptop","category":"Electronics","quantity":1,"price":1200}]');
INSERT INTO story SELECT 'm' || i, pg_temp.march(60 + i, 'MoodRecorded', 'mood', i, 1,
                                                 jsonb_build_object('type', CASE WHEN i % 3 = 0 THEN 'bad' ELSE 'good' END))
FROM generate_series(1, 5) AS i;

-- every answer the query API and the dashboard give from the summaries
CREATE FUNCTION pg_temp.answers() RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_due_views(0);
    RETURN jsonb_build_object(
        'analytics', (SELECT q::jsonb - 'asOf' FROM q_analytics_orders() AS q),
        'daily', (SELECT q::jsonb FROM q_sales_daily('2026-03-01', '2026-03-31') AS q),
        'top', (SELECT q::jsonb FROM q_top_products(10) AS q),
        'categories', (SELECT q::jsonb FROM q_categories() AS q),
        'moods', (SELECT q::jsonb FROM q_mood_stats() AS q),
        'customers', (SELECT jsonb_agg(q::jsonb ORDER BY c) FROM unnest(ARRAY[7, 8]) AS c,
                      q_customer_summary(c) AS q),
        'inventory', (SELECT q::jsonb FROM q_inventory(false) AS q),
        'dashboard', (SELECT (q::jsonb - 'at' - 'pipeline') FROM q_dashboard() AS q),
        'tables', pg_temp.snapshot() - 'processed');
END $$;

CREATE FUNCTION pg_temp.reset() RETURNS void LANGUAGE sql AS $$
    SELECT pg_temp.empty_read_model();
    DELETE FROM mood_counts WHERE shard <> 0;
    UPDATE mood_counts SET happy = 0, sad = 0;
$$;

-- the events in time order, in batches of 3
CREATE TEMP TABLE batches AS
SELECT (row_number() OVER (ORDER BY e->>'occurredAt', e->>'eventId') - 1) / 3 AS b, e FROM story;

-- all in shard 0, batch by batch
SELECT pg_temp.reset();
SET LOCAL cqrs.shard = 0;
SELECT count(apply_events(es)) FROM (SELECT b, jsonb_agg(e) AS es FROM batches GROUP BY b ORDER BY b) x;
CREATE TEMP TABLE one AS SELECT pg_temp.answers() AS a;
SELECT is((SELECT count(DISTINCT shard)::int FROM order_status_counts), 1, 'shard 0 alone counts the statuses');

-- the same batches, alternately in shards 1 and 2 (an order's steps land in both)
SELECT pg_temp.reset();
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT b, jsonb_agg(e) AS es FROM batches GROUP BY b ORDER BY b LOOP
        PERFORM set_config('cqrs.shard', (1 + r.b % 2)::text, true);
        PERFORM apply_events(r.es);
    END LOOP;
END $$;
CREATE TEMP TABLE split AS SELECT pg_temp.answers() AS a;

SELECT is((SELECT array_agg(DISTINCT shard ORDER BY shard) FROM order_status_counts WHERE n <> 0),
          ARRAY[1, 2], 'the statuses are counted in shards 1 and 2');
SELECT is((SELECT array_agg(status || '=' || n ORDER BY status) FROM order_status_counts WHERE shard = 2
           AND status IN ('COMPLETED', 'SHIPPED', 'PAID')),
          ARRAY['COMPLETED=1', 'PAID=0', 'SHIPPED=0'],
          'order 1, created in shard 1, moved through its steps in shard 2: counted where they applied');
SELECT is((SELECT array_agg(DISTINCT shard ORDER BY shard) FROM mood_counts WHERE happy + sad > 0),
          ARRAY[1, 2], 'moods are counted in both shards');
SELECT is((SELECT array_agg(DISTINCT shard ORDER BY shard) FROM mv_touches WHERE shard > 0 AND touched > 0),
          ARRAY[1, 2], 'touches are counted in both shards');
SELECT is((SELECT a - 'tables' FROM split), (SELECT a - 'tables' FROM one),
          'every query and dashboard answer equals the one with every event in shard 0');
SELECT is((SELECT a->'tables' FROM split), (SELECT a->'tables' FROM one),
          'and so does every summary table (summed over the shards)');
SELECT ok((SELECT (a->'analytics'->>'totalOrders')::int = 5 AND (a->'moods'->>'happy')::int = 4 FROM one),
          'the answers compared are not empty');

SELECT * FROM finish();
ROLLBACK;
