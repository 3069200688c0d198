#include "service.h"

#include "base/config.h"
#include "consistency.h"
#include "dashboard.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "mood.h"
#include "pg/pg.h"
#include "http/parking.h"
#include "http/respcache.h"
#include "notifier.h"
#include "replica.h"
#include "base/xalloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const struct config_var query_service_vars[] = {
    /* how long a query with X-Consistency-Token waits for the read model before 504 */
    {"CONSISTENCY_WAIT_MS", CONFIG_INT, "5000", offsetof(struct query_service, consistency_wait_ms),
     0, 60000},
    /* how many of those one client address may have waiting at once (429 beyond) */
    {"CONSISTENCY_PER_IP_LIMIT", CONFIG_INT, "32",
     offsetof(struct query_service, consistency_per_ip_limit), 0, 65536},
    /* the answer cache of the GETs by id (docs/api.md#caching): at most this many answers
     * (0 disables it) and this many bytes */
    {"QUERY_CACHE_ENTRIES", CONFIG_INT, "10000", offsetof(struct query_service, cache_entries), 0,
     10000000},
    {"QUERY_CACHE_BYTES", CONFIG_INT, "33554432", offsetof(struct query_service, cache_bytes), 4096,
     17179869184},
    /* where the notifier LISTENs: the read DB's primary when QUERY_DATABASE_URL is a streaming
     * replica of it (docs/scaling.md#read-replica); empty: the query URL itself */
    {"QUERY_LISTEN_DATABASE_URL", CONFIG_STRING, "",
     offsetof(struct query_service, listen_database_url), 0, 0},
};
const struct config_table query_service_config_table = CONFIG_TABLE(query_service_vars);

/* The cache's figures in /metrics (docs/observability.md): one row a metric, read from the
 * field of struct respcache_stats at offset at each scrape. */
enum cache_figure_kind { CACHE_COUNTER /* uint64_t */, CACHE_GAUGE /* size_t */, CACHE_FLAG };
#define STAT(f) offsetof(struct respcache_stats, f)
static const struct cache_figure {
    enum cache_figure_kind kind;
    const char *name, *help;
    size_t offset;
} cache_figures[] = {
    {CACHE_COUNTER, "query_cache_hits_total", "GETs by id answered from the answer cache",
     STAT(hits)},
    {CACHE_COUNTER, "query_cache_misses_total",
     "GETs by id the answer cache did not hold (read from the DB)", STAT(misses)},
    {CACHE_COUNTER, "query_cache_bypasses_total",
     "GETs by id read from the DB because the cache was not listening for invalidations",
     STAT(bypasses)},
    {CACHE_COUNTER, "query_cache_evictions_total",
     "Cached answers dropped for room (least recently used)", STAT(evictions)},
    {CACHE_COUNTER, "query_cache_invalidations_total",
     "Keys invalidated by the read DB's notifications", STAT(invalidations)},
    {CACHE_COUNTER, "query_cache_flushes_total",
     "Times the answer cache was emptied (notification \"*\", listener lost or regained)",
     STAT(flushes)},
    {CACHE_GAUGE, "query_cache_entries", "Answers in the answer cache", STAT(entries)},
    {CACHE_GAUGE, "query_cache_bytes", "Bytes the answer cache holds", STAT(bytes)},
    {CACHE_FLAG, "query_cache_listening",
     "1 while the answer cache receives invalidations and answers", STAT(listening)},
};
#undef STAT
#define NCACHE_FIGURES (sizeof cache_figures / sizeof cache_figures[0])

struct query_cache_metrics {
    struct respcache *cache;
    struct metrics_counter *counter[NCACHE_FIGURES]; /* CACHE_COUNTER rows */
    struct metrics_gauge *gauge[NCACHE_FIGURES];     /* the other rows */
};

static void collect_cache(void *arg)
{
    struct query_cache_metrics *m = arg;
    struct respcache_stats st;
    const char *base = (const char *)&st;

    respcache_get_stats(m->cache, &st);
    for (size_t i = 0; i < NCACHE_FIGURES; i++) {
        const void *field = base + cache_figures[i].offset;
        switch (cache_figures[i].kind) {
        case CACHE_COUNTER:
            metrics_counter_set(m->counter[i], *(const uint64_t *)field);
            break;
        case CACHE_GAUGE:
            metrics_gauge_set(m->gauge[i], (double)*(const size_t *)field);
            break;
        case CACHE_FLAG:
            metrics_gauge_set(m->gauge[i], *(const bool *)field ? 1 : 0);
            break;
        }
    }
}

static struct query_cache_metrics *cache_metrics_new(struct metrics *r, struct respcache *cache)
{
    struct query_cache_metrics *m = xcalloc(1, sizeof *m);

    m->cache = cache;
    for (size_t i = 0; i < NCACHE_FIGURES; i++) {
        const struct cache_figure *f = &cache_figures[i];
        if (f->kind == CACHE_COUNTER)
            m->counter[i] = metrics_counter_new(r, f->name, f->help);
        else
            m->gauge[i] = metrics_gauge_new(r, f->name, f->help);
    }
    metrics_on_collect(r, collect_cache, m);
    return m;
}

