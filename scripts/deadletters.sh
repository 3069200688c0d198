#!/usr/bin/env bash
# deadletters.sh list | requeue --all|EVENT_ID... | drop --all|EVENT_ID...
# The read model's dead-letter queue (<AMQP_QUEUE>.dead, see docs/reliability.md):
#   list     one line per dead letter: event id, event type, attempts, SQLSTATE, when it last
#            failed, the relay's routing key and the reason (tab-separated, with a header)
#   requeue  sends the chosen dead letters back to the read-model queue with a fresh attempt
#            count (after the fix: a new projection, a repaired read DB, ...)
#   drop     deletes the chosen dead letters for good (e.g. a message that is not an event)
# Settings (BROKER_URL, AMQP_QUEUE, ...) come from the environment, .env and .env.example. Runs
# $BIN_DIR/deadletters (default build/bin), building it first if it is missing.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

BIN_DIR="${BIN_DIR:-build/bin}"
[[ "$BIN_DIR" == /* ]] || BIN_DIR="$REPO_ROOT/$BIN_DIR"
if [[ ! -x "$BIN_DIR/deadletters" ]]; then
    if [[ "$BIN_DIR" == "$REPO_ROOT/build/bin" ]]; then
        make -s -C "$REPO_ROOT" build/bin/deadletters >&2
    else
        echo "deadletters.sh: $BIN_DIR/deadletters not found; run make build" >&2
        exit 2
    fi
fi
exec "$BIN_DIR/deadletters" "$@"
