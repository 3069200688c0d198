#!/usr/bin/env bash
# pg.sh [replica] start|stop|status: the project-local PostgreSQL 15 cluster in $STATE_DIR/pg.
# start: initdb if needed, start on 127.0.0.1:$PG_PORT (socket in $STATE_DIR/pg/run), then
# create the roles and databases named in DATABASE_URL and READ_DATABASE_URL, with pgtap, and
# the services' own roles (ensure_service_roles below; the migrations grant to them).
# replica (`make up-cluster`, docs/scaling.md#read-replica): the same for a streaming replica of
# that cluster (hot standby) in $STATE_DIR/pg-replica on 127.0.0.1:$PG_REPLICA_PORT: made once by
# pg_basebackup -R from the running primary, with the replication role and slot it streams with
# (ensure_replication), then started and stopped as the primary is.
# Idempotent. The server runs as the `postgres` OS user. status exits 0 if running, 3 if not.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh"

PGBIN=/usr/lib/postgresql/15/bin
PRIMARY_DIR="$STATE_DIR/pg"
PG_DIR="$PRIMARY_DIR"
SERVER_PORT="${PG_PORT:-}"
WHAT=PostgreSQL
# the standby's role and slot on the primary; its password is made once, kept in the state folder
REPLICATION_ROLE=cqrs_replicator
REPLICATION_SLOT=cqrs_replica
REPLICATION_PASS_FILE="$PRIMARY_DIR/replication.pass"
if [[ "${1:-}" == replica ]]; then
    shift
    [[ -n "${PG_REPLICA_PORT:-}" ]] || die "PG_REPLICA_PORT is not set (make up-cluster sets it from CLUSTER_PG_REPLICA_PORT)"
    PG_DIR="$STATE_DIR/pg-replica"
    SERVER_PORT="$PG_REPLICA_PORT"
    WHAT="the replica"
fi
PGDATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/log/postgres.log"

as_postgres() {
    (cd / && runuser -u postgres -- "$@")
}

# is_running [DATA]: whether the server of DATA (default this one's) runs.
is_running() {
    local data="${1:-$PGDATA}"
    [[ -f "$data/PG_VERSION" ]] && as_postgres "$PGBIN/pg_ctl" status -D "$data" >/dev/null 2>&1
}

# make_dirs DIR: mkdir -p DIR and chmod o+x every folder this created, so that the postgres
# user can traverse them. Folders that already existed are left alone.
make_dirs() {
    local dir="$1" first_new="$1"
    while [[ ! -e "$(dirname "$first_new")" ]]; do
        first_new="$(dirname "$first_new")"
    done
    if [[ -e "$dir" ]]; then
        return 0
    fi
    mkdir -p "$dir"
    local d="$dir"
    while :; do
        chmod o+x "$d"
        [[ "$d" == "$first_new" ]] && break
        d="$(dirname "$d")"
    done
}

# Fail with the first folder on the way to STATE_DIR that the postgres user cannot enter.
check_traversable() {
    if as_postgres test -x "$PG_DIR" -a -r "$PG_DIR"; then
        return 0
    fi
    local path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_DIR#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        if ! as_postgres test -x "$path"; then
            die "the postgres user cannot enter $path (needs o+x); chmod o+x it or use another STATE_DIR"
        fi
    done
    die "the postgres user cannot use $PG_DIR"
}

# is_local_url NAME WHAT: whether the URL just parsed (parse_pg_url) points to this cluster; says
# otherwise that WHAT (it, its role) is not created.
is_local_url() {
    case "$url_host" in
        127.0.0.1 | localhost | ::1 | "[::1]") ;;
        *)
            echo "pg.sh: $1 points to $url_host, not to this cluster; not creating $2" >&2
            return 1
            ;;
    esac
    # the replica serves this cluster's roles and databases (a copy): created here
    if [[ "$url_port" != "$PG_PORT" && "$url_port" != "${PG_REPLICA_PORT:-}" ]]; then
        echo "pg.sh: $1 uses port $url_port, this cluster listens on $PG_PORT; not creating $2" >&2
        return 1
    fi
}

# Create or update the role and database of one URL and install pgtap in it.
ensure_db() {
    local name="$1" url="$2"
    parse_pg_url "$url"
    is_local_url "$name" it || return 0
    superuser_psql -d postgres -v role="$url_user" -v pass="$url_pass" -v db="$url_db" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'pass') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'role') \gexec
SQL
    superuser_psql -d "$url_db" -c "SET client_min_messages = warning" \
        -c "CREATE EXTENSION IF NOT EXISTS pgtap"
}

