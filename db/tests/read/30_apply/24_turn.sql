-- The consumers' turn (consumer_take_turn, consumer_has_turn): one consumer at a time, noted for
-- the rest of the transaction so that proj_lock_shared skips its ordering pass.
BEGIN;
SELECT plan(5);

SELECT is(consumer_has_turn(), false, 'outside a turn');
SELECT consumer_take_turn();
SELECT is(consumer_has_turn(), true, 'in its turn for the rest of the transaction');
SELECT is((SELECT count(*)::integer FROM pg_locks
           WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
             AND objid = (hashtext('cqrs.consumer')::bigint & 4294967295)::oid),
          1, 'holding the consumers'' advisory lock');
-- in its turn a batch writes without the ordering pass, and the same read model
SELECT is(apply_event(jsonb_build_object('eventId', gen_random_uuid(), 'eventType', 'MoodRecorded',
          'eventVersion', 1, 'occurredAt', now(), 'aggregateType', 'mood', 'aggregateId', 910001,
          'aggregateVersion', 1, 'type', 'good', 'timestamp', now())), 'applied',
          'an event applies in a turn');
SELECT set_config('cqrs.turn', '', true);
SELECT is(consumer_has_turn(), false, 'the setting is the transaction''s only');

SELECT * FROM finish();
ROLLBACK;
