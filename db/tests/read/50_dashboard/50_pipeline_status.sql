-- 0015_pipeline_status.sql: the relay's status messages (record_relay_status), the consumer's
-- queue readings (record_queue_status), the dead letters (record_dead_letter, mark_dead_letter,
-- q_dead_letters) and the stalled verdict of q_dashboard (q_dashboard_pipeline,
-- dash_stalled_reason, ms_between).
BEGIN;
TRUNCATE relay_status, queue_status, dead_letters, processed_events;
SELECT plan(34);

SELECT has_function('record_relay_status', ARRAY['jsonb'], 'record_relay_status(jsonb) exists');
SELECT has_function('record_queue_status', ARRAY['text', 'text', 'bigint', 'bigint'], 'record_queue_status exists');
SELECT has_function('record_dead_letter', ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'integer'], 'record_dead_letter exists');
SELECT has_function('q_dead_letters', ARRAY['integer', 'integer', 'text'], 'q_dead_letters exists');

-- relay status: stored, newer wins, older ignored, malformed refused
CREATE FUNCTION pg_temp.rs(p_at timestamptz, p_backlog int, p_age int, p_blocked boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('at', iso_utc(p_at), 'backlog', p_backlog, 'oldestAgeMs', p_age,
                              'leader', true, 'unroutable', 3, 'blocked', p_blocked)
$$;
SELECT record_relay_status(pg_temp.rs(now() - interval '1 s', 7, 100));
SELECT is((SELECT backlog FROM relay_status), 7::bigint, 'a relay status is stored');
SELECT record_relay_status(pg_temp.rs(now() - interval '2 s', 99, 100));
SELECT is((SELECT backlog FROM relay_status), 7::bigint, 'an older relay status changes nothing');
SELECT record_relay_status(pg_temp.rs(now(), 0, 0));
SELECT is((SELECT backlog FROM relay_status), 0::bigint, 'a newer relay status replaces it');
SELECT is((SELECT count(*) FROM relay_status), 1::bigint, 'one row');
SELECT throws_ok($$SELECT record_relay_status('{"at": "2026-01-01T00:00:00Z"}')$$, '22023', NULL,
                 'a status without its fields is refused');
SELECT throws_ok($$SELECT record_relay_status('[1]')$$, '22023', NULL, 'a status that is not an object is refused');

-- queue status
SELECT record_queue_status('readModel', 'read_model', 0, 1);
SELECT record_queue_status('retry', 'read_model.retry', 2, 0);
SELECT record_queue_status('dead', 'read_model.dead', 1, 0);
SELECT record_queue_status('mood', 'mood_events', 0, 0);
SELECT record_queue_status('readModel', 'read_model', 4, 2);
SELECT is((SELECT messages || '/' || consumers FROM queue_status WHERE role = 'readModel'), '4/2',
          'a queue reading replaces the previous one');
SELECT throws_ok($$SELECT record_queue_status('other', 'x', 0, 0)$$, '23514', NULL, 'unknown queue roles are refused');

-- the verdict
CREATE FUNCTION pg_temp.pl(p_ms bigint) RETURNS jsonb LANGUAGE sql AS $$
    SELECT p FROM q_dashboard_pipeline(p_ms) p
$$;
CREATE TEMP TABLE v AS SELECT 'fresh'::text AS step, pg_temp.pl(5000) AS p;
SELECT is((SELECT p->'queues'->'retry'->'messages' FROM v WHERE step = 'fresh'), '2'::jsonb, 'queue depths by role');
SELECT is((SELECT p->'consumers' FROM v WHERE step = 'fresh'), '2'::jsonb, 'consumers of the read-model queue');
SELECT is((SELECT p->'stages'->'broker' FROM v WHERE step = 'fresh'), '{"depth": 4, "consumers": 2}'::jsonb, 'broker stage');
SELECT is((SELECT p->'relayUnroutable' FROM v WHERE step = 'fresh'), '3'::jsonb, 'the relay''s unroutable count');
SELECT ok((SELECT (p->'stalled')::boolean FROM v WHERE step = 'fresh'),
          'events wait in the queue and none was ever applied: stalled');
SELECT matches((SELECT p->>'stalledReason' FROM v WHERE step = 'fresh'), '^4 events wait in the read-model queue',
               'the reason names the queue');

INSERT INTO processed_events (event_id, event_type, occurred_at, processed_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'ProductCreated', now() - interval '1 s', now());
SELECT ok(NOT (pg_temp.pl(5000)->>'stalled')::boolean, 'an event applied just now: not stalled');
UPDATE processed_events SET processed_at = now() - interval '6 s';
SELECT ok((pg_temp.pl(5000)->>'stalled')::boolean, 'nothing applied for 6 s while the queue holds events: stalled');
SELECT ok(NOT (pg_temp.pl(10000)->>'stalled')::boolean, 'the threshold is the parameter');

-- outbox backlog
UPDATE queue_status SET messages = 0 WHERE role = 'readModel';
SELECT ok(NOT (pg_temp.pl(5000)->>'stalled')::boolean, 'an empty queue and outbox: a quiet period, not stalled');
SELECT record_relay_status(pg_temp.rs(now() + interval '1 ms', 12, 8000, true));
SELECT matches(pg_temp.pl(5000)->>'stalledReason',
               '^12 events wait in the outbox \(oldest 8\.0 s\).*the broker blocks the relay$',
               'an old outbox backlog without applied events: stalled, says the relay is blocked');
SELECT record_relay_status(pg_temp.rs(now() + interval '2 ms', 12, 800));
SELECT ok(NOT (pg_temp.pl(5000)->>'stalled')::boolean, 'a young backlog is not a stall');

-- silence
UPDATE relay_status SET received_at = now() - interval '7 s';
SELECT matches(pg_temp.pl(5000)->>'stalledReason', '^the relay has not reported for 7\.0 s',
               'the relay went silent with a backlog: stalled');
UPDATE queue_status SET at = now() - interval '9 s';
SELECT matches(pg_temp.pl(5000)->>'stalledReason', '^the consumer has not reported for 9\.0 s',
               'the consumer went silent: stalled, and that reason comes first');

-- dead letters
SELECT record_dead_letter('e1', 'OrderCreated', 'order', '5', 'bad total', '22023', 5);
SELECT record_dead_letter('e2', '', '', '', 'not an event envelope', '', 1);
UPDATE dead_letters SET dead_at = now() - interval '1 minute' WHERE event_id = 'e1';
SELECT is((SELECT jsonb_path_query_array(q::jsonb, '$.items[*].eventId') FROM q_dead_letters() q), '["e2", "e1"]'::jsonb,
          'dead letters, newest first');
SELECT is((SELECT q::jsonb - 'items' FROM q_dead_letters(1, 1) q), '{"total": 2, "limit": 1, "offset": 1}'::jsonb,
          'paginated, with the total');
SELECT is((SELECT q::jsonb->'items'->0->'eventType' FROM q_dead_letters() q), 'null'::jsonb, 'unknown fields are null');
SELECT ok(mark_dead_letter('e1', 'requeued', now()) AND NOT mark_dead_letter('nope', 'dropped', now()),
          'mark_dead_letter says whether the dead letter exists');
SELECT ok(NOT mark_dead_letter('e2', 'dropped', now() - interval '1 hour'),
          'a notice older than the death changes nothing (the event died again since)');
SELECT throws_ok($$SELECT mark_dead_letter('e2', 'dead', now())$$, '22023', NULL, 'only requeued or dropped');
SELECT is((SELECT jsonb_path_query_array(q::jsonb, '$.items[*].eventId') FROM q_dead_letters() q), '["e2"]'::jsonb,
          'a requeued event leaves the list of dead ones');
SELECT record_dead_letter('e1', 'OrderCreated', 'order', '5', 'still bad', '22023', 5);
SELECT is((SELECT q::jsonb->'deadLetters' FROM q_dashboard() q), '2'::jsonb, 'dying again puts it back; the dashboard counts them');

SELECT * FROM finish();
ROLLBACK;
