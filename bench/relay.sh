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
first_outbox="$(wsql -c "SELECT coalesce(max(id), 0) + 1 FROM outbox")"
first_order="$(wsql -c "SELECT coalesce(max(id), 0) + 1 FROM orders")"
log "generating a backlog of $BENCH_BACKLOG orders"
gen_orders "$BENCH_BACKLOG" 0 0 no
last_order="$(wsql -c "SELECT max(id) FROM orders")"
rows="$(wsql -c "SELECT count(*) FROM outbox WHERE id >= $first_outbox AND published_at IS NULL")"
[[ "$rows" == "$BENCH_BACKLOG" ]] || die "expected $BENCH_BACKLOG unpublished outbox rows, found $rows"
state_set backlog_first_order "$first_order"
state_set backlog_last_order "$last_order"

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
outbox_empty() {
    need_running relay
    [[ "$(wsql -c "SELECT count(*) FROM outbox WHERE published_at IS NULL")" == 0 ]]
}
wait_for "the relay to drain the outbox" 600 0.2 outbox_empty
# rate between the first and the last batch's mark; the first batch's rows are not counted, as
# their publishing happened before the first mark
read -r n first_batch span < <(wsql -F ' ' -c "
    WITH b AS (SELECT published_at FROM outbox WHERE id >= $first_outbox)
    SELECT count(*), count(*) FILTER (WHERE published_at = (SELECT min(published_at) FROM b)),
           extract(epoch FROM max(published_at) - min(published_at))
    FROM b")
[[ "$n" == "$rows" ]] || die "published $n rows, expected $rows"
jq -e -n --argjson s "$span" '$s > 0' >/dev/null || die "all rows were marked in one batch"
fig_set relay.events_per_s "$(round "$(calc "($n - $first_batch) / $span")")"
fig_set relay.ratio "$(round "$(calc "$(fig_get relay.events_per_s) / $(fig_get relay.publisher_per_s)")")"
state_set relay_done yes
