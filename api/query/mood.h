/* mood: the query API's mood board. GET /api/moods/stats answers the figures; GET
 * /api/moods/stream pushes them as server-sent events, fed by one pgwatch thread that LISTENs on
 * the read DB's channel mood_stats (notified by the projection in the consumer's transaction);
 * GET /mood is the wall page. mood_start/mood_stop/mood_release are the apiserver hooks that
 * own the hub and the watch thread (ctx->ext). */
#ifndef CQ_QUERY_MOOD_H
#define CQ_QUERY_MOOD_H

#include "apiserver.h"

int mood_start(struct apiserver_ctx *ctx);
void mood_stop(struct apiserver_ctx *ctx);
void mood_release(struct apiserver_ctx *ctx);

int mood_get_stats(void *ctx, const struct http_request *req, const struct route_match *m,
                   struct http_response *resp, struct api_error *err);
int mood_get_stream(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err);
int mood_get_wall(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err);

#endif
