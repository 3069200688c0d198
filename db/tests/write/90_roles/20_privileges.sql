-- Least privilege in the write DB (migrations/write/0006_roles.sql): what each service's role may
-- do here and that it is refused everything else. The catalogue checks look at every table and
-- function of the schema, so a later migration that forgets a grant (or grants too much) fails
-- here; the behaviour checks run statements as each role (SET ROLE: scripts/pg.sh makes the
-- owner a member of the three roles).
BEGIN;
TRUNCATE order_items, payments, inventory_adjustments, orders, products, outbox;
SELECT plan(51);

\ir ../../privileges.psql

-- ---- the roles and the database --------------------------------------------------------------
SELECT has_role(r) FROM unnest(ARRAY['cqrs_command', 'cqrs_relay', 'cqrs_query']) AS r;
SELECT is(has_database_privilege(role, current_database(), priv), granted, description)
FROM (VALUES ('public', 'CONNECT', false, 'PUBLIC may not connect to the write DB'),
             ('public', 'TEMPORARY', false, 'PUBLIC may not create temporary tables'),
             ('cqrs_command', 'CONNECT', true, 'the command API may connect'),
             ('cqrs_relay', 'CONNECT', true, 'the relay may connect'),
             ('cqrs_query', 'CONNECT', false, 'the query API may not even connect to the write DB'),
             ('cqrs_command', 'TEMPORARY', false, 'the command API may not create temporary tables'),
             ('cqrs_relay', 'TEMPORARY', false, 'nor may the relay')) AS d(role, priv, granted, description);
SELECT ok(NOT has_schema_privilege('cqrs_command', 'public', 'CREATE')
          AND NOT has_schema_privilege('cqrs_relay', 'public', 'CREATE')
          AND NOT has_schema_privilege('cqrs_query', 'public', 'CREATE'),
          'no service may create objects in the schema');

-- ---- functions: who may execute what -----------------------------------------------------------
SELECT is_empty($$SELECT oid::regprocedure::text FROM own_functions
                  WHERE has_function_privilege('public', oid, 'EXECUTE')$$,
                'PUBLIC may execute none of our functions');
SELECT set_eq($$SELECT proname::text FROM own_functions
                WHERE has_function_privilege('cqrs_command', oid, 'EXECUTE')$$,
              $$SELECT proname::text FROM own_functions
                WHERE proname LIKE 'cmd\_%' AND proname <> 'cmd_invalid'$$,
              'the command API may execute exactly the command functions');
SELECT set_has($$SELECT proname::text FROM own_functions
                 WHERE has_function_privilege('cqrs_command', oid, 'EXECUTE')$$,
               $$SELECT unnest(ARRAY['cmd_create_product', 'cmd_create_order', 'cmd_pay_order',
                     'cmd_ship_order', 'cmd_complete_order', 'cmd_cancel_order',
                     'cmd_adjust_inventory', 'cmd_create_todo', 'cmd_update_todo',
                     'cmd_delete_todo', 'cmd_record_mood', 'cmd_idempotent'])$$,
               'among them every command the API runs (api/command/command.c)');
SELECT set_eq($$SELECT proname::text FROM own_functions
                WHERE has_function_privilege('cqrs_relay', oid, 'EXECUTE')$$,
              ARRAY['outbox_purge', 'idempotency_purge', 'relay_lease_acquire', 'relay_lease_renew',
                    'relay_lease_release', 'relay_lease_holder_alive', 'relay_mark_published'],
              'the relay may execute the two purge functions, its lease''s and the fenced mark, '
              'nothing else of ours');
SELECT is_empty($$SELECT oid::regprocedure::text FROM own_functions
                  WHERE has_function_privilege('cqrs_query', oid, 'EXECUTE')$$,
                'the query API may execute none of our functions');
SELECT is_empty($$SELECT oid::regprocedure::text FROM own_functions
                  WHERE ((proname LIKE 'cmd\_%' AND proname <> 'cmd_invalid')
                         OR proname IN ('outbox_purge', 'idempotency_purge'))
                    AND NOT (prosecdef AND proconfig @> ARRAY['search_path=public, pg_temp'])$$,
                'the entry points run as their owner, with search_path = public, pg_temp');
SELECT is_empty($$SELECT oid::regprocedure::text FROM own_functions
                  WHERE prosecdef AND NOT ((proname LIKE 'cmd\_%' AND proname <> 'cmd_invalid')
                                           OR proname IN ('outbox_purge', 'idempotency_purge'))$$,
                'no other function runs as its owner');
SELECT ok(has_function_privilege('cqrs_relay', 'pg_terminate_backend(integer, bigint)', 'EXECUTE'),
          'the relay may fence an old leader of its own role (pg_catalog, granted to PUBLIC)');

-- ---- tables: who may touch what ----------------------------------------------------------------
SELECT is_empty($$SELECT relname || ' ' || priv FROM table_privileges WHERE role = 'cqrs_command'$$,
                'the command API holds no privilege on any table or sequence');
SELECT is_empty($$SELECT relname || ' ' || priv FROM table_privileges WHERE role = 'cqrs_query'$$,
                'the query API holds no privilege on any table or sequence');
