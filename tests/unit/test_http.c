/* http: a request's course through lib/http/http's server, over a real socket: matched to its
 * route once when its headers are in, and that one match is what the authorize hook, the handler
 * and the request metrics see; 404 and 405 for what no route serves; the body kept whole up to
 * max_body and refused past it (413 before 404); a refusal answered before its body is kept. */
#include "http/http.h"
#include "http/httpmetrics.h"
#include "http/router.h"
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include "unit.h"

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY 4096

/* What the hooks saw of the last request (the matches themselves are gone with it). */
struct seen {
    const struct route_match *authorized; /* the match the authorize hook saw (not to be read) */
    bool authorize_ran;
    const struct route *authorized_route; /* its route */
    bool handled;
    bool same_match; /* the handler's m and req->match are the one the hook saw */
    bool authorize_saw_body;
    size_t body_len;
    char body_head[16];
    long long id;
};

static struct seen seen;

static int echo(void *ctx, const struct http_request *req, const struct route_match *m,
                struct http_response *resp, struct api_error *err)
{
    char *body = malloc(64);
    int n;

    (void)ctx;
    (void)err;
    seen.handled = true;
    seen.same_match = m == seen.authorized && req->match == m;
    seen.body_len = req->body_len;
    snprintf(seen.body_head, sizeof seen.body_head, "%s", req->body);
    seen.id = m->nids > 0 ? m->ids[0] : -1;
    n = snprintf(body, 64, "{\"route\":\"%s\"}", m->route->pattern);
    http_response_json(resp, 200, body, (size_t)n);
    return 0;
}

static const struct route routes[] = {
    {"GET", "/things/{id}", echo, ROUTE_PUBLIC, NULL},
    {"POST", "/things", echo, ROUTE_TOKEN, NULL},
    {"POST", "/closed", echo, ROUTE_TOKEN, NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Refuses POST /closed; records the match it was given. */
static int authorize(void *ctx, const struct http_request *req, struct api_error *err)
{
    (void)ctx;
    seen.authorized = req->match;
    seen.authorize_ran = true;
    seen.authorized_route = req->match != NULL ? req->match->route : NULL;
    seen.authorize_saw_body = req->body_len > 0;
    if (req->match != NULL && req->match->route != NULL &&
        strcmp(req->match->route->pattern, "/closed") == 0)
        return api_error_set(err, API_UNAUTHORIZED, "unauthorized", "closed");
    return 0;
}

static struct metrics *registry;
static struct http_metrics *hm;
static struct http_server *server;
static uint16_t port;

/* A port nobody listens on now (the kernel's pick for a socket bound to port 0). */
static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void setup(void)
{
    char err[256];

    memset(&seen, 0, sizeof seen);
    registry = metrics_new();
    hm = http_metrics_new(registry, routes, NROUTES);
    for (int attempt = 0; attempt < 5 && server == NULL; attempt++) {
        port = free_port();
        struct http_server_opts opts = {
            .bind_address = "127.0.0.1",
            .port = port,
            .threads = 2,
            .max_body = MAX_BODY,
            .connection_limit = 16,
            .connection_timeout_s = 5,
            .routes = routes,
            .nroutes = NROUTES,
            .authorize = authorize,
            .metrics = hm,
            .svc = "test",
        };
        server = http_server_start(&opts, err, sizeof err);
    }
    ck_assert_msg(server != NULL, "could not start: %s", err);
}

static void teardown(void)
{
    http_server_stop(server);
    server = NULL;
    http_metrics_free(hm);
    metrics_free(registry);
}

/* Sends method path with body (NULL: none) on a new connection; returns the status, and the
 * whole answer in out. */
static unsigned request(const char *method, const char *path, const char *body, size_t body_len,
                        char *out, size_t outlen)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    char head[512];
    size_t got = 0;
    unsigned status = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (body != NULL)
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, body_len);
    else
        n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     method, path);
    ck_assert_int_eq(write(fd, head, (size_t)n), n);
    /* the body in two pieces, so that the server gets it in more than one call */
    for (size_t off = 0; body != NULL && off < body_len;) {
        size_t piece = off == 0 && body_len > 1 ? body_len / 2 : body_len - off;
        ssize_t w = write(fd, body + off, piece);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    for (;;) {
        ssize_t r = read(fd, out + got, outlen - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == outlen - 1)
            break;
    }
    out[got] = '\0';
    close(fd);
    ck_assert_int_eq(sscanf(out, "HTTP/1.1 %u", &status), 1);
    return status;
}

