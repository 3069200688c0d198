#!/usr/bin/env bash
# bench/cluster.sh: measurement 5, scale-out (issue 13). The pipeline on a 3-node RabbitMQ
# cluster with quorum queues (scripts/rabbit-cluster.sh: three more nodes beside the stack's
# single one, on the free ports bench/run.sh picked), against the stack's single node with a
# classic queue, both measured here, in turn, on backlogs of BENCH_CLUSTER_BACKLOG orders:
#   relay      the relay drains a backlog into the single node's classic queue, then one into the
#              cluster's quorum queue: cluster.relay.{classic,quorum}.events_per_s and
#              cluster.relay.ratio (quorum / classic)
#   consumers  for the single node with 1 consumer, then the cluster with each N of
#              BENCH_CLUSTER_CONSUMERS (1 2 4): a backlog published with every consumer stopped,
#              then N consumers (the stack's, and N - 1 extra ones) drain it, the work queue in N
#              partitions (CONSUMER_PARTITIONS=N; 1: the one shared queue), each consumer holding
#              one: cluster.consumers.<single1|clusterN>.events_per_s, and .ratio against single1
# and for each run the CPU time per event by process kind (bench/cpu.sh), prefix
# cluster.<relay.classic|relay.quorum|consumers.RUN>.cpu_us.<kind>. With partitions the consumers
# apply in parallel (docs/scaling.md#partitions); the runs are on the cluster's quorum queues.
# Stops its extra consumers and the cluster, and the relay and the consumer, whose broker was the
# cluster (bench/run.sh starts them again on the single node).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/cpu.sh
source "$BENCH_DIR/cpu.sh"

: "${BENCH_CLUSTER_BACKLOG:=20000}" "${BENCH_CLUSTER_CONSUMERS:=1 2 4}"
SINGLE_BROKER_URL="$BROKER_URL"
cluster_started=0
extras=()

# on BROKER: what the relay and the consumers started next connect to: single (the stack's node,
# classic queues) or cluster (the three nodes, quorum queues).
# on BROKER [PARTITIONS]: ... with the work queue in PARTITIONS partitions (default 1). Going from
# the one work queue to partitions deletes the cluster's read_model queue (drained by then), which
# would otherwise keep a copy of every event.
on() {
    export CONSUMER_PARTITIONS="${2:-1}"
    case "$1" in
        single) export BROKER_URL="$SINGLE_BROKER_URL" AMQP_QUEUE_TYPE=classic ;;
        cluster) export BROKER_URL="$CLUSTER_BROKER_URL" AMQP_QUEUE_TYPE=quorum ;;
    esac
    if [[ "$1" == cluster ]] && ((CONSUMER_PARTITIONS > 1)); then
        parse_amqp_url "$SINGLE_BROKER_URL"
        "$REPO_ROOT/scripts/rabbit-cluster.sh" ctl delete_queue -p "$url_vhost" "${AMQP_QUEUE:-read_model}" \
            >>"$BENCH_TMP/stack.log" 2>&1 || true
    fi
}

# extra_consumer LABEL: one more consumer beside the stack's, without a metrics listener
# (scripts/services.sh extra: run/extra-consumer-LABEL.pid, logs/extra-consumer-LABEL.log).
extra_consumer() {
    local pid
    pid="$(CONSUMER_METRICS_PORT=0 "$REPO_ROOT/scripts/services.sh" extra consumer "$1")" || return 1
    extras+=("$pid")
}

