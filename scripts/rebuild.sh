#!/usr/bin/env bash
# rebuild.sh [--keep] [--swap]: rebuilds the read model from the event history the write DB keeps
# in its outbox (published rows stay there for OUTBOX_RETENTION), into a fresh database, then
# compares it with the live read DB table by table and prints the differences.
#   1. creates REBUILD_DATABASE_URL (default: READ_DATABASE_URL's database + "_rebuild"), dropping
#      an older one, and applies migrations/read/*.sql to it (recorded in schema_migrations)
#   2. streams `SELECT id, payload FROM outbox ORDER BY id` into it (COPY) and applies the events
#      in chunks of 1000 with apply_events(), the consumer's own function, one commit per chunk,
#      then refreshes the materialized views
#   3. compares every table and materialized view (wall-clock columns processed_at, projected_at,
#      updated_at and refreshed_at left out) and prints, per table, "identical" or the first
#      differing rows (< live, > rebuilt)
#   --keep  keep the rebuilt database (it is dropped after the comparison otherwise)
#   --swap  then make it the live read DB: the live one is renamed <name>_old_<timestamp>. Stop the
#           consumer and the query API first (scripts/services.sh stop consumer query-api).
# Compare on a quiet system (outbox drained, consumer caught up): events in flight differ.
# Caveat: history older than OUTBOX_RETENTION has been purged; the rebuild then lacks it (the
# processed_events comparison shows how much) and the read model must be recomputed instead.
# Creating a database needs CREATEDB; without it, the local cluster's superuser socket of
# scripts/pg.sh ($STATE_DIR/pg/run) is used when present.
# Exit status: 0 no differences, 1 differences, 2 failure.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

keep=0
swap=0
for arg in "$@"; do
    case "$arg" in
        --keep) keep=1 ;;
        --swap) swap=1 keep=1 ;;
        *)
            echo "usage: $0 [--keep] [--swap]" >&2
            exit 2
            ;;
    esac
done

die() {
    echo "rebuild.sh: $*" >&2
    exit 2
}

[[ -n "${DATABASE_URL:-}" && -n "${READ_DATABASE_URL:-}" ]] || die "DATABASE_URL and READ_DATABASE_URL must be set"
url_re='^(postgres(ql)?://[^/]*/)([^?]+)(\?.*)?$'
[[ "$READ_DATABASE_URL" =~ $url_re ]] || die "cannot parse READ_DATABASE_URL"
url_base="${BASH_REMATCH[1]}" live_db="${BASH_REMATCH[3]}" url_query="${BASH_REMATCH[4]}"
REBUILD_DATABASE_URL="${REBUILD_DATABASE_URL:-$url_base${live_db}_rebuild$url_query}"
[[ "$REBUILD_DATABASE_URL" =~ $url_re ]] || die "cannot parse REBUILD_DATABASE_URL"
new_db="${BASH_REMATCH[3]}"
[[ "$new_db" != "$live_db" ]] || die "REBUILD_DATABASE_URL must name another database than READ_DATABASE_URL"
maint_url="${url_base}postgres$url_query"
user_re='^postgres(ql)?://([^:@/]+)'
[[ "$READ_DATABASE_URL" =~ $user_re ]] || die "READ_DATABASE_URL names no user"
owner="${BASH_REMATCH[2]}"

q() { # q URL ARGS...: psql, quiet, unaligned, stopping at the first error
    local url="$1"
    shift
    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" "$@"
}

# admin SQL...: runs statements that need CREATEDB, as the read DB's user, else as the local
# superuser.
admin() {
    if q "$maint_url" -c "$1" 2>/dev/null; then
        return 0
    fi
    local sock="$STATE_DIR/pg/run"
    [[ -S "$sock/.s.PGSQL.${PG_PORT:-5432}" ]] || die "could not run '$1' (needs CREATEDB) and no local superuser socket in $sock"
    psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d postgres -c "$1" >/dev/null
}

t0=$(date +%s%N)
phase=$t0
# lap: lap_ms = milliseconds since the last lap; total_ms = since the start
lap() {
    local t
    t=$(date +%s%N)
    lap_ms=$(((t - phase) / 1000000))
    total_ms=$(((t - t0) / 1000000))
    phase=$t
}

# --- 1. a fresh database with the read schema --------------------------------------------------
admin "DROP DATABASE IF EXISTS \"$new_db\""
admin "CREATE DATABASE \"$new_db\" OWNER \"$owner\""
q "$REBUILD_DATABASE_URL" -c "SET client_min_messages = warning" -c "
    CREATE TABLE schema_migrations (version text PRIMARY KEY, checksum text NOT NULL,
                                    applied_at timestamptz NOT NULL DEFAULT now())"
