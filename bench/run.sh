#!/usr/bin/env bash
# bench/run.sh full|smoke: the benchmark harness (`make bench`, `make bench-smoke`).
#
# Installs what it needs (scripts/deps.sh), builds the services (-O2, build/bench) and the
# baseline publisher, starts a throwaway stack (scripts/stack.sh: PostgreSQL, RabbitMQ and the four
# services) on free ports in a temp STATE_DIR, loads 1,000 products, runs the stages
# (bench/<stage>.sh: write relay consumer e2e cluster scale query; query runs last, on the largest
# data set scale built) and writes the report with bench/report.sh:
#   full:  bench/results/latest.{md,json,png}, raw outputs in bench/results/tmp/
#   smoke: bench/results/smoke/latest.{md,json,png}, raw outputs in bench/results/smoke/tmp/
# smoke runs every stage for seconds on tiny data (5 s write runs: pgbench needs a few seconds
# to connect 64 clients on a busy machine). Both exit non-zero when a stage failed or a
# figure is missing, never because of a speed. Everything started here is stopped on exit.
# BENCH_STAGES (default: all, in order) runs only some stages, for development; relay must run
# before consumer, write before consumer and e2e.
set -euo pipefail

BENCH_MODE="${1:-full}"
case "$BENCH_MODE" in
    full | smoke) ;;
    *)
        echo "usage: $0 full|smoke" >&2
        exit 2
        ;;
esac

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ALL_STAGES="write relay consumer e2e cluster scale query"
STAGES="${BENCH_STAGES:-$ALL_STAGES}"
for s in $STAGES; do
    [[ " $ALL_STAGES " == *" $s "* ]] || die "unknown stage '$s' in BENCH_STAGES (known: $ALL_STAGES)"
done

# --- parameters (each may be overridden from the environment, for development) -------------
: "${BENCH_PRODUCTS:=1000}" "${BENCH_CUSTOMERS:=10000}" "${BENCH_WRK_THREADS:=2}"
: "${BENCH_CONNS:=8 32 64}" "${BENCH_QUERY_CONNS:=32}" "${BENCH_E2E_CONNS:=32}"
: "${BENCH_SCALE_BUILD:=replay}"
if [[ "$BENCH_MODE" == full ]]; then
    BENCH_OUT="$BENCH_DIR/results"
    : "${BENCH_WRITE_S:=15}" "${BENCH_WARMUP_S:=3}"
    : "${BENCH_BACKLOG:=100000}" "${BENCH_E2E_S:=60}" "${BENCH_QUERY_S:=10}"
    : "${BENCH_SCALE_SIZES:=100000 1000000}" "${BENCH_ANALYTICS_S:=10}" "${BENCH_REFRESH_REPEAT:=5}"
    : "${BENCH_CLUSTER_BACKLOG:=20000}"
    stage_limit_s=3600
else
    BENCH_OUT="$BENCH_DIR/results/smoke"
    : "${BENCH_WRITE_S:=5}" "${BENCH_WARMUP_S:=1}"
    : "${BENCH_BACKLOG:=2000}" "${BENCH_E2E_S:=5}" "${BENCH_QUERY_S:=1}"
    : "${BENCH_SCALE_SIZES:=1000 10000}" "${BENCH_ANALYTICS_S:=1}" "${BENCH_REFRESH_REPEAT:=2}"
    : "${BENCH_CLUSTER_BACKLOG:=3000}"
    stage_limit_s=600
fi
export BENCH_MODE BENCH_PRODUCTS BENCH_CUSTOMERS BENCH_WRK_THREADS BENCH_CONNS BENCH_QUERY_CONNS
export BENCH_E2E_CONNS BENCH_OUT BENCH_WRITE_S BENCH_WARMUP_S BENCH_BACKLOG BENCH_E2E_S
export BENCH_QUERY_S BENCH_SCALE_SIZES BENCH_ANALYTICS_S BENCH_REFRESH_REPEAT BENCH_SCALE_BUILD
export BENCH_CLUSTER_BACKLOG
export BENCH_TMP="$BENCH_OUT/tmp"

rm -rf "$BENCH_TMP"
mkdir -p "$BENCH_TMP"
rm -f "$BENCH_OUT/figures.tsv" "$BENCH_OUT/meta.tsv"
rm -rf "$BENCH_OUT/series" "$BENCH_OUT/profiles"
mkdir -p "$BENCH_OUT/series"
{
    printf 'mode\t%s\n' "$BENCH_MODE"
    printf 'started\t%s\n' "$(date -u +%FT%TZ)"
    printf 'loadavg_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'git_commit\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf 'git_dirty\t%s\n' "$([[ -n "$(git status --porcelain 2>/dev/null)" ]] && echo yes || echo no)"
    printf 'stages\t%s\n' "$STAGES"
} >"$BENCH_OUT/meta.tsv"

