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
-- without the roles still migrates; db/tests/write/90_roles/20_privileges.sql fails in that case.

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
