-- proj_mood_recorded (through apply_event) and q_mood_stats: counters of good and bad moods,
-- each event counted once.
BEGIN;
TRUNCATE mood_counts, processed_events;
SELECT plan(14);

SELECT has_table('mood_counts');
SELECT has_function('proj_mood_recorded', ARRAY['jsonb']);
SELECT has_function('q_mood_stats', ARRAY[]::text[]);

SELECT is((SELECT q_mood_stats())::jsonb, '{"happy": 0, "sad": 0, "score": 0}',
          'no moods yet: all figures are 0 (also with no counter row)');

CREATE TEMP TABLE ev (name text PRIMARY KEY, e jsonb);
INSERT INTO ev
SELECT 'm' || n, jsonb_build_object(
    'eventId', format('00000000-0000-0000-0000-0000000000%s', lpad(n::text, 2, '0')),
    'eventType', 'MoodRecorded', 'occurredAt', '2026-02-16T16:15:00.000001Z',
    'aggregateType', 'mood', 'aggregateId', n, 'aggregateVersion', 1,
    'type', t, 'timestamp', '2026-02-16T16:15:00.000Z')
FROM (VALUES (1, 'good'), (2, 'good'), (3, 'bad'), (4, 'bad'), (5, 'bad'), (6, 'shrug')) AS v(n, t);

SELECT is(apply_event(e), 'applied', 'a good mood is applied') FROM ev WHERE name = 'm1';
SELECT is((SELECT q_mood_stats())::jsonb, '{"happy": 1, "sad": 0, "score": 1}', 'good counts as happy');
SELECT is(apply_event(e), 'applied', 'a bad mood is applied') FROM ev WHERE name = 'm3';
SELECT is((SELECT q_mood_stats())::jsonb, '{"happy": 1, "sad": 1, "score": 0}', 'bad counts as sad');

SELECT is(apply_event(e), 'duplicate', 'a redelivered mood is a duplicate') FROM ev WHERE name = 'm1';
SELECT is((SELECT q_mood_stats())::jsonb, '{"happy": 1, "sad": 1, "score": 0}', 'a duplicate counts nothing');

SELECT is(apply_events(jsonb_agg(e ORDER BY name)), '{"applied": 3, "duplicates": 1}'::jsonb,
          'a batch of moods is applied')
FROM ev WHERE name IN ('m1', 'm2', 'm4', 'm5');
SELECT is((SELECT q_mood_stats())::jsonb, '{"happy": 2, "sad": 3, "score": -1}',
          'score is happy minus sad, and may be negative');

SELECT throws_ok($$SELECT apply_event(e) FROM ev WHERE name = 'm6'$$, 'CQ422', NULL,
                 'a mood of another type is rejected');
SELECT is((SELECT count(*)::int FROM processed_events WHERE event_id =
               '00000000-0000-0000-0000-000000000006'), 0,
          'the rejected event is not recorded as processed');

SELECT * FROM finish();
ROLLBACK;
