#!/usr/bin/env bash
# tests/cluster/run.sh (`make test-cluster`; the `cluster` suite of tests/run.sh): the broker
# cluster end to end. Starts a throwaway stack on free ports in a temp STATE_DIR (scripts/stack.sh's
# stack_init --cluster: PostgreSQL, a 3-node RabbitMQ cluster, quorum queues, BROKER_URL the list
# of the nodes), then runs tests/cluster/*.test.mjs one file at a time: commands through the real
# command API, relay and consumer reach the read model; one broker node killed -9 under load and
# started again loses nothing and applies nothing twice (cluster.test.mjs); three consumers sharing
# the work queue's partitions (CLUSTER_CONSUMER_PARTITIONS), one killed -9 under load, its
# partitions taken over, then started again (consumers.test.mjs), both checked with the fault suite's
# convergence check; the query API on PostgreSQL's streaming replica (replica.test.mjs:
# read-your-writes through it, the replica stopped and started again). Stops everything it
# started, by pid. Uses the plain build (build/bin; BIN_DIR to change).
# CLUSTER_FULL=1 (`make test-cluster` sets it; the `cluster` suite of `make test` runs without,
# about 2 minutes): first, each on a cluster stack of its own (TEST_STACK=cluster), the e2e and
# seeds suites (tests/run.sh, sanitizer build) and the fault-suite scenarios that concern the
# broker (tests/faults/run.sh with FAULTS_ONLY=$CLUSTER_FAULTS; docs/scaling.md says which run
# and why the others do not), then the cluster faults above.
# Output: node's TAP, then "cluster: N passed, M failed" as the last line (every part summed);
# exit 0 only if all passed. Logs in $CLUSTER_ARTIFACTS (default test-artifacts/cluster).
# CLUSTER_RATE (commands/s, default 60) and CLUSTER_LOAD_MS (default 15000) size the load.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
# shellcheck source=tests/lib.sh
source tests/lib.sh

driver_artifacts "${CLUSTER_ARTIFACTS:-$REPO_ROOT/test-artifacts/cluster}"

export BIN_DIR="${BIN_DIR:-$REPO_ROOT/build/bin}"
for b in command-api query-api relay consumer; do
    [[ -x "$BIN_DIR/$b" ]] || {
        echo "cluster: $BIN_DIR/$b is missing (make build)"
        driver_finish cluster 0 1
    }
done

# part WHO LOG CMD...: one more suite, on a cluster stack of its own (TEST_STACK=cluster); adds
# its counts (summary_run, tests/lib.sh). The parts run first, before this driver's stack_init
# exports .env.example's values: each driver sets its own defaults (tests/run.sh's short SSE
# keep-alive, the fault suite's retry delays) only where the caller left a variable unset.
pass=0 fail=0
part() {
    local who="$1" log="$2"
    shift 2
    echo "cluster: $who (log in $log)"
    summary_run 15 "$log" env TEST_STACK=cluster "$@"
    pass=$((pass + sum_pass)) fail=$((fail + sum_fail))
}

# the fault-suite scenarios that concern the broker (docs/scaling.md, "Tests"; 3 is left out)
CLUSTER_FAULTS="${CLUSTER_FAULTS:-^(0|1|2a|2b|5|6)\. |^(11\.2|11\.3|12\.a|12\.c|13\.1|13\.3) }"
if [[ "${CLUSTER_FULL:-0}" == 1 ]]; then
    part "e2e and seeds" "$ARTIFACTS/suites.log" TEST_SUITES="e2e seeds" \
        TEST_ARTIFACTS="$ARTIFACTS/suites" timeout -k 10 1800 tests/run.sh
    # the fault scenarios drive the shared work queue by name (read_model): one partition
    part "faults ($CLUSTER_FAULTS)" "$ARTIFACTS/faults.log" CLUSTER_CONSUMER_PARTITIONS=1 FAULTS_SKIP_DEPS=1 \
        FAULTS_ONLY="$CLUSTER_FAULTS" FAULTS_ARTIFACTS="$ARTIFACTS/faults" \
        timeout -k 10 1800 tests/faults/run.sh
fi
# short retry delays, as in the fault suite (tests/run.sh exports .env.example's values)
export CONSUMER_RETRY_DELAY_MS=250 CONSUMER_MAX_ATTEMPTS=3 CONSUMER_EARLY_MAX_ATTEMPTS=40
# partitions (CLUSTER_CONSUMER_PARTITIONS) change hands within 3 s of a consumer's death
export CONSUMER_PARTITION_LEASE_MS=3000
unset FAULT_PAUSE_AFTER_PUBLISH_MS FAULT_PAUSE_BEFORE_COMMIT_MS FAULT_PAUSE_AFTER_COMMIT_MS
export TEST_STACK=cluster
stack_init --cluster cluster "$ARTIFACTS" || {
    echo "cluster: could not pick free ports"
    driver_finish cluster 0 1
}
export FAULTS_ARTIFACTS="$ARTIFACTS"

driver_servers cluster "PostgreSQL and 3 RabbitMQ nodes"
driver_node cluster "${CLUSTER_TIMEOUT_S:-900}" --test-concurrency=1 tests/cluster/*.test.mjs
stack_stop
pass=$((pass + tap_pass)) fail=$((fail + tap_fail))

driver_finish cluster "$pass" "$fail"