for file in "$REPO_ROOT"/migrations/read/*.sql; do
    version="$(basename "$file" .sql)"
    checksum="$(sha256sum "$file" | cut -d' ' -f1)"
    (cd "$REPO_ROOT/migrations/read" && q "$REBUILD_DATABASE_URL" -v version="$version" \
        -v checksum="$checksum" -v file="$version.sql") <<'SQL' >/dev/null || die "migration $version failed"
BEGIN;
\i :file
INSERT INTO schema_migrations (version, checksum) VALUES (:'version', :'checksum');
COMMIT;
SQL
done
lap
echo "rebuild.sh: created $new_db with the read schema in $lap_ms ms"

# --- 2. replay the retained history -----------------------------------------------------------
q "$REBUILD_DATABASE_URL" -c "CREATE UNLOGGED TABLE rebuild_events (id bigint PRIMARY KEY, payload jsonb NOT NULL)"
q "$DATABASE_URL" -c "COPY (SELECT id, payload FROM outbox ORDER BY id) TO STDOUT" |
    q "$REBUILD_DATABASE_URL" -c "COPY rebuild_events (id, payload) FROM STDIN"
read -r events first last < <(q "$REBUILD_DATABASE_URL" -F ' ' -c \
    "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM rebuild_events")
q "$REBUILD_DATABASE_URL" -c "SET client_min_messages = warning" -c "
DO \$\$
DECLARE
    lo bigint := 0;
    hi bigint;
BEGIN
    LOOP
        SELECT max(id) INTO hi FROM (SELECT id FROM rebuild_events WHERE id > lo ORDER BY id LIMIT 1000) s;
        EXIT WHEN hi IS NULL;
        PERFORM apply_events((SELECT jsonb_agg(payload ORDER BY id) FROM rebuild_events
                              WHERE id > lo AND id <= hi));
        COMMIT;
        lo := hi;
    END LOOP;
END \$\$" -c "DROP TABLE rebuild_events" -c "SELECT refresh_due_views(0)" >/dev/null
lap
echo "rebuild.sh: replayed $events events (outbox ids $first..$last) into $new_db in $lap_ms ms"

# --- 3. compare table by table ----------------------------------------------------------------
# One query per database (each connection costs a SCRAM exchange): every row of every table and
# view as "table<US>row text", the rows of a table sorted, then split into one file per table.
dump_sql="$(q "$REBUILD_DATABASE_URL" <<'SQL'
SELECT string_agg(format('SELECT %L, r FROM (SELECT row(%s)::text AS r FROM %I) s ORDER BY r COLLATE "C";',
                         relname, cols, relname), E'\n' ORDER BY relname)
FROM (SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS cols
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')
        AND c.relname NOT IN ('schema_migrations', 'mv_state')
        AND a.attname NOT IN ('processed_at', 'projected_at', 'updated_at', 'refreshed_at')
      GROUP BY c.relname) t
SQL
)"
tables="$(q "$REBUILD_DATABASE_URL" -c "
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')
      AND c.relname NOT IN ('schema_migrations', 'mv_state')
    ORDER BY c.relname")"
ndiff=0
ntables=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/live" "$tmp/new"
for side in live new; do
    url="$READ_DATABASE_URL"
    [[ "$side" == new ]] && url="$REBUILD_DATABASE_URL"
    for t in $tables; do : >"$tmp/$side/$t"; done
    if ! q "$url" -F $'\x1f' -c "$dump_sql" 2>"$tmp/err" |
        awk -F '\x1f' -v dir="$tmp/$side" '{ f = dir "/" $1; print $2 > f }'; then
        die "could not read the $side read model: $(head -n 1 "$tmp/err")"
    fi
    [[ -s "$tmp/err" ]] && die "could not read the $side read model: $(head -n 1 "$tmp/err")"
done
for t in $tables; do
    ntables=$((ntables + 1))
    if cmp -s "$tmp/live/$t" "$tmp/new/$t"; then
        echo "rebuild.sh: $t: identical ($(wc -l <"$tmp/new/$t") rows)"
    else
        ndiff=$((ndiff + 1))
        echo "rebuild.sh: $t: DIFFERS ($(wc -l <"$tmp/live/$t") rows live, $(wc -l <"$tmp/new/$t") rebuilt); first differences (< live, > rebuilt):"
        diff "$tmp/live/$t" "$tmp/new/$t" | grep '^[<>]' | head -n 10 | sed 's/^/    /' || true
        if [[ "$t" == processed_events ]]; then
            echo "    (events applied live but missing from the rebuild are usually history older than OUTBOX_RETENTION)"
        fi
    fi
done
lap
if ((ndiff == 0)); then
    echo "rebuild.sh: $ntables tables compared in $lap_ms ms, no differences ($total_ms ms in all)"
else
    echo "rebuild.sh: $ntables tables compared in $lap_ms ms, $ndiff differ ($total_ms ms in all)"
fi

# --- keep, swap or drop -----------------------------------------------------------------------
if ((swap)); then
    busy="$(q "$maint_url" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$live_db'" 2>/dev/null || echo '?')"
    [[ "$busy" == 0 ]] || die "the live read DB has $busy connections: stop the consumer and the query API first (scripts/services.sh stop consumer query-api); the rebuilt database stays as $new_db"
    old="${live_db}_old_$(date -u +%Y%m%d%H%M%S)"
    admin "ALTER DATABASE \"$live_db\" RENAME TO \"$old\""
    admin "ALTER DATABASE \"$new_db\" RENAME TO \"$live_db\""
    echo "rebuild.sh: swapped: $live_db is the rebuilt read model, the previous one is $old"
elif ((keep)); then
    echo "rebuild.sh: kept the rebuilt read model as $new_db"
else
    admin "DROP DATABASE IF EXISTS \"$new_db\""
fi
((ndiff == 0)) || exit 1
