# shellcheck shell=bash
# scripts/stack.sh: sourced, not executed. The one start-up of a stack for the drivers that run
# on a throwaway one (tests/run.sh, tests/faults/run.sh, bench/run.sh) and of `make up`
# (scripts/up.sh, on the settings of .env / .env.example):
#   stack_init [--sanitized] [--owner-urls] [--cluster] NAME LOG_DIR [PORT_VAR...]
#       picks free ports (scripts/free-port.sh) for PostgreSQL, RabbitMQ (AMQP, distribution,
#       epmd), the two APIs, the relay's and the consumer's metrics, and one for each PORT_VAR
#       (the caller's own listeners); makes a temp STATE_DIR /tmp/cqrs-NAME.XXXXXX; exports the
#       ports, the URLs (DATABASE_URL, READ_DATABASE_URL, BROKER_URL, COMMAND_URL, QUERY_URL), each
#       service's least-privilege role URL (--owner-urls: none, the services use the owners'),
#       HTTP_BIND_ADDRESS=127.0.0.1 and, --sanitized, ASAN_OPTIONS and UBSAN_OPTIONS as the tests
#       want them; unsets RABBITMQ_MANAGEMENT_PORT; then loads the rest from .env / .env.example
#       (scripts/env.sh). Unset what must come from .env.example before the call; what is set
#       after it wins. Traps: stack_stop on EXIT, exit 130 on INT, 143 on TERM. Returns 1 when no
#       free ports could be picked (nothing started, no trap set). --cluster (the drivers' cluster
#       mode, TEST_STACK=cluster): also picks ports for RabbitMQ nodes 2 and 3 and the PostgreSQL
#       replica, makes node 1 the ports above and the CLUSTER_* settings the stack's own, then
#       calls stack_cluster_env.
#   stack_cluster_env   (after stack_init, or after scripts/env.sh for `make up-cluster`) the
#                   cluster's settings: the CLUSTER_* ports of .env.example in place of the single
#                   stack's (PG_PORT, the APIs', the metrics'; the database URLs follow PG_PORT),
#                   STATE_DIR=CLUSTER_STATE_DIR when STATE_DIR is not a stack_init one,
#                   BROKER_URL the list of the three nodes' URLs (same user and vhost),
#                   AMQP_QUEUE_TYPE=quorum; stack_broker and stack_stop then drive
#                   scripts/rabbit-cluster.sh instead of scripts/rabbit.sh (docs/scaling.md);
#                   PG_REPLICA_PORT=CLUSTER_PG_REPLICA_PORT: stack_db also starts a streaming
#                   replica of PostgreSQL (scripts/pg.sh replica), the query API reads it
#                   (QUERY_DATABASE_URL on the replica's port) and LISTENs on the primary
#                   (QUERY_LISTEN_DATABASE_URL, the former query URL)
#   stack_cluster_broker_url   prints the cluster's BROKER_URL (the nodes' URLs, BROKER_URL's user
#                   and vhost on each CLUSTER_AMQP_PORT_I; bench/cluster.sh uses it too)
#   stack_db        PostgreSQL started (scripts/pg.sh) and migrated (scripts/migrate.sh), then its
#                   replica when PG_REPLICA_PORT is set (stack_cluster_env)
#   stack_broker    RabbitMQ started (scripts/rabbit.sh)
#   stack_services  the four services started (scripts/services.sh), with the caller's environment
#   stack_up servers|services   stack_db and stack_broker; services: then stack_services too
#   stack_stop      once: stops what runs in STATE_DIR (processes of run/extra-*.pid, e.g. the fault
#                   suite's second relay and consumer, the services, RabbitMQ, PostgreSQL: each by
#                   its pid), writes their output to LOG_DIR/teardown.log, copies the logs into
#                   LOG_DIR/logs (the services', postgres/, rabbitmq/) and removes STATE_DIR unless
#                   a server of it still runs (then it says so on stderr and keeps it).
# Each start step is idempotent (what runs is left running). Every step writes to stdout and
# stderr; the caller redirects them.

STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stack_log_dir=""
stack_stopped=0
stack_rabbit=rabbit.sh
stack_replica=0

