-- processed_events retention and crash-attempt counting (migrations/read/0013_retention_attempts.sql).
BEGIN;
SELECT plan(19);

SELECT has_table('event_attempts');
SELECT has_index('processed_events', 'processed_events_processed_at_idx', ARRAY['processed_at'],
                 'processed_events is indexed by processed_at (the purge walks it)');

-- attempts: a committed count per event, cleared when settled
SELECT is(event_attempt_record('00000000-0000-4000-8000-0000000000a1'), 1, 'first redelivery: attempt 1');
SELECT is(event_attempt_record('00000000-0000-4000-8000-0000000000a1'), 2, 'second: attempt 2');
SELECT is(event_attempt_record('00000000-0000-4000-8000-0000000000a2'), 1, 'per event');
SELECT event_attempt_clear('00000000-0000-4000-8000-0000000000a1');
SELECT is((SELECT count(*)::integer FROM event_attempts WHERE event_id = '00000000-0000-4000-8000-0000000000a1'),
          0, 'cleared once settled');
SELECT is(event_attempt_record('00000000-0000-4000-8000-0000000000a1'), 1, 'and counted afresh');
-- a redelivered event is counted unless the read model already applied it
SELECT is(event_redelivered('00000000-0000-4000-8000-0000000000a1'), 2, 'a redelivery not yet applied is counted');
INSERT INTO processed_events (event_id, event_type) VALUES ('00000000-0000-4000-8000-0000000000a3', 'E');
SELECT is(event_redelivered('00000000-0000-4000-8000-0000000000a3'), 0, 'one already applied: 0');
SELECT is((SELECT count(*)::integer FROM event_attempts WHERE event_id = '00000000-0000-4000-8000-0000000000a3'),
          0, 'and nothing counted for it');

-- retention: old rows go in batches, recent ones stay and still deduplicate
DELETE FROM processed_events;
INSERT INTO processed_events (event_id, event_type, processed_at)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'E', now() - interval '10 days' + i * interval '1 second'
FROM generate_series(1, 1200) AS i;
INSERT INTO processed_events (event_id, event_type, processed_at)
VALUES ('00000000-0000-4000-9000-000000000001', 'ProductCreated', now() - interval '1 hour');
UPDATE event_attempts SET last_at = now() - interval '10 days' WHERE event_id = '00000000-0000-4000-8000-0000000000a2';

SELECT is(processed_events_purge('7 days', 500), 500, 'a purge deletes at most p_limit rows');
SELECT is((SELECT min(processed_at) FROM processed_events),
          now() - interval '10 days' + 501 * interval '1 second', 'the oldest first');
SELECT is(processed_events_purge('7 days', 500) + processed_events_purge('7 days', 500), 700, 'the rest in later rounds');
SELECT is(processed_events_purge('7 days', 500), 0, 'then nothing is left to purge');
SELECT is((SELECT count(*)::integer FROM processed_events), 1, 'a row inside the retention stays');
SELECT is((SELECT count(*)::integer FROM event_attempts WHERE event_id = '00000000-0000-4000-8000-0000000000a2'),
          0, 'old attempt rows go with the same retention');
-- a redelivery inside the horizon is still deduplicated after a purge
SELECT is(apply_event('{"eventId":"00000000-0000-4000-a000-000000000001","eventType":"ProductCreated","occurredAt":"2026-01-01T10:00:00Z","aggregateType":"product","aggregateId":987001,"aggregateVersion":1,"productId":987001,"name":"Kept","category":"Retention","price":1,"stock":5,"lowStockThreshold":1}'::jsonb),
          'applied', 'an event is applied');
SELECT processed_events_purge('7 days', 500);
SELECT is(apply_event('{"eventId":"00000000-0000-4000-a000-000000000001","eventType":"ProductCreated","occurredAt":"2026-01-01T10:00:00Z","aggregateType":"product","aggregateId":987001,"aggregateVersion":1,"productId":987001,"name":"Kept","category":"Retention","price":1,"stock":5,"lowStockThreshold":1}'::jsonb),
          'duplicate', 'its redelivery after a purge, inside the retention, is a duplicate');
SELECT throws_ok($$SELECT processed_events_purge('-1 day', 10)$$, '22023', NULL, 'a negative retention is refused');

SELECT * FROM finish();
ROLLBACK;
