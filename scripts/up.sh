#!/usr/bin/env bash
# Starts the local stack (`make up`, after deps and build): PostgreSQL, RabbitMQ, migrations,
# then the four services. Idempotent: what already runs is left running.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

scripts/pg.sh start
scripts/rabbit.sh start
scripts/migrate.sh
scripts/services.sh start

cat <<MSG

Command API: http://127.0.0.1:$COMMAND_SERVICE_PORT
Query API:   http://127.0.0.1:$QUERY_SERVICE_PORT
Logs:        make logs   (or: tail -F $STATE_DIR/logs/*.log)
Stop:        make down
MSG