stack_init() {
    local sanitized=0 roles=1 cluster=0 name log_dir i pg
    local -a vars ports
    while [[ "${1:-}" == --* ]]; do
        case "$1" in
            --sanitized) sanitized=1 ;;
            --owner-urls) roles=0 ;;
            --cluster) cluster=1 ;;
            *)
                echo "stack_init: unknown option $1" >&2
                return 2
                ;;
        esac
        shift
    done
    name="$1" log_dir="$2"
    shift 2
    vars=(PG_PORT AMQP_PORT AMQP_DIST_PORT AMQP_EPMD_PORT COMMAND_SERVICE_PORT QUERY_SERVICE_PORT
        RELAY_METRICS_PORT CONSUMER_METRICS_PORT "$@")
    if ((cluster)); then
        vars+=(CLUSTER_AMQP_PORT_2 CLUSTER_AMQP_PORT_3 CLUSTER_AMQP_DIST_PORT_2 CLUSTER_AMQP_DIST_PORT_3
            CLUSTER_PG_REPLICA_PORT)
    fi
    mapfile -t ports < <("$STACK_SCRIPTS/free-port.sh" "${#vars[@]}")
    ((${#ports[@]} == ${#vars[@]})) || return 1
    for i in "${!vars[@]}"; do
        export "${vars[i]}=${ports[i]}"
    done
    STATE_DIR="$(mktemp -d "/tmp/cqrs-$name.XXXXXX")" || return 1
    chmod 711 "$STATE_DIR" # the postgres user must be able to enter it
    export STATE_DIR

    pg="127.0.0.1:$PG_PORT"
    export DATABASE_URL="postgresql://cqrs:cqrs@$pg/cqrs_write"
    export READ_DATABASE_URL="postgresql://cqrs:cqrs@$pg/cqrs_read"
    export BROKER_URL="amqp://cqrs:cqrs@127.0.0.1:$AMQP_PORT/cqrs"
    export COMMAND_URL="http://127.0.0.1:$COMMAND_SERVICE_PORT" QUERY_URL="http://127.0.0.1:$QUERY_SERVICE_PORT"
    export HTTP_BIND_ADDRESS=127.0.0.1
    # each service as its own least-privilege role (scripts/pg.sh creates them, as in
    # production, docs/reliability.md); this also drops role URLs a caller exported for another
    # stack. The consumer owns the read model: it keeps the owner's URL.
    unset COMMAND_DATABASE_URL RELAY_DATABASE_URL QUERY_DATABASE_URL CONSUMER_DATABASE_URL \
        QUERY_LISTEN_DATABASE_URL PG_REPLICA_PORT
    if ((roles)); then
        export COMMAND_DATABASE_URL="postgresql://cqrs_command:cqrs_command@$pg/cqrs_write"
        export RELAY_DATABASE_URL="postgresql://cqrs_relay:cqrs_relay@$pg/cqrs_write"
        export QUERY_DATABASE_URL="postgresql://cqrs_query:cqrs_query@$pg/cqrs_read"
    fi
    if ((sanitized)); then
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    fi
    unset RABBITMQ_MANAGEMENT_PORT
    # shellcheck source=scripts/env.sh disable=SC1091
    source "$STACK_SCRIPTS/env.sh" # everything else from .env / .env.example

    if ((cluster)); then
        # node 1 takes the ports picked for the single node; the stack keeps its own
        export CLUSTER_AMQP_PORT_1="$AMQP_PORT" CLUSTER_AMQP_DIST_PORT_1="$AMQP_DIST_PORT"
        export CLUSTER_AMQP_EPMD_PORT="$AMQP_EPMD_PORT" CLUSTER_PG_PORT="$PG_PORT"
        export CLUSTER_COMMAND_SERVICE_PORT="$COMMAND_SERVICE_PORT"
        export CLUSTER_QUERY_SERVICE_PORT="$QUERY_SERVICE_PORT"
        export CLUSTER_RELAY_METRICS_PORT="$RELAY_METRICS_PORT"
        export CLUSTER_CONSUMER_METRICS_PORT="$CONSUMER_METRICS_PORT"
        stack_log_dir="$log_dir"
        stack_cluster_env
    fi
    stack_log_dir="$log_dir" stack_stopped=0
    trap stack_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# stack_cluster_broker_url: the cluster's BROKER_URL, one URL per node: BROKER_URL's (first)
# user, password and vhost, each node's port CLUSTER_AMQP_PORT_I.
stack_cluster_broker_url() {
    local base="${BROKER_URL%%,*}" creds rest path="" i p list=""
    creds="${base%%@*}" rest="${base#*@}"
    [[ "$rest" == */* ]] && path="/${rest#*/}"
    for ((i = 1; i <= 3; i++)); do
        p="CLUSTER_AMQP_PORT_$i"
        list+="${list:+,}$creds@127.0.0.1:${!p}$path"
    done
    echo "$list"
}

stack_cluster_env() {
    local old_pg="${PG_PORT:-}" v
    export PG_PORT="$CLUSTER_PG_PORT" COMMAND_SERVICE_PORT="$CLUSTER_COMMAND_SERVICE_PORT"
    export QUERY_SERVICE_PORT="$CLUSTER_QUERY_SERVICE_PORT"
    export RELAY_METRICS_PORT="$CLUSTER_RELAY_METRICS_PORT"
    export CONSUMER_METRICS_PORT="$CLUSTER_CONSUMER_METRICS_PORT"
    export AMQP_PORT="$CLUSTER_AMQP_PORT_1" AMQP_DIST_PORT="$CLUSTER_AMQP_DIST_PORT_1"
    export AMQP_EPMD_PORT="$CLUSTER_AMQP_EPMD_PORT"
    export COMMAND_URL="http://127.0.0.1:$COMMAND_SERVICE_PORT" QUERY_URL="http://127.0.0.1:$QUERY_SERVICE_PORT"
    if [[ -z "$stack_log_dir" ]]; then # not a stack_init one: `make up-cluster`'s own folder
        STATE_DIR="$CLUSTER_STATE_DIR"
        [[ "$STATE_DIR" == /* ]] || STATE_DIR="$REPO_ROOT/$STATE_DIR"
        export STATE_DIR
    fi
    # the database URLs on the cluster's PostgreSQL port
    for v in DATABASE_URL READ_DATABASE_URL COMMAND_DATABASE_URL RELAY_DATABASE_URL \
        QUERY_DATABASE_URL CONSUMER_DATABASE_URL; do
        [[ -n "${!v:-}" && -n "$old_pg" ]] && export "$v=${!v/:$old_pg\//:$PG_PORT/}"
    done
    BROKER_URL="$(stack_cluster_broker_url)"
    export BROKER_URL AMQP_QUEUE_TYPE=quorum CONSUMER_PARTITIONS="$CLUSTER_CONSUMER_PARTITIONS"
    stack_rabbit="rabbit-cluster.sh"
    # the read replica: the query API queries it and LISTENs on the primary (NOTIFY is not
    # delivered on a standby), as the role it had
    export PG_REPLICA_PORT="$CLUSTER_PG_REPLICA_PORT"
    v="${QUERY_DATABASE_URL:-$READ_DATABASE_URL}"
    export QUERY_LISTEN_DATABASE_URL="$v" QUERY_DATABASE_URL="${v/:$PG_PORT\//:$PG_REPLICA_PORT/}"
    stack_replica=1
}

stack_db() {
    "$STACK_SCRIPTS/pg.sh" start && "$STACK_SCRIPTS/migrate.sh" || return 1
    ((stack_replica == 0)) || "$STACK_SCRIPTS/pg.sh" replica start
}

stack_broker() {
    "$STACK_SCRIPTS/$stack_rabbit" start
}

stack_services() {
    "$STACK_SCRIPTS/services.sh" start
}

stack_up() {
    stack_db && stack_broker || return 1
    [[ "$1" == servers ]] || stack_services
}

stack_stop() {
    ((stack_stopped)) && return 0
    stack_stopped=1
    [[ -n "$stack_log_dir" ]] || return 0
    (
        set +e
        mkdir -p "$stack_log_dir/logs"
        {
            for f in "$STATE_DIR"/run/extra-*.pid; do
                [[ -f "$f" ]] || continue
                pid="$(tr -dc '0-9' <"$f")"
                [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null
            done
            "$STACK_SCRIPTS/services.sh" stop
            "$STACK_SCRIPTS/$stack_rabbit" stop
            ((stack_replica == 0)) || "$STACK_SCRIPTS/pg.sh" replica stop
            "$STACK_SCRIPTS/pg.sh" stop
        } >"$stack_log_dir/teardown.log" 2>&1
        [[ -d "$STATE_DIR/logs" ]] && cp -r "$STATE_DIR/logs/." "$stack_log_dir/logs/"
        [[ -d "$STATE_DIR/pg/log" ]] && cp -r "$STATE_DIR/pg/log" "$stack_log_dir/logs/postgres"
        [[ -d "$STATE_DIR/pg-replica/log" ]] && cp -r "$STATE_DIR/pg-replica/log" "$stack_log_dir/logs/postgres-replica"
        for d in "$STATE_DIR"/rabbit "$STATE_DIR"/rabbit-[0-9]; do
            [[ -d "$d/log" ]] && cp -r "$d/log" "$stack_log_dir/logs/rabbitmq${d##*/rabbit}"
        done
        rc=0
        "$STACK_SCRIPTS/$stack_rabbit" status >/dev/null 2>&1 || rc=$? # 3: none runs
        if "$STACK_SCRIPTS/pg.sh" status >/dev/null 2>&1 || ((rc != 3)) ||
            { ((stack_replica)) && "$STACK_SCRIPTS/pg.sh" replica status >/dev/null 2>&1; }; then
            echo "$0: a server of this run is still running; keeping $STATE_DIR" >&2
        else
            rm -rf "$STATE_DIR"
        fi
    )
    return 0
}