SELECT set_eq($$SELECT relname || ' ' || priv FROM table_privileges WHERE role = 'cqrs_relay'$$,
              ARRAY['outbox SELECT', 'relay_lease SELECT', 'relay_lease UPDATE'],
              'the relay may read the outbox and keep its lease (the lease functions run as the '
              'relay, to terminate its own role''s backends), and no other table');
SELECT column_privs_are('outbox', 'published_at', 'cqrs_relay', ARRAY['SELECT', 'UPDATE'],
                        'the relay may set outbox.published_at');
SELECT column_privs_are('outbox', 'payload', 'cqrs_relay', ARRAY['SELECT'],
                        'but not change an event');
SELECT column_privs_are('relay_state', 'notify_wanted', 'cqrs_relay', ARRAY['UPDATE'],
                        'the relay may set relay_state.notify_wanted');
SELECT column_privs_are('relay_state', 'updated_at', 'cqrs_relay', ARRAY['UPDATE'],
                        'and relay_state.updated_at');
SELECT is_empty($$SELECT c.relname || '.' || a.attname FROM pg_class c
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                    AND has_column_privilege('cqrs_relay', c.oid, a.attnum, 'UPDATE')
                    AND (c.relname, a.attname) NOT IN (('outbox', 'published_at'),
                         ('relay_state', 'notify_wanted'), ('relay_state', 'updated_at'))
                    AND c.relname <> 'relay_lease'$$,
                'no other column may the relay update');

-- ---- the command API, at work and refused ------------------------------------------------------
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_command',
    'SELECT cmd_create_product(''{"name":"Priv","category":"T","price":5,"stock":3}'')')$$,
    'the command API creates a product through cmd_create_product');
SELECT lives_ok(format($$SELECT pg_temp.as_role('cqrs_command',
    'SELECT cmd_create_order(''{"customerId":1,"items":[{"productId":%s,"quantity":1}]}'')')$$,
    (SELECT id FROM products WHERE name = 'Priv')),
    'and an order (stock, items and the event written by the function, as its owner)');
SELECT is((SELECT count(*)::int FROM outbox), 2, 'both events are in the outbox');
SELECT pg_temp.refused('cqrs_command', statement, description) FROM (VALUES
    ('INSERT INTO products (name, category, price, stock) VALUES (''x'', ''y'', 1, 1)', 'the command API may not write a table directly'),
    ('UPDATE products SET stock = 0', 'nor change stock behind the functions'' back'),
    ('DELETE FROM orders', 'nor delete orders'),
    ('SELECT count(*) FROM outbox', 'nor read the outbox'),
    ('SELECT outbox_append(''order'', 1, 1, ''OrderShipped'', ''{}'')', 'nor append an event of its own making'),
    ('SELECT outbox_purge(interval ''0'', 1000)', 'nor purge the outbox'),
    ('CREATE TABLE public.intruder ()', 'nor create a table'),
    ('CREATE TEMP TABLE intruder ()', 'nor a temporary one'),
    ('TRUNCATE todos', 'nor truncate a table')) AS r(statement, description);

-- ---- the relay, at work and refused -------------------------------------------------------------
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_relay',
    'SELECT id, event_id, aggregate_type || ''.'' || event_type, payload::text, event_type,
            aggregate_id, aggregate_type FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 500')$$,
    'the relay fetches unpublished events (relay/outbox.c relay_fetch)');
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_relay',
    'UPDATE outbox SET published_at = now() WHERE id = ANY(ARRAY(SELECT id FROM outbox))')$$,
    'marks them published (relay_mark)');
SELECT is((SELECT count(*)::int FROM outbox WHERE published_at IS NOT NULL), 2,
          'the rows are marked');
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_relay',
    'UPDATE relay_state SET notify_wanted = false, updated_at = now()')$$,
    'flips the wake-up flag (relay_notify_wanted)');
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_relay',
    'SELECT outbox_purge(interval ''7 days'', 1000), idempotency_purge(interval ''1 day'', 1000)')$$,
    'and runs the purges (relay/purge.c)');
SELECT pg_temp.refused('cqrs_relay', statement, description) FROM (VALUES
    ('UPDATE outbox SET payload = ''{}''', 'the relay may not rewrite an event'),
    ('DELETE FROM outbox', 'nor delete events itself'),
    ('INSERT INTO outbox (event_type, aggregate_type, aggregate_id, aggregate_version, payload)
     VALUES (''X'', ''x'', 1, 1, ''{}'')', 'nor insert one'),
    ('SELECT count(*) FROM orders', 'nor read business tables'),
    ('SELECT cmd_create_todo(''{"title":"from the relay"}'')', 'nor run a command')) AS r(statement, description);

-- ---- the query API has no business here ---------------------------------------------------------
SELECT pg_temp.refused('cqrs_query', statement, description) FROM (VALUES
    ('SELECT count(*) FROM products', 'the query API may not read the write DB'),
    ('SELECT cmd_create_todo(''{"title":"from the query API"}'')', 'nor run a command')) AS r(statement, description);

SELECT * FROM finish();
ROLLBACK;
