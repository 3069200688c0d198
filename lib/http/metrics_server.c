#include "http/metrics_server.h"

#include "http/router.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct metrics_server {
    struct metrics_server_opts opts;
    struct http_server *http;
};

int metrics_respond(struct metrics *reg, struct http_response *resp, struct api_error *err)
{
    size_t len;
    char *text = metrics_render(reg, &len);

    http_response_json(resp, 200, text, len); /* takes text; the type is set below */
    resp->content_type = METRICS_CONTENT_TYPE;
    if (http_response_header(resp, "Cache-Control", "no-store") != 0)
        return api_error_set(err, API_INTERNAL, "internal", "internal error");
    return 0;
}

static int get_metrics(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err)
{
    const struct metrics_server *s = ctx;

    (void)req;
    (void)m;
    return metrics_respond(s->opts.registry, resp, err);
}

static int get_health(void *ctx, const struct http_request *req, const struct route_match *m,
                      struct http_response *resp, struct api_error *err)
{
    const struct metrics_server *s = ctx;
    char body[512] = "{\"status\":\"ok\"}";
    bool ok = true;

    (void)req;
    (void)m;
    (void)err;
    if (s->opts.health != NULL)
        ok = s->opts.health(s->opts.arg, body, sizeof body);
    http_response_json(resp, ok ? 200 : 503, xstrdup(body), strlen(body));
    return 0;
}

static const struct route metrics_routes[] = {
    {"GET", "/metrics", get_metrics, ROUTE_PUBLIC, NULL},
    {"GET", "/health", get_health, ROUTE_PUBLIC, NULL},
};

struct metrics_server *metrics_server_start(const struct metrics_server_opts *opts, char *err,
                                            size_t errlen)
{
    struct metrics_server *s = xcalloc(1, sizeof *s);
    sigset_t block, old;

    s->opts = *opts;
    struct http_server_opts http = {
        .bind_address = opts->bind_address,
        .port = opts->port,
        .threads = 2, /* MHD ignores (and warns about) a pool of 1 */
        .max_body = 1024,
        .connection_limit = 64,
        .connection_timeout_s = 10,
        .routes = metrics_routes,
        .nroutes = sizeof metrics_routes / sizeof metrics_routes[0],
        .ctx = s,
        .svc = opts->svc,
    };
    /* MHD's threads inherit this mask: stop signals go to the service's loop, not to them */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    s->http = http_server_start(&http, err, errlen);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (s->http == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void metrics_server_stop(struct metrics_server *s)
{
    if (s == NULL)
        return;
    http_server_stop(s->http);
    free(s);
}
