#!/usr/bin/env bash
# bench/e2e.sh: measurement 4, end to end. At 10%, 50% and 90% of the peak command rate
# (write.peak_rps) for BENCH_E2E_S seconds, wrk sends orders at a constant rate: bench/lua/order.lua
# paces each thread with wrk's delay() on a schedule of due times (not "one request per
# response"), so the offered rate does not drop when latency grows.
#
# Delay of one order: from its occurredAt (the write DB's clock_timestamp() as
# cmd_create_order appends the event, just before the command commits) to the commit of the
# consumer transaction that projected it, taken as the latest projected_at (the read DB's
# clock_timestamp() at apply) among the rows of that transaction (same xmin). One PostgreSQL
# server, so one clock. p50, p99 and max over the run's orders.
#
# Backlog: the orders committed but not yet in the read model, computed exactly afterwards from
# the same two timestamps (the most in flight during each second); a sampler also records the
# unpublished outbox rows each second (the relay's share). The backlog is bounded when the
# least-squares slope of the per-second backlog stays under 2% of the offered rate and the
# pipeline drains within 10 s after the load stops.
#
# The relay's share of the delay: from occurredAt to the outbox row's published_at (the relay marks
# it in a transaction started after the broker confirmed it): relay_p50_ms, relay_p99_ms.
#
# CPU per order by process kind (bench/cpu.sh) from the start of the load until the pipeline
# drained: e2e.p<pct>.cpu_us.<kind>, e2e.p<pct>.cpu_orders, e2e.p<pct>.cpu_window_s.
#
# Figures e2e.p<pct>.{target_rps,achieved_rps,orders,p50_ms,p99_ms,max_ms,relay_p50_ms,relay_p99_ms,backlog_max,
# backlog_slope_per_s,unpublished_max,drain_s,bounded}; the time series (seconds since the
# start, orders/s, p50 ms, p99 ms, backlog, unpublished rows) go to $BENCH_OUT/series/e2e<pct>.tsv.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/cpu.sh
source "$BENCH_DIR/cpu.sh"
product_range

peak="$(fig_get write.peak_rps)"
[[ -n "$peak" ]] || die "no peak command rate: the write stage must run first"

sampler_pid=""
stop_sampler() {
    if [[ -n "$sampler_pid" ]]; then
        kill "$sampler_pid" 2>/dev/null || true
        wait "$sampler_pid" 2>/dev/null || true
        sampler_pid=""
    fi
}
trap stop_sampler EXIT

# sampler FILE: appends "epoch unpublished_outbox_rows" about every second.
sampler() {
    local out="$1" t u
    while :; do
        t="$(date +%s.%N)"
        u="$(wsql -c "SELECT count(*) FROM outbox WHERE published_at IS NULL")"
        printf '%s %s\n' "$t" "$u" >>"$out"
        sleep 1
    done
}

