# shellcheck shell=bash
# bench/lib.sh: sourced by every bench script. Helpers for SQL, figures, wrk, the services and
# waiting for the pipeline. Expects what bench/run.sh exports: the stack's URLs and ports,
# STATE_DIR, BENCH_OUT (report folder), BENCH_TMP (raw outputs) and the BENCH_* parameters.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
export BENCH_LUA_DIR="$BENCH_DIR/lua"
# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh" # superuser_psql (its die is replaced below)
# shellcheck source=scripts/stack.sh
source "$REPO_ROOT/scripts/stack.sh" # the throwaway stack: stack_init, stack_up, stack_db ...

log() {
    printf '%s bench/%s: %s\n' "$(date +%T)" "${BENCH_STAGE:-run}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# wsql / rsql ARGS...: psql on the write / read DB: unaligned, tuples only, stop at the first error.
wsql() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"
}

rsql() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$READ_DATABASE_URL" "$@"
}

# pg_super ARGS...: psql as the cluster's superuser over its socket (databases, the whole
# cluster's pg_stat_activity), unaligned, tuples only; name the database with -d.
pg_super() {
    superuser_psql -A -t "$@"
}

# url_db URL: the database name of a PostgreSQL URL.
url_db() {
    local db="${1##*/}"
    echo "${db%%\?*}"
}

# calc EXPR: evaluates an arithmetic expression with jq (floating point), e.g. calc "3 / 4".
calc() {
    jq -n "$1"
}

# round N: N with at most 3 fraction digits, 4 below 1.
round() {
    jq -n --argjson x "$1" 'if ($x | fabs) >= 1 then ($x * 1000 | round) / 1000
                            else ($x * 10000 | round) / 10000 end'
}

# fig_set KEY VALUE: records a figure of the report (a number, or yes/no). The last value wins.
fig_set() {
    printf '%s\t%s\n' "$1" "$2" >>"$BENCH_OUT/figures.tsv"
    log "$1 = $2"
}

# fig_get KEY: a recorded figure, or nothing.
fig_get() {
    [[ -f "$BENCH_OUT/figures.tsv" ]] || return 0
    awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { if (v != "") print v }' "$BENCH_OUT/figures.tsv"
}

# state_set KEY VALUE / state_get KEY: what one stage leaves for the next (not reported).
state_set() {
    printf '%s\t%s\n' "$1" "$2" >>"$BENCH_TMP/state.tsv"
}

state_get() {
    [[ -f "$BENCH_TMP/state.tsv" ]] || return 0
    awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { if (v != "") print v }' "$BENCH_TMP/state.tsv"
}

# jget JSON FILTER: one value of a JSON document.
jget() {
    jq -r "$2" <<<"$1"
}

# children_ticks VAR: sets VAR to the CPU time (user + system, clock ticks) of the children
# this shell has waited for (cutime + cstime of /proc/$BASHPID/stat). It runs in this shell (a
# command substitution would read its own subshell's).
children_ticks() {
    local line f
    read -r line <"/proc/$BASHPID/stat"
    read -ra f <<<"${line##*) }" # after the command name: state, ppid, ...
    printf -v "$1" '%d' $((f[13] + f[14]))
}

# run_wrk NAME URL CONNECTIONS SECONDS SCRIPT [WRK ARGS...]: runs wrk with BENCH_WRK_THREADS
# threads and a script of bench/lua, keeps its output in $BENCH_TMP/wrk-NAME.txt and its CPU
# time (clock ticks, for bench/cpu.sh) in $BENCH_TMP/wrk-NAME.cpu, and prints the BENCH_RESULT
# JSON of bench/lua/common.lua. Fails when wrk fails or a request failed (socket error, time-out
# or an HTTP status >= 400): such a run measured errors, not the system.
run_wrk() {
    local name="$1" url="$2" conns="$3" secs="$4" script="$5" out result ticks0 ticks1
    shift 5
    out="$BENCH_TMP/wrk-$name.txt"
    children_ticks ticks0
    if ! wrk -t "$BENCH_WRK_THREADS" -c "$conns" -d "${secs}s" --timeout 10s \
        -s "$BENCH_LUA_DIR/$script" "$@" "$url" >"$out" 2>&1; then
        log "wrk $name failed:"
        cat "$out" >&2
        return 1
    fi
    children_ticks ticks1
    echo $((ticks1 - ticks0)) >"$BENCH_TMP/wrk-$name.cpu"
    result="$(sed -n 's/^BENCH_RESULT //p' "$out" | tail -n 1)"
    if [[ -z "$result" ]]; then
        log "wrk $name printed no result:"
        cat "$out" >&2
        return 1
    fi
    if ! jq -e '.requests > 0 and ([.errors[]] | add) == 0' <<<"$result" >/dev/null; then
        log "wrk $name: requests failed: $result"
        return 1
    fi
    printf '%s\n' "$result"
}

