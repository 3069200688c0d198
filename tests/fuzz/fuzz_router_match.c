/* fuzz_router_match: lib/http/router on arbitrary paths, against the real route tables of both
 * APIs. A match binds only positive decimal ids of up to 18 digits, at most ROUTER_MAX_IDS of them,
 * and the matched path is the pattern with each {id} replaced by the id's digits (plus at most
 * one trailing slash). router_find names the first entry whose method and pattern match (what
 * lib/http/http matches once per request), and router_dispatch answers 404 or 405 for what no
 * route takes. */
#include "fuzz.h"
#include "http/router.h"
#include "api/command/routes.h"
#include "api/query/routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int stub(void *ctx, const struct http_request *req, const struct route_match *m,
                struct http_response *resp, struct api_error *err)
{
    (void)req;
    (void)resp;
    (void)err;
    *(const struct route_match **)ctx = m;
    return 0;
}

/* Rebuilds the path a match stands for, to compare with the request's path. */
static void expand(const char *pattern, const struct route_match *m, char *out, size_t outlen)
{
    size_t o = 0;
    int id = 0;

    while (*pattern != '\0' && o + 24 < outlen) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            o += (size_t)snprintf(out + o, outlen - o, "%lld", m->ids[id++]);
            pattern += 4;
        } else {
            out[o++] = *pattern++;
        }
    }
    out[o] = '\0';
}

static void check_table(const struct route *routes, size_t n, const char *path, size_t len)
{
    struct route_match m;
    char want[512];

    for (size_t i = 0; i < n; i++) {
        memset(&m, 0x5A, sizeof m);
        if (!router_match(routes[i].pattern, path, &m))
            continue;
        if (m.nids < 0 || m.nids > ROUTER_MAX_IDS)
            fuzz_fail("%s matched %s with %d ids", path, routes[i].pattern, m.nids);
        for (int k = 0; k < m.nids; k++) {
            if (m.ids[k] < 1 || m.ids[k] > 999999999999999999LL)
                fuzz_fail("%s matched %s with id %lld", path, routes[i].pattern, m.ids[k]);
        }
        expand(routes[i].pattern, &m, want, sizeof want);
        if (strcmp(want, path) != 0 &&
            !(len == strlen(want) + 1 && strncmp(want, path, len - 1) == 0 && path[len - 1] == '/'))
            fuzz_fail("%s matched %s, which stands for %s", path, routes[i].pattern, want);
    }
}

/* router_find against a scan of the table: the first entry of method whose pattern matches,
 * its index and captures; with none, path_known when any pattern matches. */
static void check_find(const struct route *routes, size_t n, const char *method, const char *path)
{
    struct route_match m, want;
    size_t first = n;
    bool known = false;

    for (size_t i = 0; i < n; i++) {
        if (!router_match(routes[i].pattern, path, &want))
            continue;
        known = true;
        if (strcmp(routes[i].method, method) == 0) {
            first = i;
            break;
        }
    }
    router_find(routes, n, method, path, &m);
    if (first == n) {
        if (m.route != NULL || m.path_known != known)
            fuzz_fail("%s %s: found %s, path_known %d (want none, %d)", method, path,
                      m.route != NULL ? m.route->pattern : "none", m.path_known, known);
        return;
    }
    if (m.route != &routes[first] || m.index != first || !m.path_known || m.nids != want.nids ||
        strcmp(m.key, want.key) != 0 ||
        (want.nids > 0 && memcmp(m.ids, want.ids, (size_t)want.nids * sizeof m.ids[0]) != 0))
        fuzz_fail("%s %s: found entry %zu, want %zu (%s)", method, path, m.index, first,
                  routes[first].pattern);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"};
    struct route stubs[64];
    const struct route_match *seen = NULL;
    const char *method;
    struct http_request req;
    struct http_response resp;
    struct api_error err;
    char *path;
    size_t n, len;
    int rc;

    if (size < 1 || size > 400)
        return 0;
    path = fuzz_copy(data + 1, size - 1, 1);
    len = strlen(path); /* the server's path is a C string: it ends at the first NUL */
    check_table(command_routes, command_nroutes, path, len);
    check_table(query_routes, query_nroutes, path, len);
    method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    check_find(command_routes, command_nroutes, method, path);
    check_find(query_routes, query_nroutes, method, path);

    /* dispatch over the command table with stub handlers */
    n = command_nroutes < 64 ? command_nroutes : 64;
    for (size_t i = 0; i < n; i++) {
        stubs[i] = command_routes[i];
        stubs[i].fn = stub;
    }
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    memset(&err, 0, sizeof err);
    req.method = method;
    req.path = path;
    req.body = (char *)(uintptr_t) "";
    rc = router_dispatch(stubs, n, &seen, &req, &resp, &err);
    if (rc == 0) {
        if (seen == NULL)
            fuzz_fail("dispatch succeeded without calling a handler");
    } else if (rc != -1 || (api_status_http(err.kind) != 404 && api_status_http(err.kind) != 405)) {
        fuzz_fail("dispatch of %s %s returned %d with status %u", req.method, path, rc,
                  api_status_http(err.kind));
    }
    free(path);
    return 0;
}
