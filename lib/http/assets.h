/* assets: the static files under web/ (pages, scripts, pictures), embedded into the binaries at
 * build time (scripts/embed-assets.sh writes them as C arrays into $(BUILD)/gen/assets_data.c),
 * so a service needs no files at run time. A path is relative to web/, e.g. "mood/happy.svg". */
#ifndef CQ_ASSETS_H
#define CQ_ASSETS_H

#include "http/router.h"

#include <stddef.h>

struct asset {
    const char *path;
    const unsigned char *data; /* followed by a NUL byte that len does not count */
    size_t len;
};

/* Generated. */
extern const struct asset assets[];
extern const size_t nassets;

/* The asset at path, or NULL. */
const struct asset *assets_find(const char *path);
/* Content type by file name extension (text types with charset=utf-8). */
const char *assets_content_type(const char *path);

/* Answers with the asset at path (200, its content type, no-cache), or 404 not_found. */
int assets_respond(const char *path, struct http_response *resp, struct api_error *err);
/* assets_respond with csp as an HTML page's Content-Security-Policy (assets_respond's is
 * "default-src 'self'; frame-ancestors 'none'"). */
int assets_respond_csp(const char *path, const char *csp, struct http_response *resp,
                       struct api_error *err);
/* A route handler serving the asset named by the request path: GET /mood/happy.svg answers
 * web/mood/happy.svg. */
int assets_route(void *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp, struct api_error *err);

#endif
