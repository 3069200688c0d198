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

scripts/urls.sh
