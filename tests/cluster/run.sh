#!/usr/bin/env bash
# tests/cluster/run.sh (`make test-cluster`; the `cluster` suite of tests/run.sh): the broker
# cluster end to end. Starts a throwaway stack on free ports in a temp STATE_DIR (scripts/stack.sh
# with stack_cluster_env: PostgreSQL, a 3-node RabbitMQ cluster, quorum queues, BROKER_URL the
# list of the nodes), then runs tests/cluster/cluster.test.mjs: commands through the real command
# API, relay and consumer reach the read model; one broker node killed -9 under load and started
# again loses nothing and applies nothing twice (the fault suite's convergence check); then
# tests/cluster/replica.test.mjs: the query API on PostgreSQL's streaming replica (read-your-writes
# through it, the replica stopped and started again). Stops everything it started, by pid.
# Uses the plain build (build/bin; BIN_DIR to change).
# Output: node's TAP, then "cluster: N passed, M failed" as the last line; exit 0 only if all
# passed. Logs in $CLUSTER_ARTIFACTS (default test-artifacts/cluster).
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

# short retry delays, as in the fault suite (tests/run.sh exports .env.example's values)
export CONSUMER_RETRY_DELAY_MS=250 CONSUMER_MAX_ATTEMPTS=3 CONSUMER_EARLY_MAX_ATTEMPTS=40
unset FAULT_PAUSE_AFTER_PUBLISH_MS FAULT_PAUSE_BEFORE_COMMIT_MS FAULT_PAUSE_AFTER_COMMIT_MS
stack_init cluster "$ARTIFACTS" CLUSTER_AMQP_PORT_2 CLUSTER_AMQP_PORT_3 CLUSTER_AMQP_DIST_PORT_2 \
    CLUSTER_AMQP_DIST_PORT_3 CLUSTER_PG_REPLICA_PORT || {
    echo "cluster: could not pick free ports"
    driver_finish cluster 0 1
}
# node 1 takes the ports stack_init picked for the single node, the stack keeps its own
export CLUSTER_AMQP_PORT_1="$AMQP_PORT" CLUSTER_AMQP_DIST_PORT_1="$AMQP_DIST_PORT"
export CLUSTER_AMQP_EPMD_PORT="$AMQP_EPMD_PORT" CLUSTER_PG_PORT="$PG_PORT"
export CLUSTER_COMMAND_SERVICE_PORT="$COMMAND_SERVICE_PORT"
export CLUSTER_QUERY_SERVICE_PORT="$QUERY_SERVICE_PORT"
export CLUSTER_RELAY_METRICS_PORT="$RELAY_METRICS_PORT"
export CLUSTER_CONSUMER_METRICS_PORT="$CONSUMER_METRICS_PORT"
stack_cluster_env
export FAULTS_ARTIFACTS="$ARTIFACTS"

driver_servers cluster "PostgreSQL and 3 RabbitMQ nodes"
driver_node cluster "${CLUSTER_TIMEOUT_S:-900}" --test-concurrency=1 tests/cluster/cluster.test.mjs \
    tests/cluster/replica.test.mjs

stack_stop
driver_finish cluster "$tap_pass" "$tap_fail"
