#!/usr/bin/env bash
# Stops the local stack started by up.sh: the services, RabbitMQ, then PostgreSQL. --cluster
# (`make down-cluster`): the stack of up.sh --cluster, its three RabbitMQ nodes and the read
# replica included.
# Data stays in $STATE_DIR; each step runs even if an earlier one failed.
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
rabbit=rabbit.sh
replica=0
case "${1:-}" in
    "") ;;
    --cluster)
        # shellcheck source=scripts/env.sh disable=SC1091
        source "$here/env.sh"
        # shellcheck source=scripts/stack.sh
        source "$here/stack.sh"
        stack_cluster_env
        rabbit="rabbit-cluster.sh" replica=1
        ;;
    *)
        echo "usage: $0 [--cluster]" >&2
        exit 2
        ;;
esac
rc=0
"$here/services.sh" stop || rc=1
"$here/$rabbit" stop || rc=1
((replica == 0)) || "$here/pg.sh" replica stop || rc=1
"$here/pg.sh" stop || rc=1
exit "$rc"
