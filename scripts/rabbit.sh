#!/usr/bin/env bash
# rabbit.sh start|stop|status|queues|policies|ctl ARGS...|nodename|join NODE|stop-epmd: the
# project-local RabbitMQ node, all state in $STATE_DIR/rabbit. Listens on 127.0.0.1:$AMQP_PORT, distribution on $AMQP_DIST_PORT, with a
# private epmd on $AMQP_EPMD_PORT. start creates the vhost and user of BROKER_URL, deletes
# `guest` and applies the policies; stop also ends the private epmd. Idempotent. status exits 0 if
# running, 3 if not; queues lists the vhost's queues with their ready messages and consumers (for
# tests); policies (re)applies the policies alone.
# Policies: the mood queue (MOOD_QUEUE, default mood_events) has no consumer of ours while
# POST /api/moods is public, so a policy bounds it: at most MOOD_QUEUE_MAX_LENGTH messages
# (default 10000; the oldest are dropped, overflow drop-head) and each message lives at most
# MOOD_QUEUE_TTL_MS (default 86400000, a day); 0 turns either bound off. A policy, not a queue
# argument, so an existing queue takes it without being declared again (docs/reliability.md).
# One node of a cluster (scripts/rabbit-cluster.sh sets these): RABBIT_NODE=I keeps the node's state
# in $STATE_DIR/rabbit-I and leaves the epmd, which the cluster's nodes share, to stop-epmd;
# RABBIT_COOKIE is the Erlang cookie every node of the cluster shares (written into the node's
# private HOME); RABBIT_SETUP=0 skips the vhost, user and policies at start (a node about to join
# takes the cluster's). nodename prints the node's Erlang name; join NODE makes this node a member
# of NODE's cluster (rabbitmqctl join_cluster; nothing when it already is one).
# Every rabbitmqctl call starts an epmd on ERL_EPMD_PORT if none runs: never call it without
# the environment below, and let stop clean up.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh"

RMQ_BIN=/usr/lib/rabbitmq/bin
RABBIT_DIR="$STATE_DIR/rabbit${RABBIT_NODE:+-$RABBIT_NODE}"
NODE="cqrs-${AMQP_PORT}@localhost"
PID_FILE="$RABBIT_DIR/rabbit.pid"
WRAPPER_PID_FILE="$RABBIT_DIR/wrapper.pid"
LOG_DIR="$RABBIT_DIR/log"
START_TIMEOUT_S=120

export HOME="$RABBIT_DIR/home"
# RABBITMQ_ERLANG_COOKIE is compose's (.env.example); a local node keeps its cookie in its private
# HOME (RABBIT_COOKIE above). Set, it would also make every rabbitmqctl call print a deprecation
# warning on stdout, ahead of the answer that callers read.
unset RABBITMQ_ERLANG_COOKIE
export RABBITMQ_NODENAME="$NODE"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$AMQP_PORT"
export RABBITMQ_DIST_PORT="$AMQP_DIST_PORT"
export ERL_EPMD_PORT="$AMQP_EPMD_PORT"
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia"
export RABBITMQ_LOG_BASE="$LOG_DIR"
export RABBITMQ_PID_FILE="$PID_FILE"
export RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins"
export RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf"
# Erlang distribution on loopback only (it listens on every interface by default).
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

ctl() {
    "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@"
}

# Pid of our beam.smp (from the pid file, checked against /proc), or nothing.
server_pid() {
    local pid
    pid="$(pid_in "$PID_FILE")"
    [[ -n "$pid" ]] || return 0
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == beam.smp ]] || return 0
    # read whole, then matched: `tr | grep -q` fails under pipefail when grep exits before tr has
    # written a long command line (beam.smp's, with the plugins' paths, passes tr's 4 KB buffer)
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"-home $HOME "* ]] || return 0
    echo "$pid"
}

# Pid of the shell wrapper that runs beam.smp (our setsid child), or nothing. The wrapper may
# exec beam.smp in its own process before the node writes its pid file (the longer, the more
# plugins it expands at boot): that process, with our HOME, is still ours.
wrapper_pid() {
    local pid cmd
    pid="$(pid_in "$WRAPPER_PID_FILE")"
    [[ -n "$pid" ]] || return 0
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    if [[ "$cmd" != *"$RMQ_BIN/rabbitmq-server"* ]]; then
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == beam.smp && "$cmd" == *"-home $HOME "* ]] || return 0
    fi
    echo "$pid"
}

