/* dashboard: the live operations dashboard of the query API.
 *   GET /                      the page (web/dashboard/, embedded)
 *   GET /api/dashboard         one snapshot: SELECT q_dashboard(backlog, oldest_age)
 *   GET /api/dashboard/stream  the same document as server-sent events, whenever it changes
 *
 * The stream is fed like the mood wall's (lib/pgwatch + lib/sse): one thread LISTENs on the read
 * DB's channel events_applied (notified once per consumer transaction, 0005_consistency.sql) and
 * runs q_dashboard() at most twice a second however busy the channel is, and at least once a
 * second (the rate and the lag change with time). The document carries its time ("at"), so every
 * run is pushed: 1 to 2 small events per second per client.
 *
 * The outbox backlog lives in the write DB, which the query API never reads. The relay publishes
 * it on its /metrics (relay_outbox_backlog, relay_outbox_oldest_unpublished_age_seconds); a second
 * thread here reads them from RELAY_METRICS_URL once a second (default
 * http://127.0.0.1:$RELAY_METRICS_PORT/metrics, "off" to disable) and passes them to q_dashboard()
 * as parameters. When the relay cannot be reached they are NULL, and the page says so. */
#ifndef CQ_QUERY_DASHBOARD_H
#define CQ_QUERY_DASHBOARD_H

#include "config.h"

#include "apiserver.h"

struct dashboard;

/* Reads its configuration and starts both threads; NULL (logged) on failure. */
/* The variables dashboard reads (--help, lib/cli.h). */
extern const struct config_table dashboard_config_table;

struct dashboard *dashboard_start(const struct apiserver_ctx *ctx);
/* Stops both threads and ends the streams (waits up to 2 s for them). */
void dashboard_stop(struct dashboard *d);
/* After the HTTP server stopped. */
void dashboard_free(struct dashboard *d);

int dashboard_get(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err);
int dashboard_get_stream(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err);
int dashboard_get_page(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err);

#endif
