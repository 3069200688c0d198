#!/usr/bin/env bash
# rebuild.sh [--snapshot] [--keep] [--swap]: rebuilds the read model into a fresh database, then
# compares it with the live read DB table by table and prints the differences.
#   1. reads the write DB in ONE repeatable-read transaction (so everything it reads agrees)
#   2. creates REBUILD_DATABASE_URL (default: READ_DATABASE_URL's database + "_rebuild"), dropping
#      an older one, and applies migrations/read to it with scripts/migrate.sh read (versioned
#      files and repeatable functions, recorded in schema_migrations and schema_repeatables)
#   3. replay mode (default): applies the retained history, `SELECT id, payload FROM outbox ORDER
#      BY id`, in chunks of 1000 with apply_events(), the consumer's own function. It REFUSES
#      (exit status 3, before creating anything) when the retention purge removed the creating
#      event (aggregateVersion 1) of some aggregate, naming them: replaying the rest would build
#      a wrong model (rebuild_history_gaps(), migrations/write/functions/60_maintenance.sql).
#      --snapshot: rebuilds from the write DB's current state instead. In the same snapshot it
#      reads rebuild_snapshot(): for every aggregate with a gap, events synthesized from its
#      current rows (its creating event carries the state, its lifecycle events follow with its
#      versions), and the retained events of every other aggregate; it applies those, records
#      the ids of the retained events folded into the synthesized state as processed, then
#      replays the outbox rows committed after the snapshot (those whose id the snapshot did not
#      see). The state is exact; what only the purged events knew is approximated (an order's
#      timeline times and createdAt, see docs/reliability.md), so the comparison leaves out
#      orders_read.timeline, created_at and occurred_at, and processed_events.
#   4. refreshes the materialized views and compares every table and materialized view
#      (wall-clock columns processed_at, projected_at, updated_at and refreshed_at left out),
#      printing, per table, "identical" or the first differing rows (< live, > rebuilt)
#   --keep  keep the rebuilt database (it is dropped after the comparison otherwise)
#   --swap  then make it the live read DB, only if it equals the live one: the live one is
#           renamed <name>_old_<timestamp>. Stop the consumer and the query API first
#           (scripts/services.sh stop consumer query-api). A rebuild that differs is never swapped.
# Compare on a quiet system (outbox drained, consumer caught up): events in flight differ.
# Creating a database needs CREATEDB; without it, the local cluster's superuser socket of
# scripts/pg.sh ($STATE_DIR/pg/run) is used when present.
# Exit status: 0 no differences, 1 differences (nothing swapped), 2 failure, 3 refused (replay
# mode with purged history: use --snapshot).
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

keep=0
swap=0
snapshot=0
for arg in "$@"; do
    case "$arg" in
        --keep) keep=1 ;;
        --swap) swap=1 keep=1 ;;
        --snapshot) snapshot=1 ;;
        *)
            echo "usage: $0 [--snapshot] [--keep] [--swap]" >&2
            exit 2
            ;;
    esac
done

# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh"
die_status=2 # die: exit status 2, failure (see above)

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
    superuser_psql -A -t -d postgres -c "$1" >/dev/null
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

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- 1. read the write DB in one snapshot -----------------------------------------------------
if ((snapshot)); then
    q "$DATABASE_URL" >/dev/null <<SQL || die "could not read the write DB's snapshot"
BEGIN ISOLATION LEVEL REPEATABLE READ;
\\copy (SELECT id FROM outbox) TO '$tmp/snapshot_ids'
\\copy (SELECT phase, ord, payload FROM rebuild_snapshot()) TO '$tmp/snapshot'
COMMIT;
SQL
    read -r gaps < <(awk -F '\t' '$1 == 1 || $1 == 3' "$tmp/snapshot" | wc -l)
    lap
    echo "rebuild.sh: read the write DB's snapshot in $lap_ms ms: $(wc -l <"$tmp/snapshot_ids") outbox rows, $gaps events synthesized for aggregates whose history was purged"