write_config() {
    mkdir -p "$HOME" "$LOG_DIR" "$RABBITMQ_MNESIA_BASE"
    if [[ -n "${RABBIT_COOKIE:-}" ]]; then
        rm -f "$HOME/.erlang.cookie"
        (umask 077 && printf '%s' "$RABBIT_COOKIE" >"$HOME/.erlang.cookie")
        chmod 400 "$HOME/.erlang.cookie"
    fi
    {
        echo "# Written by scripts/rabbit.sh on every start; edit the script, not this file."
        echo "log.console = false"
        echo "log.file.level = info"
        if [[ -n "${RABBITMQ_MANAGEMENT_PORT:-}" ]]; then
            echo "management.tcp.ip = 127.0.0.1"
            echo "management.tcp.port = $RABBITMQ_MANAGEMENT_PORT"
        fi
    } >"$RABBITMQ_CONFIG_FILE"
    # The consistent-hash exchange routes events to the consumers' partitions by aggregate id
    # (CONSUMER_PARTITIONS, docs/scaling.md); it ships with the broker.
    if [[ -n "${RABBITMQ_MANAGEMENT_PORT:-}" ]]; then
        echo "[rabbitmq_consistent_hash_exchange,rabbitmq_management]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    else
        echo "[rabbitmq_consistent_hash_exchange]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    fi
    # Keeps /etc/rabbitmq/rabbitmq-env.conf out of our node's settings.
    echo "# empty on purpose: all settings come from scripts/rabbit.sh" >"$RABBITMQ_CONF_ENV_FILE"
}

wait_for_boot() {
    local deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
        # gone only when neither the wrapper nor the node is there: the node itself (beam.smp,
        # once it wrote its pid file) is what serves, and a healthy node is never stopped here
        if [[ -z "$(wrapper_pid)" && -z "$(server_pid)" ]]; then
            tail -n 30 "$LOG_DIR/startup.log" >&2 || true
            stop >/dev/null 2>&1 || true
            die "RabbitMQ exited during start-up; see $LOG_DIR"
        fi
        if ctl await_startup --timeout 10 >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    stop >/dev/null 2>&1 || true
    die "RabbitMQ did not boot within ${START_TIMEOUT_S}s (stopped it again); see $LOG_DIR"
}

# Create the vhost and user of BROKER_URL (password kept in sync), full rights on the vhost;
# delete guest.
ensure_user() {
    local users vhosts
    parse_amqp_url "$BROKER_URL"
    vhosts="$(ctl list_vhosts --silent)"
    if ! grep -qxF -- "$url_vhost" <<<"$vhosts"; then
        ctl add_vhost "$url_vhost" >/dev/null
    fi
    users="$(ctl list_users --silent | cut -f1)"
    if grep -qxF -- "$url_user" <<<"$users"; then
        ctl change_password "$url_user" "$url_pass" >/dev/null
    else
        ctl add_user "$url_user" "$url_pass" >/dev/null
    fi
    if [[ -n "${RABBITMQ_MANAGEMENT_PORT:-}" ]]; then
        ctl set_user_tags "$url_user" administrator >/dev/null
    fi
    ctl set_permissions -p "$url_vhost" "$url_user" '.*' '.*' '.*' >/dev/null
    if [[ "$url_user" != guest ]] && grep -qxF guest <<<"$users"; then
        ctl delete_user guest >/dev/null
    fi
}

# The policy that bounds the mood queue (see the header). Applies to the one queue by name.
ensure_policies() {
    local queue="${MOOD_QUEUE:-mood_events}" max="${MOOD_QUEUE_MAX_LENGTH:-10000}"
    local ttl="${MOOD_QUEUE_TTL_MS:-86400000}" def=""
    [[ "$max" =~ ^[0-9]+$ ]] || die "MOOD_QUEUE_MAX_LENGTH must be a whole number, not '$max'"
    [[ "$ttl" =~ ^[0-9]+$ ]] || die "MOOD_QUEUE_TTL_MS must be a whole number, not '$ttl'"
    [[ "$queue" =~ ^[A-Za-z0-9_.:-]+$ ]] || die "MOOD_QUEUE must be a plain queue name, not '$queue'"
    parse_amqp_url "$BROKER_URL"
    ((max > 0)) && def="\"max-length\":$max,\"overflow\":\"drop-head\""
    ((ttl > 0)) && def="${def:+$def,}\"message-ttl\":$ttl"
    if [[ -z "$def" ]]; then
        ctl clear_policy -p "$url_vhost" cqrs-mood-bound >/dev/null 2>&1 || true
        echo "rabbit.sh: the mood queue $queue is unbounded (MOOD_QUEUE_MAX_LENGTH=0, MOOD_QUEUE_TTL_MS=0)"
        return 0
    fi
    ctl set_policy -p "$url_vhost" --priority 1 --apply-to queues cqrs-mood-bound \
        "^${queue//./\\.}\$" "{$def}" >/dev/null
}

# End the epmd that listens on our private port (it outlives the node). Only an epmd whose
# environment has our ERL_EPMD_PORT is touched.
stop_epmd() {
    local pid
    for pid in $(ss -Htlnp "sport = :$AMQP_EPMD_PORT" | grep -o 'pid=[0-9]*' | cut -d= -f2 |
        sort -u); do
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == epmd ]] || continue
        grep -qx "ERL_EPMD_PORT=$AMQP_EPMD_PORT" <<<"$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)" ||
            continue
        kill -TERM "$pid" 2>/dev/null || true
    done
}

