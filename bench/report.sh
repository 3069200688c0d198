#!/usr/bin/env bash
# bench/report.sh: writes the report of a run from $BENCH_OUT/figures.tsv, meta.tsv and
# series/: $BENCH_OUT/latest.md (tables: each figure, its baseline, ratio, target, met?),
# latest.json (every figure, the targets, the time series, machine and configuration) and
# latest.png (bench/plot.gp: throughput, delay and backlog of the end-to-end runs over time).
# Exits non-zero when a figure of a stage that ran, or the chart, is missing: that is the smoke
# run's assertion. Speeds never fail it.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/cpu.sh
source "$BENCH_DIR/cpu.sh"

: "${BENCH_CONNS:=8 32 64}"
figures="$BENCH_OUT/figures.tsv"
meta="$BENCH_OUT/meta.tsv"
touch "$figures" "$meta"

declare -A F=() M=()
while IFS=$'\t' read -r k v; do
    F[$k]="$v"
done <"$figures"
while IFS=$'\t' read -r k v; do
    M[$k]="$v"
done <"$meta"
stages="${M[stages]:-write relay consumer e2e cluster scale query}"
ran() {
    [[ " $stages " == *" $1 "* ]]
}

MODES=(idle always)
QUERY_NAMES=(order_by_id products customer_summary analytics_orders analytics_sales_daily
    analytics_top_products analytics_categories)
VIEWS=(mv_order_stats mv_sales_daily mv_top_products mv_categories)
ANALYTICS=(analytics_orders analytics_sales_daily analytics_top_products analytics_categories)
E2E_LOADS=(10 50 90)
CPU_KEYS=("${CPU_KINDS[@]}" "${CPU_TOTALS[@]}")

# --- which figures each stage must produce ----------------------------------------------------
expected=()
expect() {
    local prefix="$1" s
    shift
    for s in "$@"; do
        expected+=("$prefix$s")
    done
}
if ran write; then
    for mode in "${MODES[@]}"; do
        for c in $BENCH_CONNS; do
            expect "write.$mode.api.c$c." rps p50_ms p99_ms sustained_rps
            expect "write.$mode.pgbench.c$c." tps p50_ms p99_ms
        done
        expect "write.$mode." api_best_rps pgbench_best_tps ratio
    done
    for c in $BENCH_CONNS; do
        expect "write.minimal.c$c." tps p50_ms p99_ms
    done
    expect write. peak_rps peak_conns minimal_best_tps sustained_rps sustained_vs_minimal \
        cpu_orders cpu_window_s
    expect write.cpu_us. "${CPU_KEYS[@]}"
fi
ran relay && expect relay. events_per_s publisher_per_s ratio
ran consumer && expect consumer. events_per_s ratio_to_peak
if ran e2e; then
    for pct in "${E2E_LOADS[@]}"; do
        expect "e2e.p$pct." target_rps achieved_rps orders p50_ms p99_ms max_ms relay_p50_ms \
            relay_p99_ms backlog_max \
            backlog_slope_per_s unpublished_max drain_s bounded cpu_orders cpu_window_s
        expect "e2e.p$pct.cpu_us." "${CPU_KEYS[@]}"
    done
fi
CLUSTER_RUNS=(single1)
for n in ${BENCH_CLUSTER_CONSUMERS:-1 2 4}; do
    CLUSTER_RUNS+=("cluster$n")
done
if ran cluster; then
    for q in classic quorum; do
        expect "cluster.relay.$q." events_per_s cpu_orders cpu_window_s
        expect "cluster.relay.$q.cpu_us." "${CPU_KEYS[@]}"
    done
    expect cluster.relay. ratio
    for r in "${CLUSTER_RUNS[@]}"; do
        expect "cluster.consumers.$r." events_per_s cpu_orders cpu_window_s
        expect "cluster.consumers.$r.cpu_us." "${CPU_KEYS[@]}"
        [[ "$r" == single1 ]] || expect "cluster.consumers.$r." ratio
    done
fi
if ran query; then
    for q in "${QUERY_NAMES[@]}"; do
        expect "query.$q." bytes rps p99_ms nginx_rps nginx_p99_ms ratio
    done
    expect query.order_by_id. minimal_rps minimal_p99_ms ratio_minimal
