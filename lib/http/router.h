/* router: maps method + path to a handler. Patterns are literal segments, "{id}" segments,
 * which match a positive decimal integer (up to 18 digits) captured into ids[] in order, and at
 * most one other "{name}" segment (e.g. "{eventId}"), which matches a token of 1 to
 * ROUTER_MAX_KEY characters out of A-Z a-z 0-9 . _ ~ : - captured into key. A path that matches
 * no pattern is 404 not_found; one that matches with another method is 405. */
#ifndef CQ_ROUTER_H
#define CQ_ROUTER_H

#include "http/http.h"

#define ROUTER_MAX_IDS 2
#define ROUTER_MAX_KEY 128

struct route_match {
    long long ids[ROUTER_MAX_IDS];
    int nids;
    char key[ROUTER_MAX_KEY + 1]; /* the "{name}" segment, "" when the pattern has none */
};

typedef int (*route_fn)(void *ctx, const struct http_request *req, const struct route_match *m,
                        struct http_response *resp, struct api_error *err);

struct route {
    const char *method;
    const char *pattern;
    route_fn fn;
};

int router_dispatch(const struct route *routes, size_t n, void *ctx, const struct http_request *req,
                    struct http_response *resp, struct api_error *err);

/* Matches path against pattern; exposed for tests. Returns true on a match. */
bool router_match(const char *pattern, const char *path, struct route_match *m);

#endif
