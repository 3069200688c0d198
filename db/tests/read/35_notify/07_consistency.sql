-- Read-your-writes: q_events_applied() says whether every id of a consistency token is in the read
-- model; recording events notifies channel events_applied through a statement-level trigger
-- (the notification itself is delivered at commit, which the e2e tests observe).
BEGIN;
TRUNCATE processed_events, todos_read;
SELECT plan(10);

SELECT has_function('q_events_applied', ARRAY['uuid[]'], 'q_events_applied(uuid[]) exists');
SELECT has_trigger('processed_events', 'processed_events_notify', 'processed_events has the notify trigger');
SELECT trigger_is('processed_events', 'processed_events_notify', 'events_applied_notify',
                  'which runs events_applied_notify()');
-- tgtype bits: 1 row-level, 2 before, 4 insert
SELECT is((SELECT tgtype & 7 FROM pg_trigger
           WHERE tgrelid = 'processed_events'::regclass AND tgname = 'processed_events_notify')::int,
          4, 'once per statement, after insert');

SELECT is((SELECT q_events_applied(ARRAY['00000000-0000-0000-0000-0000000000a1']::uuid[])), false,
          'an event not applied yet is not');
SELECT is(apply_events(jsonb_build_array(jsonb_build_object(
              'eventId', '00000000-0000-0000-0000-0000000000a1', 'eventType', 'TodoCreated',
              'occurredAt', '2026-03-01T10:00:00Z', 'aggregateType', 'todo', 'aggregateId', 9001,
              'aggregateVersion', 1, 'todoId', 9001, 'title', 't', 'completed', false)))->>'applied',
          '1', 'apply an event');
SELECT is((SELECT q_events_applied(ARRAY['00000000-0000-0000-0000-0000000000a1']::uuid[])), true,
          'then it is');
SELECT is((SELECT q_events_applied(ARRAY['00000000-0000-0000-0000-0000000000a1',
                                       '00000000-0000-0000-0000-0000000000a2']::uuid[])), false,
          'all of the ids must be applied');
SELECT is((SELECT q_events_applied(ARRAY['00000000-0000-0000-0000-0000000000a1',
                                       '00000000-0000-0000-0000-0000000000a1']::uuid[])), true,
          'repeated ids are fine');
SELECT is((SELECT q_events_applied(ARRAY[]::uuid[])), true, 'no ids: nothing to wait for');

SELECT * FROM finish();
ROLLBACK;
