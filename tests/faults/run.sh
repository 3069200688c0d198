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
# (commands/s, default 80) and FAULTS_LOAD_MS (default 16000) size the load. TEST_STACK=cluster
# runs them on a 3-node RabbitMQ cluster with quorum queues (stack_init --cluster; `make
# test-cluster` does, for the scenarios that concern the broker: docs/scaling.md).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
# shellcheck source=tests/lib.sh
source tests/lib.sh

driver_artifacts "${FAULTS_ARTIFACTS:-$REPO_ROOT/test-artifacts/faults}"
BUILD_DIR="${FAULTS_BUILD_DIR:-build/asan}"
SANITIZE="${FAULTS_SANITIZE-address,undefined}"

if [[ "${FAULTS_SKIP_DEPS:-0}" != 1 ]] && ! scripts/deps.sh >"$ARTIFACTS/deps.log" 2>&1; then
    echo "faults: could not install the dependencies, see $ARTIFACTS/deps.log"
    driver_finish faults 0 1
fi
echo "faults: building (SANITIZE=$SANITIZE, $BUILD_DIR)"
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 SANITIZE="$SANITIZE" BUILD="$BUILD_DIR" \
    "$BUILD_DIR/bin/command-api" "$BUILD_DIR/bin/query-api" "$BUILD_DIR/bin/relay" \
    "$BUILD_DIR/bin/consumer" "$BUILD_DIR/bin/deadletters" "$BUILD_DIR/faults/inject" \
    >"$ARTIFACTS/build.log" 2>&1; then
    tail -n 40 "$ARTIFACTS/build.log"
    echo "faults: build failed, see $ARTIFACTS/build.log"
    driver_finish faults 0 1
fi

# short retry delays and few attempts, so that poison reaches the dead-letter queue within seconds
# (set here whatever the caller's environment says: tests/run.sh exports .env.example's values)
export CONSUMER_RETRY_DELAY_MS="${FAULTS_RETRY_DELAY_MS:-250}"
export CONSUMER_MAX_ATTEMPTS="${FAULTS_MAX_ATTEMPTS:-3}"
export CONSUMER_EARLY_MAX_ATTEMPTS="${FAULTS_EARLY_MAX_ATTEMPTS:-40}"
export LOG_LEVEL="${FAULTS_LOG_LEVEL:-info}"
unset FAULT_PAUSE_AFTER_PUBLISH_MS FAULT_PAUSE_BEFORE_COMMIT_MS FAULT_PAUSE_AFTER_COMMIT_MS
# the services connect with their own least-privilege roles, as in production;
# FAULTS_SERVICE_ROLES=0: with the owners' URLs. Metrics listeners of their own for the second
# relay and consumer of test 5.
stack_opts=(--sanitized)
[[ "${FAULTS_SERVICE_ROLES:-1}" == 1 ]] || stack_opts+=(--owner-urls)
[[ "${TEST_STACK:-single}" != cluster ]] || stack_opts+=(--cluster)
stack_init "${stack_opts[@]}" faults "$ARTIFACTS" \
    FAULTS_EXTRA_RELAY_METRICS_PORT FAULTS_EXTRA_CONSUMER_METRICS_PORT || {
    echo "faults: could not pick free ports"
    driver_finish faults 0 1
}
export BIN_DIR="$REPO_ROOT/$BUILD_DIR/bin" INJECT_BIN="$REPO_ROOT/$BUILD_DIR/faults/inject"
export FAULTS_ARTIFACTS="$ARTIFACTS"

driver_servers faults "PostgreSQL and RabbitMQ${TEST_STACK:+ ($TEST_STACK)}"
only=()
[[ -n "${FAULTS_ONLY:-}" ]] && only=(--test-name-pattern "$FAULTS_ONLY")
driver_node faults "${FAULTS_TIMEOUT_S:-1500}" "${only[@]}" tests/faults/faults.test.mjs

stack_stop
# A sanitizer report in a service log fails the suite (one failure per log with a report).
sanitizer_reports faults "$ARTIFACTS/logs"
driver_finish faults "$tap_pass" "$((tap_fail + sanitizer_logs))"
