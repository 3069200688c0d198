-- Read DB: iso_utc is STABLE, as to_char(timestamp, text) is (the write DB's
-- migrations/write/0016 says why): declared IMMUTABLE it could not be inlined and ran as a
-- separate SQL function, parsed and planned on every call, in every query answer and projection
-- that formats a time. dash_stalled_reason calls format(), also STABLE. The query role keeps
-- EXECUTE on them: grant_service_roles grants it the read-only SQL helpers, STABLE as well as
-- IMMUTABLE (the queries call them with its rights).
ALTER FUNCTION iso_utc(timestamptz) STABLE;
ALTER FUNCTION dash_stalled_reason(jsonb, bigint) STABLE;

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
    -- the read model: tables, views and materialized views (not the migrations' bookkeeping)
    FOR r IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = current_user::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> 'schema_migrations'
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO cqrs_query', r);
    END LOOP;
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

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
