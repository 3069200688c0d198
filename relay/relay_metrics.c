#include "relay_metrics.h"

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "xalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BACKLOG_INTERVAL_MS 1000

/* One statement, two index lookups on outbox_unpublished_idx: the count (capped, so a huge
 * backlog cannot make the relay's connection busy for long) and the oldest row by id. */
#define BACKLOG_SQL                                                                                \
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL "               \
    "LIMIT 1000000) b), coalesce(extract(epoch FROM clock_timestamp() - (SELECT created_at "       \
    "FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1)), 0)::float8"

struct relay_metrics_config {
    long port;
    const char *bind_address;
};

struct relay_metrics {
    struct relay_metrics_config cfg;
    struct metrics *reg;
    struct metrics_server *server;
    struct metrics_gauge *backlog, *oldest_age, *leader, *db_up, *broker_up;
    struct metrics_counter *published, *confirmed, *nacked, *returned;
    struct metrics_counter *db_reconnects, *broker_reconnects;
    struct metrics_histogram *batch_seconds;
    bool db_was_up, broker_was_up; /* the loop's thread only */
    long long next_backlog_ms;     /* the loop's thread only */
};

static const double batch_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,   0.25,   0.5,   1,    2.5,   5};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool health(void *arg, char *body, size_t len)
{
    struct relay_metrics *m = arg;
    bool db = metrics_gauge_value(m->db_up) > 0, broker = metrics_gauge_value(m->broker_up) > 0;

    snprintf(body, len, "{\"status\":\"%s\",\"database\":\"%s\",\"broker\":\"%s\",\"leader\":%s}",
             db && broker ? "ok" : "unavailable", db ? "up" : "down", broker ? "up" : "down",
             metrics_gauge_value(m->leader) > 0 ? "true" : "false");
    return db && broker;
}

struct relay_metrics *relay_metrics_start(void)
{
    const struct config_var vars[] = {
        /* 0: no listener */
        {"RELAY_METRICS_PORT", CONFIG_INT, "9101", offsetof(struct relay_metrics_config, port), 0,
         65535},
        {"HTTP_BIND_ADDRESS", CONFIG_STRING, "127.0.0.1",
         offsetof(struct relay_metrics_config, bind_address), 0, 0},
    };
    struct relay_metrics *m = xcalloc(1, sizeof *m);
    struct metrics *r;
    char err[512];

    if (config_load(&m->cfg, vars, sizeof vars / sizeof vars[0], err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(m);
        return NULL;
    }
    r = m->reg = metrics_new();
    m->backlog = metrics_gauge_new(r, "relay_outbox_backlog",
                                   "Outbox rows not yet published (counted up to 1000000)");
    m->oldest_age =
        metrics_gauge_new(r, "relay_outbox_oldest_unpublished_age_seconds",
                          "Age of the oldest unpublished outbox row, 0 when there is none");
    m->published = metrics_counter_new(r, "relay_events_published_total",
                                       "Events handed to the broker (basic.publish)");
    m->confirmed = metrics_counter_new(r, "relay_events_confirmed_total",
                                       "Events the broker confirmed (publisher confirms: acked)");
    m->nacked = metrics_counter_new(r, "relay_events_nacked_total",
                                    "Events the broker refused (nacked); published again later");
    m->returned = metrics_counter_new(r, "relay_events_returned_total",
                                      "Events the broker returned as unroutable");
    m->batch_seconds =
        metrics_histogram_new(r, "relay_publish_batch_duration_seconds",
                              "Time to publish one batch and receive its confirms", batch_bounds,
                              sizeof batch_bounds / sizeof batch_bounds[0]);
    m->leader = metrics_gauge_new(r, "relay_leader", "1 while this relay holds the leader lock");
    m->db_up = metrics_gauge_new(r, "db_up", "1 while connected to the write database");
    m->broker_up = metrics_gauge_new(r, "broker_up", "1 while connected to the broker");
    m->db_reconnects =
        metrics_counter_new(r, "db_reconnects_total",
                            "Connections to the write database made again after one was lost");
    m->broker_reconnects = metrics_counter_new(
        r, "broker_reconnects_total", "Connections to the broker made again after one was lost");

    struct metrics_server_opts opts = {
        .bind_address = m->cfg.bind_address,
        .port = (uint16_t)m->cfg.port,
        .svc = "relay",
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

void relay_metrics_stop(struct relay_metrics *m)
{
    if (m == NULL)
        return;
    metrics_server_stop(m->server);
    metrics_free(m->reg);
    free(m);
}

void relay_metrics_db_connected(struct relay_metrics *m)
{
    if (m == NULL)
        return;
    if (m->db_was_up)
        metrics_counter_inc(m->db_reconnects);
    m->db_was_up = true;
    metrics_gauge_set(m->db_up, 1);
}

void relay_metrics_db_lost(struct relay_metrics *m)
{
    if (m == NULL)
        return;
    metrics_gauge_set(m->db_up, 0);
    metrics_gauge_set(m->leader, 0);
}

void relay_metrics_broker_connected(struct relay_metrics *m)
{
    if (m == NULL)
        return;
    if (m->broker_was_up)
        metrics_counter_inc(m->broker_reconnects);
    m->broker_was_up = true;
    metrics_gauge_set(m->broker_up, 1);
}

void relay_metrics_broker_lost(struct relay_metrics *m)
{
    if (m != NULL)
        metrics_gauge_set(m->broker_up, 0);
}

void relay_metrics_leader(struct relay_metrics *m, bool leader)
{
    if (m != NULL)
        metrics_gauge_set(m->leader, leader ? 1 : 0);
}

void relay_metrics_batch(struct relay_metrics *m, size_t published, size_t acked, size_t nacked,
                         size_t returned, double seconds)
{
    if (m == NULL)
        return;
    metrics_counter_add(m->published, published);
    metrics_counter_add(m->confirmed, acked);
    metrics_counter_add(m->nacked, nacked);
    metrics_counter_add(m->returned, returned);
    metrics_histogram_observe(m->batch_seconds, seconds);
}

void relay_metrics_sample_backlog(struct relay_metrics *m, PGconn *pg)
{
    PGresult *res;
    long long now = now_ms();

    if (m == NULL || pg == NULL || now < m->next_backlog_ms)
        return;
    m->next_backlog_ms = now + BACKLOG_INTERVAL_MS;
    res = PQexec(pg, BACKLOG_SQL);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        metrics_gauge_set(m->backlog, strtod(PQgetvalue(res, 0, 0), NULL));
        metrics_gauge_set(m->oldest_age, strtod(PQgetvalue(res, 0, 1), NULL));
    } else {
        char detail[256], q[300];
        pg_error_text(pg, res, detail, sizeof detail);
        log_debug("could not count the outbox backlog", "error=%s", log_quote(q, sizeof q, detail));
    }
    PQclear(res);
}