else
    q "$DATABASE_URL" >/dev/null <<SQL || die "could not read the write DB's outbox"
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
\\copy (SELECT aggregate_type, aggregate_id, coalesce(first_version::text, '') FROM rebuild_history_gaps()) TO '$tmp/gaps'
\\copy (SELECT id, payload FROM outbox ORDER BY id) TO '$tmp/outbox'
COMMIT;
SQL
    if [[ -s "$tmp/gaps" ]]; then
        ngaps=$(wc -l <"$tmp/gaps")
        {
            echo "rebuild.sh: refused: cannot rebuild by replaying the outbox: $ngaps aggregates lack their creating event (aggregateVersion 1), purged after OUTBOX_RETENTION; replaying the rest would build a wrong read model:"
            awk -F '\t' 'NR <= 20 { printf "    %s %s: %s\n", $1, $2, ($3 == "" ? "no event left" : "history starts at version " $3) }' "$tmp/gaps"
            ((ngaps <= 20)) || echo "    ... and $((ngaps - 20)) more"
            echo "rebuild.sh: rebuild from the write DB's current state instead: $0 --snapshot"
        } >&2
        exit 3
    fi
fi

# --- 2. a fresh database with the read schema --------------------------------------------------
admin "DROP DATABASE IF EXISTS \"$new_db\""
admin "CREATE DATABASE \"$new_db\" OWNER \"$owner\""
# the same runner as the live read DB's (versioned files, then the repeatable ones and the grants)
READ_DATABASE_URL="$REBUILD_DATABASE_URL" "$REPO_ROOT/scripts/migrate.sh" read >/dev/null ||
    die "the read migrations failed on $new_db"
lap
echo "rebuild.sh: created $new_db with the read schema in $lap_ms ms"

