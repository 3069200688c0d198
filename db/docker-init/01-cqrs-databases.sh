#!/usr/bin/env bash
# Run once by the postgres image's entrypoint on an empty data volume, as the superuser over the
# set-up server's Unix socket, before the migrate service runs. What scripts/pg.sh does for the
# local stack:
# - the owner role (not a superuser) and the write and read databases it owns, with pgTAP in
#   both (for the `pgtap` test service);
# - the services' roles (least privilege, grant_service_roles() of
#   migrations/{write,read}/functions/90_roles.sql grants to them): cqrs_command, cqrs_relay and
#   cqrs_query, with LOGIN and a password when one is given (else NOLOGIN), the owner a member of
#   each (the pgTAP tests SET ROLE to them).
# Everything comes from the db service's environment in docker-compose.yml: CQRS_DB_USER,
# CQRS_DB_PASSWORD, CQRS_WRITE_DB, CQRS_READ_DB, and CQRS_COMMAND_DB_PASSWORD,
# CQRS_RELAY_DB_PASSWORD, CQRS_QUERY_DB_PASSWORD, and CQRS_REPLICATION_PASSWORD (the role a
# streaming replica connects as, docs/scaling.md#read-replica).
set -euo pipefail

psql=(psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password)

"${psql[@]}" --dbname postgres -v role="$CQRS_DB_USER" -v pass="$CQRS_DB_PASSWORD" \
    -v write_db="$CQRS_WRITE_DB" -v read_db="$CQRS_READ_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'pass')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'write_db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'write_db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'read_db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'read_db') \gexec
SQL

for entry in "cqrs_command:${CQRS_COMMAND_DB_PASSWORD:-}" "cqrs_relay:${CQRS_RELAY_DB_PASSWORD:-}" \
    "cqrs_query:${CQRS_QUERY_DB_PASSWORD:-}"; do
    "${psql[@]}" --dbname postgres -v role="${entry%%:*}" -v pass="${entry#*:}" \
        -v owner="$CQRS_DB_USER" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'pass') WHERE :'pass' <> '' \gexec
SELECT format('GRANT %I TO %I', :'role', :'owner') \gexec
SQL
done

# the streaming replica's role (compose's cluster profile, db-replica): REPLICATION, and a
# pg_hba entry for it from the compose network (the image's own entry, "host all all all", does
# not cover replication connections)
if [[ -n "${CQRS_REPLICATION_PASSWORD:-}" ]]; then
    "${psql[@]}" --dbname postgres -v pass="$CQRS_REPLICATION_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE cqrs_replicator'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cqrs_replicator') \gexec
SELECT format('ALTER ROLE cqrs_replicator REPLICATION LOGIN PASSWORD %L', :'pass') \gexec
SQL
    grep -q '^host replication cqrs_replicator ' "$PGDATA/pg_hba.conf" ||
        echo "host replication cqrs_replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi

for db in "$CQRS_WRITE_DB" "$CQRS_READ_DB"; do
    "${psql[@]}" --dbname "$db" -c 'SET client_min_messages = warning' \
        -c 'CREATE EXTENSION IF NOT EXISTS pgtap'
done
echo "01-cqrs-databases.sh: owner $CQRS_DB_USER of $CQRS_WRITE_DB and $CQRS_READ_DB (with pgTAP);" \
    "service roles cqrs_command, cqrs_relay, cqrs_query"
