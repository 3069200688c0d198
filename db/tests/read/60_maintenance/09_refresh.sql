-- Refresh bookkeeping (migrations/read/0009_refresh_generations.sql): batches count their touches,
-- a refresh records the count it saw before its snapshot, and a view is due while touches are
-- ahead of that count and its last refresh is old enough.
BEGIN;
SELECT plan(14);

-- a known start: every view clean, last refreshed long ago
UPDATE mv_state SET touched = 0, refreshed = 0, refreshed_at = now() - interval '1 hour';

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
UPDATE mv_state SET refreshed = touched - 1, refreshed_at = now() - interval '1 hour'
WHERE view_name = 'mv_categories';
UPDATE mv_state SET touched = touched + 1 WHERE view_name = 'mv_categories';
SELECT ok((SELECT dirty FROM mv_state WHERE view_name = 'mv_categories'), 'touches ahead of the refresh: dirty');
SELECT is(refresh_due_views(0), ARRAY['mv_categories'], 'refresh_due_views refreshes each due view once');

-- the refreshed view holds the summary
UPDATE order_totals SET total_orders = total_orders + 5;
SELECT mv_touch(ARRAY['mv_order_stats']);
SELECT is(refresh_next_view(0), 'mv_order_stats', 'refreshed after a change');
SELECT is((SELECT total_orders FROM mv_order_stats), (SELECT total_orders FROM order_totals),
          'and holds the summary''s figures');
SELECT * FROM finish();
ROLLBACK;
