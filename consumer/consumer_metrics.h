/* consumer_metrics: what the consumer measures, served on GET /metrics and GET /health of a small
 * HTTP listener (lib/http/metrics_server) on HTTP_BIND_ADDRESS:CONSUMER_METRICS_PORT (default
 * 9102): consumer_events_consumed_total          deliveries received (redeliveries count again)
 *   consumer_events_applied_total           events applied to the read model
 *   consumer_events_deduplicated_total      events the read model already had (skipped)
 *   consumer_events_retried_total           events sent to the retry queue
 *   consumer_events_dead_lettered_total     events sent to the dead-letter queue
 *   consumer_projection_lag_seconds         when a batch is applied: now minus the occurredAt of
 *                                           the newest event it applied
 *   consumer_last_event_occurred_timestamp_seconds   that occurredAt (Unix time)
 *   consumer_batch_duration_seconds         one batch: apply, commit and ack
 *   consumer_mv_refreshes_total{view}       materialized view refreshes, per view
 *   consumer_mv_refresh_duration_seconds    one view's refresh (refresher.h)
 *   consumer_partitions_held                partitions this consumer holds (CONSUMER_PARTITIONS
 *                                           > 1, partitions.h; 0 otherwise)
 *   db_up, broker_up                        1 while connected (svc_metrics.h, like /health)
 *   db_reconnects_total, broker_reconnects_total   connections made again after one was lost
 * The loop calls the functions below (atomics, no locks). /health is 200 while both connections
 * are up, else 503. */
#ifndef CQ_CONSUMER_METRICS_H
#define CQ_CONSUMER_METRICS_H

#include "receive.h"
#include "service/svc_metrics.h"

/* The consumer's metrics, registered on the daemon's registry (lib/service/daemon.h), which
 * serves them with the connection metrics. Owned by the engine (struct consumer). */
struct consumer_metrics {
    struct svc_metrics *base; /* the registry, connection metrics, /health and the listener */
    struct metrics_counter *consumed, *applied, *deduplicated, *retried, *dead, *refreshes;
    struct metrics_gauge *lag, *last_occurred, *partitions;
    struct metrics_histogram *batch_seconds, *refresh_seconds;
};

/* The listener's options: CONSUMER_METRICS_PORT (default 9102). */
extern const struct svc_metrics_opts consumer_metrics_opts;
/* Registers the consumer's metrics on base (before the listener starts). */
void consumer_metrics_init(struct consumer_metrics *m, struct svc_metrics *base);

/* n deliveries received. */
void consumer_metrics_received(struct consumer_metrics *m, size_t n);
/* What project.c counted in b (applied, duplicates, retried, dead, newest occurredAt), once per
 * batch before it is cleared; seconds: how long projecting it took (< 0: not measured, e.g. when
 * the broker connection broke midway). */
void consumer_metrics_batch(struct consumer_metrics *m, const struct receive_batch *b,
                            double seconds);
/* Refreshes that took seconds: views is the comma-separated names refreshed ("" none). Called
 * from the refresher's thread. */
void consumer_metrics_refresh(struct consumer_metrics *m, const char *views, double seconds);
/* n partitions held. */
void consumer_metrics_partitions(struct consumer_metrics *m, long n);

#endif
