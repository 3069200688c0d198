-- Write DB, version 7: the outbox purge walks the rows by age.
--
-- outbox_purge (0005) picked its victims with ORDER BY id: with nothing old enough to delete, the
-- planner walked the primary key through every published row, filtering on published_at, and each
-- purge pass (every RELAY_PURGE_INTERVAL_MS) cost O(outbox) and held the relay that long: the
-- benchmark saw every event committed during a pass wait 100-250 ms. Ordered by published_at, the
-- scan is a range scan of outbox_published_idx: it reads only the rows it deletes, and finds
-- nothing to do in microseconds.
CREATE OR REPLACE FUNCTION outbox_purge(p_retention interval, p_limit integer) RETURNS integer
LANGUAGE sql AS $$
    WITH doomed AS (
        SELECT id FROM outbox
        WHERE published_at IS NOT NULL AND published_at < now() - p_retention
        ORDER BY published_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM outbox o USING doomed d WHERE o.id = d.id RETURNING 1
    )
    SELECT count(*)::integer FROM gone
$$;

-- CREATE OR REPLACE reset SECURITY DEFINER and the search_path: grant_service_roles sets them again.
SELECT grant_service_roles();
