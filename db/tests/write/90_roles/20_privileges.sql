-- Least privilege in the write DB (migrations/write/0006_roles.sql): what each service's role may
-- do here and that it is refused everything else. The catalogue checks look at every table and
-- function of the schema, so a later migration that forgets a grant (or grants too much) fails
-- here; the behaviour checks run statements as each role (SET ROLE: scripts/pg.sh makes the
-- owner a member of the three roles).
BEGIN;
TRUNCATE order_items, payments, inventory_adjustments, orders, products, outbox;
SELECT plan(50);

-- as_role(role, sql): runs sql as role, then switches back (an error rolls the switch back too)
CREATE FUNCTION pg_temp.as_role(p_role text, p_sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', p_role);
    EXECUTE p_sql;
    RESET ROLE;
END $$;

-- the functions of this schema that are ours (not pgtap's)
CREATE TEMP VIEW own_functions AS
SELECT p.oid, p.proname, p.prosecdef, p.proconfig FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');
-- every privilege a service role holds on one of our tables, views or sequences
CREATE TEMP VIEW table_privileges AS
SELECT r.role, c.relname::text, p.priv FROM pg_class c
CROSS JOIN unnest(ARRAY['cqrs_command', 'cqrs_relay', 'cqrs_query']) AS r(role)
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                        'TRIGGER']) AS p(priv)
WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = current_user::regrole
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND has_table_privilege(r.role, c.oid, p.priv)
UNION ALL
SELECT r.role, c.relname::text, p.priv FROM pg_class c
CROSS JOIN unnest(ARRAY['cqrs_command', 'cqrs_relay', 'cqrs_query']) AS r(role)
CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p(priv)
WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = current_user::regrole
  AND c.relkind = 'S' AND has_sequence_privilege(r.role, c.oid, p.priv);

-- ---- the roles and the database --------------------------------------------------------------
SELECT has_role('cqrs_command');
SELECT has_role('cqrs_relay');
SELECT has_role('cqrs_query');
SELECT ok(NOT has_database_privilege('public', current_database(), 'CONNECT'),
          'PUBLIC may not connect to the write DB');
SELECT ok(NOT has_database_privilege('public', current_database(), 'TEMPORARY'),
          'PUBLIC may not create temporary tables');
SELECT ok(has_database_privilege('cqrs_command', current_database(), 'CONNECT'),
          'the command API may connect');
SELECT ok(has_database_privilege('cqrs_relay', current_database(), 'CONNECT'),
          'the relay may connect');
SELECT ok(NOT has_database_privilege('cqrs_query', current_database(), 'CONNECT'),
          'the query API may not even connect to the write DB');
SELECT ok(NOT has_database_privilege('cqrs_command', current_database(), 'TEMPORARY')
          AND NOT has_database_privilege('cqrs_relay', current_database(), 'TEMPORARY'),
          'no service may create temporary tables');
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
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command',
    'INSERT INTO products (name, category, price, stock) VALUES (''x'', ''y'', 1, 1)')$$,
    '42501', NULL, 'the command API may not write a table directly');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command', 'UPDATE products SET stock = 0')$$,
    '42501', NULL, 'nor change stock behind the functions'' back');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command', 'DELETE FROM orders')$$,
    '42501', NULL, 'nor delete orders');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command', 'SELECT count(*) FROM outbox')$$,
    '42501', NULL, 'nor read the outbox');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command',
    'SELECT outbox_append(''order'', 1, 1, ''OrderShipped'', ''{}'')')$$,
    '42501', NULL, 'nor append an event of its own making');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command',
    'SELECT outbox_purge(interval ''0'', 1000)')$$,
    '42501', NULL, 'nor purge the outbox');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command', 'CREATE TABLE public.intruder ()')$$,
    '42501', NULL, 'nor create a table');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command', 'CREATE TEMP TABLE intruder ()')$$,
    '42501', NULL, 'nor a temporary one');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_command', 'TRUNCATE todos')$$,
    '42501', NULL, 'nor truncate a table');

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
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_relay', 'UPDATE outbox SET payload = ''{}''')$$,
    '42501', NULL, 'the relay may not rewrite an event');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_relay', 'DELETE FROM outbox')$$,
    '42501', NULL, 'nor delete events itself');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_relay',
    'INSERT INTO outbox (event_type, aggregate_type, aggregate_id, aggregate_version, payload)
     VALUES (''X'', ''x'', 1, 1, ''{}'')')$$,
    '42501', NULL, 'nor insert one');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_relay', 'SELECT count(*) FROM orders')$$,
    '42501', NULL, 'nor read business tables');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_relay',
    'SELECT cmd_create_todo(''{"title":"from the relay"}'')')$$,
    '42501', NULL, 'nor run a command');

-- ---- the query API has no business here ---------------------------------------------------------
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_query', 'SELECT count(*) FROM products')$$,
    '42501', NULL, 'the query API may not read the write DB');
SELECT throws_ok($$SELECT pg_temp.as_role('cqrs_query',
    'SELECT cmd_create_todo(''{"title":"from the query API"}'')')$$,
    '42501', NULL, 'nor run a command');

SELECT * FROM finish();
ROLLBACK;
