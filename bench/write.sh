#!/usr/bin/env bash
# bench/write.sh: measurement 1, the write path. For each relay notify variant
# (RELAY_NOTIFY_MODE=idle, then always; the relay is restarted with it) and each concurrency in
# BENCH_CONNS: orders/s and latency p50/p99 of POST /api/orders driven by wrk
# (bench/lua/order.lua), then the baseline, pgbench running the very same statement
# (bench/pgbench/create_order.sql, -M prepared, -j 2) with the same number of clients. The whole
# pipeline runs meanwhile; it drains before each run. Figures write.<mode>.{api,pgbench}.c<N>.*,
# write.<mode>.{api_best_rps,pgbench_best_tps,ratio} and write.peak_rps (the best API rate in
# the default idle variant, which the consumer and e2e stages use) at write.peak_conns.
#
# Each API run also gives its sustained pipeline rate, write.<mode>.api.c<N>.sustained_rps: the
# orders it committed / the time from its start until the read model had applied the last of
# them (the latest projected_at). And its CPU per order by process kind (bench/cpu.sh) from its
# start until the pipeline drained; the peak run's are write.cpu_us.<kind>, write.cpu_orders,
# write.cpu_window_s, its sustained rate write.sustained_rps.
#
# The physical limit: in the idle variant, after each pgbench run, pgbench runs the minimal
# transaction (bench/pgbench/minimal_order.sql: the same writes as one create-order in plain SQL,
# no function, no NOTIFY) with the same clients in bench_minimal, a scratch database of the same
# cluster (bench/minimal.sh): write.minimal.c<N>.{tps,p50_ms,p99_ms}, write.minimal_best_tps and
# write.sustained_vs_minimal = write.sustained_rps / write.minimal_best_tps.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/cpu.sh
source "$BENCH_DIR/cpu.sh"
# shellcheck source=bench/minimal.sh
source "$BENCH_DIR/minimal.sh"
product_range

# relay_mode MODE: restarts the relay with RELAY_NOTIFY_MODE=MODE (and checks that it got it).
relay_mode() {
    local pid
    services stop relay && RELAY_NOTIFY_MODE="$1" services start relay || return 1
    pid="$(tr -dc '0-9' <"$STATE_DIR/run/relay.pid")"
    tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "RELAY_NOTIFY_MODE=$1" ||
        die "the relay did not get RELAY_NOTIFY_MODE=$1"
}

# api_run MODE CONNS: one wrk run against the command API, then the pipeline drains: rate and
# latency, the sustained rate and the CPU per order ($BENCH_TMP/cpu-write-MODE-api-cCONNS.tsv).
api_run() {
    local mode="$1" c="$2" r key="write.$1.api.c$2" name="write-$1-api-c$2" w0 w1 n t0 nread last
    w0="$(wsql -c "SELECT coalesce(max(id), 0) FROM orders")"
    cpu_snapshot "$BENCH_TMP/cpu-$name.0" || return 1
    t0="$(date +%s.%N)"
    r="$(run_wrk "$name" "$COMMAND_URL" "$c" "$BENCH_WRITE_S" order.lua)" || return 1
    settle || return 1
    cpu_snapshot "$BENCH_TMP/cpu-$name.1" || return 1
    fig_set "$key.rps" "$(round "$(jget "$r" .rps)")"
    fig_set "$key.p50_ms" "$(round "$(jget "$r" '.p50_us / 1000')")"
    fig_set "$key.p99_ms" "$(round "$(jget "$r" '.p99_us / 1000')")"
    read -r w1 n < <(wsql -F ' ' -c "SELECT max(id), count(*) FROM orders WHERE id > $w0")
    ((n > 0)) || {
        log "$name committed no order"
        return 1
    }
    # one PostgreSQL server on this machine: its clock is the shell's
    read -r nread last < <(rsql -F ' ' -c "SELECT count(*), extract(epoch FROM max(projected_at))
        FROM orders_read WHERE order_id > $w0 AND order_id <= $w1")
    [[ "$nread" == "$n" ]] || {
        log "$name: $n orders committed, $nread in the read model after the drain"
        return 1
    }
    fig_set "$key.sustained_rps" "$(round "$(calc "$n / ($last - $t0)")")"
    cpu_account "$BENCH_TMP/cpu-$name.0" "$BENCH_TMP/cpu-$name.1" "$n" \
        "$(cat "$BENCH_TMP/wrk-$name.cpu")" >"$BENCH_TMP/cpu-$name.tsv"
}

# pgbench_run KEY NAME URL SCRIPT CONNS: pgbench with CONNS clients running bench/pgbench/SCRIPT
# on URL: figures KEY.{tps,p50_ms,p99_ms}.
pgbench_run() {
    local key="$1" name="$2" url="$3" script="$4" c="$5" out prefix tps failed p50 p99
    out="$BENCH_TMP/pgbench-$name.txt"
    prefix="$BENCH_TMP/pgbench-$name.log"
    rm -f "$prefix".*
    if ! pgbench -n -M prepared -c "$c" -j 2 -T "$BENCH_WRITE_S" \
        -D customers="$BENCH_CUSTOMERS" -D pmin="$BENCH_PRODUCT_MIN" -D pmax="$BENCH_PRODUCT_MAX" \
        -f "$BENCH_DIR/pgbench/$script" -l --log-prefix="$prefix" "$url" >"$out" 2>&1; then
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
trap 'minimal_drop >/dev/null 2>&1 || true' EXIT
minimal_setup || die "could not create the scratch database $MINIMAL_DB"
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
        pgbench_run "write.$mode.pgbench.c$c" "$mode-c$c" "$DATABASE_URL" create_order.sql "$c" ||
            failures=$((failures + 1))
        if [[ "$mode" == idle ]]; then
            pgbench_run "write.minimal.c$c" "minimal-c$c" "$MINIMAL_URL" minimal_order.sql "$c" ||
                failures=$((failures + 1))
        fi
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

# the physical limit, and the peak run's sustained rate and CPU per order
minimal_check_payload || failures=$((failures + 1))
minimal_keys=()
for c in $BENCH_CONNS; do
    minimal_keys+=("write.minimal.c$c.tps")
done
minimal_best="$(best "${minimal_keys[@]}")"
[[ "$minimal_best" != 0 ]] && fig_set write.minimal_best_tps "$minimal_best"
peak_conns=""
peak=0
for c in $BENCH_CONNS; do
    v="$(fig_get "write.idle.api.c$c.rps")"
    if [[ -n "$v" ]] && jq -e -n --argjson v "$v" --argjson p "$peak" '$v > $p' >/dev/null; then
        peak="$v"
        peak_conns="$c"
    fi
done
if [[ -n "$peak_conns" ]]; then
    fig_set write.peak_conns "$peak_conns"
    sustained="$(fig_get "write.idle.api.c$peak_conns.sustained_rps")"
    if [[ -n "$sustained" ]]; then
        fig_set write.sustained_rps "$sustained"
        [[ "$minimal_best" != 0 ]] &&
            fig_set write.sustained_vs_minimal "$(round "$(calc "$sustained / $minimal_best")")"
    fi
    [[ -s "$BENCH_TMP/cpu-write-idle-api-c$peak_conns.tsv" ]] &&
        cpu_record write "$BENCH_TMP/cpu-write-idle-api-c$peak_conns.tsv"
fi
((failures == 0)) || die "$failures runs failed"
