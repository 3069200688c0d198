/* fuzz_router_match: lib/http/router on arbitrary paths, against the real route tables of both
 * APIs. A match binds only positive decimal ids of up to 18 digits, at most ROUTER_MAX_IDS of them,
 * and the matched path is the pattern with each {id} replaced by the id's digits (plus at most
 * one trailing slash). router_dispatch answers 404 or 405 for what no route takes. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"};
    struct route stubs[64];
    const struct route_match *seen = NULL;
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

    /* dispatch over the command table with stub handlers */
    n = command_nroutes < 64 ? command_nroutes : 64;
    for (size_t i = 0; i < n; i++) {
        stubs[i] = command_routes[i];
        stubs[i].fn = stub;
    }
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    memset(&err, 0, sizeof err);
    req.method = methods[data[0] % (sizeof methods / sizeof methods[0])];
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
