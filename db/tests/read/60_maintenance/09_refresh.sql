-- Refresh bookkeeping (migrations/read/0009_refresh_generations.sql): batches count their touches,
-- a refresh records the count it saw before its snapshot, and a view is due while touches are
-- ahead of that count and its last refresh is old enough.
BEGIN;
SELECT plan(19);

-- a known start: every view clean, last refreshed long ago
DELETE FROM mv_touches;
UPDATE mv_refresh_state SET refreshed = 0, refreshed_at = now() - interval '1 hour';
SET LOCAL cqrs.shard = 0;

SELECT is((SELECT count(*)::integer FROM mv_state WHERE dirty), 0, 'no view is dirty at first');
SELECT is(refresh_next_view(0), NULL, 'so none is due');

SELECT mv_touch(ARRAY['mv_order_stats', 'mv_sales_daily']);
SELECT mv_touch(ARRAY['mv_order_stats']);
SELECT is((SELECT array_agg(view_name || '=' || touched ORDER BY view_name) FROM mv_state WHERE dirty),
          ARRAY['mv_order_stats=2', 'mv_sales_daily=1'], 'mv_touch counts each touch per view');

SELECT is(refresh_next_view(60000), 'mv_order_stats', 'a dirty view refreshed an hour ago is due');
SELECT is((SELECT (refreshed, dirty, refresh_count) FROM mv_state WHERE view_name = 'mv_order_stats'),
          (2::bigint, false, 1::bigint), 'its refresh records the touches it saw');
SELECT is(refresh_next_view(60000), 'mv_sales_daily', 'the next call takes the next due view');
SELECT is(refresh_next_view(60000), NULL, 'then none is due');

SELECT mv_touch(ARRAY['mv_order_stats']);
SELECT is(refresh_next_view(60000), NULL, 'a view touched again waits out the interval');
SELECT ok((SELECT dirty FROM mv_state WHERE view_name = 'mv_order_stats'), 'but stays dirty');
SELECT is(refresh_next_view(0), 'mv_order_stats', 'and is refreshed once the interval allows');

-- a batch its snapshot missed leaves the count ahead: the view stays due
UPDATE mv_refresh_state SET refreshed = (SELECT touched FROM mv_state s
                                         WHERE s.view_name = mv_refresh_state.view_name) - 1,
                            refreshed_at = now() - interval '1 hour'
WHERE view_name = 'mv_categories';
SELECT mv_touch(ARRAY['mv_categories']);
SELECT ok((SELECT dirty FROM mv_state WHERE view_name = 'mv_categories'), 'touches ahead of the refresh: dirty');
SELECT is(refresh_due_views(0), ARRAY['mv_categories'], 'refresh_due_views refreshes each due view once');

-- the refreshed view holds the summary, summed over the shards
UPDATE order_totals SET total_orders = total_orders + 5 WHERE shard = 0;
INSERT INTO order_totals (shard, total_orders) VALUES (7, 3)
ON CONFLICT (shard) DO UPDATE SET total_orders = order_totals.total_orders + 3;
SELECT mv_touch(ARRAY['mv_order_stats']);
SELECT is(refresh_next_view(0), 'mv_order_stats', 'refreshed after a change');
SELECT is((SELECT total_orders FROM mv_order_stats), (SELECT sum(total_orders)::bigint FROM order_totals),
          'and holds the summary''s figures, every shard''s');

-- touches from several shards (migrations/read/0022): each session counts in its own row, and the
-- view's count is their sum, so a refresh that saw some shards' touches leaves it due when
-- another shard touched it since
SET LOCAL cqrs.shard = 2;
SELECT mv_touch(ARRAY['mv_top_products']);
SET LOCAL cqrs.shard = 5;
SELECT mv_touch(ARRAY['mv_top_products']);
SELECT is((SELECT array_agg(shard || '=' || touched ORDER BY shard) FROM mv_touches
           WHERE view_name = 'mv_top_products' AND touched > 0),
          ARRAY['2=1', '5=1'], 'each shard counts its touches in its own row');
SELECT is((SELECT (touched, dirty) FROM mv_state WHERE view_name = 'mv_top_products'),
          (2::bigint, true), 'and mv_state sums them');
SELECT is(refresh_next_view(0), 'mv_top_products', 'the view is due');
SET LOCAL cqrs.shard = 2;
SELECT mv_touch(ARRAY['mv_top_products']);
SELECT is((SELECT (touched, refreshed, dirty) FROM mv_state WHERE view_name = 'mv_top_products'),
          (3::bigint, 2::bigint, true), 'a touch after the refresh, in another shard, leaves it due');
SELECT is(refresh_next_view(0), 'mv_top_products', 'and it is refreshed again');
SELECT * FROM finish();
ROLLBACK;