start() {
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] || die "RabbitMQ is not installed; run scripts/deps.sh"
    if [[ -n "$(server_pid)" ]]; then
        echo "rabbit.sh: already running ($NODE)"
    else
        if [[ -n "$(wrapper_pid)" ]]; then
            echo "rabbit.sh: a start is already in progress, waiting for it"
        else
            rm -f "$PID_FILE"
            write_config
            (
                cd "$RABBIT_DIR" || exit 1
                setsid "$RMQ_BIN/rabbitmq-server" </dev/null >>"$LOG_DIR/startup.log" 2>&1 &
                echo $! >"$WRAPPER_PID_FILE"
            )
        fi
        wait_for_boot
        echo "rabbit.sh: started $NODE on 127.0.0.1:$AMQP_PORT (logs $LOG_DIR)"
    fi
    if [[ "${RABBIT_SETUP:-1}" != 0 ]]; then
        ensure_user
        ensure_policies
    fi
}

# join NODE: this node becomes a member of NODE's cluster (its own data reset first, as
# join_cluster requires); nothing when it already is one.
join() {
    local target="$1"
    [[ -n "$(server_pid)" ]] || die "not running"
    if grep -qF "\"$target\"" <<<"$(ctl cluster_status --formatter json 2>/dev/null)"; then
        echo "rabbit.sh: $NODE is already in the cluster of $target"
        return 0
    fi
    # the CLI prints the joining node's warnings: they go to the node's log folder
    if ! { ctl stop_app && ctl reset && ctl join_cluster "$target" && ctl start_app &&
        ctl await_startup --timeout "$START_TIMEOUT_S"; } >>"$LOG_DIR/join.log" 2>&1; then
        tail -n 20 "$LOG_DIR/join.log" >&2
        die "$NODE could not join the cluster of $target; see $LOG_DIR/join.log"
    fi
    echo "rabbit.sh: $NODE joined the cluster of $target"
}

stop() {
    local pid wrapper p i
    pid="$(server_pid)"
    wrapper="$(wrapper_pid)"
    if [[ -n "$pid" ]]; then
        if ! ctl stop "$PID_FILE" >/dev/null 2>&1; then
            echo "rabbit.sh: rabbitmqctl stop failed, sending SIGTERM to $pid" >&2
            kill -TERM "$pid" 2>/dev/null || true
        fi
    fi
    # a start in progress (no pid file yet): its wrapper, or the node it became, is told to stop
    [[ -n "$pid" || -z "$wrapper" ]] || kill -TERM "$wrapper" 2>/dev/null || true
    for p in $pid $wrapper; do
        for ((i = 0; i < 300; i++)); do
            [[ -e "/proc/$p" ]] || break
            sleep 0.1
        done
        if [[ -e "/proc/$p" ]]; then
            echo "rabbit.sh: $p did not exit in 30 s, sending SIGKILL" >&2
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    [[ -n "${RABBIT_NODE:-}" ]] || stop_epmd # a cluster's nodes share it: stop-epmd
    rm -f "$PID_FILE" "$WRAPPER_PID_FILE"
    if [[ -n "$pid$wrapper" ]]; then
        echo "rabbit.sh: stopped"
    else
        echo "rabbit.sh: not running"
    fi
}

# queues: one line per queue of BROKER_URL's vhost: name, ready messages, consumers (tab-separated).
queues() {
    [[ -n "$(server_pid)" ]] || die "not running"
    parse_amqp_url "$BROKER_URL"
    ctl list_queues -p "$url_vhost" --silent --no-table-headers name messages_ready consumers
}

# ctl ARGS...: rabbitmqctl on our node, BROKER_URL's vhost as VHOST in the environment (tests:
# delete a queue, set the memory watermark).
ctl_cmd() {
    [[ -n "$(server_pid)" ]] || die "not running"
    parse_amqp_url "$BROKER_URL"
    VHOST="$url_vhost" ctl "$@"
}

status() {
    local pid
    pid="$(server_pid)"
    if [[ -n "$pid" ]]; then
        echo "rabbit.sh: running ($NODE, pid $pid, 127.0.0.1:$AMQP_PORT)"
    else
        echo "rabbit.sh: not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    queues) queues ;;
    ctl) shift; ctl_cmd "$@" ;;
    nodename) echo "$NODE" ;;
    join) join "${2:?usage: $0 join NODE}" ;;
    stop-epmd) stop_epmd ;;
    policies)
        [[ -n "$(server_pid)" ]] || die "not running"
        ensure_policies
        ;;
    *)
        echo "usage: $0 start|stop|status|queues|policies|ctl ARGS...|nodename|join NODE|stop-epmd" >&2
        exit 2
        ;;
esac