# The services' roles (least privilege, docs/reliability.md). The migrations grant to three
# NOLOGIN group roles with fixed names: cqrs_command and cqrs_relay (write DB), cqrs_query (read
# DB). For each of COMMAND_, RELAY_ and QUERY_DATABASE_URL that is set, the URL's role gets LOGIN,
# the URL's password and membership of its group (the role may also be the group itself). A
# service whose variable is unset connects with the owner URL (DATABASE_URL, READ_DATABASE_URL).
# The consumer is the read DB's owner: CONSUMER_DATABASE_URL, if set, names that owner.
# The owners become members of the three groups, so that the pgTAP tests, which connect as the
# owner, can SET ROLE to each and check what it may do and what it is refused.
SERVICE_ROLES=(
    COMMAND_DATABASE_URL:cqrs_command:DATABASE_URL
    RELAY_DATABASE_URL:cqrs_relay:DATABASE_URL
    QUERY_DATABASE_URL:cqrs_query:READ_DATABASE_URL
)
ensure_service_roles() {
    local entry var group base write_owner read_owner base_db
    parse_pg_url "$DATABASE_URL"
    write_owner="$url_user"
    parse_pg_url "$READ_DATABASE_URL"
    read_owner="$url_user"
    superuser_psql -d postgres -v write_owner="$write_owner" -v read_owner="$read_owner" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', g)
  FROM unnest(ARRAY['cqrs_command', 'cqrs_relay', 'cqrs_query']) g
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) \gexec
SELECT DISTINCT format('GRANT %I TO %I', g, o)
  FROM unnest(ARRAY['cqrs_command', 'cqrs_relay', 'cqrs_query']) g,
       unnest(ARRAY[:'write_owner', :'read_owner']) o
 WHERE o <> g AND NOT pg_has_role(o, g, 'MEMBER') \gexec
SQL
    for entry in "${SERVICE_ROLES[@]}"; do
        IFS=: read -r var group base <<<"$entry"
        [[ -n "${!var:-}" ]] || continue
        parse_pg_url "${!base}"
        base_db="$url_db"
        parse_pg_url "${!var}"
        is_local_url "$var" "its role" || continue
        if [[ "$url_user" == "$write_owner" || "$url_user" == "$read_owner" ]]; then
            echo "pg.sh: $var connects as the owner $url_user: that service keeps every privilege" >&2
            continue
        fi
        if [[ "$url_db" != "$base_db" ]]; then
            echo "pg.sh: $var names database $url_db, $base names $base_db" >&2
        fi
        superuser_psql -d postgres -v role="$url_user" -v pass="$url_pass" -v group="$group" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'pass') \gexec
SELECT format('GRANT %I TO %I', :'group', :'role')
 WHERE :'role' <> :'group' AND NOT pg_has_role(:'role', :'group', 'MEMBER') \gexec
SQL
        if [[ "$(superuser_psql -d postgres -A -t -v role="$url_user" \
            <<<"SELECT rolsuper FROM pg_roles WHERE rolname = :'role'")" == t ]]; then
            echo "pg.sh: $var connects as $url_user, a superuser: not least privilege" >&2
        fi
    done
    if [[ -n "${CONSUMER_DATABASE_URL:-}" ]]; then
        parse_pg_url "$CONSUMER_DATABASE_URL"
        if [[ "$url_user" != "$read_owner" ]]; then
            echo "pg.sh: CONSUMER_DATABASE_URL connects as $url_user, but the consumer needs the read DB's owner ($read_owner)" >&2
        fi
    fi
}

write_config() {
    cat >"$PGDATA/cqrs.conf" <<EOF
# Written by scripts/pg.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $SERVER_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
# streaming replication (docs/scaling.md#read-replica): wal_level replica and max_wal_senders are
# the defaults; a slot keeps the WAL a stopped standby still needs, at most this much (beyond,
# the slot is invalidated and the standby must be made again); on a standby, its queries hold
# back the primary's vacuum instead of being cancelled by its replay
wal_level = replica
max_wal_senders = 10
max_slot_wal_keep_size = 1GB
hot_standby = on
hot_standby_feedback = on
shared_buffers = 256MB
fsync = on
synchronous_commit = on
password_encryption = scram-sha-256
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    chown postgres: "$PGDATA/cqrs.conf"
}

# The standby's role (REPLICATION, LOGIN, the password of REPLICATION_PASS_FILE, made once) and
# physical slot on the primary, and its pg_hba entry (initdb's default has one for every role on
# 127.0.0.1; it is added if missing, then the configuration reloaded). $1: the primary's data.
ensure_replication() {
    local hba="$1/pg_hba.conf"
    secret_file "$REPLICATION_PASS_FILE"
    superuser_psql -d postgres -v role="$REPLICATION_ROLE" -v slot="$REPLICATION_SLOT" \
        -v pass="$(cat "$REPLICATION_PASS_FILE")" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I REPLICATION LOGIN PASSWORD %L', :'role', :'pass') \gexec
SELECT format('SELECT pg_create_physical_replication_slot(%L)', :'slot')
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot') \gexec
SQL
    if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+(all|'"$REPLICATION_ROLE"')[[:space:]]+127\.0\.0\.1/32' "$hba"; then
        echo "host replication $REPLICATION_ROLE 127.0.0.1/32 scram-sha-256" >>"$hba"
        superuser_psql -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
    fi
}

