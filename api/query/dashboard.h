/* dashboard: the live operations dashboard of the query API.
 *   GET /                      the page (web/dashboard/, embedded)
 *   GET /api/dashboard         one snapshot: SELECT q_dashboard(STALL_AFTER_MS)
 *   GET /api/dashboard/stream  the same document as server-sent events, whenever it changes
 *   GET /api/dead-letters      the events the consumer dead-lettered (limit/offset), for the
 *                              page's dead-letter panel; the actions are commands of the command
 *                              API (docs/api.md)
 *
 * The stream is fed like the mood wall's (feed.h + lib/http/sse): the query API's one notifier
 * thread (notifier.h), which LISTENs on the read DB's channel events_applied among others
 * (notified once per consumer transaction, migrations/read/functions/35_notify.sql), runs
 * q_dashboard() at most twice a second however busy the channel is, and at least once a second (the
 * rate, the lag and the stalled verdict change with time). The document carries its time ("at"), so
 * every run is pushed: 1 to 2 small events per second per client.
 *
 * The query API never calls the relay or the broker: the pipeline's figures come from what the
 * read side receives (migrations/read/functions/50_dashboard.sql): the relay's status messages and
 * the consumer's queue readings, stored by the consumer. STALL_AFTER_MS says how long events may
 * wait without any being applied before the document says stalled. */
#ifndef CQ_QUERY_DASHBOARD_H
#define CQ_QUERY_DASHBOARD_H

#include "base/config.h"

#include "service/apiserver.h"

struct dashboard;
struct notifier;
struct parking;

/* The variables dashboard reads (--help, lib/service/cli.h). */
extern const struct config_table dashboard_config_table;

/* Reads its configuration, makes the hub in lot and adds its feed to n (before n starts); NULL
 * (logged) on failure. */
struct dashboard *dashboard_start(const struct apiserver_ctx *ctx, struct parking *lot,
                                  struct notifier *n);
/* After the notifier stopped: ends the streams (waits up to 2 s for them). */
void dashboard_stop(struct dashboard *d);
/* After the HTTP server stopped. */
void dashboard_free(struct dashboard *d);

int dashboard_get(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err);
int dashboard_get_stream(void *ctx, const struct http_request *req, const struct route_match *m,
                         struct http_response *resp, struct api_error *err);
int dashboard_get_page(void *ctx, const struct http_request *req, const struct route_match *m,
                       struct http_response *resp, struct api_error *err);
int dashboard_get_dead_letters(void *ctx, const struct http_request *req,
                               const struct route_match *m, struct http_response *resp,
                               struct api_error *err);

#endif
