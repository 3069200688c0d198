#!/usr/bin/env bash
# tests/faults/run.sh: the fault suite (`make test-faults`; also the `faults` suite of
# tests/run.sh). Builds with ASan+UBSan into $FAULTS_BUILD_DIR (default build/asan), starts a
# throwaway PostgreSQL and RabbitMQ on free ports in a temp STATE_DIR (never the ones of `make up`
# or of other suites: the faults restart them), then runs tests/faults/faults.test.mjs, which
# starts and kills the services itself. Each test drives a stream of commands, injects one fault
# and checks that the read model converges (docs/reliability.md). The figures go to
# $FAULTS_ARTIFACTS/figures.{md,json}; only FAULTS_UPDATE_DOCS=1 (`make reliability-report`)
# rewrites the figures table of docs/reliability.md.
# Output: node's TAP, then "faults: N passed, M failed" as the last line. Exit 0 only if all
# passed. Logs and figures end up in $FAULTS_ARTIFACTS (default test-artifacts/faults).
# FAULTS_ONLY=REGEX runs only the tests whose names match (node --test-name-pattern); FAULTS_RATE
# (commands/s, default 80) and FAULTS_LOAD_MS (default 16000) size the load.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

ARTIFACTS="${FAULTS_ARTIFACTS:-$REPO_ROOT/test-artifacts/faults}"
BUILD_DIR="${FAULTS_BUILD_DIR:-build/asan}"
SANITIZE="${FAULTS_SANITIZE-address,undefined}"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

finish() {
    echo "faults: $1 passed, $2 failed"
    exit "$(($2 > 0 ? 1 : 0))"
}

if [[ "${FAULTS_SKIP_DEPS:-0}" != 1 ]] && ! scripts/deps.sh >"$ARTIFACTS/deps.log" 2>&1; then
    echo "faults: could not install the dependencies, see $ARTIFACTS/deps.log"
    finish 0 1
fi
echo "faults: building (SANITIZE=$SANITIZE, $BUILD_DIR)"
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 SANITIZE="$SANITIZE" BUILD="$BUILD_DIR" \
    "$BUILD_DIR/bin/command-api" "$BUILD_DIR/bin/query-api" "$BUILD_DIR/bin/relay" \
    "$BUILD_DIR/bin/consumer" "$BUILD_DIR/bin/deadletters" "$BUILD_DIR/faults/inject" \
    >"$ARTIFACTS/build.log" 2>&1; then
    tail -n 40 "$ARTIFACTS/build.log"
    echo "faults: build failed, see $ARTIFACTS/build.log"
    finish 0 1
fi

