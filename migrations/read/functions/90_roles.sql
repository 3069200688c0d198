-- Read DB: the query role's privileges. scripts/migrate.sh runs grant_service_roles() after every
-- run that applied something, so that new functions and tables get theirs.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

CREATE OR REPLACE FUNCTION grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f regprocedure;
    r regclass;
    has_query boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cqrs_query');
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;

    IF NOT has_query THEN
        RAISE WARNING 'role cqrs_query does not exist: no privileges granted to it (scripts/pg.sh creates it)';
        RETURN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO cqrs_query', current_database());
    -- the read model: tables, views and materialized views (not the migrations' bookkeeping,
    -- schema_migrations and schema_repeatables: the latter, created by scripts/migrate.sh after
    -- the default privilege below on a database that had it already, loses what that gave it)
    FOR r IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = current_user::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm')
          AND c.relname NOT IN ('schema_migrations', 'schema_repeatables')
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO cqrs_query', r);
    END LOOP;
    IF to_regclass('schema_repeatables') IS NOT NULL THEN
        REVOKE ALL ON schema_repeatables FROM cqrs_query;
    END IF;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO cqrs_query;
    -- the queries are SECURITY INVOKER (plain SQL the planner may inline): they read with the
    -- query role's SELECT, and call the helpers with its EXECUTE: the immutable ones and the
    -- SQL functions that only read (iso_utc, STABLE since 0021)
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
          AND p.prokind = 'f'
          AND (p.proname LIKE 'q\_%' OR p.provolatile = 'i'
               OR (p.provolatile = 's' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')))
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO cqrs_query', f);
    END LOOP;
END $$;
