-- Write DB, version 6: least privilege. Each service connects as a role of its own
-- (docs/reliability.md, "Least privilege"); scripts/pg.sh creates them before migrations run:
--   cqrs_command  the command API: EXECUTE on the command functions (cmd_*), nothing else. They
--                 run as their owner (SECURITY DEFINER) with a fixed search_path, so the role
--                 needs no privilege on any table.
--   cqrs_relay    the relay: read the outbox, set its published_at, set relay_state's
--                 notify_wanted, run the two purge functions (also SECURITY DEFINER).
--   cqrs_query    the query API: nothing here, not even CONNECT.
-- The owner (the role migrations run as) keeps everything. PUBLIC loses CONNECT and TEMPORARY on
-- this database and EXECUTE on its functions (PostgreSQL grants EXECUTE to PUBLIC by default;
-- the default is revoked for functions created later too).
--
-- grant_service_roles() applies all of it and is idempotent: a later migration that adds a
-- command function (cmd_*) ends with `SELECT grant_service_roles();`. A role that does not exist
-- is skipped with a warning (the services then connect as the owner), so that a server set up
-- without the roles still migrates; db/tests/write/20_privileges.sql fails in that case.

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE FUNCTION grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f regprocedure;
    fname name;
    missing text[] := ARRAY(SELECT r FROM unnest(ARRAY['cqrs_command', 'cqrs_relay', 'cqrs_query']) r
                            WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r));
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());

    -- every function of ours (not those of extensions such as pgtap) is the owner's alone ...
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;

    -- ... and the entry points run as the owner, with a search_path no caller can change:
    -- pg_catalog first (implicitly), then public (where only the owner may create), pg_temp last
    FOR f, fname IN
        SELECT p.oid::regprocedure, p.proname FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = current_user::regrole
          AND p.prokind = 'f'
          AND ((p.proname LIKE 'cmd\_%' AND p.proname <> 'cmd_invalid')
               OR p.proname IN ('outbox_purge', 'idempotency_purge'))
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = public, pg_temp', f);
        IF fname LIKE 'cmd\_%' THEN
            IF 'cqrs_command' <> ALL (missing) THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO cqrs_command', f);
            END IF;
        ELSIF 'cqrs_relay' <> ALL (missing) THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO cqrs_relay', f);
        END IF;
    END LOOP;

    IF 'cqrs_command' <> ALL (missing) THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO cqrs_command', current_database());
    END IF;
    IF 'cqrs_relay' <> ALL (missing) THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO cqrs_relay', current_database());
        -- relay/outbox.c: fetch unpublished rows, mark them, flip the wake-up flag
        GRANT SELECT ON outbox TO cqrs_relay;
        GRANT UPDATE (published_at) ON outbox TO cqrs_relay;
        GRANT UPDATE (notify_wanted, updated_at) ON relay_state TO cqrs_relay;
    END IF;
    IF cardinality(missing) > 0 THEN
        RAISE WARNING 'roles % do not exist: no privileges granted to them (scripts/pg.sh creates them)',
            array_to_string(missing, ', ');
    END IF;
END $$;

DO $$ BEGIN PERFORM grant_service_roles(); END $$;
