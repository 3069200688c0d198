#!/usr/bin/env bash
# Stops the local stack started by up.sh: the services, RabbitMQ, then PostgreSQL.
# Data stays in $STATE_DIR; each step runs even if an earlier one failed.
set -euo pipefail

here="$(dirname "${BASH_SOURCE[0]}")"
rc=0
"$here/services.sh" stop || rc=1
"$here/rabbit.sh" stop || rc=1
"$here/pg.sh" stop || rc=1
exit "$rc"
