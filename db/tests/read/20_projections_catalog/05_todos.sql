-- Todo projections and q_todos.
BEGIN;
TRUNCATE todos_read, processed_events;
SELECT plan(7);

CREATE FUNCTION pg_temp.todo_ev(p_n int, p_type text, p_v int, p_body jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('eventId', format('00000000-0000-0000-0000-%s', lpad(p_n::text, 12, '0')),
                              'eventType', p_type, 'occurredAt', '2026-03-01T10:00:00Z',
                              'aggregateType', 'todo', 'aggregateId', 1, 'aggregateVersion', p_v) || p_body
$$;

SELECT is(apply_event(pg_temp.todo_ev(1, 'TodoCreated', 1, '{"todoId":1,"title":"Learn CQRS","completed":false}')), 'applied');
SELECT is((SELECT q_todos())::jsonb, '[{"id":1,"title":"Learn CQRS","completed":false}]'::jsonb, 'a created todo is listed');
SELECT is(apply_event(pg_temp.todo_ev(2, 'TodoCompleted', 2, '{"todoId":1,"title":"Learn CQRS","completed":true}')), 'applied');
SELECT is((SELECT q_todos())::jsonb->0->>'completed', 'true', 'TodoCompleted completes it');
SELECT apply_event(pg_temp.todo_ev(3, 'TodoReopened', 2, '{"todoId":1,"title":"Learn CQRS","completed":false}'));
SELECT is((SELECT q_todos())::jsonb->0->>'completed', 'true', 'a stale event (same version) changes nothing');
SELECT is(apply_event(pg_temp.todo_ev(4, 'TodoDeleted', 3, '{"todoId":1}')), 'applied');
SELECT is((SELECT q_todos()), '[]', 'TodoDeleted removes it');

SELECT * FROM finish();
ROLLBACK;
