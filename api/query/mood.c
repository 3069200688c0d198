#include "mood.h"

#include "http/assets.h"
#include "base/config.h"
#include "base/log.h"
#include "notifier.h"
#include "query.h"
#include "service.h"
#include "http/sse.h"
#include "base/xalloc.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define MOOD_CHANNEL "mood_stats"
#define MOOD_STATS_SQL "SELECT (SELECT q FROM q_mood_stats() AS q)"
#define MOOD_RETRY_MS 2000

struct mood_config {
    long keepalive_ms;
    long per_ip_limit; /* SSE_PER_IP_LIMIT */
};

struct mood {
    struct mood_config cfg;
    struct sse_hub *hub;
    bool stopped;
};

static const struct config_var mood_vars[] = {
    /* a comment line on every stream this often (proxies drop idle connections) */
    {"SSE_KEEPALIVE_MS", CONFIG_INT, "15000", offsetof(struct mood_config, keepalive_ms), 100,
     300000},
    /* streams one client address may hold open (429 beyond); 0: no limit */
    {"SSE_PER_IP_LIMIT", CONFIG_INT, "32", offsetof(struct mood_config, per_ip_limit), 0, 65536},
};
const struct config_table mood_config_table = CONFIG_TABLE(mood_vars);

struct mood *mood_start(const struct apiserver_ctx *ctx, struct parking *lot, struct notifier *n)
{
    struct mood *mood = xcalloc(1, sizeof *mood);
    char err[256];
    size_t max_streams;

    if (config_load(&mood->cfg, mood_vars, mood_config_table.n, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(mood);
        return NULL;
    }
    /* suspended streams hold connections: leave a quarter of them to other requests */
    max_streams = (size_t)ctx->cfg->connection_limit * 3 / 4;
    mood->hub = sse_hub_new(lot, max_streams, MOOD_RETRY_MS);
    sse_hub_set_per_ip_limit(mood->hub, (size_t)mood->cfg.per_ip_limit);
    struct feed_opts opts = {
        .channel = MOOD_CHANNEL,
        .sql = MOOD_STATS_SQL,
        .keepalive_ms = mood->cfg.keepalive_ms,
        .hub = mood->hub,
    };
    if (notifier_add_feed(n, &opts) != 0) {
        log_error("could not start the mood stream", "error=\"too many feeds\"");
        sse_hub_free(mood->hub);
        free(mood);
        return NULL;
    }
    return mood;
}

void mood_stop(struct mood *mood)
{
    size_t streams;

    if (mood == NULL || mood->stopped)
        return;
    mood->stopped = true;
    streams = sse_hub_streams(mood->hub);
    sse_hub_close(mood->hub);
    /* give the streams a moment to send their last chunk; MHD closes what is left */
    if (!sse_hub_wait_idle(mood->hub, 2000))
        log_warn("mood streams still open at shutdown", "streams=%zu", sse_hub_streams(mood->hub));
    log_info("mood streams closed", "streams=%zu", streams);
}

void mood_free(struct mood *mood)
{
    if (mood == NULL)
        return;
    sse_hub_free(mood->hub);
    free(mood);
}

int mood_get_stats(void *ctx, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp, struct api_error *err)
{
    (void)m;
    return query_run(ctx, "mood_stats", 0, NULL, "mood stats", req, resp, err);
}

int mood_get_stream(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err)
{
    const struct apiserver_ctx *c = ctx;
    const struct query_service *qs = c->ext;
    struct mood *mood = qs != NULL ? qs->mood : NULL;

    (void)m;
    if (mood == NULL)
        return api_error_set(err, API_UNAVAILABLE, "unavailable", "the stream is not running");
    if (sse_hub_attach(mood->hub, req, resp, err) != 0)
        return -1;
    log_debug("mood stream opened", NULL);
    return 0;
}

int mood_get_wall(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err)
{
    (void)ctx;
    (void)req;
    (void)m;
    return assets_respond("mood/wall.html", resp, err);
}
