-- Read DB: the dashboard: its answer, the pipeline's state, the dead letters and what the consumer
-- records of the relay and the broker.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

-- Stores the relay's status message (its JSON body: {at, backlog, oldestAgeMs, leader,
-- unroutable, blocked}). An older message than the stored one (redelivered, or from a former
-- leader) changes nothing. Raises 22023 on a body without these fields (the consumer drops it).
CREATE OR REPLACE FUNCTION record_relay_status(p_status jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz;
BEGIN
    IF jsonb_typeof(p_status) IS DISTINCT FROM 'object'
       OR jsonb_typeof(p_status->'at') IS DISTINCT FROM 'string'
       OR jsonb_typeof(p_status->'backlog') IS DISTINCT FROM 'number'
       OR jsonb_typeof(p_status->'oldestAgeMs') IS DISTINCT FROM 'number'
       OR jsonb_typeof(p_status->'leader') IS DISTINCT FROM 'boolean'
       OR jsonb_typeof(p_status->'unroutable') IS DISTINCT FROM 'number'
       OR jsonb_typeof(p_status->'blocked') IS DISTINCT FROM 'boolean' THEN
        RAISE EXCEPTION 'invalid relay status: %', left(p_status::text, 200)
            USING ERRCODE = '22023';
    END IF;
    v_at := (p_status->>'at')::timestamptz;
    INSERT INTO relay_status AS s (at, received_at, backlog, oldest_age_ms, leader, unroutable,
                                   blocked)
    VALUES (v_at, now(), (p_status->>'backlog')::bigint, (p_status->>'oldestAgeMs')::bigint,
            (p_status->>'leader')::boolean, (p_status->>'unroutable')::bigint,
            (p_status->>'blocked')::boolean)
    ON CONFLICT (id) DO UPDATE
        SET at = EXCLUDED.at, received_at = EXCLUDED.received_at, backlog = EXCLUDED.backlog,
            oldest_age_ms = EXCLUDED.oldest_age_ms, leader = EXCLUDED.leader,
            unroutable = EXCLUDED.unroutable, blocked = EXCLUDED.blocked
        WHERE s.at <= EXCLUDED.at;
END $$;

-- Stores the consumer's reading of one queue.
CREATE OR REPLACE FUNCTION record_queue_status(p_role text, p_queue text, p_messages bigint,
                                    p_consumers bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO queue_status (role, queue, messages, consumers, at)
    VALUES (p_role, p_queue, p_messages, p_consumers, now())
    ON CONFLICT (role) DO UPDATE
        SET queue = EXCLUDED.queue, messages = EXCLUDED.messages,
            consumers = EXCLUDED.consumers, at = EXCLUDED.at
$$;

-- Records an event the consumer dead-lettered (again: a requeued event that dies again is 'dead'
-- once more, with its new reason).
CREATE OR REPLACE FUNCTION record_dead_letter(p_event_id text, p_event_type text, p_aggregate_type text,
                                   p_aggregate_id text, p_reason text, p_sqlstate text,
                                   p_attempts integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dead_letters (event_id, event_type, aggregate_type, aggregate_id, reason, sqlstate,
                              attempts, dead_at, status, status_at)
    VALUES (p_event_id, nullif(p_event_type, ''), nullif(p_aggregate_type, ''),
            nullif(p_aggregate_id, ''), p_reason, nullif(p_sqlstate, ''), p_attempts, now(),
            'dead', now())
    ON CONFLICT (event_id) DO UPDATE
        SET event_type = EXCLUDED.event_type, aggregate_type = EXCLUDED.aggregate_type,
            aggregate_id = EXCLUDED.aggregate_id, reason = EXCLUDED.reason,
            sqlstate = EXCLUDED.sqlstate, attempts = EXCLUDED.attempts,
            dead_at = EXCLUDED.dead_at, status = 'dead', status_at = EXCLUDED.status_at
$$;

-- Marks a dead letter requeued or dropped: the consumer stores the command API's notice
-- (deadletter.DeadLetterRequeued / DeadLetterDropped, api/command/deadletters.h), sent after the
-- broker confirmed the action at p_at. A dead letter that died again after p_at (a requeued event
-- that failed once more) keeps its newer state. Returns false when nothing changed.
CREATE OR REPLACE FUNCTION mark_dead_letter(p_event_id text, p_status text, p_at timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('requeued', 'dropped') THEN
        RAISE EXCEPTION 'invalid dead letter status: %', p_status USING ERRCODE = '22023';
    END IF;
    UPDATE dead_letters SET status = p_status, status_at = p_at
    WHERE event_id = p_event_id AND dead_at <= p_at;
    RETURN FOUND;
END $$;

-- {"items": [{eventId, eventType, aggregateType, aggregateId, reason, sqlstate, attempts, deadAt,
-- status, statusAt}], "total", "limit", "offset"}: newest first; by default the events still
-- dead (p_status NULL: every status).
CREATE OR REPLACE FUNCTION q_dead_letters(p_limit integer DEFAULT 50, p_offset integer DEFAULT 0,
                               p_status text DEFAULT 'dead')
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'items', coalesce((
            SELECT json_agg(json_build_object(
                       'eventId', event_id, 'eventType', event_type,
                       'aggregateType', aggregate_type, 'aggregateId', aggregate_id,
                       'reason', reason, 'sqlstate', sqlstate, 'attempts', attempts,
                       'deadAt', iso_utc(dead_at), 'status', status,
                       'statusAt', iso_utc(status_at))
                   ORDER BY dead_at DESC, event_id)
            FROM (SELECT * FROM dead_letters
                  WHERE p_status IS NULL OR status = p_status
                  ORDER BY dead_at DESC, event_id
                  LIMIT greatest(p_limit, 0) OFFSET greatest(p_offset, 0)) d), '[]'),
        'total', (SELECT count(*) FROM dead_letters WHERE p_status IS NULL OR status = p_status),
        'limit', p_limit, 'offset', p_offset)::text
$$;

-- Why the pipeline is stalled, or NULL. p: the pipeline figures (below); in order:
-- 1. the consumer stopped reporting the queues (stopped, stuck, or off the broker);
-- 2. events wait in the read-model queue and none was applied for p_stall_after_ms;
-- 3. the outbox holds events older than p_stall_after_ms and none was applied for as long;
-- 4. the relay stopped reporting while it last had a backlog.
CREATE OR REPLACE FUNCTION dash_stalled_reason(p jsonb, p_stall_after_ms bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN (p->>'consumerStatusAgeMs')::bigint > p_stall_after_ms THEN
            format('the consumer has not reported for %s s: stopped, stuck or off the broker',
                   round((p->>'consumerStatusAgeMs')::numeric / 1000, 1))
        WHEN (p->>'queueDepth')::bigint > 0
             AND coalesce((p->>'lastAppliedAgeMs')::bigint > p_stall_after_ms, true) THEN
            format('%s events wait in the read-model queue and none was applied for %s s',
                   p->>'queueDepth', round(coalesce((p->>'lastAppliedAgeMs')::numeric,
                                                    p_stall_after_ms) / 1000, 1))
        WHEN (p->>'outboxBacklog')::bigint > 0
             AND (p->>'outboxOldestAgeMs')::bigint > p_stall_after_ms
             AND coalesce((p->>'lastAppliedAgeMs')::bigint > p_stall_after_ms, true) THEN
            format('%s events wait in the outbox (oldest %s s) and none was applied for %s s%s',
                   p->>'outboxBacklog', round((p->>'outboxOldestAgeMs')::numeric / 1000, 1),
                   round(coalesce((p->>'lastAppliedAgeMs')::numeric, p_stall_after_ms) / 1000, 1),
                   CASE WHEN (p->>'relayBlocked')::boolean THEN ': the broker blocks the relay'
                        ELSE '' END)
        WHEN (p->>'relayStatusAgeMs')::bigint > p_stall_after_ms
             AND (p->>'outboxBacklog')::bigint > 0 THEN
            format('the relay has not reported for %s s while %s events waited in the outbox',
                   round((p->>'relayStatusAgeMs')::numeric / 1000, 1), p->>'outboxBacklog')
    END
$$;

-- The pipeline part of the dashboard: figures per stage and the verdict.
CREATE OR REPLACE FUNCTION q_dashboard_pipeline(p_stall_after_ms bigint) RETURNS SETOF jsonb
LANGUAGE sql STABLE AS $$
    WITH f AS (
        SELECT jsonb_build_object(
            'eventsPerSecond', round(r.n / 10.0, 1),
            'eventsLast10s', r.n,
            'projectionLagMs',
                round(extract(epoch FROM l.processed_at - l.occurred_at) * 1000)::bigint,
            'lastEventAt', iso_utc(l.processed_at),
            'lastAppliedAgeMs', ms_between(l.processed_at, now()),
            'outboxBacklog', rs.backlog,
            'outboxOldestAgeMs', rs.oldest_age_ms,
            'relayStatusAgeMs', ms_between(rs.received_at, now()),
            'relayLeader', rs.leader,
            'relayBlocked', rs.blocked,
            'relayUnroutable', rs.unroutable,
            'queueDepth', (SELECT messages FROM queue_status WHERE role = 'readModel'),
            'consumers', (SELECT consumers FROM queue_status WHERE role = 'readModel'),
            'consumerStatusAgeMs', (SELECT ms_between(max(at), now()) FROM queue_status),
            'queues', coalesce((
                SELECT jsonb_object_agg(role, jsonb_build_object(
                    'queue', queue, 'messages', messages, 'consumers', consumers,
                    'ageMs', ms_between(at, now())))
                FROM queue_status), '{}'::jsonb)) AS p
        FROM (SELECT count(*) AS n FROM processed_events
              WHERE processed_at > now() - interval '10 seconds') r
        LEFT JOIN LATERAL (SELECT processed_at, occurred_at FROM processed_events
                           ORDER BY processed_at DESC LIMIT 1) l ON true
        LEFT JOIN relay_status rs ON true)
    SELECT f.p || jsonb_build_object(
        'stages', jsonb_build_object(
            'outbox', jsonb_build_object('backlog', f.p->'outboxBacklog',
                                         'lagMs', f.p->'outboxOldestAgeMs'),
            'broker', jsonb_build_object('depth', f.p->'queueDepth',
                                         'consumers', f.p->'consumers'),
            'readModel', jsonb_build_object('lagMs', f.p->'projectionLagMs',
                                            'lastAppliedAgeMs', f.p->'lastAppliedAgeMs')),
        'stallAfterMs', p_stall_after_ms,
        'stalled', dash_stalled_reason(f.p, p_stall_after_ms) IS NOT NULL,
        'stalledReason', dash_stalled_reason(f.p, p_stall_after_ms))
    FROM f
$$;

-- The dashboard document (0007_dashboard.sql) with the pipeline of q_dashboard_pipeline.
CREATE OR REPLACE FUNCTION q_dashboard(p_stall_after_ms bigint DEFAULT 5000) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'at', iso_utc(now()),
        'today', (
            SELECT json_build_object('day', to_char(t.day, 'YYYY-MM-DD'),
                                     'orders', coalesce(s.orders, 0),
                                     'revenue', coalesce(trim_scale(s.revenue), 0))
            FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day) t
            LEFT JOIN sales_daily s ON s.day = t.day),
        'totals', (
            SELECT json_build_object('orders', coalesce(max(total_orders), 0),
                                     'revenue', coalesce(trim_scale(max(revenue)), 0))
            FROM order_totals_all),
        'byStatus', (
            SELECT json_object_agg(u.status, coalesce(c.n, 0) ORDER BY u.ord)
            FROM unnest(ARRAY['CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'])
                 WITH ORDINALITY AS u(status, ord)
            LEFT JOIN order_status_counts_all c ON c.status = u.status),
        'topProducts', coalesce((
            SELECT json_agg(json_build_object('productId', product_id, 'name', name,
                                              'unitsSold', units, 'revenue', trim_scale(revenue))
                            ORDER BY rank)
            FROM mv_top_products WHERE rank <= 5), '[]'),
        'lowStock', json_build_object(
            'count', (SELECT count(*) FROM products_read WHERE stock < low_stock_threshold),
            'products', coalesce((
                SELECT json_agg(json_build_object('productId', product_id, 'name', name,
                                                  'available', stock,
                                                  'threshold', low_stock_threshold)
                                ORDER BY stock, product_id)
                FROM (SELECT product_id, name, stock, low_stock_threshold FROM products_read
                      WHERE stock < low_stock_threshold
                      ORDER BY stock, product_id LIMIT 8) p), '[]')),
        'pipeline', (SELECT p FROM q_dashboard_pipeline(p_stall_after_ms) p),
        'deadLetters', (SELECT count(*) FROM dead_letters WHERE status = 'dead'))::text
$$;
