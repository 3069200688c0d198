/* relay_metrics: what the relay measures, served on GET /metrics and GET /health of a small HTTP
 * listener (lib/http/metrics_server) on HTTP_BIND_ADDRESS:RELAY_METRICS_PORT (default 9101):
 *   relay_outbox_backlog                          unpublished outbox rows (counted up to 1,000,000)
 *   relay_outbox_oldest_unpublished_age_seconds   age of the oldest unpublished row (0: none)
 *   relay_events_published_total                  events handed to the broker
 *   relay_events_confirmed_total                  events the broker confirmed (acked)
 *   relay_events_nacked_total, relay_events_returned_total
 *   relay_publish_batch_duration_seconds          one batch from its first publish to its last
 *                                                 confirm (up to RELAY_MAX_IN_FLIGHT batches are
 *                                                 in flight at once; the marking and fetching
 *                                                 of the batches around it overlap that time)
 *   relay_leader                                  1 while this relay holds the leader lease
 *   relay_broker_blocked                          1 while the broker blocks publishing
 *   relay_events_unroutable                       1 while returned (unroutable) events are held
 *   db_up, broker_up                              1 while connected
 *   db_reconnects_total, broker_reconnects_total  connections made again after one was lost
 * The loop calls the functions below (atomics, no locks); the backlog is counted on the relay's
 * own connection at most once a second. /health is 200 while both connections are up, else 503;
 * "degraded" (200) with reason "broker blocked" or "events returned as unroutable" while either
 * gauge is 1.
 */
#ifndef CQ_RELAY_METRICS_H
#define CQ_RELAY_METRICS_H

#include "pg/pg.h"
#include "service/svc_metrics.h"

#include <stdbool.h>
#include <stddef.h>

/* The relay's metrics, registered on the daemon's registry (lib/service/daemon.h), which serves
 * them with the connection metrics. Owned by the engine (struct relay). */
struct relay_metrics {
    struct svc_metrics *base; /* the registry, connection metrics, /health and the listener */
    struct metrics_gauge *backlog, *oldest_age, *leader, *blocked, *unroutable;
    struct metrics_counter *published, *confirmed, *nacked, *returned;
    struct metrics_histogram *batch_seconds;
    long long next_backlog_ms; /* the loop's thread only */
    bool backlog_sampled;      /* the loop's thread only: a count succeeded */
};

/* The listener's options: RELAY_METRICS_PORT (default 9101), /health's "leader" and its degraded
 * reasons, read from m (which must outlive the listener). */
struct svc_metrics_opts relay_metrics_opts(struct relay_metrics *m);
/* Registers the relay's metrics on base (before the listener starts). */
void relay_metrics_init(struct relay_metrics *m, struct svc_metrics *base);

/* The write DB connection was lost: db_up and relay_leader drop to 0. */
void relay_metrics_db_lost(struct relay_metrics *m);
void relay_metrics_leader(struct relay_metrics *m, bool leader);
void relay_metrics_blocked(struct relay_metrics *m, bool blocked);
void relay_metrics_unroutable(struct relay_metrics *m, bool held);

/* One batch: published handed to the broker, acked / nacked / returned by it, in seconds. */
void relay_metrics_batch(struct relay_metrics *m, size_t published, size_t acked, size_t nacked,
                         size_t returned, double seconds);

/* Counts the backlog on pg if the last count is at least a second old. A failure is logged at
 * debug level only: the loop's next statement finds a broken connection. */
void relay_metrics_sample_backlog(struct relay_metrics *m, PGconn *pg);
/* The last backlog count (the loop's thread): false before the first one succeeded. */
bool relay_metrics_backlog(const struct relay_metrics *m, long long *backlog, long long *oldest_ms);
/* relay_events_returned_total so far. */
long long relay_metrics_returned(const struct relay_metrics *m);

#endif
