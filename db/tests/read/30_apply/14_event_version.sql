-- eventVersion on the read side: a known version applies, an event without one is version 1,
-- a newer or malformed version is refused (CQ422) and changes nothing, one at a time or in a batch.
BEGIN;
SELECT plan(8);

SELECT is(proj_known_event_version('OrderPaid'), 1, 'OrderPaid is read up to version 1');
SELECT is(proj_known_event_version('NoSuchEvent'), NULL, 'an unknown type has no version');

SELECT is(apply_event(jsonb_build_object('eventId', gen_random_uuid(), 'eventType', 'MoodRecorded',
          'eventVersion', 1, 'occurredAt', now(), 'aggregateType', 'mood', 'aggregateId', 900001,
          'aggregateVersion', 1, 'type', 'good', 'timestamp', now())), 'applied',
          'a version 1 event applies');
SELECT is(apply_event(jsonb_build_object('eventId', gen_random_uuid(), 'eventType', 'MoodRecorded',
          'occurredAt', now(), 'aggregateType', 'mood', 'aggregateId', 900002,
          'aggregateVersion', 1, 'type', 'good', 'timestamp', now())), 'applied',
          'an event without eventVersion is version 1');

CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM processed_events) AS n;
SELECT throws_ok($$SELECT apply_event(jsonb_build_object('eventId', gen_random_uuid(),
          'eventType', 'MoodRecorded', 'eventVersion', 2, 'occurredAt', now(),
          'aggregateType', 'mood', 'aggregateId', 900003, 'aggregateVersion', 1, 'type', 'good',
          'timestamp', now()))$$, 'CQ422', NULL, 'a newer eventVersion is refused');
SELECT throws_ok($$SELECT apply_events(jsonb_build_array(
          jsonb_build_object('eventId', gen_random_uuid(), 'eventType', 'MoodRecorded',
              'eventVersion', 1, 'occurredAt', now(), 'aggregateType', 'mood',
              'aggregateId', 900004, 'aggregateVersion', 1, 'type', 'bad', 'timestamp', now()),
          jsonb_build_object('eventId', gen_random_uuid(), 'eventType', 'MoodRecorded',
              'eventVersion', 7, 'occurredAt', now(), 'aggregateType', 'mood',
              'aggregateId', 900005, 'aggregateVersion', 1, 'type', 'bad', 'timestamp', now())))$$,
          'CQ422', NULL, 'a batch holding a newer eventVersion is refused whole');
SELECT throws_ok($$SELECT apply_event(jsonb_build_object('eventId', gen_random_uuid(),
          'eventType', 'MoodRecorded', 'eventVersion', 'one', 'occurredAt', now(),
          'aggregateType', 'mood', 'aggregateId', 900006, 'aggregateVersion', 1, 'type', 'good',
          'timestamp', now()))$$, 'CQ422', NULL, 'a malformed eventVersion is refused');
SELECT is((SELECT count(*) FROM processed_events), (SELECT n FROM before),
          'refused events left no trace');

SELECT * FROM finish();
ROLLBACK;
