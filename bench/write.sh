#!/usr/bin/env bash
# bench/write.sh: measurement 1, the write path. For each relay notify variant
# (RELAY_NOTIFY_MODE=idle, then always; the relay is restarted with it) and each concurrency in
# BENCH_CONNS: orders/s and latency p50/p99 of POST /api/orders driven by wrk
# (bench/lua/order.lua), then the baseline, pgbench running the very same statement
# (bench/pgbench/create_order.sql, -M prepared, -j 2) with the same number of clients. The whole
# pipeline runs meanwhile; it drains before each run. Figures write.<mode>.{api,pgbench}.c<N>.*,
# write.<mode>.{api_best_rps,pgbench_best_tps,ratio} and write.peak_rps (the best API rate in
# the default idle variant, which the consumer and e2e stages use).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
product_range

# relay_mode MODE: restarts the relay with RELAY_NOTIFY_MODE=MODE (and checks that it got it).
relay_mode() {
    local pid
    services stop relay && RELAY_NOTIFY_MODE="$1" services start relay || return 1
    pid="$(tr -dc '0-9' <"$STATE_DIR/run/relay.pid")"
    tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "RELAY_NOTIFY_MODE=$1" ||
        die "the relay did not get RELAY_NOTIFY_MODE=$1"
}

# api_run MODE CONNS: one wrk run against the command API.
api_run() {
    local mode="$1" c="$2" r key="write.$1.api.c$2"
    r="$(run_wrk "write-$mode-api-c$c" "$COMMAND_URL" "$c" "$BENCH_WRITE_S" order.lua)" || return 1
    fig_set "$key.rps" "$(round "$(jget "$r" .rps)")"
    fig_set "$key.p50_ms" "$(round "$(jget "$r" '.p50_us / 1000')")"
    fig_set "$key.p99_ms" "$(round "$(jget "$r" '.p99_us / 1000')")"
}

# pgbench_run MODE CONNS: the same number of clients calling the command function directly.
pgbench_run() {
    local mode="$1" c="$2" out prefix tps failed p50 p99 key="write.$1.pgbench.c$2"
    out="$BENCH_TMP/pgbench-$mode-c$c.txt"
    prefix="$BENCH_TMP/pgbench-$mode-c$c.log"
    rm -f "$prefix".*
    if ! pgbench -n -M prepared -c "$c" -j 2 -T "$BENCH_WRITE_S" \
        -D customers="$BENCH_CUSTOMERS" -D pmin="$BENCH_PRODUCT_MIN" -D pmax="$BENCH_PRODUCT_MAX" \
        -f "$BENCH_DIR/pgbench/create_order.sql" -l --log-prefix="$prefix" \
        "$DATABASE_URL" >"$out" 2>&1; then
        log "pgbench failed:"
        cat "$out" >&2
        return 1
    fi
    tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")"
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")"
    [[ -n "$tps" ]] || {
        log "pgbench printed no tps: $(cat "$out")"
        return 1
    }
    [[ "${failed:-0}" == 0 ]] || {
        log "pgbench: $failed transactions failed"
        return 1
    }
    # per-transaction log: client, transaction, latency in microseconds, ...
    cat "$prefix".* | awk '{ print $3 }' >"$prefix.latency"
    read -r p50 p99 _ < <(percentiles "$prefix.latency")
    rm -f "$prefix".*
    fig_set "$key.tps" "$(round "$tps")"
    fig_set "$key.p50_ms" "$(round "$(calc "$p50 / 1000")")"
    fig_set "$key.p99_ms" "$(round "$(calc "$p99 / 1000")")"
}

# one order first: a run of failing requests would measure errors (wrk counts them, run_wrk
# refuses them); this says why
auth=()
[[ -n "${COMMAND_API_TOKEN:-}" ]] && auth=(-H "Authorization: Bearer $COMMAND_API_TOKEN")
probe="$(curl -s -o "$BENCH_TMP/probe.json" -w '%{http_code}' -X POST "$COMMAND_URL/api/orders" \
    -H 'Content-Type: application/json' "${auth[@]}" \
    -d "{\"customerId\": 1, \"items\": [{\"productId\": $BENCH_PRODUCT_MIN, \"quantity\": 1}]}")" || true
[[ "$probe" == 201 ]] || die "POST /api/orders answered $probe: $(cat "$BENCH_TMP/probe.json" 2>/dev/null)"

# best KEY...: the largest of the figures that exist (0 when none does).
best() {
    local k v b=0
    for k in "$@"; do
        v="$(fig_get "$k")"
        [[ -n "$v" ]] && b="$(jq -n --argjson a "$b" --argjson b "$v" '[$a, $b] | max')"
    done
    echo "$b"
}

# A failed run is reported and the others go on; the stage then fails at the end.
failures=0
for mode in idle always; do
    relay_mode "$mode"
    settle
    log "notify mode $mode: warm-up ${BENCH_WARMUP_S}s"
    run_wrk "write-$mode-warmup" "$COMMAND_URL" 32 "$BENCH_WARMUP_S" order.lua >/dev/null ||
        failures=$((failures + 1))
    api_keys=()
    pg_keys=()
    for c in $BENCH_CONNS; do
        settle
        api_run "$mode" "$c" || failures=$((failures + 1))
        settle
        pgbench_run "$mode" "$c" || failures=$((failures + 1))
        api_keys+=("write.$mode.api.c$c.rps")
        pg_keys+=("write.$mode.pgbench.c$c.tps")
    done
    best_api="$(best "${api_keys[@]}")"
    best_pg="$(best "${pg_keys[@]}")"
    if [[ "$best_api" != 0 && "$best_pg" != 0 ]]; then
        fig_set "write.$mode.api_best_rps" "$best_api"
        fig_set "write.$mode.pgbench_best_tps" "$best_pg"
        fig_set "write.$mode.ratio" "$(round "$(calc "$best_api / $best_pg")")"
    fi
done
relay_mode idle
settle
[[ -n "$(fig_get write.idle.api_best_rps)" ]] && fig_set write.peak_rps "$(fig_get write.idle.api_best_rps)"
((failures == 0)) || die "$failures runs failed"
