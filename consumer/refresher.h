/* refresher: keeps the read DB's materialized views fresh, beside the projections.
 *
 * A thread of its own with a read-DB connection of its own: every tick (a fifth of
 * MV_REFRESH_INTERVAL_MS, at least 10 ms) it calls refresh_next_view() until no view is due, at
 * most one call per view per tick. A view is due when a batch touched it since its last refresh
 * and that refresh is MV_REFRESH_INTERVAL_MS old (migrations/read/functions/60_maintenance.sql);
 * the batches never wait for a refresh. A lost connection is re-made with backoff.
 *
 * The same thread keeps processed_events bounded: every purge_interval_ms it deletes rows older
 * than the retention (processed_events_purge, in statements of at most 500 rows, at most 200 ms
 * per round), so the purge never holds up the projections either. */
#ifndef CQ_REFRESHER_H
#define CQ_REFRESHER_H

#include "consumer_metrics.h"

struct refresher;

struct refresher_opts {
    const char *dsn;        /* must outlive the thread */
    long interval_ms;       /* MV_REFRESH_INTERVAL_MS; 0: no refreshing */
    const char *retention;  /* PROCESSED_EVENTS_RETENTION (an interval); must outlive it */
    long purge_interval_ms; /* CONSUMER_PURGE_INTERVAL_MS; 0: no purging */
};

/* Starts the thread; metrics must outlive it (refresher_stop). Returns NULL when there is
 * nothing to do (no refreshing, no purging) or the thread could not start (logged). */
struct refresher *refresher_start(const struct refresher_opts *opts,
                                  struct consumer_metrics *metrics);

/* Asks the thread to stop, joins it and frees everything. NULL does nothing. */
void refresher_stop(struct refresher *r);

#endif