/* The notifier (notifier.h) got its connection: cache only if the read DB sends the
 * keys (migrations/read/0018_cache_invalidation.sql); or lost it (conn NULL). */
static void cache_on_listen(void *cls, PGconn *conn)
{
    struct respcache *cache = cls;
    bool keyed = false;

    if (conn != NULL) {
        PGresult *res = PQexec(conn, "SELECT to_regproc('cache_event_keys') IS NOT NULL");
        keyed = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!keyed)
            log_warn("answer cache bypassed: the read DB does not send the keys it changes",
                     "need=migrations/read/0018_cache_invalidation.sql");
    }
    respcache_set_listening(cache, keyed);
    log_info(keyed ? "answer cache listening" : "answer cache bypassed until listening again",
             NULL);
}

static void cache_on_payload(void *cls, const char *payload)
{
    respcache_invalidate_list(cls, payload);
}

static void query_service_free(struct query_service *qs)
{
    mood_free(qs->mood);
    dashboard_free(qs->dashboard);
    consistency_hub_free(qs->consistency);
    notifier_free(qs->notifier);
    replica_free(qs->replica);
    parking_free(qs->lot);
    respcache_free(qs->cache);
    free(qs->cache_metrics);
    free(qs);
}

int query_service_start(struct apiserver_ctx *ctx)
{
    struct query_service *qs = xcalloc(1, sizeof *qs);
    char err[256];

    if (config_load(qs, query_service_vars, query_service_config_table.n, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(qs);
        return -1;
    }
    qs->cache = respcache_new((size_t)qs->cache_entries, (size_t)qs->cache_bytes);
    if (qs->cache != NULL)
        qs->cache_metrics = cache_metrics_new(ctx->metrics, qs->cache);
    qs->lot = parking_new();
    /* parked requests hold connections; the mood streams may hold 3/4 of them */
    qs->consistency = consistency_hub_new(qs->lot, (size_t)ctx->cfg->connection_limit / 8 + 1);
    consistency_hub_set_wait_ms(qs->consistency, qs->consistency_wait_ms);
    consistency_hub_set_per_ip_limit(qs->consistency, (size_t)qs->consistency_per_ip_limit);
    const char *listen_dsn = ctx->cfg->database_url;
    if (*qs->listen_database_url != '\0' &&
        strcmp(qs->listen_database_url, ctx->cfg->database_url) != 0) {
        /* queries on a replica, LISTEN on its primary: hold what is notified until replayed */
        const struct replica_opts ro = {.dsn = ctx->cfg->database_url,
                                        .app = "query-api-replica",
                                        .wait_ms = qs->consistency_wait_ms,
                                        .metrics = ctx->metrics};
        listen_dsn = qs->listen_database_url;
        qs->replica = replica_new(&ro);
        log_info("reading a replica", "wait_ms=%ld", qs->consistency_wait_ms);
    }
    struct notifier_opts opts = {
        .dsn = listen_dsn,
        .app = "query-api-notifier",
        .lot = qs->lot,
        .consistency = qs->consistency,
        .on_listen = qs->cache != NULL ? cache_on_listen : NULL,
        .on_payload = qs->cache != NULL ? cache_on_payload : NULL,
        .cls = qs->cache,
        .replica = qs->replica,
    };
    qs->notifier = notifier_new(&opts);
    qs->mood = mood_start(ctx, qs->lot, qs->notifier);
    if (qs->mood != NULL)
        qs->dashboard = dashboard_start(ctx, qs->lot, qs->notifier);
    if (qs->mood == NULL || qs->dashboard == NULL) {
        query_service_free(qs);
        return -1;
    }
    if (notifier_start(qs->notifier, err, sizeof err) != 0) {
        log_error("could not start the notifier", "error=\"%s\"", err);
        query_service_free(qs);
        return -1;
    }
    ctx->ext = qs;
    return 0;
}

void query_service_stop(struct apiserver_ctx *ctx)
{
    struct query_service *qs = ctx->ext;
    size_t parked;

    if (qs == NULL)
        return;
    notifier_stop(qs->notifier); /* no wake-up but the closes below from here on */
    parked = consistency_hub_parked(qs->consistency);
    consistency_hub_close(qs->consistency);
    /* the resumed requests answer 503; MHD must not stop while one is still suspended */
    if (!consistency_hub_wait_idle(qs->consistency, 2000))
        log_warn("requests still waiting for consistency at shutdown", NULL);
    log_info("consistency waits closed", "parked=%zu", parked);
    mood_stop(qs->mood);
    dashboard_stop(qs->dashboard);
    parking_close(qs->lot); /* anything still parked, and no new park */
}

void query_service_release(struct apiserver_ctx *ctx)
{
    struct query_service *qs = ctx->ext;

    if (qs == NULL)
        return;
    query_service_free(qs);
    ctx->ext = NULL;
}