# The folders of this server, made for the postgres user.
prepare_dirs() {
    make_dirs "$STATE_DIR"
    chmod o+x "$STATE_DIR"
    mkdir -p "$PG_DIR"
    chmod 711 "$PG_DIR"
    chown postgres: "$PG_DIR"
    check_traversable
    as_postgres mkdir -p "$PG_SOCK" "$PG_DIR/log"
}

# Starts the server of PGDATA (made already) on SERVER_PORT.
start_server() {
    [[ "$(cat "$PGDATA/PG_VERSION")" == 15 ]] || die "$PGDATA is not a PostgreSQL 15 cluster"
    write_config
    as_postgres "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 60 >/dev/null ||
        die "could not start $WHAT, see $PG_LOG"
    echo "pg.sh: started $WHAT on 127.0.0.1:$SERVER_PORT (data $PGDATA)"
}

start() {
    [[ -x "$PGBIN/pg_ctl" ]] || die "PostgreSQL 15 is not installed ($PGBIN); run scripts/deps.sh"
    ((EUID == 0)) || die "must run as root (it runs the server as the postgres user)"
    if is_running; then
        echo "pg.sh: already running on port $PG_PORT"
    else
        prepare_dirs
        if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
            as_postgres mkdir -p "$PGDATA"
            chmod 700 "$PGDATA"
            as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --encoding=UTF8 \
                --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/log/initdb.log" ||
                die "initdb failed, see $PG_DIR/log/initdb.log"
            echo "include 'cqrs.conf'" >>"$PGDATA/postgresql.conf"
        fi
        start_server
    fi
    ensure_db DATABASE_URL "$DATABASE_URL"
    ensure_db READ_DATABASE_URL "$READ_DATABASE_URL"
    ensure_service_roles
}

# The replica: a copy of the running primary (pg_basebackup -R: standby.signal and the
# primary_conninfo naming the replication role, its password and the slot), made once.
start_replica() {
    [[ -x "$PGBIN/pg_ctl" ]] || die "PostgreSQL 15 is not installed ($PGBIN); run scripts/deps.sh"
    ((EUID == 0)) || die "must run as root (it runs the server as the postgres user)"
    if is_running; then
        echo "pg.sh: the replica is already running on port $SERVER_PORT"
        return 0
    fi
    is_running "$PRIMARY_DIR/data" || die "the primary is not running (scripts/pg.sh start first)"
    prepare_dirs
    if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
        ensure_replication "$PRIMARY_DIR/data"
        rm -rf "$PGDATA"
        PGPASSWORD="$(cat "$REPLICATION_PASS_FILE")" as_postgres "$PGBIN/pg_basebackup" \
            -h 127.0.0.1 -p "$PG_PORT" -U "$REPLICATION_ROLE" -D "$PGDATA" -R -X stream \
            -S "$REPLICATION_SLOT" -c fast >"$PG_DIR/log/basebackup.log" 2>&1 ||
            die "pg_basebackup from 127.0.0.1:$PG_PORT failed, see $PG_DIR/log/basebackup.log"
        chmod 700 "$PGDATA"
        echo "pg.sh: made the replica from 127.0.0.1:$PG_PORT (slot $REPLICATION_SLOT)"
    fi
    [[ -f "$PGDATA/standby.signal" ]] || die "$PGDATA is not a standby (no standby.signal)"
    start_server
}

stop() {
    if ! is_running; then
        echo "pg.sh: $WHAT is not running"
        return 0
    fi
    if ! as_postgres "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 30 >/dev/null; then
        echo "pg.sh: fast shutdown timed out, using immediate" >&2
        as_postgres "$PGBIN/pg_ctl" stop -D "$PGDATA" -m immediate -w -t 30 >/dev/null
    fi
    echo "pg.sh: stopped $WHAT"
}

status() {
    if is_running; then
        echo "pg.sh: $WHAT is running on 127.0.0.1:$SERVER_PORT (data $PGDATA)"
    else
        echo "pg.sh: $WHAT is not running"
        return 3
    fi
}

case "${1:-}" in
    start) if [[ "$PG_DIR" == "$PRIMARY_DIR" ]]; then start; else start_replica; fi ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 [replica] start|stop|status" >&2
        exit 2
        ;;
esac
