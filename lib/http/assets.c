#include "http/assets.h"

#include <string.h>

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".json", "application/json"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

const struct asset *assets_find(const char *path)
{
    for (size_t i = 0; i < nassets; i++) {
        if (strcmp(assets[i].path, path) == 0)
            return &assets[i];
    }
    return NULL;
}

const char *assets_content_type(const char *path)
{
    size_t n = strlen(path);

    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        size_t e = strlen(content_types[i].ext);
        if (n > e && strcmp(path + n - e, content_types[i].ext) == 0)
            return content_types[i].type;
    }
    return "application/octet-stream";
}

int assets_respond(const char *path, struct http_response *resp, struct api_error *err)
{
    /* pages load only their own scripts, styles, pictures and streams */
    return assets_respond_csp(path, "default-src 'self'; frame-ancestors 'none'", resp, err);
}

int assets_respond_csp(const char *path, const char *csp, struct http_response *resp,
                       struct api_error *err)
{
    const struct asset *a = assets_find(path);

    if (a == NULL)
        return api_error_set(err, API_NOT_FOUND, "not_found", "no such file: %s", path);
    http_response_static(resp, 200, assets_content_type(path), (const char *)a->data, a->len);
    /* pages and pictures change with each build: revalidate rather than cache blindly
     * (X-Content-Type-Options: nosniff is on every answer, lib/http/http.c) */
    if (http_response_header(resp, "Cache-Control", "no-cache") != 0)
        return api_error_set(err, API_INTERNAL, "internal", "internal error");
    if (strncmp(resp->content_type, "text/html", 9) == 0 &&
        http_response_header(resp, "Content-Security-Policy", csp) != 0)
        return api_error_set(err, API_INTERNAL, "internal", "internal error");
    return 0;
}

int assets_route(void *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp, struct api_error *err)
{
    char path[128];
    size_t n;

    (void)ctx;
    (void)m;
    n = strlen(req->path);
    while (n > 0 && req->path[n - 1] == '/')
        n--;
    if (n < 2 || req->path[0] != '/' || n - 1 >= sizeof path)
        return api_error_set(err, API_NOT_FOUND, "not_found", "no route for GET %s", req->path);
    memcpy(path, req->path + 1, n - 1);
    path[n - 1] = '\0';
    return assets_respond(path, resp, err);
}
