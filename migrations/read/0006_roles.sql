-- Read DB, version 5: least privilege (docs/reliability.md, "Least privilege"); scripts/pg.sh
-- creates the roles before migrations run.
--   the owner     (the role migrations run as) is the consumer's role: it owns the read tables,
--                 the projections (proj_*, apply_event(s)) and the materialized views it
--                 refreshes. The read model is the consumer's own, rebuilt from events.
--   cqrs_query    the query API: CONNECT, SELECT on the read model's tables and views, EXECUTE
--                 on the query functions (q_*) and the immutable helpers they call (iso_utc).
--                 Nothing that writes: no projection, no refresh, no INSERT/UPDATE/DELETE.
--   cqrs_command, cqrs_relay: nothing here, not even CONNECT.
-- PUBLIC loses CONNECT and TEMPORARY on this database and EXECUTE on its functions (also on
-- functions created later). Tables created later by the owner are readable by cqrs_query
-- (default privileges); a later query function needs `SELECT grant_service_roles();` at the end
-- of its migration. A missing role is skipped with a warning (see migrations/write/0006_roles.sql).

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE FUNCTION grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
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
    -- query role's SELECT, and call the immutable helpers with its EXECUTE
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
          AND p.prokind = 'f' AND (p.proname LIKE 'q\_%' OR p.provolatile = 'i')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO cqrs_query', f);
    END LOOP;
END $$;

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
