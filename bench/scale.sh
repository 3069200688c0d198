#!/usr/bin/env bash
# bench/scale.sh: measurement 6, scale. Starts from empty databases (bench/lib.sh
# reset_databases) and the 1,000 products, then for each size of BENCH_SCALE_SIZES (100,000 then
# 1,000,000 orders in the system; smoke: 1,000 then 10,000):
#   - generates the write DB's history up to that size in SQL (bench/sql/gen_orders.sql,
#     set-based: orders placed over the last 365 days, 30% of them paid, so two events for those),
#   - builds the read DB from those outbox rows with the consumer's projection function:
#     BENCH_SCALE_BUILD=replay (default) marks the history published and replays the outbox
#     straight into apply_events in chunks of 2,000 (bench/lib.sh replay_outbox), the same
#     projection code without 1.3 events per order going through RabbitMQ, whose throughput
#     stages 2 and 3 measure already; BENCH_SCALE_BUILD=pipeline leaves the rows to the relay and
#     the consumer instead (slower: the broker's persistent writes share the two cores),
#   - times REFRESH MATERIALIZED VIEW CONCURRENTLY of each view (median of BENCH_REFRESH_REPEAT),
#   - runs wrk on each analytics endpoint (p99, requests/s).
# Figures scale.s<i>.* (i = 1, 2) and the ratios scale.ratio.* (size 2 / size 1).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${BENCH_SCALE_BUILD:=replay}"
[[ "$BENCH_SCALE_BUILD" == replay || "$BENCH_SCALE_BUILD" == pipeline ]] ||
    die "BENCH_SCALE_BUILD must be replay or pipeline"
VIEWS=(mv_order_stats mv_sales_daily mv_top_products mv_categories)
ANALYTICS=(
    "analytics_orders /api/analytics/orders"
    "analytics_sales_daily /api/analytics/sales/daily"
    "analytics_top_products /api/analytics/products/top"
    "analytics_categories /api/analytics/categories"
)

log "re-creating the databases"
settle
reset_databases || die "could not re-create the databases"
load_products || die "could not load the products"
settle_within 120 0.3 || die "the products did not reach the read DB"

# refresh_ms VIEW: median time of BENCH_REFRESH_REPEAT refreshes, in ms (psql's \timing).
refresh_ms() {
    local view="$1" i
    for ((i = 0; i < BENCH_REFRESH_REPEAT; i++)); do
        printf '\\timing on\nREFRESH MATERIALIZED VIEW CONCURRENTLY %s;\n' "$view"
    done | psql -X -v ON_ERROR_STOP=1 -d "$READ_DATABASE_URL" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' >"$BENCH_TMP/refresh-$view.txt"
    read -r p50 _ < <(percentiles "$BENCH_TMP/refresh-$view.txt")
    echo "$p50"
}

i=0
have=0
unset BENCH_PATH BENCH_ID_FILE
for size in $BENCH_SCALE_SIZES; do
    i=$((i + 1))
    key="scale.s$i"
    add=$((size - have))
    first_event="$(wsql -c "SELECT coalesce(max(id), 0) + 1 FROM outbox")"
    log "generating $add orders (history up to $size)"
    t0="$(date +%s.%N)"
    gen_orders "$add" 30 365 "$([[ "$BENCH_SCALE_BUILD" == replay ]] && echo yes || echo no)" ||
        die "could not generate the orders"
    t1="$(date +%s.%N)"
    have="$size"
    fig_set "$key.orders" "$(wsql -c "SELECT count(*) FROM orders")"
    fig_set "$key.gen_orders_per_s" "$(round "$(calc "$add / ($t1 - $t0)")")"
    events="$(wsql -c "SELECT count(*) FROM outbox WHERE id >= $first_event")"
    log "building the read DB from $events events ($BENCH_SCALE_BUILD)"
    if [[ "$BENCH_SCALE_BUILD" == replay ]]; then
        replay_outbox "$first_event" || die "could not replay the outbox"
        t2="$(date +%s.%N)"
        settle_within 60 0.3 || die "the read DB does not hold the replayed events"
    else
        settle_within 3600 1 || die "the pipeline did not drain"
        t2="$(date +%s.%N)"
    fi
    fig_set "$key.build_events" "$events"
    fig_set "$key.build_events_per_s" "$(round "$(calc "$events / ($t2 - $t1)")")"
    views_fresh || wait_for "the views to be refreshed" 60 0.2 views_fresh
    fig_set "$key.read_orders" "$(rsql -c "SELECT count(*) FROM orders_read")"

    for view in "${VIEWS[@]}"; do
        fig_set "$key.refresh.${view}_ms" "$(refresh_ms "$view")"
    done
    for entry in "${ANALYTICS[@]}"; do
        read -r name path <<<"$entry"
        r="$(run_wrk "scale-s$i-$name" "$QUERY_URL$path" "$BENCH_QUERY_CONNS" "$BENCH_ANALYTICS_S" \
            get.lua)"
        fig_set "$key.$name.p99_ms" "$(round "$(jget "$r" '.p99_us / 1000')")"
        fig_set "$key.$name.rps" "$(round "$(jget "$r" .rps)")"
    done
done

((i == 2)) || die "BENCH_SCALE_SIZES must hold two sizes"
for view in "${VIEWS[@]}"; do
    fig_set "scale.ratio.refresh.$view" \
        "$(round "$(calc "$(fig_get "scale.s2.refresh.${view}_ms") / $(fig_get "scale.s1.refresh.${view}_ms")")")"
done
for entry in "${ANALYTICS[@]}"; do
    read -r name _ <<<"$entry"
    fig_set "scale.ratio.$name.p99" \
        "$(round "$(calc "$(fig_get "scale.s2.$name.p99_ms") / $(fig_get "scale.s1.$name.p99_ms")")")"
done