fi
if ran scale; then
    for i in 1 2; do
        expect "scale.s$i." orders gen_orders_per_s build_events build_events_per_s read_orders
        for v in "${VIEWS[@]}"; do
            expect "scale.s$i.refresh." "${v}_ms"
        done
        for a in "${ANALYTICS[@]}"; do
            expect "scale.s$i.$a." p99_ms rps
        done
    done
    for v in "${VIEWS[@]}"; do
        expect scale.ratio.refresh. "$v"
    done
    for a in "${ANALYTICS[@]}"; do
        expect "scale.ratio.$a." p99
    done
fi
missing=()
for k in "${expected[@]}"; do
    v="${F[$k]:-}"
    if [[ -z "$v" ]] || ! [[ "$v" =~ ^(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|yes|no)$ ]]; then
        missing+=("$k")
    fi
done

# f KEY: a figure for the tables, or "-" when missing.
f() {
    printf '%s' "${F[$1]:--}"
}

# ms_of_us KEY: a figure in µs as ms, or "-".
ms_of_us() {
    local v="${F[$1]:-}"
    if [[ -n "$v" ]]; then round "$(calc "$v / 1000")"; else printf -- -; fi
}

# The previous full run, committed (bench/results/latest.json at HEAD): the reference of the
# latency at low load. Nothing when there is none, or it has no 10% point yet.
prev_json="$(git -C "$REPO_ROOT" show HEAD:bench/results/latest.json 2>/dev/null || true)"
prev_commit=""
prev_p10=""
if [[ -n "$prev_json" ]] && jq -e '.mode == "full"' <<<"$prev_json" >/dev/null 2>&1; then
    prev_commit="$(jq -r '.git.commit // ""' <<<"$prev_json")"
    prev_p10="$(jq -r '.figures["e2e.p10.p50_ms"] // empty' <<<"$prev_json")"
fi
p10_diff=-
[[ -n "$prev_p10" && -n "${F[e2e.p10.p50_ms]:-}" ]] &&
    p10_diff="$(round "$(calc "${F[e2e.p10.p50_ms]} - $prev_p10")")"
prev_name="none yet"
[[ -n "$prev_p10" ]] && prev_name="commit $prev_commit"

# --- targets --------------------------------------------------------------------------------------
# One row: name, value, baseline, ratio (or the compared figure), target, met (yes/no/-).
targets=()
# target NAME VALUE BASELINE RATIO OP LIMIT: met when RATIO OP LIMIT (OP: ge, le, eq).
target() {
    local name="$1" value="$2" base="$3" ratio="$4" op="$5" limit="$6" met=- text
    case "$op" in
        ge) text="≥ $limit" ;;
        le) text="≤ $limit" ;;
        eq) text="$limit" ;;
    esac
    if [[ "$ratio" != - ]]; then
        case "$op" in
            ge) met="$(jq -n --argjson r "$ratio" --argjson l "$limit" 'if $r >= $l then "yes" else "no" end' -r)" ;;
            le) met="$(jq -n --argjson r "$ratio" --argjson l "$limit" 'if $r <= $l then "yes" else "no" end' -r)" ;;
            eq) met="$([[ "$ratio" == "$limit" ]] && echo yes || echo no)" ;;
        esac
    fi
    targets+=("$name"$'\t'"$value"$'\t'"$base"$'\t'"$ratio"$'\t'"$text"$'\t'"$met")
}
target "Sustained pipeline orders/s (command API at peak, until the read model applied them) vs minimal transaction (pgbench, same cluster)" \
    "$(f write.sustained_rps)" "$(f write.minimal_best_tps)" "$(f write.sustained_vs_minimal)" ge 0.8
target "PostgreSQL write-side CPU per order (µs, write DB backends, command API at peak)" \
    "$(f write.cpu_us.pg_write)" - "$(f write.cpu_us.pg_write)" le 400
target "Total CPU per order (ms, every process but the load generator, command API at peak)" \
    "$(ms_of_us write.cpu_us.total)" - "$(ms_of_us write.cpu_us.total)" le 0.9
