/* refresher: keeps the read DB's materialized views fresh, beside the projections.
 *
 * A thread of its own with a read-DB connection of its own: every tick (a fifth of
 * MV_REFRESH_INTERVAL_MS, at least 10 ms) it calls refresh_next_view() until no view is due, at
 * most one call per view per tick. A view is due when a batch touched it since its last refresh
 * and that refresh is MV_REFRESH_INTERVAL_MS old (migrations/read/0009_refresh_generations.sql);
 * the batches never wait for a refresh. A lost connection is re-made with backoff. */
#ifndef CQ_REFRESHER_H
#define CQ_REFRESHER_H

#include "consumer_metrics.h"

struct refresher;

/* Starts the thread; dsn and metrics must outlive it (refresher_stop). Returns NULL when
 * interval_ms is 0 (refreshing off) or the thread could not start (logged). */
struct refresher *refresher_start(const char *dsn, long interval_ms,
                                  struct consumer_metrics *metrics);

/* Asks the thread to stop, joins it and frees everything. NULL does nothing. */
void refresher_stop(struct refresher *r);

#endif
