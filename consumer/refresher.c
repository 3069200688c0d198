#include "refresher.h"

#include "base/backoff.h"
#include "base/deadline.h"
#include "base/log.h"
#include "pg/pg.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_VIEWS_PER_TICK 16 /* more than the read DB has: a tick never spins */

#define PURGE_BATCH 500
#define PURGE_ROUND_MS 200

static const struct pg_stmt refresher_stmts[] = {
    {"refresh_next_view", "SELECT refresh_next_view($1::integer)", 1},
    {"processed_events_purge", "SELECT processed_events_purge($1::interval, $2::integer)", 2},
};

struct refresher {
    struct refresher_opts opts;
    long interval_ms;
    long long next_purge_ms;
    struct consumer_metrics *metrics;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* under mu */
};

/* A fifth of the interval, at least 10 ms. */
static long tick_ms(long interval_ms)
{
    long tick = interval_ms / 5;
    return tick < 10 ? 10 : tick;
}

/* Waits up to ms, or until a stop is asked. Returns whether a stop was asked. */
static bool wait_or_stop(struct refresher *r, long ms)
{
    struct timespec until = deadline_after_ms(ms);
    bool stop;

    pthread_mutex_lock(&r->mu);
    while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
        ;
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

static double seconds_since(long long t0_us)
{
    return (double)(deadline_now_us() - t0_us) / 1e6;
}

/* Refreshes one due view. Returns 1 when it refreshed one, 0 when none was due, -1 with err. */
static int refresh_one(struct refresher *r, PGconn *pg, char *err, size_t errlen)
{
    char interval[24], detail[400];
    const char *params[1] = {interval};
    long long t0;
    PGresult *res;
    int rc = 0;

    snprintf(interval, sizeof interval, "%ld", r->interval_ms);
    t0 = deadline_now_us();
    res = PQexecPrepared(pg, "refresh_next_view", 1, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pg_error_text(pg, res, detail, sizeof detail);
        snprintf(err, errlen, "could not refresh materialized views: %s", detail);
        rc = -1;
    } else if (!PQgetisnull(res, 0, 0)) {
        const char *view = PQgetvalue(res, 0, 0);
        double s = seconds_since(t0);
        consumer_metrics_refresh(r->metrics, view, s);
        log_debug("refreshed materialized view", "view=%s ms=%.3f", view, s * 1000.0);
        rc = 1;
    }
    PQclear(res);
    return rc;
}

/* Deletes processed_events rows older than the retention, PURGE_BATCH per statement, until none
 * is left or PURGE_ROUND_MS passed. Returns 0, or -1 with err. */
static int purge_round(struct refresher *r, PGconn *pg, char *err, size_t errlen)
{
    char limit[16], detail[400], q[300];
    const char *params[2] = {r->opts.retention, limit};
    long long start = deadline_now_ms(), total = 0;

    snprintf(limit, sizeof limit, "%d", PURGE_BATCH);
    for (;;) {
        PGresult *res = PQexecPrepared(pg, "processed_events_purge", 2, params, NULL, NULL, 0);
        long n;
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            pg_error_text(pg, res, detail, sizeof detail);
            snprintf(err, errlen, "could not purge processed events: %s", detail);
            PQclear(res);
            return -1;
        }
        n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        total += n;
        if (n < PURGE_BATCH || deadline_now_ms() - start >= PURGE_ROUND_MS)
            break;
    }
    if (total > 0)
        log_info("purged processed events", "count=%lld retention=%s ms=%lld", total,
                 log_quote(q, sizeof q, r->opts.retention), deadline_now_ms() - start);
    return 0;
}

/* Runs a purge round when one is due. */
static void purge_if_due(struct refresher *r, PGconn **pg)
{
    char err[512], q[600];

    if (r->opts.purge_interval_ms <= 0 || deadline_now_ms() < r->next_purge_ms)
        return;
    r->next_purge_ms = deadline_now_ms() + r->opts.purge_interval_ms;
    if (purge_round(r, *pg, err, sizeof err) == 0)
        return;
    log_warn("could not purge processed events", "error=%s", log_quote(q, sizeof q, err));
    if (PQstatus(*pg) != CONNECTION_OK) {
        PQfinish(*pg);
        *pg = NULL;
    }
}

static void *refresher_main(void *arg)
{
    struct refresher *r = arg;
    long tick = tick_ms(r->interval_ms > 0 ? r->interval_ms : r->opts.purge_interval_ms);
    struct backoff backoff;
    PGconn *pg = NULL;
    char err[512], q[600];

    backoff_init(&backoff, 100, 5000);
    for (;;) {
        if (pg == NULL) {
            /* no statement_timeout: a refresh of a large view may legitimately run long */
            pg = pg_connect_opts(r->opts.dsn, "consumer-refresher", refresher_stmts,
                                 sizeof refresher_stmts / sizeof refresher_stmts[0], 0, err,
                                 sizeof err);
            if (pg == NULL) {
                long delay = backoff_next(&backoff);
                log_warn("refresher could not connect to postgres", "retry_ms=%ld error=%s", delay,
                         log_quote(q, sizeof q, err));
                if (wait_or_stop(r, delay))
                    break;
                continue;
            }
            backoff_reset(&backoff);
        }
        for (int i = 0; r->interval_ms > 0 && i < MAX_VIEWS_PER_TICK; i++) {
            int rc = refresh_one(r, pg, err, sizeof err);
            if (rc == 1)
                continue;
            if (rc < 0) {
                log_warn("could not refresh views", "error=%s", log_quote(q, sizeof q, err));
                if (PQstatus(pg) != CONNECTION_OK) {
                    PQfinish(pg);
                    pg = NULL;
                }
            }
            break;
        }
        if (pg != NULL)
            purge_if_due(r, &pg);
        if (wait_or_stop(r, tick))
            break;
    }
    PQfinish(pg);
    return NULL;
}

struct refresher *refresher_start(const struct refresher_opts *opts,
                                  struct consumer_metrics *metrics)
{
    struct refresher *r;
    int rc;

    if (opts->interval_ms <= 0 && opts->purge_interval_ms <= 0)
        return NULL;
    r = xcalloc(1, sizeof *r);
    r->opts = *opts;
    r->interval_ms = opts->interval_ms;
    r->next_purge_ms = deadline_now_ms() + opts->purge_interval_ms;
    r->metrics = metrics;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    rc = pthread_create(&r->thread, NULL, refresher_main, r);
    if (rc != 0) {
        log_error("could not start the view refresher", "error=\"%s\"", strerror(rc));
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

void refresher_stop(struct refresher *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