for mode in "${MODES[@]}"; do
    target "Command API orders/s vs pgbench, best concurrency of each (RELAY_NOTIFY_MODE=$mode)" \
        "$(f "write.$mode.api_best_rps")" "$(f "write.$mode.pgbench_best_tps")" \
        "$(f "write.$mode.ratio")" ge 0.85
done
target "Relay events/s vs minimal publisher" "$(f relay.events_per_s)" \
    "$(f relay.publisher_per_s)" "$(f relay.ratio)" ge 0.8
target "Consumer events/s vs command API peak orders/s" "$(f consumer.events_per_s)" \
    "$(f write.peak_rps)" "$(f consumer.ratio_to_peak)" ge 1.5
target "End to end at 10% of peak: p50 (ms), minus the previous full run's ($prev_name)" \
    "$(f e2e.p10.p50_ms)" "${prev_p10:--}" "$p10_diff" le 1
target "End to end at 50% of peak: p50 (ms)" "$(f e2e.p50.p50_ms)" - "$(f e2e.p50.p50_ms)" le 5
target "End to end at 50% of peak: p99 (ms)" "$(f e2e.p50.p99_ms)" - "$(f e2e.p50.p99_ms)" le 25
target "End to end at 90% of peak: backlog bounded" "$(f e2e.p90.bounded)" - \
    "$(f e2e.p90.bounded)" eq yes
target "End to end at 90% of peak: p99 (ms)" "$(f e2e.p90.p99_ms)" - "$(f e2e.p90.p99_ms)" le 100
target "Query by id req/s vs nginx static file of the same size" "$(f query.order_by_id.rps)" \
    "$(f query.order_by_id.nginx_rps)" "$(f query.order_by_id.ratio)" ge 0.5
for a in "${ANALYTICS[@]}"; do
    target "Analytics p99 (ms), large / small: ${a#analytics_}" "$(f "scale.s2.$a.p99_ms")" \
        "$(f "scale.s1.$a.p99_ms")" "$(f "scale.ratio.$a.p99")" le 1.5
done
for v in "${VIEWS[@]}"; do
    target "View refresh (ms), large / small: $v (not in proportion to the data)" \
        "$(f "scale.s2.refresh.${v}_ms")" "$(f "scale.s1.refresh.${v}_ms")" \
        "$(f "scale.ratio.refresh.$v")" le 1.5
done

# --- machine ----------------------------------------------------------------------------------------
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
nproc_n="$(nproc)"
mem_gb="$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
kernel="$(uname -r)"
date_utc="$(date -u +%FT%TZ)"
s1="$(f scale.s1.orders)"
s2="$(f scale.s2.orders)"

