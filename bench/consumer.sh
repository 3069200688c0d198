#!/usr/bin/env bash
# bench/consumer.sh: measurement 3, the consumer. The relay stage left BENCH_BACKLOG events in
# the read-model queue with the consumer stopped; this starts the consumer and waits until the
# read DB holds the backlog's last order. The rate comes from the orders' projected_at (the read
# DB's clock at apply), and is compared with the command API's peak (write.peak_rps): the
# consumer must never be the bottleneck. Figures consumer.events_per_s, consumer.ratio_to_peak.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

first="$(state_get backlog_first_order)"
last="$(state_get backlog_last_order)"
[[ -n "$first" && -n "$last" && -n "$(state_get relay_done)" ]] ||
    die "no backlog: the relay stage must run first, and succeed"
(("$(rsql -c "SELECT coalesce(max(order_id), 0) FROM orders_read")" < first)) ||
    die "the backlog was already consumed"

log "consumer: draining $((last - first + 1)) events"
services start consumer
rate="$(consumer_drain_rate "$first" "$last")" || die "the consumer did not drain its backlog"
fig_set consumer.events_per_s "$rate"
peak="$(fig_get write.peak_rps)"
[[ -n "$peak" ]] || die "no peak command rate: the write stage must run first"
fig_set consumer.ratio_to_peak "$(round "$(calc "$(fig_get consumer.events_per_s) / $peak")")"
services start relay
settle
