/* mood: the query API's mood board. GET /api/moods/stats answers the figures; GET
 * /api/moods/stream pushes them as server-sent events, fed by a feed (feed.h) of the query API's
 * one notifier thread (notifier.h), run again when the read DB's channel mood_stats is notified
 * (by the projection in the consumer's transaction); GET /mood is the wall page. A struct mood
 * owns the hub, whose streams park in the query API's one parking lot; the query API's service
 * (service.h) starts, stops and frees it with the server. */
#ifndef CQ_QUERY_MOOD_H
#define CQ_QUERY_MOOD_H

#include "base/config.h"

#include "service/apiserver.h"

struct mood;
struct notifier;
struct parking;

/* The variables mood reads (--help, lib/service/cli.h). */
extern const struct config_table mood_config_table;

/* Reads SSE_KEEPALIVE_MS, makes the hub in lot and adds its feed to n (before n starts); NULL
 * (logged) on failure. */
struct mood *mood_start(const struct apiserver_ctx *ctx, struct parking *lot, struct notifier *n);
/* After the notifier stopped: ends the streams (waits up to 2 s for them). */
void mood_stop(struct mood *mood);
/* After the HTTP server stopped. */
void mood_free(struct mood *mood);

int mood_get_stats(void *ctx, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp, struct api_error *err);
int mood_get_stream(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err);
int mood_get_wall(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err);

#endif
