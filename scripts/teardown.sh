#!/usr/bin/env bash
# scripts/teardown.sh LOG_DIR [WHO]: ends a throwaway stack (tests/run.sh, tests/faults/run.sh,
# bench/run.sh, on exit). Stops what runs in $STATE_DIR: processes started beside the services
# (pid files run/extra-*.pid, e.g. the fault suite's second relay and consumer), the services,
# RabbitMQ and PostgreSQL, the output of all that in LOG_DIR/teardown.log; copies the
# logs into LOG_DIR/logs (services' logs, postgres/, rabbitmq/); then removes $STATE_DIR unless a
# server of it still runs (WHO, default "teardown", says so on stderr and it is kept).
set -uo pipefail

log_dir="${1:?usage: teardown.sh LOG_DIR [WHO]}"
who="${2:-teardown}"
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
: "${STATE_DIR:?STATE_DIR is not set}"

mkdir -p "$log_dir/logs"
{
    for f in "$STATE_DIR"/run/extra-*.pid; do
        [[ -f "$f" ]] || continue
        pid="$(tr -dc '0-9' <"$f")"
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null
    done
    scripts/services.sh stop
    scripts/rabbit.sh stop
    scripts/pg.sh stop
} >"$log_dir/teardown.log" 2>&1
[[ -d "$STATE_DIR/logs" ]] && cp -r "$STATE_DIR/logs/." "$log_dir/logs/"
[[ -d "$STATE_DIR/pg/log" ]] && cp -r "$STATE_DIR/pg/log" "$log_dir/logs/postgres"
[[ -d "$STATE_DIR/rabbit/log" ]] && cp -r "$STATE_DIR/rabbit/log" "$log_dir/logs/rabbitmq"
if scripts/pg.sh status >/dev/null 2>&1 || scripts/rabbit.sh status >/dev/null 2>&1; then
    echo "$who: a server of this run is still running; keeping $STATE_DIR" >&2
else
    rm -rf "$STATE_DIR"
fi
exit 0