for pct in 10 50 90; do
    key="e2e.p$pct"
    rate="$(jq -n --argjson p "$peak" --argjson f "$pct" '[$p * $f / 100 | round, 1] | max')"
    settle
    w0="$(wsql -c "SELECT coalesce(max(id), 0) FROM orders")"
    samples="$BENCH_TMP/e2e$pct-samples.txt"
    : >"$samples"
    cpu_snapshot "$BENCH_TMP/cpu-e2e$pct.0" || die "no CPU snapshot"
    sampler "$samples" &
    sampler_pid=$!
    t0="$(date +%s.%N)"
    log "$pct% of peak: $rate orders/s for ${BENCH_E2E_S}s"
    result="$(BENCH_RATE="$rate" BENCH_THREADS="$BENCH_WRK_THREADS" \
        run_wrk "e2e$pct" "$COMMAND_URL" "$BENCH_E2E_CONNS" "$BENCH_E2E_S" order.lua)"
    drain_start=$SECONDS
    drained=yes
    settle_within 60 0.3 || drained=no
    drain_s=$((SECONDS - drain_start))
    cpu_snapshot "$BENCH_TMP/cpu-e2e$pct.1" || die "no CPU snapshot"
    sleep 1.2 # one more sample after the drain
    stop_sampler
    read -r w1 committed < <(wsql -F ' ' -c "SELECT max(id), count(*) FROM orders WHERE id > $w0")
    cpu_account "$BENCH_TMP/cpu-e2e$pct.0" "$BENCH_TMP/cpu-e2e$pct.1" "$committed" \
        "$(cat "$BENCH_TMP/wrk-e2e$pct.cpu")" >"$BENCH_TMP/cpu-e2e$pct.tsv" ||
        die "no CPU accounting"
    cpu_record "$key" "$BENCH_TMP/cpu-e2e$pct.tsv"

    # each order: occurredAt, and when the read model held it (its consumer transaction's end)
    orders_cte="o AS (
        SELECT occurred_at AS a, max(projected_at) OVER (PARTITION BY xmin::text) AS v
        FROM orders_read WHERE order_id > $w0 AND order_id <= $w1)"
    read -r n p50 p99 max < <(rsql -F ' ' -c "
        WITH $orders_cte, d AS (SELECT extract(epoch FROM v - a) * 1000 AS ms FROM o)
        SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3),
               round(max(ms)::numeric, 3)
        FROM d")
    ((n > 0)) || die "no order of this run reached the read DB"
    fig_set "$key.target_rps" "$rate"
    fig_set "$key.achieved_rps" "$(round "$(jget "$result" .rps)")"
    fig_set "$key.orders" "$n"
    fig_set "$key.p50_ms" "$p50"
    fig_set "$key.p99_ms" "$p99"
    fig_set "$key.max_ms" "$max"
    # the relay's share: occurredAt to the mark of its outbox row (published_at, the marking
    # transaction's start, after the broker's confirm); the rest is the broker and the consumer
    read -r rp50 rp99 < <(wsql -F ' ' -c "
        WITH d AS (SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM outbox
                   WHERE aggregate_type = 'order' AND event_type = 'OrderCreated'
                     AND aggregate_id > $w0 AND aggregate_id <= $w1)
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3)
        FROM d")
    fig_set "$key.relay_p50_ms" "$rp50"
    fig_set "$key.relay_p99_ms" "$rp99"

    # Per second since t0: orders committed, their delay p50 / p99, the backlog (the most orders
    # committed but not yet in the read model at any instant of that second, exact: a running
    # sum of +1 at each occurredAt and -1 when the read model held it) and the unpublished
    # outbox rows the sampler saw.
    rsql -F ' ' -c "
        WITH $orders_cte,
        lat AS (
            SELECT floor(extract(epoch FROM a) - $t0)::integer AS s, count(*) AS n,
                   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM v - a) * 1000)::numeric, 3) AS p50,
                   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM v - a) * 1000)::numeric, 3) AS p99
            FROM o GROUP BY 1),
        ev AS (SELECT a AS t, 1 AS d FROM o UNION ALL SELECT v, -1 FROM o),
        run AS (SELECT t, sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS b FROM ev),
        bl AS (SELECT floor(extract(epoch FROM t) - $t0)::integer AS s, max(b) AS b
               FROM run GROUP BY 1)
        SELECT s, coalesce(lat.n, 0), coalesce(lat.p50::text, 'NaN'),
               coalesce(lat.p99::text, 'NaN'), bl.b
        FROM bl LEFT JOIN lat USING (s) ORDER BY s" >"$BENCH_TMP/e2e$pct-seconds.txt"
    awk -v t0="$t0" '
        NR == FNR { unpub[int($1 - t0)] = $2; next }
        { printf "%d\t%d\t%s\t%s\t%d\t%s\n", $1, $2, $3, $4, $5, ($1 in unpub) ? unpub[$1] : "NaN" }
    ' "$samples" "$BENCH_TMP/e2e$pct-seconds.txt" >"$BENCH_OUT/series/e2e$pct.tsv"

    # bounded: the per-second backlog's least-squares slope over the full seconds of the load
    # stays under 2% of the offered rate, and the pipeline drained within 10 s after the load
    read -r bmax slope < <(awk -v last="$BENCH_E2E_S" '
        { if ($5 > m) m = $5 }
        $1 >= 0 && $1 < last {
            x = $1; b = $5; n++; sx += x; sy += b; sxx += x * x; sxy += x * b
        }
        END {
            d = n * sxx - sx * sx
            printf "%d %.3f\n", m, (n > 2 && d > 0) ? (n * sxy - sx * sy) / d : 0
        }' "$BENCH_OUT/series/e2e$pct.tsv")
    fig_set "$key.backlog_max" "$bmax"
    fig_set "$key.backlog_slope_per_s" "$slope"
    fig_set "$key.unpublished_max" "$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$samples")"
    fig_set "$key.drain_s" "$drain_s"
    bounded=no
    if [[ "$drained" == yes ]] && ((drain_s <= 10)) &&
        jq -e -n --argjson s "$slope" --argjson r "$rate" '$s < 0.02 * $r' >/dev/null; then
        bounded=yes
    fi
    fig_set "$key.bounded" "$bounded"
done
