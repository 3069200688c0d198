#include "http/router.h"

#include <string.h>

static size_t seg_len(const char *s)
{
    const char *slash = strchr(s, '/');
    return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

static bool parse_id(const char *s, size_t n, long long *out)
{
    long long v = 0;

    if (n == 0 || n > 18 || s[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_key(const char *s, size_t n, char *out)
{
    if (n == 0 || n > ROUTER_MAX_KEY)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == ':' || c == '-'))
            return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool router_match(const char *pattern, const char *path, struct route_match *m)
{
    m->nids = 0;
    m->key[0] = '\0';
    while (*pattern == '/' && *path == '/') {
        pattern++;
        path++;
        size_t pl = seg_len(pattern), sl = seg_len(path);
        if (pl == 4 && strncmp(pattern, "{id}", 4) == 0) {
            if (m->nids >= ROUTER_MAX_IDS || !parse_id(path, sl, &m->ids[m->nids]))
                return false;
            m->nids++;
        } else if (pl > 2 && pattern[0] == '{' && pattern[pl - 1] == '}') {
            if (m->key[0] != '\0' || !parse_key(path, sl, m->key))
                return false;
        } else if (pl != sl || strncmp(pattern, path, pl) != 0) {
            return false;
        }
        pattern += pl;
        path += sl;
    }
    /* a single trailing slash on the request is tolerated */
    if (*pattern == '\0' && path[0] == '/' && path[1] == '\0')
        return true;
    return *pattern == '\0' && *path == '\0';
}

void router_find(const struct route *routes, size_t n, const char *method, const char *path,
                 struct route_match *m)
{
    struct route_match other;

    m->route = NULL;
    m->index = 0;
    m->path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(routes[i].method, method) == 0 && router_match(routes[i].pattern, path, m)) {
            m->route = &routes[i];
            m->index = i;
            m->path_known = true;
            return;
        }
    }
    for (size_t i = 0; i < n && !m->path_known; i++)
        m->path_known = router_match(routes[i].pattern, path, &other);
    m->nids = 0;
    m->key[0] = '\0';
}

int router_call(const struct route_match *m, void *ctx, const struct http_request *req,
                struct http_response *resp, struct api_error *err)
{
    if (m->route != NULL)
        return m->route->fn(ctx, req, m, resp, err);
    if (m->path_known)
        return api_error_set(err, API_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "method %s is not allowed on %s", req->method, req->path);
    return api_error_set(err, API_NOT_FOUND, "not_found", "no route for %s %s", req->method,
                         req->path);
}

int router_dispatch(const struct route *routes, size_t n, void *ctx, const struct http_request *req,
                    struct http_response *resp, struct api_error *err)
{
    struct route_match m;

    router_find(routes, n, req->method, req->path, &m);
    return router_call(&m, ctx, req, resp, err);
}
