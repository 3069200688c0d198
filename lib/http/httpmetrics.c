#include "http/httpmetrics.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The codes the APIs answer with; anything else counts under its class. */
static const unsigned known_codes[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 408,
                                       409, 410, 413, 415, 422, 429, 500, 502, 503, 504};
#define NKNOWN (sizeof known_codes / sizeof known_codes[0])
static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
#define NCODES (NKNOWN + 5)

/* Methods of unmatched requests; the last is every other method. */
static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                      "PATCH", "DELETE", "OPTIONS", "OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* Request-duration buckets, seconds: 0.5 ms to 10 s. */
static const double duration_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct http_metrics {
    const struct route *routes;
    size_t nroutes;
    size_t *entry_of_route; /* route table index -> entry (routes with one method+pattern share) */
    size_t nentries;        /* unique routes, then NMETHODS unmatched entries */
    struct metrics_counter *requests;
    struct metrics_histogram *duration;
};

static size_t code_index(unsigned status)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (known_codes[i] == status)
            return i;
    if (status >= 100 && status < 600)
        return NKNOWN + status / 100 - 1;
    return NKNOWN + 4; /* nonsense: count it as a server error */
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++)
        if (strcmp(methods[i], method) == 0)
            return i;
    return NMETHODS - 1;
}

struct http_metrics *http_metrics_new(struct metrics *reg, const struct route *routes, size_t n)
{
    static const char *const names[] = {"method", "route", "code"};
    struct http_metrics *hm = xcalloc(1, sizeof *hm);
    size_t nchildren, k = 0;
    const char **values;
    char codes[NCODES][8];

    hm->routes = routes;
    hm->nroutes = n;
    hm->entry_of_route = xcalloc(n > 0 ? n : 1, sizeof *hm->entry_of_route);
    /* one entry per distinct method + pattern, in table order */
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < i; j++)
            if (strcmp(routes[j].method, routes[i].method) == 0 &&
                strcmp(routes[j].pattern, routes[i].pattern) == 0)
                break;
        hm->entry_of_route[i] = j < i ? hm->entry_of_route[j] : hm->nentries++;
    }
    size_t nrouted = hm->nentries;
    hm->nentries += NMETHODS;

    for (size_t c = 0; c < NCODES; c++) {
        if (c < NKNOWN)
            snprintf(codes[c], sizeof codes[c], "%u", known_codes[c]);
        else
            snprintf(codes[c], sizeof codes[c], "%s", classes[c - NKNOWN]);
    }
    nchildren = hm->nentries * NCODES;
    values = xcalloc(nchildren * 3, sizeof *values);
    for (size_t e = 0; e < hm->nentries; e++) {
        const char *method = "", *pattern = "unmatched";
        if (e < nrouted) {
            for (size_t i = 0; i < n; i++) {
                if (hm->entry_of_route[i] == e) {
                    method = routes[i].method;
                    pattern = routes[i].pattern;
                    break;
                }
            }
        } else {
            method = methods[e - nrouted];
        }
        for (size_t c = 0; c < NCODES; c++) {
            values[k++] = method;
            values[k++] = pattern;
            values[k++] = codes[c];
        }
    }
    const struct metrics_labels labels = {3, names, nchildren, values};
    hm->requests = metrics_counter_vec_new(
        reg, "http_requests_total",
        "HTTP requests answered, by method, route pattern and status code", &labels);
    hm->duration = metrics_histogram_vec_new(
        reg, "http_request_duration_seconds",
        "Time from a request's headers to its response, by method, route pattern and status code",
        duration_bounds, sizeof duration_bounds / sizeof duration_bounds[0], &labels);
    free(values);
    return hm;
}

void http_metrics_free(struct http_metrics *hm)
{
    if (hm == NULL)
        return;
    free(hm->entry_of_route);
    free(hm);
}

void http_metrics_observe(struct http_metrics *hm, const struct route_match *m, const char *method,
                          unsigned status, double seconds)
{
    size_t entry, child;

    if (hm == NULL)
        return;
    /* the entry the request's match found in this table, else its method's unmatched series */
    if (m != NULL && m->route != NULL && m->index < hm->nroutes &&
        m->route == &hm->routes[m->index])
        entry = hm->entry_of_route[m->index];
    else
        entry = hm->nentries - NMETHODS + method_index(method);
    child = entry * NCODES + code_index(status);
    metrics_counter_inc(metrics_counter_child(hm->requests, child));
    metrics_histogram_observe(metrics_histogram_child(hm->duration, child), seconds);
}
