/* httpmetrics: request counts and latencies of an HTTP API, per route and status, in a
 * lib/metrics/metrics registry:
 *   http_requests_total{method,route,code}               counter
 *   http_request_duration_seconds{method,route,code}     histogram, seconds from the request's
 *                                                        headers to its response being queued
 * method and route are the labels the route table entry that served the request carries: its
 * method and its pattern (e.g. "/api/orders/{id}", never the raw path, so the label set stays
 * fixed), found by the request's one match (lib/http/router.h), not matched again; a request no
 * entry serves (404 no route, 405 wrong method) is route="unmatched" with its method, or
 * method="OTHER" for an unusual one. code is the
 * status code for the codes the APIs use, else its class ("2xx" ... "5xx"). Every label
 * combination is made at registration: observing allocates nothing and takes no lock. */
#ifndef CQ_HTTPMETRICS_H
#define CQ_HTTPMETRICS_H

#include "metrics/metrics.h"
#include "http/router.h"

struct http_metrics;

/* Registers the two families for the routes of routes[] (the table must outlive hm). */
struct http_metrics *http_metrics_new(struct metrics *reg, const struct route *routes, size_t n);
void http_metrics_free(struct http_metrics *hm);

/* Records one answered request: m is its match in the routes hm was made for (m->route NULL:
 * unmatched, counted under method). Thread-safe; a NULL hm is ignored. */
void http_metrics_observe(struct http_metrics *hm, const struct route_match *m, const char *method,
                          unsigned status, double seconds);

#endif