mapfile -t ports < <(scripts/free-port.sh 10)
((${#ports[@]} == 10)) || {
    echo "faults: could not pick free ports"
    finish 0 1
}
STATE_DIR="$(mktemp -d /tmp/cqrs-faults.XXXXXX)"
chmod 711 "$STATE_DIR" # the postgres user must be able to enter it
export STATE_DIR
export PG_PORT="${ports[0]}" AMQP_PORT="${ports[1]}" AMQP_DIST_PORT="${ports[2]}"
export AMQP_EPMD_PORT="${ports[3]}" COMMAND_SERVICE_PORT="${ports[4]}" QUERY_SERVICE_PORT="${ports[5]}"
# metrics listeners: the services' own, and those of the second relay and consumer of test 5
export RELAY_METRICS_PORT="${ports[6]}" CONSUMER_METRICS_PORT="${ports[7]}"
export FAULTS_EXTRA_RELAY_METRICS_PORT="${ports[8]}" FAULTS_EXTRA_CONSUMER_METRICS_PORT="${ports[9]}"
export DATABASE_URL="postgresql://cqrs:cqrs@127.0.0.1:$PG_PORT/cqrs_write"
export READ_DATABASE_URL="postgresql://cqrs:cqrs@127.0.0.1:$PG_PORT/cqrs_read"
export BROKER_URL="amqp://cqrs:cqrs@127.0.0.1:$AMQP_PORT/cqrs"
# the services connect with their own least-privilege roles (scripts/pg.sh creates them), as in
# production; FAULTS_SERVICE_ROLES=0: with the owners' URLs. The consumer owns the read model.
unset COMMAND_DATABASE_URL RELAY_DATABASE_URL QUERY_DATABASE_URL CONSUMER_DATABASE_URL
if [[ "${FAULTS_SERVICE_ROLES:-1}" == 1 ]]; then
    export COMMAND_DATABASE_URL="postgresql://cqrs_command:cqrs_command@127.0.0.1:$PG_PORT/cqrs_write"
    export RELAY_DATABASE_URL="postgresql://cqrs_relay:cqrs_relay@127.0.0.1:$PG_PORT/cqrs_write"
    export QUERY_DATABASE_URL="postgresql://cqrs_query:cqrs_query@127.0.0.1:$PG_PORT/cqrs_read"
fi
export COMMAND_URL="http://127.0.0.1:$COMMAND_SERVICE_PORT"
export QUERY_URL="http://127.0.0.1:$QUERY_SERVICE_PORT"
export HTTP_BIND_ADDRESS=127.0.0.1
export BIN_DIR="$REPO_ROOT/$BUILD_DIR/bin"
export INJECT_BIN="$REPO_ROOT/$BUILD_DIR/faults/inject"
export FAULTS_ARTIFACTS="$ARTIFACTS"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# short retry delays and few attempts, so that poison reaches the dead-letter queue within seconds
# (set here whatever the caller's environment says: tests/run.sh exports .env.example's values)
export CONSUMER_RETRY_DELAY_MS="${FAULTS_RETRY_DELAY_MS:-250}"
export CONSUMER_MAX_ATTEMPTS="${FAULTS_MAX_ATTEMPTS:-3}"
export CONSUMER_EARLY_MAX_ATTEMPTS="${FAULTS_EARLY_MAX_ATTEMPTS:-40}"
export LOG_LEVEL="${FAULTS_LOG_LEVEL:-info}"
unset RABBITMQ_MANAGEMENT_PORT FAULT_PAUSE_AFTER_PUBLISH_MS FAULT_PAUSE_BEFORE_COMMIT_MS \
    FAULT_PAUSE_AFTER_COMMIT_MS
# shellcheck source=scripts/env.sh disable=SC1091
source scripts/env.sh # everything else from .env / .env.example

cleaned=0
cleanup() {
    ((cleaned)) && return 0
    cleaned=1
    scripts/teardown.sh "$ARTIFACTS" faults
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "faults: starting PostgreSQL and RabbitMQ (state in $STATE_DIR)"
if ! { scripts/pg.sh start && scripts/migrate.sh && scripts/rabbit.sh start; } >"$ARTIFACTS/stack.log" 2>&1; then
    tail -n 30 "$ARTIFACTS/stack.log"
    echo "faults: the servers did not start, see $ARTIFACTS/stack.log"
    finish 0 1
fi

st=0
only=()
[[ -n "${FAULTS_ONLY:-}" ]] && only=(--test-name-pattern "$FAULTS_ONLY")
out="$(timeout -k 10 "${FAULTS_TIMEOUT_S:-1500}" node --test --test-reporter=tap "${only[@]}" \
    tests/faults/faults.test.mjs 2>&1)" || st=$?
printf '%s\n' "$out" | tee "$ARTIFACTS/faults.log"
pass=0 fail=0 cancelled=0
while IFS= read -r line; do
    if [[ "$line" =~ ^#\ pass\ ([0-9]+) ]]; then
        pass="${BASH_REMATCH[1]}"
    elif [[ "$line" =~ ^#\ fail\ ([0-9]+) ]]; then
        fail="${BASH_REMATCH[1]}"
    elif [[ "$line" =~ ^#\ cancelled\ ([0-9]+) ]]; then
        cancelled="${BASH_REMATCH[1]}"
    fi
done <<<"$out"
fail=$((fail + cancelled))
if ((st != 0 && fail == 0)); then
    echo "faults: node --test exited with status $st"
    fail=1
fi

cleanup
# A sanitizer report in a service log fails the suite (one failure per log with a report).
while IFS= read -r log; do
    [[ -n "$log" ]] || continue
    echo "faults: sanitizer report in $(basename "$log"):"
    grep -m 5 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"
    fail=$((fail + 1))
done < <(grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$ARTIFACTS"/logs/*.log 2>/dev/null || true)
finish "$pass" "$fail"