# profile_start NAME PID SECONDS: samples the stacks of process PID (all: every CPU, every
# process) with perf for SECONDS seconds, in the background (nothing when perf is missing or PID
# is empty); profile_finish NAME waits for it and writes $BENCH_OUT/profiles/NAME.txt: each
# process's share of the samples (all), each library's, then the top functions. A profile explains
# a figure; it is never a figure itself.
declare -A profile_pids=()
profile_start() {
    local name="$1" pid="$2" secs="$3"
    local target=(-p "$pid")
    [[ -n "$pid" ]] && command -v perf >/dev/null || return 0
    [[ "$pid" == all ]] && target=(-a)
    perf record -F 999 -g "${target[@]}" -o "$BENCH_TMP/perf-$name.data" -- sleep "$secs" \
        >"$BENCH_TMP/perf-$name.log" 2>&1 &
    profile_pids[$name]=$!
}

profile_finish() {
    local name="$1" data="$BENCH_TMP/perf-$1.data" out="$BENCH_OUT/profiles/$1.txt"
    [[ -n "${profile_pids[$name]:-}" ]] || return 0
    wait "${profile_pids[$name]}" || true
    unset "profile_pids[$name]"
    [[ -s "$data" ]] || return 0
    mkdir -p "$BENCH_OUT/profiles"
    {
        echo "# perf record -F 999 -g of $name; samples by process, by library, then by function (self)"
        perf report -i "$data" --stdio --no-children --sort comm -g none 2>/dev/null |
            awk '!/^#/ && NF && n++ < 12'
        echo
        # awk reads to the end: a reader that stops early would fail perf with SIGPIPE
        perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null |
            awk '!/^#/ && NF && n++ < 12'
        echo
        perf report -i "$data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
            awk '!/^#/ && NF && n++ < 30'
    } >"$out" || log "perf report of $name failed"
    rm -f "$data"
}

# services ARGS...: scripts/services.sh, its output kept in $BENCH_TMP/stack.log.
services() {
    "$REPO_ROOT/scripts/services.sh" "$@" >>"$BENCH_TMP/stack.log" 2>&1 && return 0
    log "services.sh $* failed; see $BENCH_TMP/stack.log"
    return 1
}

# wait_for WHAT TIMEOUT_S INTERVAL_S CMD...: runs CMD until it succeeds; fails after TIMEOUT_S.
wait_for() {
    local what="$1" timeout="$2" interval="$3" deadline
    shift 3
    deadline=$((SECONDS + timeout))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for $what"
            return 1
        fi
        sleep "$interval"
    done
}

# need_running NAME...: exits the stage when one of these services is not running (so that a
# wait for it fails now, not at its time-out), with the end of its log.
need_running() {
    local name
    for name in "$@"; do
        if ! "$REPO_ROOT/scripts/services.sh" status "$name" >/dev/null 2>&1; then
            log "$name is not running; the end of its log:"
            tail -n 5 "$STATE_DIR/logs/$name.log" >&2 || true
            die "$name died"
        fi
    done
}

