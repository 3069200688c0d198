#!/usr/bin/env bash
# rabbit-cluster.sh start|stop|status|queues|policies|ctl ARGS...|node I ARGS...: a RabbitMQ cluster of
# three nodes on this machine (`make up-cluster`, tests/cluster), each node one scripts/rabbit.sh
# with its own index (state in $STATE_DIR/rabbit-I), its AMQP port CLUSTER_AMQP_PORT_I and its
# distribution port CLUSTER_AMQP_DIST_PORT_I; the nodes share one Erlang cookie (made once, kept in
# $STATE_DIR/rabbit-cluster.cookie) and one private epmd on CLUSTER_AMQP_EPMD_PORT.
#   start   starts the three nodes at once (a node that was not the last one stopped waits for
#           the others at boot), then joins nodes 2 and 3 to node 1 (rabbitmqctl join_cluster;
#           idempotent). Node 1 creates BROKER_URL's vhost and user and the policies, which the
#           cluster shares.
#   stop    stops the nodes (3, 2, 1), then the epmd; status: 0 when all run, 3 when none, 1 else
#   queues, policies, ctl ARGS...   rabbit.sh's, on the first node that runs (the cluster shares
#                         queues and policies)
#   node I ARGS...        rabbit.sh ARGS on node I (tests: start a node again after a kill)
# BROKER_URL may be the list of the nodes' URLs: the first one names the vhost and the user.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh"

NODES=3
COOKIE_FILE="$STATE_DIR/rabbit-cluster.cookie"

# on_node I ARGS...: scripts/rabbit.sh ARGS as node I of the cluster.
on_node() {
    local i="$1" port dist
    shift
    [[ "$i" =~ ^[1-3]$ ]] || die "no node $i: the cluster has nodes 1 to $NODES"
    port="CLUSTER_AMQP_PORT_$i" dist="CLUSTER_AMQP_DIST_PORT_$i"
    [[ -n "${!port:-}" && -n "${!dist:-}" && -n "${CLUSTER_AMQP_EPMD_PORT:-}" ]] ||
        die "$port, $dist and CLUSTER_AMQP_EPMD_PORT must be set (.env.example)"
    RABBIT_NODE="$i" AMQP_PORT="${!port}" AMQP_DIST_PORT="${!dist}" \
        AMQP_EPMD_PORT="$CLUSTER_AMQP_EPMD_PORT" RABBIT_COOKIE="$(cookie)" \
        RABBITMQ_MANAGEMENT_PORT="" BROKER_URL="${BROKER_URL%%,*}" \
        "$REPO_ROOT/scripts/rabbit.sh" "$@"
}

# The cluster's Erlang cookie, made on first use.
cookie() {
    secret_file "$COOKIE_FILE"
    cat "$COOKIE_FILE"
}

start() {
    local i rc=0
    local -a pids=()
    cookie >/dev/null
    for ((i = 1; i <= NODES; i++)); do
        RABBIT_SETUP=$((i == 1 ? 1 : 0)) on_node "$i" start &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || rc=1
    done
    ((rc == 0)) || die "a node did not start (scripts/rabbit.sh above); stop with $0 stop"
    local first
    first="$(on_node 1 nodename)"
    for ((i = 2; i <= NODES; i++)); do
        on_node "$i" join "$first"
    done
    echo "rabbit-cluster.sh: $NODES nodes running as one cluster ($(ports))"
}

ports() {
    local i p out=""
    for ((i = 1; i <= NODES; i++)); do
        p="CLUSTER_AMQP_PORT_$i"
        out+="${out:+, }127.0.0.1:${!p}"
    done
    echo "$out"
}

stop() {
    local i rc=0
    for ((i = NODES; i >= 1; i--)); do
        on_node "$i" stop || rc=1
    done
    on_node 1 stop-epmd
    return "$rc"
}

status() {
    local i up=0
    for ((i = 1; i <= NODES; i++)); do
        if on_node "$i" status; then
            up=$((up + 1))
        fi
    done
    ((up == NODES)) && return 0
    ((up == 0)) && return 3
    return 1
}

# on_first_running ARGS...: rabbit.sh ARGS on the first node that runs.
on_first_running() {
    local i
    for ((i = 1; i <= NODES; i++)); do
        if on_node "$i" status >/dev/null; then
            on_node "$i" "$@"
            return
        fi
    done
    die "no node of the cluster runs"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    queues) on_first_running queues ;;
    policies) on_first_running policies ;;
    ctl) shift; on_first_running ctl "$@" ;;
    node) shift; on_node "$@" ;;
    *)
        echo "usage: $0 start|stop|status|queues|policies|ctl ARGS...|node I ARGS..." >&2
        exit 2
        ;;
esac