# --- 3. apply the events ------------------------------------------------------------------------
# apply_chunks: applies rebuild_events (id, payload) in id order, 1000 per commit, then drops it;
# sets events, first and last (count and id range).
apply_chunks() {
    read -r events first last < <(q "$REBUILD_DATABASE_URL" -F ' ' -c \
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM rebuild_events")
    q "$REBUILD_DATABASE_URL" -c "SET client_min_messages = warning" -c "
DO \$\$
DECLARE
    lo bigint := -1;
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
END \$\$" -c "DROP TABLE rebuild_events" >/dev/null
}
q "$REBUILD_DATABASE_URL" -c "CREATE UNLOGGED TABLE rebuild_events (id bigint PRIMARY KEY, payload jsonb NOT NULL)"
if ((snapshot)); then
    # the synthesized state and the retained history of aggregates without a gap, phase by phase,
    # never two phases in one apply_events call (it may reorder a batch by aggregateVersion, and
    # every product must exist before an order names it)
    q "$REBUILD_DATABASE_URL" -c "CREATE UNLOGGED TABLE rebuild_snapshot (phase integer, ord bigint, payload jsonb)" \
        -c "\\copy rebuild_snapshot FROM '$tmp/snapshot'"
    total=0
    for phase in 1 2 3 4; do
        q "$REBUILD_DATABASE_URL" -c "SET client_min_messages = warning" \
            -c "CREATE UNLOGGED TABLE IF NOT EXISTS rebuild_events (id bigint PRIMARY KEY, payload jsonb NOT NULL)" \
            -c "INSERT INTO rebuild_events SELECT row_number() OVER (ORDER BY ord), payload
                FROM rebuild_snapshot WHERE phase = $phase"
        apply_chunks
        total=$((total + events))
    done
    events=$total
    # folded events count as processed (a redelivery is skipped); synthesized ids never existed
    q "$REBUILD_DATABASE_URL" -c "SET client_min_messages = warning" -c "
        INSERT INTO processed_events (event_id, event_type, occurred_at)
        SELECT (payload->>'eventId')::uuid, payload->>'eventType', (payload->>'occurredAt')::timestamptz
        FROM rebuild_snapshot WHERE phase = 0 ON CONFLICT (event_id) DO NOTHING;
        DELETE FROM processed_events WHERE event_id IN (
            SELECT (payload->>'eventId')::uuid FROM rebuild_snapshot WHERE phase IN (1, 3));
        DROP TABLE rebuild_snapshot" >/dev/null
    lap
    echo "rebuild.sh: applied $events events of the snapshot (synthesized state and retained history) to $new_db in $lap_ms ms"
    # then what committed after the snapshot
    q "$REBUILD_DATABASE_URL" -c "CREATE UNLOGGED TABLE rebuild_events (id bigint PRIMARY KEY, payload jsonb NOT NULL)" \
        -c "CREATE UNLOGGED TABLE rebuild_seen (id bigint PRIMARY KEY)" -c "\\copy rebuild_seen FROM '$tmp/snapshot_ids'"
    q "$DATABASE_URL" -c "COPY (SELECT id, payload FROM outbox ORDER BY id) TO STDOUT" |
        q "$REBUILD_DATABASE_URL" -c "COPY rebuild_events (id, payload) FROM STDIN"
    q "$REBUILD_DATABASE_URL" -c "DELETE FROM rebuild_events WHERE id IN (SELECT id FROM rebuild_seen)" -c "DROP TABLE rebuild_seen"
    what="events committed after the snapshot"
else
    q "$REBUILD_DATABASE_URL" -c "\\copy rebuild_events (id, payload) FROM '$tmp/outbox'"
    what="events"
fi
apply_chunks
q "$REBUILD_DATABASE_URL" -c "SELECT refresh_due_views(0)" >/dev/null
lap
echo "rebuild.sh: replayed $events $what (outbox ids $first..$last) into $new_db in $lap_ms ms"

# --- 4. compare table by table ----------------------------------------------------------------
# What the comparison leaves out: wall-clock columns; in snapshot mode also what only the purged
# events knew (see above).
skip_cols="'processed_at', 'projected_at', 'updated_at', 'refreshed_at'"
# and the read DB's operational tables, which no event projects: the relay's and the broker's
# last reported state, the dead letters seen, the consumer's crash counts (read 0013, 0015), the
# views' refresh bookkeeping and the consumers' partition leases (read 0022); the tables split
# per shard (read 0022) are compared through their sums over the shards (sum_views), since the
# live consumers applied in several shards and the rebuild in one
skip_tables="'schema_migrations', 'schema_repeatables', 'mv_state', 'relay_status', 'queue_status', 'dead_letters', 'event_attempts', 'mv_refresh_state', 'mv_touches', 'consumer_members', 'consumer_partitions', 'order_totals', 'order_status_counts', 'mood_counts'"
sum_views="'order_totals_all', 'order_status_counts_all', 'mood_counts_all'"
if ((snapshot)); then
    skip_cols="$skip_cols, 'timeline', 'created_at', 'occurred_at'"
    skip_tables="$skip_tables, 'processed_events'"
fi
# One query per database (each connection costs a SCRAM exchange): every row of every table and
# view as "table<US>row text", the rows of a table sorted, then split into one file per table.
dump_sql="$(q "$REBUILD_DATABASE_URL" <<SQL
SELECT string_agg(format('SELECT %L, r FROM (SELECT row(%s)::text AS r FROM %I) s ORDER BY r COLLATE "C";',
                         relname, cols, relname), E'\n' ORDER BY relname)
FROM (SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS cols
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND (c.relkind IN ('r', 'm') OR c.relname IN ($sum_views))
        AND c.relname NOT IN ($skip_tables)
        AND a.attname NOT IN ($skip_cols)
      GROUP BY c.relname) t
SQL
)"
tables="$(q "$REBUILD_DATABASE_URL" -c "
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND (c.relkind IN ('r', 'm') OR c.relname IN ($sum_views))
      AND c.relname NOT IN ($skip_tables)
    ORDER BY c.relname")"
ndiff=0
ntables=0
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
            echo "    (ids applied live but missing from the rebuild: history older than OUTBOX_RETENTION, or ids the live side purged after PROCESSED_EVENTS_RETENTION)"
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
if ((swap && ndiff > 0)); then
    echo "rebuild.sh: not swapped: the rebuilt read model differs from the live one in $ndiff tables; it stays as $new_db for inspection" >&2
elif ((swap)); then
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
