#include "dashboard.h"

#include "http/assets.h"
#include "base/config.h"
#include "base/log.h"
#include "notifier.h"
#include "query.h"
#include "service.h"
#include "http/sse.h"
#include "base/xalloc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASHBOARD_CHANNEL "events_applied"
#define DASHBOARD_SQL "SELECT (SELECT q FROM q_dashboard($1::bigint) AS q)"
#define DASHBOARD_MIN_INTERVAL_MS 500 /* at most 2 pushes a second */
#define DASHBOARD_REFRESH_MS 1000     /* at least 1 a second */
#define DASHBOARD_RETRY_MS 2000

struct dashboard_config {
    long keepalive_ms;
    long per_ip_limit;   /* SSE_PER_IP_LIMIT */
    long stall_after_ms; /* STALL_AFTER_MS */
    long command_port;   /* COMMAND_SERVICE_PORT: where the dead-letter actions are */
};

struct dashboard {
    struct dashboard_config cfg;
    char stall_after[24]; /* cfg.stall_after_ms as q_dashboard()'s parameter */
    char csp[256];        /* the page's policy: also connects to the command API */
    struct sse_hub *hub;
    bool stopped;
};

/* the feed's params hook, in the notifier's thread: the parameter never changes. */
static int watch_params(void *cls, const char **values)
{
    const struct dashboard *d = cls;

    values[0] = d->stall_after;
    return 1;
}

static const struct config_var dashboard_vars[] = {
    {"SSE_KEEPALIVE_MS", CONFIG_INT, "15000", offsetof(struct dashboard_config, keepalive_ms), 100,
     300000},
    {"SSE_PER_IP_LIMIT", CONFIG_INT, "32", offsetof(struct dashboard_config, per_ip_limit), 0,
     65536},
    /* events waiting this long with none applied: the dashboard says stalled */
    {"STALL_AFTER_MS", CONFIG_INT, "5000", offsetof(struct dashboard_config, stall_after_ms), 1000,
     3600000},
    /* the page's dead-letter actions call the command API on this port of its host */
    {"COMMAND_SERVICE_PORT", CONFIG_INT, "8080", offsetof(struct dashboard_config, command_port), 1,
     65535},
};
const struct config_table dashboard_config_table = CONFIG_TABLE(dashboard_vars);

struct dashboard *dashboard_start(const struct apiserver_ctx *ctx, struct parking *lot,
                                  struct notifier *n)
{
    struct dashboard *d = xcalloc(1, sizeof *d);
    char err[256];

    if (config_load(&d->cfg, dashboard_vars, dashboard_config_table.n, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(d);
        return NULL;
    }
    snprintf(d->stall_after, sizeof d->stall_after, "%ld", d->cfg.stall_after_ms);
    snprintf(d->csp, sizeof d->csp,
             "default-src 'self'; connect-src 'self' http://127.0.0.1:%ld http://localhost:%ld; "
             "frame-ancestors 'none'",
             d->cfg.command_port, d->cfg.command_port);
    /* dashboards are few: a sixteenth of the connections (the mood wall may hold 3/4) */
    d->hub = sse_hub_new(lot, (size_t)ctx->cfg->connection_limit / 16 + 1, DASHBOARD_RETRY_MS);
    sse_hub_set_per_ip_limit(d->hub, (size_t)d->cfg.per_ip_limit);
    struct feed_opts opts = {
        .channel = DASHBOARD_CHANNEL,
        .sql = DASHBOARD_SQL,
        .keepalive_ms = d->cfg.keepalive_ms,
        .hub = d->hub,
        .min_interval_ms = DASHBOARD_MIN_INTERVAL_MS,
        .refresh_ms = DASHBOARD_REFRESH_MS,
        .params = watch_params,
        .params_cls = d,
    };
    if (notifier_add_feed(n, &opts) != 0) {
        log_error("could not start the dashboard stream", "error=\"too many feeds\"");
        sse_hub_free(d->hub);
        free(d);
        return NULL;
    }
    log_info("dashboard ready", "stall_after_ms=%ld", d->cfg.stall_after_ms);
    return d;
}

void dashboard_stop(struct dashboard *d)
{
    if (d == NULL || d->stopped)
        return;
    d->stopped = true;
    sse_hub_close(d->hub);
    if (!sse_hub_wait_idle(d->hub, 2000))
        log_warn("dashboard streams still open at shutdown", "streams=%zu",
                 sse_hub_streams(d->hub));
}

void dashboard_free(struct dashboard *d)
{
    if (d == NULL)
        return;
    sse_hub_free(d->hub);
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
    const struct dashboard *d = dashboard_of(ctx);
    char stall_after[24];
    const char *params[] = {stall_after};

    (void)m;
    if (d != NULL)
        snprintf(stall_after, sizeof stall_after, "%s", d->stall_after);
    else
        snprintf(stall_after, sizeof stall_after, "5000");
    return query_run(ctx, "dashboard", 1, params, "dashboard", req, resp, err);
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
    const struct dashboard *d = dashboard_of(ctx);

    (void)req;
    (void)m;
    if (d == NULL)
        return assets_respond("dashboard/index.html", resp, err);
    return assets_respond_csp("dashboard/index.html", d->csp, resp, err);
}

int dashboard_get_dead_letters(void *ctx, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp,
                               struct api_error *err)
{
    char limit_s[24], offset_s[24];
    const char *params[] = {limit_s, offset_s};
    long limit, offset;

    (void)m;
    if (query_int_arg(req, "limit", 1, 500, 50, &limit, err) != 0 ||
        query_int_arg(req, "offset", 0, 1000000000, 0, &offset, err) != 0)
        return -1;
    snprintf(limit_s, sizeof limit_s, "%ld", limit);
    snprintf(offset_s, sizeof offset_s, "%ld", offset);
    return query_run(ctx, "dead_letters", 2, params, "dead letters", req, resp, err);
}
