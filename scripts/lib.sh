# shellcheck shell=bash disable=SC2034 # the url_* variables are the caller's
# scripts/lib.sh: sourced, not executed: the helpers the scripts share (scripts/*.sh, bench/lib.sh).
# Defines functions only; sets nothing else.

# die MESSAGE...: "<script>: MESSAGE" on stderr, then exit with $die_status (default 1).
die() {
    echo "$(basename -- "$0"): $*" >&2
    exit "${die_status:-1}"
}

# secret_file FILE: makes FILE (mode 600) holding 32 random letters and digits, unless it holds
# something already: a secret made once and kept (the cluster's Erlang cookie, the replication
# role's password).
secret_file() {
    [[ -s "$1" ]] && return 0
    mkdir -p "$(dirname -- "$1")"
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$1")
}

# url_decode S: S with its %XX escapes decoded.
url_decode() {
    local s="${1//\\/\\\\}"
    printf '%b' "${s//%/\\x}"
}

# parse_pg_url URL: sets url_user, url_pass, url_host, url_port (default 5432) and url_db.
parse_pg_url() {
    local re='^postgres(ql)?://([^:@/]+)(:([^@/]*))?@([^:/?]+)(:([0-9]+))?/([^?]+)'
    [[ "$1" =~ $re ]] || die "cannot parse database URL (expected postgresql://user:pass@host:port/db)"
    url_user="$(url_decode "${BASH_REMATCH[2]}")"
    url_pass="$(url_decode "${BASH_REMATCH[4]}")"
    url_host="${BASH_REMATCH[5]}"
    url_port="${BASH_REMATCH[7]:-5432}"
    url_db="$(url_decode "${BASH_REMATCH[8]}")"
}

# parse_amqp_url URL: sets url_user, url_pass and url_vhost (default /). A list of a cluster's
# node URLs (BROKER_URL, docs/scaling.md) shares them: the first URL is read.
parse_amqp_url() {
    local re='^amqps?://([^:@/]+)(:([^@/]*))?@[^/]+(/(.*))?$'
    [[ "${1%%,*}" =~ $re ]] || die "cannot parse BROKER_URL (expected amqp://user:pass@host:port/vhost)"
    url_user="$(url_decode "${BASH_REMATCH[1]}")"
    url_pass="$(url_decode "${BASH_REMATCH[3]}")"
    url_vhost="$(url_decode "${BASH_REMATCH[5]}")"
    [[ -n "$url_vhost" ]] || url_vhost=/
}

# superuser_psql ARGS...: psql as the superuser of the local cluster of scripts/pg.sh, over its
# socket in $STATE_DIR/pg/run, without ~/.psqlrc, quiet, stopping at the first error.
superuser_psql() {
    psql -X -q -v ON_ERROR_STOP=1 -h "$STATE_DIR/pg/run" -p "$PG_PORT" -U postgres "$@"
}

# pid_in FILE: the number in FILE if a process of that pid exists, else nothing.
pid_in() {
    local pid
    [[ -f "$1" ]] || return 0
    pid="$(tr -dc '0-9' <"$1")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 0
    echo "$pid"
}
