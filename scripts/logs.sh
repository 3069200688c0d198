#!/usr/bin/env bash
# Follows the logs of the four services ($STATE_DIR/logs/<name>.log), also those not created yet.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

mkdir -p "$STATE_DIR/logs"
logs=()
for name in command-api query-api relay consumer; do
    logs+=("$STATE_DIR/logs/$name.log")
done
exec tail -n 20 -F "${logs[@]}"
