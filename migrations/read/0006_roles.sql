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

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
