#!/usr/bin/env bash
# bench/relay.sh: measurement 2, the relay. With the relay and the consumer stopped, generates a
# backlog of BENCH_BACKLOG orders (bench/sql/gen_orders.sql: one OrderCreated outbox row each).
# Baseline first: bench/publisher publishes the very same payloads (dumped from the outbox)
# persistent to a queue of its own, confirming every 1,000, then deletes that queue. Then the
# relay is started and drains the outbox into RabbitMQ with confirms; its rate comes from the
# rows' published_at. The consumer stays stopped: the queue now holds the consumer stage's
# backlog. Figures relay.events_per_s, relay.publisher_per_s, relay.ratio.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

settle
services stop relay consumer
log "generating a backlog of $BENCH_BACKLOG orders"
backlog_orders "$BENCH_BACKLOG" || die "could not make the backlog"
first_outbox="$BACKLOG_OUTBOX" rows="$BENCH_BACKLOG"
state_set backlog_first_order "$BACKLOG_FIRST"
state_set backlog_last_order "$BACKLOG_LAST"

# the baseline: the same payloads, routing keys and properties as the relay sends
payloads="$BENCH_TMP/relay-payloads.tsv"
wsql -F $'\t' -c "SELECT aggregate_type || '.' || event_type, event_id, event_type, payload::text
                  FROM outbox WHERE id >= $first_outbox ORDER BY id" >"$payloads"
log "baseline: bench/publisher, $(wc -l <"$payloads") messages"
result="$("$BENCH_PUBLISHER" "$BROKER_URL" bench.baseline bench_baseline "$payloads" 1000)" ||
    die "the baseline publisher failed"
rm -f "$payloads"
fig_set relay.publisher_per_s "$(round "$(jget "$result" .rate)")"

log "relay: draining $rows outbox rows"
services start relay
rate="$(relay_drain_rate "$first_outbox")" || die "the relay did not drain its backlog"
fig_set relay.events_per_s "$rate"
fig_set relay.ratio "$(round "$(calc "$(fig_get relay.events_per_s) / $(fig_get relay.publisher_per_s)")")"
state_set relay_done yes