# --- dependencies and build -----------------------------------------------------------------
log "dependencies"
# the project's packages (nginx, the query baseline, among them), the load generator, the chart
# and the profiler
scripts/deps.sh wrk gnuplot-nox linux-perf || die "could not install the dependencies"

# A build folder of its own (a `make clean` elsewhere cannot pull binaries from under a run),
# normal flags (-O2 -g, no sanitizer); the binaries are then copied into the run's STATE_DIR.
BENCH_BUILD=build/bench
log "build (-O2, $BENCH_BUILD), bench/publisher and bench/mhd_minimal"
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 BUILD="$BENCH_BUILD" SANITIZE= \
    "$BENCH_BUILD/bin/command-api" "$BENCH_BUILD/bin/query-api" "$BENCH_BUILD/bin/relay" \
    "$BENCH_BUILD/bin/consumer" "$BENCH_BUILD/bench/publisher" "$BENCH_BUILD/bench/mhd_minimal" \
    >"$BENCH_TMP/build.log" 2>&1; then
    tail -n 40 "$BENCH_TMP/build.log" >&2
    die "build failed, see $BENCH_TMP/build.log"
fi

# --- the stack ----------------------------------------------------------------------------------
# per-event info lines (relay, consumer) would write gigabytes at these rates; warn by default
export LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}"
unset RELAY_NOTIFY_MODE
# the cluster stage's three RabbitMQ nodes (bench/cluster.sh) get free ports too
stack_init bench "$BENCH_TMP" BENCH_NGINX_PORT BENCH_MINIMAL_PORT CLUSTER_AMQP_PORT_1 \
    CLUSTER_AMQP_PORT_2 CLUSTER_AMQP_PORT_3 CLUSTER_AMQP_DIST_PORT_1 CLUSTER_AMQP_DIST_PORT_2 \
    CLUSTER_AMQP_DIST_PORT_3 CLUSTER_AMQP_EPMD_PORT || die "could not pick free ports"
mkdir -p "$STATE_DIR/bin"
cp "$BENCH_BUILD"/bin/{command-api,query-api,relay,consumer} "$BENCH_BUILD/bench/publisher" \
    "$BENCH_BUILD/bench/mhd_minimal" "$STATE_DIR/bin/"
export BIN_DIR="$STATE_DIR/bin" BENCH_PUBLISHER="$STATE_DIR/bin/publisher"
export BENCH_MHD_MINIMAL="$STATE_DIR/bin/mhd_minimal"

# A stage runs in the background under timeout (its own process group), so that a signal here
# is handled at once: the stage gets it too, then everything is stopped.
stage_pid=""
on_signal() {
    if [[ -n "$stage_pid" ]]; then
        kill -TERM "$stage_pid" 2>/dev/null || true
        wait "$stage_pid" 2>/dev/null || true
    fi
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

log "stack in $STATE_DIR (PostgreSQL :$PG_PORT, RabbitMQ :$AMQP_PORT, command API :$COMMAND_SERVICE_PORT, query API :$QUERY_SERVICE_PORT)"
stack_up servers >>"$BENCH_TMP/stack.log" 2>&1 || die "could not start the stack; see $BENCH_TMP/stack.log"
services start
load_products || die "could not load the products"
settle_within 120 0.3 || die "the products did not reach the read DB"
log "$BENCH_PRODUCTS products loaded"

# --- stages -------------------------------------------------------------------------------------
failed=()
for stage in $STAGES; do
    log "=== stage $stage"
    BENCH_STAGE="$stage" timeout -k 10 "$stage_limit_s" "$BENCH_DIR/$stage.sh" &
    stage_pid=$!
    stage_rc=0
    wait "$stage_pid" || stage_rc=$?
    stage_pid=""
    if ((stage_rc != 0)); then
        log "stage $stage failed"
        failed+=("$stage")
    fi
    # the next stage gets a running pipeline, except that relay hands consumer its backlog
    if [[ "$stage" != relay || " $STAGES " != *" consumer "* ]]; then
        services start || true
    fi
done

# the cluster stage stops its nodes itself; this is for a stage its time limit killed
if [[ -d "$STATE_DIR/rabbit-1" ]]; then
    scripts/rabbit-cluster.sh stop >>"$BENCH_TMP/stack.log" 2>&1 || log "could not stop the cluster"
fi
stack_stop
log "=== report"
report_ok=1
BENCH_STAGE=report "$BENCH_DIR/report.sh" || report_ok=0
if ((${#failed[@]} > 0)); then
    log "failed stages: ${failed[*]}"
fi
if ((${#failed[@]} > 0 || !report_ok)); then
    exit 1
fi
log "done: $BENCH_OUT/latest.md"
