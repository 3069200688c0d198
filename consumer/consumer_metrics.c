#include "consumer_metrics.h"

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "xalloc.h"

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

struct consumer_metrics_config {
    long port;
    const char *bind_address;
};

struct consumer_metrics {
    struct consumer_metrics_config cfg;
    struct metrics *reg;
    struct metrics_server *server;
    struct metrics_counter *consumed, *applied, *deduplicated, *retried, *dead;
    struct metrics_counter *refreshes, *db_reconnects, *broker_reconnects;
    struct metrics_gauge *lag, *last_occurred, *db_up, *broker_up;
    struct metrics_histogram *batch_seconds, *refresh_seconds;
    bool db_was_up, broker_was_up; /* the loop's thread only */
};

static bool health(void *arg, char *body, size_t len)
{
    struct consumer_metrics *m = arg;
    bool db = metrics_gauge_value(m->db_up) > 0, broker = metrics_gauge_value(m->broker_up) > 0;

    snprintf(body, len, "{\"status\":\"%s\",\"database\":\"%s\",\"broker\":\"%s\"}",
             db && broker ? "ok" : "unavailable", db ? "up" : "down", broker ? "up" : "down");
    return db && broker;
}

struct consumer_metrics *consumer_metrics_start(void)
{
    const struct config_var vars[] = {
        /* 0: no listener */
        {"CONSUMER_METRICS_PORT", CONFIG_INT, "9102",
         offsetof(struct consumer_metrics_config, port), 0, 65535},
        {"HTTP_BIND_ADDRESS", CONFIG_STRING, "127.0.0.1",
         offsetof(struct consumer_metrics_config, bind_address), 0, 0},
    };
    static const char *const view_label[] = {"view"};
    const struct metrics_labels by_view = {1, view_label, NVIEWS, views};
    struct consumer_metrics *m = xcalloc(1, sizeof *m);
    struct metrics *r;
    char err[512];

    if (config_load(&m->cfg, vars, sizeof vars / sizeof vars[0], err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(m);
        return NULL;
    }
    r = m->reg = metrics_new();
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
        "Time of one refresh of the due materialized views (calls that refreshed at least one)",
        seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    m->db_up = metrics_gauge_new(r, "db_up", "1 while connected to the read database");
    m->broker_up = metrics_gauge_new(r, "broker_up", "1 while connected to the broker");
    m->db_reconnects = metrics_counter_new(
        r, "db_reconnects_total", "Connections to the read database made again after one was lost");
    m->broker_reconnects = metrics_counter_new(
        r, "broker_reconnects_total", "Connections to the broker made again after one was lost");

    struct metrics_server_opts opts = {
        .bind_address = m->cfg.bind_address,
        .port = (uint16_t)m->cfg.port,
        .svc = "consumer",
        .registry = r,
        .health = health,
        .arg = m,
    };
    if (m->cfg.port == 0) {
        log_info("metrics listener off", "port=0");
        return m;
    }
    /* a port in use (another stack on this host) costs the metrics, not the service */
    m->server = metrics_server_start(&opts, err, sizeof err);
    if (m->server == NULL)
        log_error("could not start the metrics listener, running without /metrics and /health",
                  "error=\"%s\"", err);
    else
        log_info("serving metrics", "url=http://%s:%ld/metrics", m->cfg.bind_address, m->cfg.port);
    return m;
}

void consumer_metrics_stop(struct consumer_metrics *m)
{
    if (m == NULL)
        return;
    metrics_server_stop(m->server);
    metrics_free(m->reg);
    free(m);
}

void consumer_metrics_db_connected(struct consumer_metrics *m)
{
    if (m == NULL)
        return;
    if (m->db_was_up)
        metrics_counter_inc(m->db_reconnects);
    m->db_was_up = true;
    metrics_gauge_set(m->db_up, 1);
}

void consumer_metrics_db_lost(struct consumer_metrics *m)
{
    if (m != NULL)
        metrics_gauge_set(m->db_up, 0);
}

void consumer_metrics_broker_connected(struct consumer_metrics *m)
{
    if (m == NULL)
        return;
    if (m->broker_was_up)
        metrics_counter_inc(m->broker_reconnects);
    m->broker_was_up = true;
    metrics_gauge_set(m->broker_up, 1);
}

void consumer_metrics_broker_lost(struct consumer_metrics *m)
{
    if (m != NULL)
        metrics_gauge_set(m->broker_up, 0);
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