/* Whether the rendered metrics hold line (a whole sample). */
static bool has_sample(const char *line)
{
    size_t len;
    char *text = metrics_render(registry, &len);
    bool found = strstr(text, line) != NULL;

    free(text);
    return found;
}

START_TEST(one_match_serves_the_hook_the_handler_and_the_metrics)
{
    char out[4096];

    ck_assert_uint_eq(request("GET", "/things/42", NULL, 0, out, sizeof out), 200);
    ck_assert_ptr_eq(seen.authorized_route, &routes[0]);
    ck_assert(seen.handled);
    ck_assert(seen.same_match); /* the handler got the hook's match, not a second one */
    ck_assert_int_eq(seen.id, 42);
    ck_assert_ptr_nonnull(strstr(out, "{\"route\":\"/things/{id}\"}"));
    ck_assert(
        has_sample("http_requests_total{method=\"GET\",route=\"/things/{id}\",code=\"200\"} 1\n"));
}
END_TEST

START_TEST(what_no_route_serves_is_404_or_405_and_unmatched)
{
    char out[4096];

    ck_assert_uint_eq(request("GET", "/nothing", NULL, 0, out, sizeof out), 404);
    ck_assert_ptr_nonnull(strstr(out, "\"not_found\""));
    ck_assert(!seen.handled);
    ck_assert(seen.authorize_ran);
    ck_assert_ptr_null(seen.authorized_route);
    ck_assert_uint_eq(request("DELETE", "/things/1", NULL, 0, out, sizeof out), 405);
    ck_assert_ptr_nonnull(strstr(out, "\"method_not_allowed\""));
    ck_assert(
        has_sample("http_requests_total{method=\"GET\",route=\"unmatched\",code=\"404\"} 1\n"));
    ck_assert(
        has_sample("http_requests_total{method=\"DELETE\",route=\"unmatched\",code=\"405\"} 1\n"));
}
END_TEST

START_TEST(the_body_is_kept_whole_up_to_max_body)
{
    static char body[MAX_BODY + 1];
    char out[4096];

    memset(body, ' ', sizeof body);
    body[0] = '{';
    body[MAX_BODY - 1] = '}';
    ck_assert_uint_eq(request("POST", "/things", body, MAX_BODY, out, sizeof out), 200);
    ck_assert_uint_eq(seen.body_len, MAX_BODY);
    ck_assert_str_eq(seen.body_head, "{              ");
    ck_assert(!seen.authorize_saw_body);
    /* one byte more: 413, with the route's labels; before a 404 too */
    seen.handled = false;
    body[MAX_BODY] = '}';
    body[MAX_BODY - 1] = ' ';
    ck_assert_uint_eq(request("POST", "/things", body, MAX_BODY + 1, out, sizeof out), 413);
    ck_assert(!seen.handled);
    ck_assert(
        has_sample("http_requests_total{method=\"POST\",route=\"/things\",code=\"413\"} 1\n"));
    ck_assert_uint_eq(request("POST", "/nothing", body, MAX_BODY + 1, out, sizeof out), 413);
}
END_TEST

START_TEST(a_refusal_is_answered_with_its_route_and_without_the_handler)
{
    char out[4096];

    ck_assert_uint_eq(request("POST", "/closed", "{}", 2, out, sizeof out), 401);
    ck_assert(!seen.handled);
    ck_assert_ptr_nonnull(strstr(out, "WWW-Authenticate: Bearer"));
    ck_assert(
        has_sample("http_requests_total{method=\"POST\",route=\"/closed\",code=\"401\"} 1\n"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc =
        unit_tcase(s, "server",
                   UNIT_TESTS(one_match_serves_the_hook_the_handler_and_the_metrics,
                              what_no_route_serves_is_404_or_405_and_unmatched,
                              the_body_is_kept_whole_up_to_max_body,
                              a_refusal_is_answered_with_its_route_and_without_the_handler));
    tcase_add_checked_fixture(tc, setup, teardown);
    return unit_run(s);
}
