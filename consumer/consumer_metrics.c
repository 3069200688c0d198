#include "consumer_metrics.h"

#include "metrics/metrics.h"
#include "service/svc_metrics.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The read DB's materialized views (mv_state); anything else counts as "other". */
static const char *const views[] = {"mv_order_stats", "mv_sales_daily", "mv_top_products",
                                    "mv_categories", "other"};
#define NVIEWS (sizeof views / sizeof views[0])

static const double seconds_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};

struct consumer_metrics {
    struct svc_metrics *base; /* the registry, connection metrics, /health and the listener */
    struct metrics_counter *consumed, *applied, *deduplicated, *retried, *dead, *refreshes;
    struct metrics_gauge *lag, *last_occurred;
    struct metrics_histogram *batch_seconds, *refresh_seconds;
};

static const struct svc_metrics_opts consumer_metrics_opts = {
    .svc = "consumer",
    .port_var = "CONSUMER_METRICS_PORT",
    .default_port = "9102",
    .db_name = "read database",
};

void consumer_metrics_config_vars(struct config_var vars[SVC_METRICS_NVARS])
{
    svc_metrics_config_vars(&consumer_metrics_opts, vars);
}

struct consumer_metrics *consumer_metrics_start(void)
{
    const struct svc_metrics_opts opts = consumer_metrics_opts;
    static const char *const view_label[] = {"view"};
    const struct metrics_labels by_view = {1, view_label, NVIEWS, views};
    struct consumer_metrics *m = xcalloc(1, sizeof *m);
    struct metrics *r;

    m->base = svc_metrics_new(&opts);
    if (m->base == NULL) {
        free(m);
        return NULL;
    }
    r = svc_metrics_registry(m->base);
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
    svc_metrics_listen(m->base);
    return m;
}

struct svc_metrics *consumer_metrics_base(struct consumer_metrics *m)
{
    return m != NULL ? m->base : NULL;
}

void consumer_metrics_stop(struct consumer_metrics *m)
{
    if (m == NULL)
        return;
    svc_metrics_free(m->base);
    free(m);
}

void consumer_metrics_received(struct consumer_metrics *m, size_t n)
{
    if (m != NULL)
        metrics_counter_add(m->consumed, n);
}

void consumer_metrics_batch(struct consumer_metrics *m, const struct receive_batch *b,
                            double seconds)
{
    struct timespec now;

    if (m == NULL || b->n == 0)
        return;
    metrics_counter_add(m->applied, b->applied);
    metrics_counter_add(m->deduplicated, b->duplicates);
    metrics_counter_add(m->retried, b->retried);
    metrics_counter_add(m->dead, b->dead);
    if (seconds >= 0)
        metrics_histogram_observe(m->batch_seconds, seconds);
    if (b->applied > 0 && b->newest_occurred_at > 0) {
        clock_gettime(CLOCK_REALTIME, &now);
        double lag = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - b->newest_occurred_at;
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
