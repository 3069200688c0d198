-- Write DB: the services' privileges. scripts/migrate.sh runs grant_service_roles() after every run
-- that applied something, so that new functions and tables get theirs.
-- Repeatable: scripts/migrate.sh applies this file again whenever its sha256 changes (after the
-- versioned migrations, with check_function_bodies off), so each function here has exactly one
-- current body: edit it in place.

CREATE OR REPLACE FUNCTION grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
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
            -- a command plans its statements once per connection (migrations/write/0015): the
            -- setting holds for the call and what it calls (outbox_append, cmd_idempotent's command)
            EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
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
