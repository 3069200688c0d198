-- cmd_record_mood: the mood row and its MoodRecorded event, atomically; only "good" or "bad".
BEGIN;
-- start from empty tables (rolled back at the end) so the test holds on any database
TRUNCATE moods, outbox;
SELECT plan(22);

SELECT has_table('moods');
SELECT has_function('cmd_record_mood', ARRAY['jsonb']);
SELECT has_function('iso_utc_ms', ARRAY['timestamp with time zone']);
SELECT is(iso_utc_ms('2026-02-16 17:15:00.123456+01'), '2026-02-16T16:15:00.123Z',
          'iso_utc_ms gives UTC with milliseconds and Z');

CREATE TEMP TABLE r AS SELECT cmd_record_mood('{"type":"good"}') AS j;
SELECT is((SELECT j->>'message' FROM r), 'Mood recorded.', 'the response carries the message');
SELECT is((SELECT (j->>'id')::bigint FROM r), (SELECT id FROM moods WHERE type = 'good'),
          'the response carries the new mood id');
SELECT is((SELECT jsonb_array_length(j->'eventIds') FROM r), 1, 'one event id is returned');
SELECT is((SELECT count(*)::int FROM moods), 1, 'one mood row is written');

SELECT is((o.event_type, o.aggregate_type, o.aggregate_id, o.aggregate_version),
          ('MoodRecorded'::text, 'mood'::text, (r.j->>'id')::bigint, 1),
          'the outbox row is MoodRecorded of aggregate mood (routing key mood.MoodRecorded)')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(o.payload->>'type', 'good', 'the event carries the type')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT matches(o.payload->>'timestamp', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$',
               'the event timestamp is UTC with milliseconds and Z')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;
SELECT is(o.payload->>'timestamp', iso_utc_ms(m.recorded_at),
          'the event timestamp is the mood''s recorded_at')
FROM outbox o, r, moods m WHERE o.event_id = (r.j->'eventIds'->>0)::uuid AND m.id = (r.j->>'id')::bigint;
SELECT is(ARRAY(SELECT jsonb_object_keys(o.payload) ORDER BY 1),
          ARRAY['aggregateId', 'aggregateType', 'aggregateVersion', 'eventId', 'eventType',
                'eventVersion', 'occurredAt', 'timestamp', 'type'],
          'the event is the envelope plus type and timestamp, nothing else')
FROM outbox o, r WHERE o.event_id = (r.j->'eventIds'->>0)::uuid;

SELECT is((cmd_record_mood('{"type":"bad"}')->>'message'), 'Mood recorded.', 'a bad mood is recorded');
SELECT is((SELECT count(*)::int FROM outbox WHERE event_type = 'MoodRecorded' AND payload->>'type' = 'bad'),
          1, 'the bad mood has its event');

-- refusals write nothing
SELECT throws_ok($$SELECT cmd_record_mood('{"type":"meh"}')$$, 'CQ400',
                 'type: must be "good" or "bad"', 'an unknown type is refused');
SELECT throws_ok($$SELECT cmd_record_mood('{"type":1}')$$, 'CQ400', NULL, 'a number is refused');
SELECT throws_ok($$SELECT cmd_record_mood('{}')$$, 'CQ400', NULL, 'a missing type is refused');
SELECT throws_ok($$SELECT cmd_record_mood('{"type":null}')$$, 'CQ400', NULL, 'a null type is refused');
SELECT throws_ok($$SELECT cmd_record_mood('{"type":"good","extra":1}')$$, 'CQ400',
                 'extra: is not an allowed field', 'an unknown field is refused');
SELECT throws_ok($$INSERT INTO moods (type) VALUES ('GOOD')$$, '23514', NULL,
                 'the table refuses any other type too');
SELECT is((SELECT count(*)::int FROM moods) || '/' || (SELECT count(*)::int FROM outbox), '2/2',
          'refused moods wrote nothing');

SELECT * FROM finish();
ROLLBACK;
