-- Least privilege in the read DB (migrations/read/0006_roles.sql): the consumer is the owner of
-- the read model; the query API may read it and run the query functions, and is refused every
-- write; the write side's roles may not even connect. Catalogue checks cover every table and
-- function, so a later migration that forgets a grant fails here; behaviour checks run as the
-- query role (SET ROLE: scripts/pg.sh makes the owner a member of the service roles).
BEGIN;
SELECT plan(38);

\ir ../../privileges.psql

-- Calls every query function (q_*) with NULL arguments as the query role; returns the calls
-- that failed, with their error.
CREATE FUNCTION pg_temp.query_role_failures() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    calls text[] := ARRAY(
        SELECT format('SELECT %I(%s)', p.proname,
                      (SELECT string_agg(format('NULL::%s', t::regtype), ', ' ORDER BY i)
                       FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i)))
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'q\_%'
        ORDER BY p.proname);
    failed text[] := '{}';
    c text;
BEGIN
    SET LOCAL ROLE cqrs_query;
    FOREACH c IN ARRAY calls LOOP
        BEGIN
            EXECUTE c;
        EXCEPTION WHEN OTHERS THEN
            failed := failed || format('%s: %s', c, SQLERRM);
        END;
    END LOOP;
    RESET ROLE;
    RETURN failed;
END $$;

-- ---- the roles and the database --------------------------------------------------------------
SELECT has_role('cqrs_query');
SELECT is(has_database_privilege(role, current_database(), priv), granted, description)
FROM (VALUES ('public', 'CONNECT', false, 'PUBLIC may not connect to the read DB'),
             ('public', 'TEMPORARY', false, 'PUBLIC may not create temporary tables'),
             ('cqrs_query', 'CONNECT', true, 'the query API may connect'),
             ('cqrs_query', 'TEMPORARY', false, 'but not create temporary tables'),
             ('cqrs_command', 'CONNECT', false, 'the command API may not connect to the read DB'),
             ('cqrs_relay', 'CONNECT', false, 'nor may the relay')) AS d(role, priv, granted, description);
SELECT ok(NOT has_schema_privilege('cqrs_query', 'public', 'CREATE'),
          'the query API may not create objects');

-- ---- the consumer owns the read model ------------------------------------------------------------
SELECT is((SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()),
          current_user::text, 'the read DB belongs to the owner the migrations run as');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                  WHERE p.pronamespace = 'public'::regnamespace
                    AND (p.proname LIKE 'proj\_%' OR p.proname IN ('apply_event', 'apply_events',
                         'refresh_due_views', 'refresh_next_view',
                         'mv_refresh_if_due', 'mv_touch'))
                    AND p.proowner <> current_user::regrole$$,
                'the projections are the owner''s: the consumer connects as the owner');
SELECT is_empty($$SELECT relname FROM pg_class
                  WHERE relnamespace = 'public'::regnamespace AND relkind = 'm'
                    AND relowner <> current_user::regrole$$,
                'so are the materialized views it refreshes');

-- ---- functions ---------------------------------------------------------------------------------
SELECT is_empty($$SELECT oid::regprocedure::text FROM own_functions
                  WHERE has_function_privilege('public', oid, 'EXECUTE')$$,
                'PUBLIC may execute none of our functions');
SELECT set_eq($$SELECT oid::regprocedure::text FROM own_functions
                WHERE has_function_privilege('cqrs_query', oid, 'EXECUTE')$$,
              $$SELECT oid::regprocedure::text FROM own_functions
                WHERE proname LIKE 'q\_%' OR provolatile = 'i'
                   OR (provolatile = 's' AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql'))$$,
              'the query API may execute the query functions and the read-only helpers, no more');
SELECT set_has($$SELECT proname::text FROM own_functions
                 WHERE has_function_privilege('cqrs_query', oid, 'EXECUTE')$$,
               $$SELECT unnest(ARRAY['q_product', 'q_products', 'q_order', 'q_customer_orders',
                     'q_customer_summary', 'q_inventory', 'q_analytics_orders', 'q_sales_daily',
                     'q_top_products', 'q_categories', 'q_todos', 'q_mood_stats', 'iso_utc'])$$,
               'among them every query the API runs (api/query/query.c)');
SELECT is_empty($$SELECT oid::regprocedure::text FROM own_functions
                  WHERE (has_function_privilege('cqrs_command', oid, 'EXECUTE')
                         OR has_function_privilege('cqrs_relay', oid, 'EXECUTE'))$$,
                'the write side''s roles may execute nothing here');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                  WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef$$,
                'no function of the read DB runs as its owner');

-- ---- tables ------------------------------------------------------------------------------------
SELECT set_eq($$SELECT relname FROM table_privileges WHERE role = 'cqrs_query' AND priv = 'SELECT'$$,
              $$SELECT relname FROM own_relations
                WHERE relkind <> 'S'
                  AND relname NOT IN ('schema_migrations', 'schema_repeatables')$$,
              'the query API may read every table and view of the read model');
SELECT is_empty($$SELECT relname || ' ' || priv FROM table_privileges
                  WHERE role = 'cqrs_query' AND priv <> 'SELECT'$$,
                'and do nothing else to any of them');
SELECT is_empty($$SELECT role || ' ' || relname || ' ' || priv FROM table_privileges
                  WHERE role <> 'cqrs_query'$$,
                'the write side''s roles hold no privilege on any table');

-- ---- the query API, at work and refused -------------------------------------------------------
SELECT is(pg_temp.query_role_failures(), '{}'::text[],
          'the query API runs every query function (with NULL arguments)');
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_query',
    'SELECT count(*) FROM products_read, mv_order_stats, processed_events')$$,
    'and reads tables and materialized views');
SELECT lives_ok($$SELECT pg_temp.as_role('cqrs_query', 'SELECT consumer_partitions_status()')$$,
    'and the partitions'' holders (for the dashboard)');
SELECT pg_temp.refused('cqrs_query', statement, description) FROM (VALUES
    ('INSERT INTO products_read (product_id, name, category, price, stock, version)
     VALUES (-1, ''x'', ''y'', 1, 1, 1)', 'the query API may not insert into the read model'),
    ('UPDATE orders_read SET status = ''PAID''', 'nor update it'),
    ('DELETE FROM processed_events', 'nor delete from it (which would let events apply twice)'),
    ('TRUNCATE mood_counts', 'nor truncate it'),
    ('SELECT apply_events(''[]'')', 'nor apply events'),
    ('SELECT apply_event(''{"eventId":"00000000-0000-0000-0000-000000000001","eventType":"TodoCreated"}'')', 'nor one event'),
    ('SELECT refresh_due_views(0)', 'nor refresh the views through the consumer''s function'),
    ('SELECT refresh_next_view(0)', 'nor through the refresher''s'),
    ('REFRESH MATERIALIZED VIEW mv_order_stats', 'nor directly'),
    ('CREATE TABLE public.intruder ()', 'nor create a table'),
    ('CREATE TEMP TABLE intruder ()', 'nor a temporary one'),
    ('SELECT grant_service_roles()', 'nor change privileges'),
    ('SELECT consumer_claim_partitions(''intruder'', 4, 1000)', 'nor claim a consumer''s partitions'),
    ('SELECT consumer_leave_partitions(''intruder'')', 'nor free them'),
    ('SELECT consumer_join_partitions(''intruder'', 1000)', 'nor join the consumers'),
    ('UPDATE consumer_partitions SET holder = NULL', 'nor change the leases')) AS r(statement, description);

SELECT * FROM finish();
ROLLBACK;
