#!/usr/bin/env bash
# Prints every address a person needs for the local stack (the end of `make up`): the two APIs,
# the dashboard, the mood sender and wall, RabbitMQ's management UI when enabled, and whether
# commands need a token (the command API's rule, docs/api.md#authentication). --cluster: the stack
# of `make up-cluster`.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

host="${HTTP_BIND_ADDRESS:-127.0.0.1}"
case "$host" in
    0.0.0.0 | "") host=127.0.0.1 ;;
    *:*) host="[$host]" ;;
esac
cmd="http://$host:$COMMAND_SERVICE_PORT"
# --cluster: the stack of `make up-cluster` (scripts/up.sh --cluster)
logs="make logs   (or: tail -F $STATE_DIR/logs/*.log)" stop="make down"
if [[ "${1:-}" == --cluster ]]; then
    logs="tail -F $STATE_DIR/logs/*.log" stop="make down-cluster"
fi
qry="http://$host:$QUERY_SERVICE_PORT"

# token_rule: the same decision as api/command/auth.c's auth_mode_for.
token_rule() {
    if [[ "${COMMAND_API_AUTH:-auto}" == off ]]; then
        echo "no (COMMAND_API_AUTH=off: anyone who can connect may send commands)"
    elif [[ -n "${COMMAND_API_TOKEN:-}" ]]; then
        echo "yes: Authorization: Bearer \$COMMAND_API_TOKEN (set in .env)"
    else
        case "${HTTP_BIND_ADDRESS:-127.0.0.1}" in
            127.* | ::1 | localhost) echo "no (bound to loopback and COMMAND_API_TOKEN is not set)" ;;
            *) echo "the command API refuses to start: set COMMAND_API_TOKEN (bound beyond loopback)" ;;
        esac
    fi
}

cat <<MSG

Command API:      $cmd          (POST /api/..., and the seeds' /todos, /commands/...: docs/seeds.md)
Query API:        $qry          (GET /api/..., /todos, /stats, /queries/...)
Dashboard:        $qry/
Mood sender:      $cmd/
Mood wall:        $qry/mood
Token required:   $(token_rule)
MSG
if [[ -n "${RABBITMQ_MANAGEMENT_PORT:-}" ]]; then
    echo "RabbitMQ UI:      http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/   (user and password of BROKER_URL)"
else
    echo "RabbitMQ UI:      off (set RABBITMQ_MANAGEMENT_PORT in .env to enable it)"
fi
if [[ "${1:-}" == --cluster && -n "${PG_REPLICA_PORT:-}" ]]; then
    echo "Read replica:     127.0.0.1:$PG_REPLICA_PORT, streaming from 127.0.0.1:$PG_PORT (the query API reads it; lag: query_replica_lag_bytes)"
fi
cat <<MSG
Metrics:          $cmd/metrics  $qry/metrics  relay :$RELAY_METRICS_PORT/metrics  consumer :$CONSUMER_METRICS_PORT/metrics
Logs:             $logs
Stop:             $stop
MSG
