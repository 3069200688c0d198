#!/usr/bin/env bash
# bench/query.sh: measurement 7, the query API, on whatever data the earlier stages left (after
# the scale stage: its largest size). wrk (BENCH_QUERY_CONNS connections,
# BENCH_QUERY_S seconds) on GET /api/orders/{id} and /api/customers/{id}/summary (random ids of
# existing orders and customers, bench/lua/get.lua), /api/products and each analytics endpoint.
# Baseline in the same run: an nginx of our own (config in $BENCH_TMP/nginx, port
# BENCH_NGINX_PORT, access_log off) serving, for every path, a static file of the same size as the
# endpoint's response (its very body), hit with the same wrk command. Figures
# query.<name>.{rps,p99_ms,bytes,nginx_rps,nginx_p99_ms,ratio}.
# For the order by id, a second baseline: bench/mhd_minimal, the least a libmicrohttpd server
# can do to answer it (the query API's thread count, one connection per thread, the very same
# prepared statement, nothing else), on port BENCH_MINIMAL_PORT: the query API's own cost is the
# difference. Figures query.order_by_id.{minimal_rps,minimal_p99_ms,ratio_minimal}. perf samples
# both processes during the first half of their order-by-id runs, and the whole machine during the
# query API's: $BENCH_OUT/profiles/.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENDPOINTS=(
    "order_by_id /api/orders/%d orders"
    "products /api/products -"
    "customer_summary /api/customers/%d/summary customers"
    "analytics_orders /api/analytics/orders -"
    "analytics_sales_daily /api/analytics/sales/daily -"
    "analytics_top_products /api/analytics/products/top -"
    "analytics_categories /api/analytics/categories -"
)

ngx="$BENCH_TMP/nginx"
nginx_pid=""
stop_nginx() {
    if [[ -n "$nginx_pid" ]]; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=""
    fi
}
minimal_pid=""
stop_baselines() {
    stop_nginx
    if [[ -n "$minimal_pid" ]]; then
        kill -TERM "$minimal_pid" 2>/dev/null || true
        wait "$minimal_pid" 2>/dev/null || true
        minimal_pid=""
    fi
}
trap stop_baselines EXIT

# start_minimal: bench/mhd_minimal with the query API's thread count and role.
start_minimal() {
    "$BENCH_MHD_MINIMAL" "$BENCH_MINIMAL_PORT" "${HTTP_THREADS:-8}" \
        "${QUERY_DATABASE_URL:-$READ_DATABASE_URL}" >"$BENCH_TMP/mhd_minimal.log" 2>&1 &
    minimal_pid=$!
    wait_for "bench/mhd_minimal to answer" 10 0.1 \
        curl -s -o /dev/null "http://127.0.0.1:$BENCH_MINIMAL_PORT/" ||
        die "bench/mhd_minimal did not start: $(cat "$BENCH_TMP/mhd_minimal.log")"
}

# start_nginx: our own nginx, in the foreground of a background job, its pid file and temp
# folders in $ngx. Workers run as nobody: the folders are world-readable.
start_nginx() {
    mkdir -p "$ngx/www" "$ngx/tmp"
    chmod 755 "$ngx" "$ngx/www"
    cat >"$ngx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    default_type application/json;
    server {
        listen 127.0.0.1:$BENCH_NGINX_PORT;
        root $ngx/www;
        location / { try_files /body.json =404; }
    }
}
EOF
    echo '{}' >"$ngx/www/body.json"
    chmod 644 "$ngx/www/body.json"
    nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" </dev/null >"$ngx/stdout.log" 2>&1 &
    nginx_pid=$!
    wait_for "nginx to answer" 10 0.1 curl -sf -o /dev/null "http://127.0.0.1:$BENCH_NGINX_PORT/" ||
        die "nginx did not start: $(cat "$ngx/error.log" "$ngx/stdout.log" 2>/dev/null)"
}

settle
views_fresh || wait_for "the views to be refreshed" 30 0.2 views_fresh
# 10,000 random ids of existing orders and customers, for the id endpoints
rsql -c "SELECT order_id FROM orders_read ORDER BY random() LIMIT 10000" >"$BENCH_TMP/ids-orders.txt"
rsql -c "SELECT customer_id FROM customer_summary ORDER BY random() LIMIT 10000" \
    >"$BENCH_TMP/ids-customers.txt"
[[ -s "$BENCH_TMP/ids-orders.txt" && -s "$BENCH_TMP/ids-customers.txt" ]] ||
    die "the read DB holds no orders"
start_nginx
start_minimal

for entry in "${ENDPOINTS[@]}"; do
    read -r name path ids <<<"$entry"
    key="query.$name"
    unset BENCH_PATH BENCH_ID_FILE
    sample_path="$path"
    if [[ "$ids" != - ]]; then
        export BENCH_PATH="$path" BENCH_ID_FILE="$BENCH_TMP/ids-$ids.txt"
        # shellcheck disable=SC2059 # the path is the format
        sample_path="$(printf "$path" "$(head -n 1 "$BENCH_ID_FILE")")"
    fi
    curl -sf -o "$ngx/www/body.json" "$QUERY_URL$sample_path" || die "GET $sample_path failed"
    fig_set "$key.bytes" "$(wc -c <"$ngx/www/body.json")"
    # where the query API's time goes, for the order by id (and the minimal server's, below)
    if [[ "$name" == order_by_id ]]; then
        profile_start query-api "$(tr -dc '0-9' <"$STATE_DIR/run/query-api.pid")" \
            "$(((BENCH_QUERY_S + 1) / 2))"
        profile_start machine-during-query-api all "$(((BENCH_QUERY_S + 1) / 2))"
    fi
    r="$(run_wrk "query-$name" "$QUERY_URL$sample_path" "$BENCH_QUERY_CONNS" "$BENCH_QUERY_S" \
        get.lua)"
    profile_finish query-api
    profile_finish machine-during-query-api
    fig_set "$key.rps" "$(round "$(jget "$r" .rps)")"
    fig_set "$key.p99_ms" "$(round "$(jget "$r" '.p99_us / 1000')")"
    r="$(run_wrk "query-$name-nginx" "http://127.0.0.1:$BENCH_NGINX_PORT$sample_path" \
        "$BENCH_QUERY_CONNS" "$BENCH_QUERY_S" get.lua)"
    fig_set "$key.nginx_rps" "$(round "$(jget "$r" .rps)")"
    fig_set "$key.nginx_p99_ms" "$(round "$(jget "$r" '.p99_us / 1000')")"
    fig_set "$key.ratio" "$(round "$(calc "$(fig_get "$key.rps") / $(fig_get "$key.nginx_rps")")")"
    if [[ "$name" == order_by_id ]]; then
        profile_start mhd_minimal "$minimal_pid" "$(((BENCH_QUERY_S + 1) / 2))"
        r="$(run_wrk "query-$name-minimal" "http://127.0.0.1:$BENCH_MINIMAL_PORT$sample_path" \
            "$BENCH_QUERY_CONNS" "$BENCH_QUERY_S" get.lua)"
        profile_finish mhd_minimal
        fig_set "$key.minimal_rps" "$(round "$(jget "$r" .rps)")"
        fig_set "$key.minimal_p99_ms" "$(round "$(jget "$r" '.p99_us / 1000')")"
        fig_set "$key.ratio_minimal" \
            "$(round "$(calc "$(fig_get "$key.rps") / $(fig_get "$key.minimal_rps")")")"
    fi
done