# pipeline_drained: true when the outbox holds no unpublished row and the read DB has processed
# the newest outbox event. One consumer takes the queue in order, so the newest processed means
# all processed. Cheap (index look-ups only), so it may be polled while measuring. Exits the stage
# when the relay or the consumer died.
pipeline_drained() {
    local unpublished newest
    need_running relay consumer
    unpublished="$(wsql -c "SELECT count(*) FROM outbox WHERE published_at IS NULL")"
    [[ "$unpublished" == 0 ]] || return 1
    newest="$(wsql -c "SELECT event_id FROM outbox ORDER BY id DESC LIMIT 1")"
    [[ -z "$newest" ]] && return 0
    [[ "$(rsql -v id="$newest" <<<"SELECT count(*) FROM processed_events WHERE event_id = :'id'")" == 1 ]]
}

# settle_within TIMEOUT_S INTERVAL_S: waits until the pipeline has drained, polling every
# INTERVAL_S. settle: the same within 600 s, polling every 0.3 s.
settle_within() {
    wait_for "the pipeline to drain" "$1" "$2" pipeline_drained
}

settle() {
    settle_within 600 0.3
}

# views_fresh: true when the consumer has refreshed every materialized view events touched.
views_fresh() {
    [[ "$(rsql -c "SELECT count(*) FROM mv_state WHERE dirty")" == 0 ]]
}

# percentiles FILE: prints "p50 p99 max" of the numbers in FILE (one a line).
percentiles() {
    sort -n "$1" | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) exit 1
            i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
            print v[i50], v[i99], v[NR]
        }'
}

# gen_orders N PAID_PCT DAYS PUBLISHED: adds N orders to the write DB with
# bench/sql/gen_orders.sql, in transactions of at most 100,000 orders (so the relay can start on
# the first while the next is generated). PUBLISHED: yes or no (see the SQL file).
gen_orders() {
    local n="$1" paid="$2" days="$3" published="$4" chunk
    while ((n > 0)); do
        chunk=$((n > 100000 ? 100000 : n))
        wsql -v n="$chunk" -v paid_pct="$paid" -v days="$days" -v customers="$BENCH_CUSTOMERS" \
            -v published="$published" -f "$BENCH_DIR/sql/gen_orders.sql" >/dev/null || return 1
        n=$((n - chunk))
    done
}

# backlog_orders N: adds N orders to the write DB (gen_orders, one OrderCreated outbox row each,
# unpublished) and sets BACKLOG_OUTBOX (the first outbox id), BACKLOG_FIRST and BACKLOG_LAST (the
# first and last order ids). Stop the relay first, or it publishes them while they are made.
# shellcheck disable=SC2034 # BACKLOG_FIRST and BACKLOG_LAST are the callers'
backlog_orders() {
    local n="$1" rows
    BACKLOG_OUTBOX="$(wsql -c "SELECT coalesce(max(id), 0) + 1 FROM outbox")" || return 1
    BACKLOG_FIRST="$(wsql -c "SELECT coalesce(max(id), 0) + 1 FROM orders")" || return 1
    gen_orders "$n" 0 0 no || return 1
    BACKLOG_LAST="$(wsql -c "SELECT max(id) FROM orders")" || return 1
    rows="$(wsql -c "SELECT count(*) FROM outbox WHERE id >= $BACKLOG_OUTBOX AND published_at IS NULL")"
    [[ "$rows" == "$n" ]] || {
        log "expected $n unpublished outbox rows, found $rows"
        return 1
    }
}

# outbox_empty: no unpublished outbox row (exits the stage when the relay died).
outbox_empty() {
    need_running relay
    [[ "$(wsql -c "SELECT count(*) FROM outbox WHERE published_at IS NULL")" == 0 ]]
}

