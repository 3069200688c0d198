#include "consumer_metrics.h"

#include "base/deadline.h"
#include "metrics/metrics.h"
#include "service/svc_metrics.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The read DB's materialized views (mv_state); anything else counts as "other". */
static const char *const views[] = {"mv_order_stats", "mv_sales_daily", "mv_top_products",
                                    "mv_categories", "other"};
#define NVIEWS (sizeof views / sizeof views[0])

static const double seconds_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};

const struct svc_metrics_opts consumer_metrics_opts = {
    .port_var = "CONSUMER_METRICS_PORT",
    .default_port = "9102",
    .db_name = "read database",
};

void consumer_metrics_init(struct consumer_metrics *m, struct svc_metrics *base)
{
    static const char *const view_label[] = {"view"};
    const struct metrics_labels by_view = {1, view_label, NVIEWS, views};
    struct metrics *r = svc_metrics_registry(base);

    m->base = base;
    m->consumed = metrics_counter_new(r, "consumer_events_consumed_total",
                                      "Deliveries received from the queue (redeliveries included)");
    m->applied =
        metrics_counter_new(r, "consumer_events_applied_total", "Events applied to the read model");
    m->deduplicated = metrics_counter_new(r, "consumer_events_deduplicated_total",
                                          "Events skipped because the read model already had them");
    m->retried = metrics_counter_new(r, "consumer_events_retried_total",
                                     "Events sent to the retry queue, to be applied later");
    m->dead = metrics_counter_new(r, "consumer_events_dead_lettered_total",
                                  "Events sent to the dead-letter queue");
    m->lag = metrics_gauge_new(r, "consumer_projection_lag_seconds",
                               "When the last batch was applied: now minus the occurredAt of the "
                               "newest event it applied");
    m->last_occurred =
        metrics_gauge_new(r, "consumer_last_event_occurred_timestamp_seconds",
                          "occurredAt of the newest event of the last applied batch");
    m->partitions = metrics_gauge_new(r, "consumer_partitions_held",
                                      "Partitions of the work queue this consumer holds "
                                      "(CONSUMER_PARTITIONS > 1)");
    m->batch_seconds =
        metrics_histogram_new(r, "consumer_batch_duration_seconds",
                              "Time to apply one batch to the read model, commit and ack it",
                              seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    m->refreshes = metrics_counter_vec_new(r, "consumer_mv_refreshes_total",
                                           "Materialized view refreshes, per view", &by_view);
    m->refresh_seconds = metrics_histogram_new(
        r, "consumer_mv_refresh_duration_seconds",
        "Time of one materialized view's refresh (by the refresher, beside the batches)",
        seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
}

void consumer_metrics_received(struct consumer_metrics *m, size_t n)
{
    if (m != NULL)
        metrics_counter_add(m->consumed, n);
}

void consumer_metrics_batch(struct consumer_metrics *m, const struct receive_batch *b,
                            double seconds)
{
    if (m == NULL || b->n == 0)
        return;
    metrics_counter_add(m->applied, b->applied);
    metrics_counter_add(m->deduplicated, b->duplicates);
    metrics_counter_add(m->retried, b->retried);
    metrics_counter_add(m->dead, b->dead);
    if (seconds >= 0)
        metrics_histogram_observe(m->batch_seconds, seconds);
    if (b->applied > 0 && b->newest_occurred_at > 0) {
        double lag = (double)deadline_wall_ms() / 1000.0 - b->newest_occurred_at;
        metrics_gauge_set(m->lag, lag > 0 ? lag : 0); /* clocks of two hosts may differ a bit */
        metrics_gauge_set(m->last_occurred, b->newest_occurred_at);
    }
}

void consumer_metrics_refresh(struct consumer_metrics *m, const char *names, double seconds)
{
    const char *p = names;

    if (m == NULL || names == NULL || *names == '\0')
        return;
    metrics_histogram_observe(m->refresh_seconds, seconds);
    while (*p != '\0') {
        size_t n = strcspn(p, ","), v;
        for (v = 0; v + 1 < NVIEWS; v++)
            if (strlen(views[v]) == n && strncmp(views[v], p, n) == 0)
                break;
        metrics_counter_inc(metrics_counter_child(m->refreshes, v));
        p += n;
        if (*p == ',')
            p++;
    }
}

void consumer_metrics_partitions(struct consumer_metrics *m, long n)
{
    metrics_gauge_set(m->partitions, (double)n);
}
