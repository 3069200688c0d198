#!/usr/bin/env bash
# Starts the local stack (`make up`, after deps and build): PostgreSQL, migrations, RabbitMQ, then
# the four services (scripts/stack.sh, on the settings of .env / .env.example). Idempotent: what
# already runs is left running. --cluster (`make up-cluster`): the same on the cluster's ports
# and state folder (CLUSTER_* in .env.example), with a 3-node RabbitMQ cluster and quorum queues
# (stack_cluster_env, docs/scaling.md).
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/stack.sh
source "$REPO_ROOT/scripts/stack.sh"
# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh"
cd "$REPO_ROOT"

consumers=1
case "${1:-}" in
    "") ;;
    --cluster)
        stack_cluster_env
        consumers="$CLUSTER_CONSUMERS"
        ;;
    *)
        echo "usage: $0 [--cluster]" >&2
        exit 2
        ;;
esac
stack_up services
# the cluster's further consumers, sharing the partitions (no metrics listener of their own);
# down.sh stops them with the services
for ((i = 2; i <= consumers; i++)); do
    pid="$(pid_in "$STATE_DIR/run/extra-consumer-consumer-$i.pid")"
    if [[ -n "$pid" ]]; then
        echo "services.sh: consumer-$i already running (pid $pid)"
    else
        echo "services.sh: started consumer-$i (pid $(CONSUMER_METRICS_PORT=0 scripts/services.sh extra consumer "consumer-$i"))"
    fi
done
scripts/urls.sh "$@"
