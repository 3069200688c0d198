/* metrics_server: the small HTTP listener of the services that have no API (relay, consumer):
 * GET /metrics (the registry, Prometheus text format) and GET /health (the service's own verdict,
 * 200 or 503 with a JSON body), on lib/http/http's server with a two-entry route table and two
 * threads. Its threads start with SIGINT and SIGTERM blocked, so a stop signal always reaches the
 * service's own loop. metrics_respond() is the /metrics answer, shared with the two APIs. */
#ifndef CQ_METRICS_SERVER_H
#define CQ_METRICS_SERVER_H

#include "http/http.h"
#include "metrics/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics_server_opts {
    const char *bind_address; /* IPv4 literal (HTTP_BIND_ADDRESS) */
    uint16_t port;
    const char *svc; /* for logs */
    struct metrics *registry;
    /* Writes the /health body (JSON) into body and returns true when healthy (200), false when
     * not (503). Runs in the server's thread: must not block. */
    bool (*health)(void *arg, char *body, size_t len);
    void *arg;
};

struct metrics_server;

/* Starts listening. NULL with err when the port cannot be bound. */
struct metrics_server *metrics_server_start(const struct metrics_server_opts *opts, char *err,
                                            size_t errlen);
void metrics_server_stop(struct metrics_server *s);

/* Answers with the rendered registry (200, METRICS_CONTENT_TYPE, no-store). */
int metrics_respond(struct metrics *reg, struct http_response *resp, struct api_error *err);

#endif
