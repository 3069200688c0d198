#!/usr/bin/env bash
# services.sh start|stop|status [names...] | extra NAME LABEL: the four service binaries in the
# background (extra: one more instance of one of them, see extra() below).
# Names: command-api query-api relay consumer (default: all). Binaries come from $BIN_DIR
# (default build/bin); logs are appended to $STATE_DIR/logs/<name>.log, pids kept in
# $STATE_DIR/run/<name>.pid. start skips a service already running and waits for the APIs'
# /health; stop sends SIGTERM, then SIGKILL after 15 s (more than SHUTDOWN_GRACE_MS). status exits 0 if all run, 3 if not.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh"

ALL=(command-api query-api relay consumer)
BIN_DIR="${BIN_DIR:-build/bin}"
[[ "$BIN_DIR" == /* ]] || BIN_DIR="$REPO_ROOT/$BIN_DIR"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
HEALTH_TIMEOUT_S=15
STOP_TIMEOUT_S=15

# Pid of the running service NAME (pid file checked against /proc/<pid>/cmdline), or nothing.
service_pid() {
    local name="$1" pid arg0=""
    pid="$(pid_in "$RUN_DIR/$name.pid")"
    [[ -n "$pid" ]] || return 0
    IFS= read -r -d '' arg0 <"/proc/$pid/cmdline" || true
    [[ "$(basename -- "$arg0")" == "$name" ]] || return 0
    echo "$pid"
}

health_port() {
    case "$1" in
        command-api) echo "$COMMAND_SERVICE_PORT" ;;
        query-api) echo "$QUERY_SERVICE_PORT" ;;
    esac
}

fail_start() {
    local name="$1" why="$2"
    echo "services.sh: $name $why; last lines of $LOG_DIR/$name.log:" >&2
    tail -n 20 "$LOG_DIR/$name.log" >&2 || true
    exit 1
}

# others_secrets NAME: `env -u` options that keep from NAME the credentials only other services
# need (least privilege: the query API, for one, holds no broker credentials; the command API
# keeps BROKER_URL for the dashboard's dead-letter actions, api/command/deadletters.h).
others_secrets() {
    local -a vars
    case "$1" in
        command-api) vars=(READ_DATABASE_URL QUERY_DATABASE_URL QUERY_LISTEN_DATABASE_URL CONSUMER_DATABASE_URL RELAY_DATABASE_URL) ;;
        query-api) vars=(BROKER_URL DATABASE_URL COMMAND_DATABASE_URL RELAY_DATABASE_URL CONSUMER_DATABASE_URL COMMAND_API_TOKEN) ;;
        relay) vars=(READ_DATABASE_URL QUERY_DATABASE_URL QUERY_LISTEN_DATABASE_URL CONSUMER_DATABASE_URL COMMAND_DATABASE_URL COMMAND_API_TOKEN) ;;
        consumer) vars=(DATABASE_URL COMMAND_DATABASE_URL RELAY_DATABASE_URL QUERY_DATABASE_URL QUERY_LISTEN_DATABASE_URL COMMAND_API_TOKEN) ;;
        *) vars=() ;;
    esac
    if ((${#vars[@]} > 0)); then
        printf -- '-u\n%s\n' "${vars[@]}"
    fi
}

# launch NAME PIDFILE LOGFILE: NAME in the background in a session of its own, without the
# credentials only other services need. The child writes its own pid, then execs the service: the
# pid is right even if setsid has to fork.
launch() {
    local -a unset_opts=()
    mapfile -t unset_opts < <(others_secrets "$1")
    # shellcheck disable=SC2016 # $$ and $1 belong to the inner shell
    env "${unset_opts[@]}" setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh \
        "$2" "$BIN_DIR/$1" </dev/null >>"$3" 2>&1 &
}

# extra NAME LABEL: one more NAME beside the one of start, with the caller's environment (which
# gives it, say, a metrics port of its own), its pid in run/extra-NAME-LABEL.pid (stack_stop's
# clean-up knows run/extra-*.pid) and its log in logs/extra-NAME-LABEL.log. Prints the pid.
extra() {
    local name="$1" label="$2" pidfile i
    [[ -x "$BIN_DIR/$name" ]] || die "$BIN_DIR/$name not found; run make build"
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    pidfile="$RUN_DIR/extra-$name-$label.pid"
    rm -f "$pidfile"
    launch "$name" "$pidfile" "$LOG_DIR/extra-$name-$label.log"
    for ((i = 0; i < 50; i++)); do
        [[ -s "$pidfile" ]] && break
        sleep 0.02
    done
    pid_in "$pidfile" | grep . || die "extra $name $label did not start"
}

start() {
    local name pid port deadline
    local -a started=()
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    for name in "$@"; do
        [[ -x "$BIN_DIR/$name" ]] || die "$BIN_DIR/$name not found; run make build"
    done
    for name in "$@"; do
        pid="$(service_pid "$name")"
        if [[ -n "$pid" ]]; then
            echo "services.sh: $name already running (pid $pid)"
            continue
        fi
        printf '%s services.sh: starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$LOG_DIR/$name.log"
        launch "$name" "$RUN_DIR/$name.pid" "$LOG_DIR/$name.log"
        started+=("$name")
    done
    ((${#started[@]} > 0)) || return 0

    sleep 0.3
    for name in "${started[@]}"; do
        port="$(health_port "$name")"
        deadline=$((SECONDS + HEALTH_TIMEOUT_S))
        while :; do
            pid="$(service_pid "$name")"
            if [[ -z "$pid" ]]; then
                # the pid file may not be written yet; a missing one after 2 s means it died
                ((SECONDS < deadline - HEALTH_TIMEOUT_S + 2)) || fail_start "$name" "exited during start-up"
                sleep 0.1
                continue
            fi
            [[ -z "$port" ]] && break
            if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/health"; then
                break
            fi
            ((SECONDS < deadline)) || fail_start "$name" "did not answer /health on port $port in ${HEALTH_TIMEOUT_S}s"
            sleep 0.2
        done
        echo "services.sh: started $name (pid $pid)"
    done
}

# extras_alive NAME: how many extra instances of NAME run (their pid files in run/).
extras_alive() {
    local f n=0
    for f in "$RUN_DIR"/extra-"$1"-*.pid; do
        [[ -n "$(pid_in "$f")" ]] && n=$((n + 1))
    done
    echo "$n"
}

# stop_extras: SIGTERM to every extra instance (run/extra-*.pid), then waits for each.
stop_extras() {
    local f pid
    local -a pids=()
    for f in "$RUN_DIR"/extra-*.pid; do
        pid="$(pid_in "$f")"
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
        rm -f "$f"
    done
    for pid in "${pids[@]}"; do
        local deadline=$((SECONDS + STOP_TIMEOUT_S))
        while [[ -e "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
            ((SECONDS < deadline)) || {
                kill -KILL "$pid" 2>/dev/null || true
                break
            }
            sleep 0.1
        done
        echo "services.sh: stopped extra instance (pid $pid)"
    done
}

stop() {
    local name pid i
    local -a pids=() names=()
    # stopping everything stops the extra instances too (make down-cluster's consumers)
    (($# < ${#ALL[@]})) || stop_extras
    for name in "$@"; do
        pid="$(service_pid "$name")"
        if [[ -n "$pid" ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
        rm -f "$RUN_DIR/$name.pid"
    done
    if ((${#pids[@]} == 0)); then
        echo "services.sh: not running"
        return 0
    fi
    for ((i = 0; i < ${#pids[@]}; i++)); do
        pid="${pids[i]}"
        local deadline=$((SECONDS + STOP_TIMEOUT_S))
        while [[ -e "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                echo "services.sh: ${names[i]} (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s, sending SIGKILL" >&2
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
        echo "services.sh: stopped ${names[i]}"
    done
}

status() {
    local name pid rc=0
    for name in "$@"; do
        pid="$(service_pid "$name")"
        if [[ -n "$pid" ]]; then
            echo "services.sh: $name running (pid $pid)"
        else
            echo "services.sh: $name not running"
            rc=3
        fi
    done
    return "$rc"
}

cmd="${1:-}"
shift || true
if [[ "$cmd" == extra ]]; then
    if (($# != 2)) || [[ " ${ALL[*]} " != *" $1 "* ]]; then
        die "usage: $0 extra NAME LABEL (NAME: ${ALL[*]})"
    fi
    extra "$1" "$2"
    exit 0
fi
names=("$@")
((${#names[@]} > 0)) || names=("${ALL[@]}")
for name in "${names[@]}"; do
    [[ " ${ALL[*]} " == *" $name "* ]] || die "unknown service '$name' (known: ${ALL[*]})"
done

case "$cmd" in
    start) start "${names[@]}" ;;
    stop) stop "${names[@]}" ;;
    status) status "${names[@]}" ;;
    *)
        echo "usage: $0 start|stop|status [${ALL[*]}] | extra NAME LABEL" >&2
        exit 2
        ;;
esac