# relay_drain_rate FIRST_OUTBOX: waits (600 s at most) until the running relay has published every
# outbox row, then prints its rate in events/s over the rows from FIRST_OUTBOX on: between the
# first and the last batch's mark, the first batch's rows not counted (they were published before
# the first mark).
relay_drain_rate() {
    local from="$1" n first_batch span
    wait_for "the relay to drain the outbox" 600 0.2 outbox_empty || return 1
    read -r n first_batch span < <(wsql -F ' ' -c "
        WITH b AS (SELECT published_at FROM outbox WHERE id >= $from)
        SELECT count(*), count(*) FILTER (WHERE published_at = (SELECT min(published_at) FROM b)),
               extract(epoch FROM max(published_at) - min(published_at))
        FROM b")
    jq -e -n --argjson s "$span" '$s > 0' >/dev/null || {
        log "all $n rows were marked in one batch"
        return 1
    }
    round "$(calc "($n - $first_batch) / $span")"
}

# orders_projected FIRST LAST: the read DB holds every order FIRST..LAST (exits the stage when the
# consumer died). Several consumers apply out of order, so the newest one says nothing of the rest.
orders_projected() {
    need_running consumer
    (("$(rsql -c "SELECT count(*) FROM orders_read WHERE order_id BETWEEN $1 AND $2")" == $2 - $1 + 1))
}

# consumer_drain_rate FIRST LAST: waits (900 s at most) until the read DB holds every order
# FIRST..LAST, then prints the rate in events/s from the orders' projected_at (the read DB's clock
# at apply).
consumer_drain_rate() {
    local first="$1" last="$2" n span
    wait_for "the consumer to drain the queue" 900 0.2 orders_projected "$first" "$last" || return 1
    read -r n span < <(rsql -F ' ' -c "
        SELECT count(*), extract(epoch FROM max(projected_at) - min(projected_at))
        FROM orders_read WHERE order_id BETWEEN $first AND $last")
    jq -e -n --argjson s "$span" '$s > 0' >/dev/null || {
        log "all events were applied at once"
        return 1
    }
    round "$(calc "($n - 1) / $span")"
}

# load_products: the 1,000 products every measurement orders from (bench/sql/products.sql);
# records their id range for the load generators.
load_products() {
    wsql -v n="$BENCH_PRODUCTS" -f "$BENCH_DIR/sql/products.sql" >/dev/null || return 1
    read -r BENCH_PRODUCT_MIN BENCH_PRODUCT_MAX < <(wsql -F ' ' -c "SELECT min(id), max(id) FROM products")
    export BENCH_PRODUCT_MIN BENCH_PRODUCT_MAX
    state_set product_min "$BENCH_PRODUCT_MIN"
    state_set product_max "$BENCH_PRODUCT_MAX"
}

# product_range: exports BENCH_PRODUCT_MIN / BENCH_PRODUCT_MAX as load_products recorded them.
product_range() {
    BENCH_PRODUCT_MIN="$(state_get product_min)"
    BENCH_PRODUCT_MAX="$(state_get product_max)"
    [[ -n "$BENCH_PRODUCT_MIN" && -n "$BENCH_PRODUCT_MAX" ]] || die "no products loaded"
    export BENCH_PRODUCT_MIN BENCH_PRODUCT_MAX
}

# reset_databases: stops the services, drops both databases and creates them again with their
# migrations (scripts/pg.sh start creates what is missing), then starts the services: a system
# with no orders, on the same servers. The queue is empty once the pipeline has settled.
reset_databases() {
    local url
    services stop
    for url in "$DATABASE_URL" "$READ_DATABASE_URL"; do
        pg_super -d postgres -c "DROP DATABASE IF EXISTS \"$(url_db "$url")\" WITH (FORCE)" ||
            return 1
    done
    stack_db >>"$BENCH_TMP/stack.log" 2>&1 || return 1
    services start
}

# replay_outbox FIRST_ID: applies the outbox rows from id FIRST_ID on to the read DB with the
# consumer's own projection function, apply_events, in transactions of 500 events in id order
# (the consumer's batch size): for each window of 50,000 ids the write DB writes one
# "SELECT apply_events(...)" statement per 500 rows, and the read DB runs them.
replay_outbox() {
    local from="$1" last
    last="$(wsql -c "SELECT coalesce(max(id), 0) FROM outbox")"
    while ((from <= last)); do
        wsql -c "SELECT 'SELECT 1 FROM apply_events('
                        || quote_literal(jsonb_agg(payload ORDER BY id)::text) || '::jsonb);'
                 FROM outbox WHERE id >= $from AND id < $from + 50000
                 GROUP BY (id - $from) / 500 ORDER BY (id - $from) / 500" |
            rsql >/dev/null || return 1
        from=$((from + 50000))
    done
}
