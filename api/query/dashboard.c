#include "dashboard.h"

#include "assets.h"
#include "config.h"
#include "deadline.h"
#include "log.h"
#include "pgwatch.h"
#include "promtext.h"
#include "query.h"
#include "service.h"
#include "sse.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DASHBOARD_CHANNEL "events_applied"
#define DASHBOARD_SQL "SELECT (SELECT q FROM q_dashboard($1::bigint, $2::double precision) AS q)"
#define DASHBOARD_MIN_INTERVAL_MS 500 /* at most 2 pushes a second */
#define DASHBOARD_REFRESH_MS 1000     /* at least 1 a second */
#define DASHBOARD_RETRY_MS 2000
#define SCRAPE_INTERVAL_MS 1000
#define SCRAPE_TIMEOUT_MS 500

struct dashboard_config {
    long keepalive_ms;
    long per_ip_limit; /* SSE_PER_IP_LIMIT */
    const char *relay_metrics_url;
    long relay_metrics_port;
};

/* The relay's figures as q_dashboard() parameters: text, or "" when unknown (SQL NULL). */
struct relay_figures {
    char backlog[32];
    char oldest_age_s[32];
};

struct dashboard {
    struct dashboard_config cfg;
    char url[512]; /* "" when off */
    struct sse_hub *hub;
    struct pgwatch *watch;

    pthread_mutex_t mu; /* guards relay, stop */
    pthread_cond_t cv;
    struct relay_figures relay;
    bool stop;
    bool scraping; /* the scrape thread runs */
    pthread_t scraper;

    struct relay_figures watch_params; /* the watch thread's copy, valid until its next run */
};

static void figures_copy(struct dashboard *d, struct relay_figures *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->relay;
    pthread_mutex_unlock(&d->mu);
}

/* Sets params[0..1] from f: NULL for unknown. */
static int figures_params(const struct relay_figures *f, const char **params)
{
    params[0] = f->backlog[0] != '\0' ? f->backlog : NULL;
    params[1] = f->oldest_age_s[0] != '\0' ? f->oldest_age_s : NULL;
    return 2;
}

/* pgwatch's params hook, in the watch thread. */
static int watch_params(void *cls, const char **values)
{
    struct dashboard *d = cls;

    figures_copy(d, &d->watch_params);
    return figures_params(&d->watch_params, values);
}

/* Reads the relay's /metrics once; fills f (empty strings when it failed). */
static int scrape_once(const char *url, struct relay_figures *f, char *err, size_t errlen)
{
    char *body = NULL;
    double backlog, age;
    int rc = -1;

    memset(f, 0, sizeof *f);
    if (promtext_fetch(url, SCRAPE_TIMEOUT_MS, &body, err, errlen) != 0)
        return -1;
    if (promtext_value(body, "relay_outbox_backlog", &backlog) != 0 ||
        promtext_value(body, "relay_outbox_oldest_unpublished_age_seconds", &age) != 0) {
        snprintf(err, errlen, "no relay_outbox_backlog in the answer");
    } else {
        snprintf(f->backlog, sizeof f->backlog, "%.0f", backlog);
        snprintf(f->oldest_age_s, sizeof f->oldest_age_s, "%.6f", age);
        rc = 0;
    }
    free(body);
    return rc;
}

static void *scrape_main(void *arg)
{
    struct dashboard *d = arg;
    bool failing = false;
    char err[512], q[600];

    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct relay_figures f;
        struct timespec until;
        int rc;

        pthread_mutex_unlock(&d->mu);
        rc = scrape_once(d->url, &f, err, sizeof err);
        if (rc != 0 && !failing)
            log_warn("could not read the relay's metrics, the dashboard shows no outbox backlog",
                     "url=%s error=%s", d->url, log_quote(q, sizeof q, err));
        else if (rc == 0 && failing)
            log_info("reading the relay's metrics again", "url=%s", d->url);
        failing = rc != 0;
        pthread_mutex_lock(&d->mu);
        d->relay = f;
        until = deadline_after_ms(SCRAPE_INTERVAL_MS);
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void scraper_stop(struct dashboard *d)
{
    if (!d->scraping)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->scraper, NULL);
    d->scraping = false;
}

static const struct config_var dashboard_vars[] = {
    {"SSE_KEEPALIVE_MS", CONFIG_INT, "15000", offsetof(struct dashboard_config, keepalive_ms), 100,
     300000},
    {"SSE_PER_IP_LIMIT", CONFIG_INT, "32", offsetof(struct dashboard_config, per_ip_limit), 0,
     65536},
    /* where the relay's GET /metrics is; "" derives it from RELAY_METRICS_PORT */
    {"RELAY_METRICS_URL", CONFIG_STRING, "", offsetof(struct dashboard_config, relay_metrics_url),
     0, 0},
    {"RELAY_METRICS_PORT", CONFIG_INT, "9101",
     offsetof(struct dashboard_config, relay_metrics_port), 1, 65535},
};
const struct config_table dashboard_config_table = CONFIG_TABLE(dashboard_vars);

