#include "relay_metrics.h"

#include "base/deadline.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "service/svc_metrics.h"
#include "base/xalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define BACKLOG_INTERVAL_MS 1000

/* One statement, two index lookups on outbox_unpublished_idx: the count (capped, so a huge
 * backlog cannot make the relay's connection busy for long) and the oldest row by id. */
#define BACKLOG_SQL                                                                                \
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE published_at IS NULL "               \
    "LIMIT 1000000) b), coalesce(extract(epoch FROM clock_timestamp() - (SELECT created_at "       \
    "FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1)), 0)::float8"

static const double batch_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,   0.25,   0.5,   1,    2.5,   5};

/* /health also says whether this relay leads */
static void health_leader(void *arg, char *buf, size_t len)
{
    const struct relay_metrics *m = arg;

    snprintf(buf, len, ",\"leader\":%s", metrics_gauge_value(m->leader) > 0 ? "true" : "false");
}

/* /health is degraded while the broker blocks publishing or returned events are held back */
static const char *health_degraded(void *arg)
{
    const struct relay_metrics *m = arg;

    if (metrics_gauge_value(m->blocked) > 0)
        return "broker blocked";
    if (metrics_gauge_value(m->unroutable) > 0)
        return "events returned as unroutable";
    return NULL;
}

struct svc_metrics_opts relay_metrics_opts(struct relay_metrics *m)
{
    return (struct svc_metrics_opts){
        .port_var = "RELAY_METRICS_PORT",
        .default_port = "9101",
        .db_name = "write database",
        .health_extra = health_leader,
        .degraded = health_degraded,
        .arg = m,
    };
}

void relay_metrics_init(struct relay_metrics *m, struct svc_metrics *base)
{
    struct metrics *r = svc_metrics_registry(base);

    m->base = base;
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
    m->leader = metrics_gauge_new(r, "relay_leader", "1 while this relay holds the leader lease");
    m->blocked = metrics_gauge_new(r, "relay_broker_blocked",
                                   "1 while the broker blocks this relay's publishing "
                                   "(connection.blocked: a memory or disk alarm)");
    m->unroutable = metrics_gauge_new(r, "relay_events_unroutable",
                                      "1 while events the broker returned as unroutable are held "
                                      "back, unmarked, and retried");
}

void relay_metrics_db_lost(struct relay_metrics *m)
{
    if (m == NULL)
        return;
    svc_metrics_db(m->base, false);
    metrics_gauge_set(m->leader, 0);
}

void relay_metrics_leader(struct relay_metrics *m, bool leader)
{
    if (m != NULL)
        metrics_gauge_set(m->leader, leader ? 1 : 0);
}

void relay_metrics_blocked(struct relay_metrics *m, bool blocked)
{
    if (m != NULL)
        metrics_gauge_set(m->blocked, blocked ? 1 : 0);
}

void relay_metrics_unroutable(struct relay_metrics *m, bool held)
{
    if (m != NULL)
        metrics_gauge_set(m->unroutable, held ? 1 : 0);
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
    long long now = deadline_now_ms();

    if (m == NULL || pg == NULL || now < m->next_backlog_ms)
        return;
    m->next_backlog_ms = now + BACKLOG_INTERVAL_MS;
    res = PQexec(pg, BACKLOG_SQL);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        metrics_gauge_set(m->backlog, strtod(PQgetvalue(res, 0, 0), NULL));
        metrics_gauge_set(m->oldest_age, strtod(PQgetvalue(res, 0, 1), NULL));
        m->backlog_sampled = true;
    } else {
        char detail[256], q[300];
        pg_error_text(pg, res, detail, sizeof detail);
        log_debug("could not count the outbox backlog", "error=%s", log_quote(q, sizeof q, detail));
    }
    PQclear(res);
}

bool relay_metrics_backlog(const struct relay_metrics *m, long long *backlog, long long *oldest_ms)
{
    if (m == NULL || !m->backlog_sampled)
        return false;
    *backlog = (long long)metrics_gauge_value(m->backlog);
    *oldest_ms = (long long)(metrics_gauge_value(m->oldest_age) * 1000.0 + 0.5);
    return true;
}

long long relay_metrics_returned(const struct relay_metrics *m)
{
    return m != NULL ? (long long)metrics_counter_value(m->returned) : 0;
}
