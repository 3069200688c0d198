/* router: maps method + path to a route of a table, once per request. Patterns are literal
 * segments, "{id}" segments, which match a positive decimal integer (up to 18 digits) captured
 * into ids[] in order, and at most one other "{name}" segment (e.g. "{eventId}"), which matches a
 * token of 1 to ROUTER_MAX_KEY characters out of A-Z a-z 0-9 . _ ~ : - captured into key. A path
 * that matches no pattern is 404 not_found; one that matches with another method is 405.
 *
 * Each route carries what every stage of a request needs, so that a request is matched once
 * (router_find, when its headers are in: lib/http/http.c) and the match flows to the authorize
 * hook (access), the handler (fn, arg, the captures) and the request metrics (method and pattern
 * are its labels, index its series: lib/http/httpmetrics.h). */
#ifndef CQ_ROUTER_H
#define CQ_ROUTER_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>

#define ROUTER_MAX_IDS 2
#define ROUTER_MAX_KEY 128

struct route;

struct route_match {
    const struct route *route; /* the entry that serves the request; NULL when none does */
    size_t index;              /* route's index in its table (its metrics series) */
    bool path_known; /* no entry serves the request, but a pattern matches its path: 405 */
    long long ids[ROUTER_MAX_IDS];
    int nids;
    char key[ROUTER_MAX_KEY + 1]; /* the "{name}" segment, "" when the pattern has none */
};

typedef int (*route_fn)(void *ctx, const struct http_request *req, const struct route_match *m,
                        struct http_response *resp, struct api_error *err);

/* Who may call a route: what a service's authorize hook checks (the command API's bearer token,
 * api/command/auth.h). A service without the hook (the query API, the metrics listener) serves
 * every route to anyone: its routes say ROUTE_PUBLIC. */
enum route_access {
    ROUTE_TOKEN = 0, /* needs the service's token when it has one (an entry that says nothing) */
    ROUTE_PUBLIC,    /* served without a token */
    ROUTE_OWN_TOKEN, /* the handler checks the token itself (so that its 401 carries CORS) */
};

struct route {
    const char *method;
    const char *pattern; /* with method, the route's labels in the request metrics */
    route_fn fn;
    enum route_access access;
    const void *arg; /* the handler's own datum for this route (m->route->arg), e.g. a command */
};

/* Finds the entry that serves method + path: the first whose method is method and whose pattern
 * matches path, with its captures in m; m->route is NULL when there is none (m->path_known: a
 * pattern matches with another method). */
void router_find(const struct route *routes, size_t n, const char *method, const char *path,
                 struct route_match *m);

/* Calls the handler of m->route, or answers 404 not_found or 405 method_not_allowed. */
int router_call(const struct route_match *m, void *ctx, const struct http_request *req,
                struct http_response *resp, struct api_error *err);

/* router_find, then router_call. */
int router_dispatch(const struct route *routes, size_t n, void *ctx, const struct http_request *req,
                    struct http_response *resp, struct api_error *err);

/* Matches path against pattern; exposed for tests. Returns true on a match. */
bool router_match(const char *pattern, const char *path, struct route_match *m);

#endif