struct dashboard *dashboard_start(const struct apiserver_ctx *ctx)
{
    struct dashboard *d = xcalloc(1, sizeof *d);
    char err[256], host[256], port[16], path[256];
    int rc;

    if (config_load(&d->cfg, dashboard_vars, dashboard_config_table.n, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(d);
        return NULL;
    }
    if (d->cfg.relay_metrics_url[0] == '\0')
        snprintf(d->url, sizeof d->url, "http://127.0.0.1:%ld/metrics", d->cfg.relay_metrics_port);
    else if (strcmp(d->cfg.relay_metrics_url, "off") != 0)
        snprintf(d->url, sizeof d->url, "%s", d->cfg.relay_metrics_url);
    if (d->url[0] != '\0' && promtext_parse_url(d->url, host, sizeof host, port, sizeof port, path,
                                                sizeof path, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"RELAY_METRICS_URL: %s\"", err);
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (d->url[0] != '\0') {
        rc = pthread_create(&d->scraper, NULL, scrape_main, d);
        if (rc != 0) {
            log_error("could not start the dashboard", "error=\"could not start a thread: %s\"",
                      strerror(rc));
            goto fail;
        }
        d->scraping = true;
    }
    /* dashboards are few: a sixteenth of the connections (the mood wall may hold 3/4) */
    d->hub = sse_hub_new((size_t)ctx->cfg->connection_limit / 16 + 1, DASHBOARD_RETRY_MS);
    sse_hub_set_per_ip_limit(d->hub, (size_t)d->cfg.per_ip_limit);
    struct pgwatch_opts opts = {
        .dsn = ctx->cfg->database_url,
        .app = "query-api-dashboard-watch",
        .channel = DASHBOARD_CHANNEL,
        .sql = DASHBOARD_SQL,
        .keepalive_ms = d->cfg.keepalive_ms,
        .hub = d->hub,
        .min_interval_ms = DASHBOARD_MIN_INTERVAL_MS,
        .refresh_ms = DASHBOARD_REFRESH_MS,
        .params = watch_params,
        .params_cls = d,
    };
    d->watch = pgwatch_start(&opts, err, sizeof err);
    if (d->watch == NULL) {
        log_error("could not start the dashboard stream", "error=\"%s\"", err);
        goto fail;
    }
    log_info("dashboard ready", "relay_metrics_url=%s", d->url[0] != '\0' ? d->url : "off");
    return d;
fail:
    scraper_stop(d);
    sse_hub_free(d->hub);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return NULL;
}

void dashboard_stop(struct dashboard *d)
{
    if (d == NULL || d->watch == NULL)
        return;
    pgwatch_stop(d->watch);
    d->watch = NULL;
    scraper_stop(d);
    sse_hub_close(d->hub);
    if (!sse_hub_wait_idle(d->hub, 2000))
        log_warn("dashboard streams still open at shutdown", "streams=%zu",
                 sse_hub_streams(d->hub));
}

void dashboard_free(struct dashboard *d)
{
    if (d == NULL)
        return;
    pgwatch_stop(d->watch); /* NULL after dashboard_stop */
    scraper_stop(d);
    sse_hub_free(d->hub);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static struct dashboard *dashboard_of(void *ctx)
{
    const struct apiserver_ctx *c = ctx;
    const struct query_service *qs = c->ext;

    return qs != NULL ? qs->dashboard : NULL;
}

int dashboard_get(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err)
{
    struct dashboard *d = dashboard_of(ctx);
    struct relay_figures f;
    const char *params[2];

    (void)m;
    memset(&f, 0, sizeof f);
    if (d != NULL)
        figures_copy(d, &f);
    figures_params(&f, params);
    return query_run(ctx, "dashboard", 2, params, "dashboard", req, resp, err);
}

int dashboard_get_stream(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err)
{
    struct dashboard *d = dashboard_of(ctx);

    (void)m;
    if (d == NULL)
        return api_error_set(err, API_UNAVAILABLE, "unavailable", "the stream is not running");
    if (sse_hub_attach(d->hub, req, resp, err) != 0)
        return -1;
    log_debug("dashboard stream opened", NULL);
    return 0;
}

int dashboard_get_page(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err)
{
    (void)ctx;
    (void)req;
    (void)m;
    return assets_respond("dashboard/index.html", resp, err);
}