# gone PID: true when the process has ended (or is a zombie).
gone() {
    [[ ! -e "/proc/$1" ]] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# stop_extras: SIGTERM to the extra consumers, SIGKILL to one still running after 20 s.
stop_extras() {
    local pid
    for pid in "${extras[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${extras[@]}"; do
        wait_for "extra consumer $pid to stop" 20 0.1 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$STATE_DIR"/run/extra-consumer-*.pid
    extras=()
}

clean_up() {
    stop_extras
    services stop relay consumer || true
    if ((cluster_started)); then
        "$REPO_ROOT/scripts/rabbit-cluster.sh" stop >>"$BENCH_TMP/stack.log" 2>&1 ||
            log "could not stop the cluster; see $BENCH_TMP/stack.log"
    fi
}
trap clean_up EXIT

# measure PREFIX EVENTS START RATE...: between two CPU snapshots, START (in this shell: what it
# starts is this shell's), then RATE (which prints a rate in events/s); records
# PREFIX.events_per_s and the CPU time per event as PREFIX.cpu_us.<kind> (cpu_record).
measure() {
    local prefix="$1" events="$2" start="$3" rate
    shift 3
    cpu_snapshot "$BENCH_TMP/cpu-$prefix.start" || die "no CPU snapshot"
    "$start" || die "$prefix: could not start"
    rate="$("$@")" || die "$prefix: no rate"
    cpu_snapshot "$BENCH_TMP/cpu-$prefix.end" || die "no CPU snapshot"
    cpu_account "$BENCH_TMP/cpu-$prefix.start" "$BENCH_TMP/cpu-$prefix.end" "$events" 0 \
        >"$BENCH_TMP/cpu-$prefix.txt" || die "$prefix: no CPU account"
    fig_set "$prefix.events_per_s" "$rate"
    cpu_record "$prefix" "$BENCH_TMP/cpu-$prefix.txt"
    log "$prefix: $rate events/s"
}

start_relay() {
    services start relay
}

# start_consumers: the stack's consumer and n - 1 extra ones
start_consumers() {
    local i
    services start consumer || return 1
    for ((i = 2; i <= n; i++)); do
        extra_consumer "$i" || return 1
    done
}

log "starting a 3-node RabbitMQ cluster"
cluster_started=1
"$REPO_ROOT/scripts/rabbit-cluster.sh" start >>"$BENCH_TMP/stack.log" 2>&1 ||
    die "the cluster did not start; see $BENCH_TMP/stack.log"
CLUSTER_BROKER_URL="$(stack_cluster_broker_url)"

settle
services stop relay consumer
# the relay: a classic queue on the single node, then a quorum queue on the cluster (every
# program declares the topology, the relay too: its first connection makes the cluster's queues)
for broker in single cluster; do
    on "$broker"
    backlog_orders "$BENCH_CLUSTER_BACKLOG" || die "could not make the backlog"
    queue_type=classic && [[ "$broker" == cluster ]] && queue_type=quorum
    measure "cluster.relay.$queue_type" "$BENCH_CLUSTER_BACKLOG" start_relay \
        relay_drain_rate "$BACKLOG_OUTBOX"
    services start consumer # applies what the relay published, before the consumer runs below
    settle_within 600 0.3 || die "the backlog of the relay run was not applied"
    services stop relay consumer
done
fig_set cluster.relay.ratio "$(round "$(calc "$(fig_get cluster.relay.quorum.events_per_s) / \
    $(fig_get cluster.relay.classic.events_per_s)")")"

# the consumers: the backlog published with every consumer stopped, then N consumers drain it
runs=(single:1)
for n in $BENCH_CLUSTER_CONSUMERS; do
    runs+=("cluster:$n")
done
# partitions change hands within half a second (a consumer starting alone takes them all first)
export CONSUMER_PARTITION_LEASE_MS=1500
for run in "${runs[@]}"; do
    broker="${run%:*}" n="${run#*:}" name="${run/:/}"
    on "$broker" "$n"
    backlog_orders "$BENCH_CLUSTER_BACKLOG" || die "could not make the backlog"
    services start relay
    relay_drain_rate "$BACKLOG_OUTBOX" >/dev/null || die "$name: the relay did not publish the backlog"
    services stop relay
    log "$name: $n consumer(s) draining $BENCH_CLUSTER_BACKLOG events"
    measure "cluster.consumers.$name" "$BENCH_CLUSTER_BACKLOG" start_consumers \
        consumer_drain_rate "$BACKLOG_FIRST" "$BACKLOG_LAST"
    stop_extras
    services stop consumer
done
for run in "${runs[@]:1}"; do
    name="${run/:/}"
    fig_set "cluster.consumers.$name.ratio" "$(round "$(calc "$(fig_get "cluster.consumers.$name.events_per_s") / \
        $(fig_get cluster.consumers.single1.events_per_s)")")"
done
clean_up
trap - EXIT
