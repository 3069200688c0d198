# shellcheck shell=bash
# bench/minimal.sh: the scratch database of the minimal-transaction baseline (sourced by
# write.sh after bench/lib.sh). minimal_setup creates bench_minimal in the same PostgreSQL
# cluster as the write DB, owned by the write DB's user: the write DB's products, orders,
# order_items and outbox as pg_dump --schema-only describes them (columns, primary keys,
# indexes, constraints, identities; so it follows the migrations) without their triggers, then
# the write DB's catalogue (every products row). minimal_check_payload compares the outbox
# payloads bench/pgbench/minimal_order.sql wrote with the command's own. minimal_drop drops it.

MINIMAL_DB=bench_minimal
MINIMAL_TABLES=(products orders order_items outbox)
# the write DB's URL with the scratch database's name
MINIMAL_URL="${DATABASE_URL%/*}/$MINIMAL_DB"

# msql ARGS...: psql on the scratch database, as the write DB's user.
msql() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$MINIMAL_URL" "$@"
}

minimal_drop() {
    pg_super -d postgres -c "DROP DATABASE IF EXISTS $MINIMAL_DB WITH (FORCE)"
}

minimal_setup() {
    local owner="${DATABASE_URL#*://}" t dump=() triggers
    owner="${owner%%@*}"
    owner="${owner%%:*}"
    minimal_drop || return 1
    pg_super -d postgres -c "CREATE DATABASE $MINIMAL_DB OWNER \"$owner\"" || return 1
    for t in "${MINIMAL_TABLES[@]}"; do
        dump+=(-t "public.$t")
    done
    # the dump is applied as the owner, so the tables are the owner's as in the write DB
    pg_dump -h "$STATE_DIR/pg/run" -p "$PG_PORT" -U postgres --schema-only --no-owner \
        --no-privileges "${dump[@]}" "$(url_db "$DATABASE_URL")" >"$BENCH_TMP/minimal-schema.sql" ||
        return 1
    grep -v '^CREATE TRIGGER ' "$BENCH_TMP/minimal-schema.sql" | msql >/dev/null || return 1
    triggers="$(msql -c "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")"
    [[ "$triggers" == 0 ]] || {
        log "bench_minimal has $triggers triggers; see $BENCH_TMP/minimal-schema.sql"
        return 1
    }
    # COPY writes the identity column as it is, so the ids are the write DB's
    wsql -c "COPY products TO STDOUT" | msql -c "COPY products FROM STDIN" || return 1
    msql -c "ANALYZE $(
        IFS=,
        echo "${MINIMAL_TABLES[*]}"
    )" || return 1
    log "bench_minimal: $(msql -c "SELECT count(*) FROM products") products, no trigger"
}

# minimal_check_payload: fails when the minimal transaction's outbox payloads are not within 10%
# of the size of the command's own OrderCreated payloads of 2 lines (the latest 5,000): then
# bench/pgbench/minimal_order.sql no longer writes what cmd_create_order writes.
minimal_check_payload() {
    local mine real
    mine="$(msql -c "SELECT round(avg(octet_length(payload::text))) FROM outbox")"
    real="$(wsql -c "SELECT round(avg(octet_length(payload::text))) FROM (
        SELECT payload FROM outbox WHERE event_type = 'OrderCreated'
          AND jsonb_array_length(payload->'items') = 2 ORDER BY id DESC LIMIT 5000) o")"
    log "outbox payload of 2 lines: minimal transaction ${mine:-?} bytes, cmd_create_order ${real:-?} bytes"
    [[ -n "$mine" && -n "$real" ]] || return 1
    jq -e -n --argjson m "$mine" --argjson r "$real" '($m - $r | fabs) <= 0.1 * $r' >/dev/null || {
        log "the minimal transaction's payload differs from cmd_create_order's by more than 10%: update bench/pgbench/minimal_order.sql"
        return 1
    }
}
