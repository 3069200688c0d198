#!/usr/bin/env bash
# Starts the local stack (`make up`, after deps and build): PostgreSQL, migrations, RabbitMQ, then
# the four services (scripts/stack.sh, on the settings of .env / .env.example). Idempotent: what
# already runs is left running.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/stack.sh
source "$REPO_ROOT/scripts/stack.sh"
cd "$REPO_ROOT"

stack_up services
scripts/urls.sh