# --- latest.json --------------------------------------------------------------------------------
series_json() {
    local file="$BENCH_OUT/series/$1.tsv"
    if [[ -s "$file" ]]; then
        jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | map(tonumber? // null)
                  | {t_s: .[0], orders_per_s: .[1], p50_ms: .[2], p99_ms: .[3], backlog: .[4],
                     unpublished: .[5]})' "$file"
    else
        echo '[]'
    fi
}
jq -n \
    --arg mode "${M[mode]:-unknown}" --arg started "${M[started]:-}" --arg finished "$date_utc" \
    --arg cpu "$cpu" --argjson nproc "$nproc_n" --arg mem "$mem_gb" --arg kernel "$kernel" \
    --arg load "${M[loadavg_start]:-}" --arg commit "${M[git_commit]:-}" \
    --arg dirty "${M[git_dirty]:-}" --arg stages "$stages" \
    --rawfile figures "$figures" \
    --arg targets "$(printf '%s\n' "${targets[@]}")" \
    --arg missing "$(printf '%s\n' "${missing[@]}")" \
    --argjson e2e10 "$(series_json e2e10)" \
    --argjson e2e50 "$(series_json e2e50)" --argjson e2e90 "$(series_json e2e90)" \
    --arg prev_commit "$prev_commit" --arg prev_p10 "$prev_p10" \
    --arg cfg "$(env | grep -E '^(BENCH_[A-Z_]+|HTTP_THREADS|RELAY_[A-Z_]+|CONSUMER_[A-Z_]+|MV_REFRESH_INTERVAL_MS|LOG_LEVEL)=' |
        grep -vE '^BENCH_(OUT|TMP|DIR|LUA_DIR|PUBLISHER|STAGE|NGINX_PORT|PRODUCT_MIN|PRODUCT_MAX)=' | sort)" '
    def num: if test("^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$") then tonumber
             elif . == "yes" then true elif . == "no" then false else . end;
    {
      mode: $mode, started: $started, finished: $finished,
      machine: {nproc: $nproc, cpu: $cpu, mem_gb: ($mem | tonumber), kernel: $kernel,
                loadavg_at_start: $load},
      git: {commit: $commit, dirty: ($dirty == "yes")},
      stages: ($stages | split(" ") | map(select(length > 0))),
      config: ($cfg | split("\n") | map(select(length > 0) | capture("^(?<k>[^=]+)=(?<v>.*)$"))
               | map({(.k): (.v | num)}) | add // {}),
      figures: ($figures | split("\n") | map(select(length > 0) | split("\t"))
                | map({(.[0]): (.[1] | num)}) | add // {}),
      targets: ($targets | split("\n") | map(select(length > 0) | split("\t")
                | {name: .[0], value: (.[1] | num), baseline: (.[2] | num), ratio: (.[3] | num),
                   target: .[4], met: (if .[5] == "-" then null else .[5] == "yes" end)})),
      previous_full_run: {commit: (if $prev_commit == "" then null else $prev_commit end),
                          "e2e.p10.p50_ms": (if $prev_p10 == "" then null else ($prev_p10 | tonumber) end)},
      series: {e2e10: $e2e10, e2e50: $e2e50, e2e90: $e2e90},
      missing: ($missing | split("\n") | map(select(length > 0)))
    }' >"$BENCH_OUT/latest.json"

# --- latest.png ----------------------------------------------------------------------------------
rm -f "$BENCH_OUT/latest.png"
chart_ok=1
if ran e2e && [[ -s "$BENCH_OUT/series/e2e10.tsv" && -s "$BENCH_OUT/series/e2e50.tsv" &&
    -s "$BENCH_OUT/series/e2e90.tsv" ]]; then
    if ! gnuplot -e "out='$BENCH_OUT/latest.png'; s10='$BENCH_OUT/series/e2e10.tsv'; s50='$BENCH_OUT/series/e2e50.tsv'; s90='$BENCH_OUT/series/e2e90.tsv'" \
        "$BENCH_DIR/plot.gp" 2>"$BENCH_TMP/gnuplot.log"; then
        log "gnuplot failed: $(cat "$BENCH_TMP/gnuplot.log")"
        chart_ok=0
    fi
elif ran e2e; then
    log "no end-to-end series to chart"
    chart_ok=0
fi

# targets_table: the targets as a Markdown table (latest.md and the README's copy).
targets_table() {
    local row name value base ratio text met
    echo "| figure | value | baseline | ratio | target | met? |"
    echo "| --- | ---: | ---: | ---: | --- | --- |"
    for row in "${targets[@]}"; do
        IFS=$'\t' read -r name value base ratio text met <<<"$row"
        echo "| $name | $value | $base | $ratio | $text | $met |"
    done
}

# cpu_table: CPU per order by process kind (µs) as a Markdown table: the command API's peak run
# of the write stage and each end-to-end load (latest.md and the README's copy).
declare -A CPU_LABELS=([pg_write]="PostgreSQL: write DB backends" [pg_read]="PostgreSQL: read DB backends"
    [pg_other]="PostgreSQL: other processes (postmaster, walwriter, checkpointer, autovacuum...)"
    [rabbitmq]="RabbitMQ (beam.smp and its children)" [command_api]="command API"
    [query_api]="query API" [relay]="relay" [consumer]="consumer" [loadgen]="load generator (wrk)"
    [pg_total]="**PostgreSQL, all**" [total]="**total, load generator excluded**"
    [total_with_loadgen]="total with the load generator"
    [machine]="whole machine (/proc/stat, anything that ran)"
    [pg_exited]="PostgreSQL processes that ended in the window (not in the totals)")
cpu_table() {
    local k pct line
    line="| µs per order | write, command API at peak ($(f write.peak_conns) connections) |"
    for pct in "${E2E_LOADS[@]}"; do
        line+=" end to end, $pct% of peak |"
    done
    echo "$line"
    echo "| --- | ---:$(printf ' | ---:%.0s' "${E2E_LOADS[@]}") |"
    for k in "${CPU_KEYS[@]}"; do
        line="| ${CPU_LABELS[$k]} | $(f "write.cpu_us.$k") |"
        for pct in "${E2E_LOADS[@]}"; do
            line+=" $(f "e2e.p$pct.cpu_us.$k") |"
        done
        echo "$line"
    done
    line="| orders in the window / window (s) | $(f write.cpu_orders) / $(f write.cpu_window_s) |"
    for pct in "${E2E_LOADS[@]}"; do
        line+=" $(f "e2e.p$pct.cpu_orders") / $(f "e2e.p$pct.cpu_window_s") |"
    done
    echo "$line"
}

# cluster_cpu_table: CPU per event by process kind (µs) of each run of the cluster stage.
cluster_cpu_table() {
    local k r line
    local -a runs=(relay.classic relay.quorum)
    for r in "${CLUSTER_RUNS[@]}"; do
        runs+=("consumers.$r")
    done
    echo "| µs per event |$(printf ' %s |' "${runs[@]}")"
    echo "| ---$(printf ' | ---:%.0s' "${runs[@]}") |"
    for k in "${CPU_KEYS[@]}"; do
        [[ "$k" == loadgen ]] && continue
        line="| ${CPU_LABELS[$k]} |"
        for r in "${runs[@]}"; do
            line+=" $(f "cluster.$r.cpu_us.$k") |"
        done
        echo "$line"
    done
}

# --- latest.md -------------------------------------------------------------------------------------
{
    echo "# Benchmark results (\`make bench\`)"
    echo
    echo "${M[mode]:-?} run finished $date_utc on $nproc_n × $cpu, ${mem_gb} GiB," \
        "Linux $kernel, load average at start ${M[loadavg_start]:-?};" \
        "commit ${M[git_commit]:-?}$([[ "${M[git_dirty]:-}" == yes ]] && echo ' (with local changes)')."
    echo "Everything (PostgreSQL, RabbitMQ, the four services, wrk, pgbench, nginx) ran on this one" \
        "machine; services at LOG_LEVEL=${LOG_LEVEL:-?}. How each figure is measured: bench/README.md."
    if ((${#missing[@]} > 0)); then
        echo
        echo "**Missing figures:** ${missing[*]}"
    fi
    echo
    echo "## Targets"
    echo
    targets_table

    echo
    echo "## 1. Write path: POST /api/orders (wrk) vs pgbench of the same statement"
    echo
    echo "Random valid orders over $BENCH_PRODUCTS products (1-3 lines, quantity 1-3), ${BENCH_WRITE_S}s per run, the whole pipeline running."
    echo
    echo "| notify mode | connections | API orders/s | API p50 ms | API p99 ms | pgbench tps | pgbench p50 ms | pgbench p99 ms | API / pgbench |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for mode in "${MODES[@]}"; do
        for c in $BENCH_CONNS; do
            a="$(f "write.$mode.api.c$c.rps")"
            p="$(f "write.$mode.pgbench.c$c.tps")"
            r=-
            [[ "$a" != - && "$p" != - ]] && r="$(round "$(calc "$a / $p")")"
            echo "| $mode | $c | $a | $(f "write.$mode.api.c$c.p50_ms") | $(f "write.$mode.api.c$c.p99_ms") | $p | $(f "write.$mode.pgbench.c$c.p50_ms") | $(f "write.$mode.pgbench.c$c.p99_ms") | $r |"
        done
    done
    echo
    echo "Peak command rate (best of the idle variant, used below): $(f write.peak_rps) orders/s, at $(f write.peak_conns) connections."
    echo
    echo "The physical limit: the minimal transaction (bench/pgbench/minimal_order.sql: the same writes as one order of 2 lines in one plain SQL statement, no function, no NOTIFY; pgbench -M prepared) in bench_minimal, a scratch database of the same cluster, right after each idle pgbench run. The sustained rate of an API run: its orders / the time from its start until the read model had applied the last of them."
    echo
    echo "| connections | minimal tps | minimal p50 ms | minimal p99 ms | API sustained orders/s (idle) | API sustained orders/s (always) |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
    for c in $BENCH_CONNS; do
        echo "| $c | $(f "write.minimal.c$c.tps") | $(f "write.minimal.c$c.p50_ms") | $(f "write.minimal.c$c.p99_ms") | $(f "write.idle.api.c$c.sustained_rps") | $(f "write.always.api.c$c.sustained_rps") |"
    done
    echo
    echo "Sustained pipeline rate at the peak: $(f write.sustained_rps) orders/s, $(f write.sustained_vs_minimal) × the minimal transaction's best, $(f write.minimal_best_tps) tps."

    echo
    echo "## 2. Relay and 3. consumer: draining a backlog of $BENCH_BACKLOG events"
    echo
    echo "| figure | events/s | baseline | ratio |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| relay: outbox to RabbitMQ, confirmed (baseline: bench/publisher, confirms every 1,000) | $(f relay.events_per_s) | $(f relay.publisher_per_s) | $(f relay.ratio) |"
    echo "| consumer: queue to read DB (baseline: command API peak orders/s) | $(f consumer.events_per_s) | $(f write.peak_rps) | $(f consumer.ratio_to_peak) |"

    echo
    echo "## 4. End to end: commit to read model, ${BENCH_E2E_S}s at a constant rate"
    echo
    echo "| load | target orders/s | achieved | orders | p50 ms | p99 ms | max ms | relay share p50 ms | relay share p99 ms | backlog max | backlog slope /s | unpublished max | drained in s | bounded |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for pct in "${E2E_LOADS[@]}"; do
        k="e2e.p$pct"
        echo "| $pct% of peak | $(f "$k.target_rps") | $(f "$k.achieved_rps") | $(f "$k.orders") | $(f "$k.p50_ms") | $(f "$k.p99_ms") | $(f "$k.max_ms") | $(f "$k.relay_p50_ms") | $(f "$k.relay_p99_ms") | $(f "$k.backlog_max") | $(f "$k.backlog_slope_per_s") | $(f "$k.unpublished_max") | $(f "$k.drain_s") | $(f "$k.bounded") |"
    done
    echo
    echo "![throughput, delay and backlog over time](latest.png)"
    echo
    echo "### CPU per order by process kind"
    echo
    echo "From /proc/<pid>/stat (utime + stime) at the start of the load and once the pipeline had drained, divided by the orders committed meanwhile; processes that ended within the window are not seen (bench/README.md)."
    echo
    cpu_table

    echo
    echo "## 5. Query API (wrk, $BENCH_QUERY_CONNS connections, ${BENCH_QUERY_S}s) vs nginx serving a static file of the same size"
    echo
    if ran scale; then
        echo "Run after the scale stage, with $s2 orders in the system."
        echo
    fi
    echo "| endpoint | bytes | req/s | p99 ms | nginx req/s | nginx p99 ms | ratio |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for q in "${QUERY_NAMES[@]}"; do
        k="query.$q"
        echo "| $q | $(f "$k.bytes") | $(f "$k.rps") | $(f "$k.p99_ms") | $(f "$k.nginx_rps") | $(f "$k.nginx_p99_ms") | $(f "$k.ratio") |"
    done
    echo
    echo "The floor of this design, measured the same way: bench/mhd_minimal, a libmicrohttpd server that does nothing but run the query API's statement for GET /api/orders/{id} ($(f query.order_by_id.minimal_rps) req/s, p99 $(f query.order_by_id.minimal_p99_ms) ms). The query API reaches $(f query.order_by_id.ratio_minimal) of it."

    echo
    echo "## 6. Scale: $s1 then $s2 orders in the system"
    echo
    echo "History generated in SQL (bench/sql/gen_orders.sql); read DB built with the consumer's apply_events (${BENCH_SCALE_BUILD:-replay}: see bench/README.md)."
    echo
    echo "| figure | $s1 orders | $s2 orders | ratio |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| history generation, orders/s | $(f scale.s1.gen_orders_per_s) | $(f scale.s2.gen_orders_per_s) | |"
    echo "| read DB build, events | $(f scale.s1.build_events) | $(f scale.s2.build_events) | |"
    echo "| read DB build, events/s | $(f scale.s1.build_events_per_s) | $(f scale.s2.build_events_per_s) | |"
    for v in "${VIEWS[@]}"; do
        echo "| refresh $v, ms (median) | $(f "scale.s1.refresh.${v}_ms") | $(f "scale.s2.refresh.${v}_ms") | $(f "scale.ratio.refresh.$v") |"
    done
    for a in "${ANALYTICS[@]}"; do
        echo "| $a p99 ms | $(f "scale.s1.$a.p99_ms") | $(f "scale.s2.$a.p99_ms") | $(f "scale.ratio.$a.p99") |"
        echo "| $a req/s | $(f "scale.s1.$a.rps") | $(f "scale.s2.$a.rps") | |"
    done

    if ran cluster; then
        echo
        echo "## 7. Scale-out: a 3-node RabbitMQ cluster with quorum queues vs the single node with a classic queue"
        echo
        echo "bench/cluster.sh: three more RabbitMQ nodes on this machine, clustered; backlogs of $BENCH_CLUSTER_BACKLOG orders, each run in turn, the same stack otherwise. On the cluster, N consumers drain the work queue split in N partitions (CONSUMER_PARTITIONS=N, each consumer holding one, applying in parallel; 1: the one shared queue)."
        echo
        echo "| figure | events/s | baseline | ratio |"
        echo "| --- | ---: | ---: | ---: |"
        echo "| relay: outbox to a quorum queue on the cluster (baseline: a classic queue on the single node) | $(f cluster.relay.quorum.events_per_s) | $(f cluster.relay.classic.events_per_s) | $(f cluster.relay.ratio) |"
        for r in "${CLUSTER_RUNS[@]:1}"; do
            echo "| consumers: ${r#cluster} on the cluster, ${r#cluster} partition(s) (baseline: 1 on the single node) | $(f "cluster.consumers.$r.events_per_s") | $(f cluster.consumers.single1.events_per_s) | $(f "cluster.consumers.$r.ratio") |"
        done
        echo
        echo "### CPU per event by process kind"
        echo
        cluster_cpu_table
    fi
} >"$BENCH_OUT/latest.md"

log "wrote $BENCH_OUT/latest.md, latest.json$([[ -f "$BENCH_OUT/latest.png" ]] && echo ', latest.png')"

# --- the README's copy --------------------------------------------------------------------------
# After a full run of every stage, README.md shows its targets table and chart, with the machine,
# between the two marker lines (nothing happens without them).
readme="$REPO_ROOT/README.md"
begin='<!-- bench:begin -->'
end='<!-- bench:end -->'
if [[ "${BENCH_MODE:-}" == full && "$stages" == "write relay consumer e2e cluster scale query" ]] &&
    grep -qxF "$begin" "$readme" && grep -qxF "$end" "$readme"; then
    block="$BENCH_TMP/readme-block.md"
    {
        echo "Latest full run: $date_utc on $nproc_n × $cpu, ${mem_gb} GiB, Linux $kernel (load" \
            "average at start ${M[loadavg_start]:-?}), commit ${M[git_commit]:-?}$([[ "${M[git_dirty]:-}" == yes ]] && echo ' with local changes')." \
            "Each ratio compares with a baseline measured in the same run on the same machine; every" \
            "figure and how it is measured: [bench/results/latest.md](bench/results/latest.md)," \
            "[bench/README.md](bench/README.md)."
        echo
        targets_table
        echo
        echo "CPU per order by process kind (µs; /proc, from the start of the load until the pipeline drained):"
        echo
        cpu_table
        echo
        echo "![throughput, end-to-end delay and backlog over time](bench/results/latest.png)"
    } >"$block"
    awk -v begin="$begin" -v end="$end" -v block="$block" '
        $0 == begin { print; while ((getline line < block) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }' "$readme" >"$readme.tmp" && mv "$readme.tmp" "$readme"
    log "updated the benchmark block of README.md"
fi
rc=0
if ((${#missing[@]} > 0)); then
    log "missing figures (${#missing[@]}): ${missing[*]}"
    rc=1
fi
if ((!chart_ok)); then
    log "the chart is missing"
    rc=1
fi
((rc == 0)) && log "every figure is present (${#expected[@]})"
exit "$rc"
