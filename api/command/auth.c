#include "auth.h"

#include "routes.h"
#include "service.h"

#include "base/log.h"
#include "http/router.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define AUTH_TOKEN_MAX 1024

bool auth_is_loopback(const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (strcasecmp(addr, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

enum auth_mode auth_mode_for(const char *bind_address, const char *token, const char *auth)
{
    if (strcmp(auth, "off") == 0)
        return AUTH_OFF;
    if (token[0] != '\0')
        return AUTH_TOKEN;
    return auth_is_loopback(bind_address) ? AUTH_LOCAL : AUTH_REFUSE;
}

bool auth_required(const struct route_match *m)
{
    return m->route != NULL && m->route->access == ROUTE_TOKEN;
}

bool auth_is_public(const char *method, const char *path)
{
    struct route_match m;

    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return true;
    router_find(command_routes, command_nroutes, method, path, &m);
    return m.route != NULL && m.route->access != ROUTE_TOKEN;
}

bool auth_token_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
    volatile unsigned char diff = a_len != b_len;

    for (size_t i = 0; i < b_len; i++) {
        /* past the end of a, compare b with itself's complement: always differs, same work */
        unsigned char x = i < a_len ? (unsigned char)a[i] : (unsigned char)~b[i];
        diff |= (unsigned char)(x ^ (unsigned char)b[i]);
    }
    return diff == 0;
}

bool auth_token_valid(const char *token)
{
    size_t n = strlen(token);

    if (n == 0 || n > AUTH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (token[i] < '!' || token[i] > '~')
            return false;
    }
    return true;
}

int auth_check(unsigned count, const char *header, const char *token, struct api_error *err)
{
    static const char scheme[] = "Bearer";
    const size_t slen = sizeof scheme - 1;
    const char *given;

    if (count == 0 || header == NULL)
        return api_error_set(err, API_UNAUTHORIZED, "unauthorized",
                             "this command needs an Authorization: Bearer token");
    if (count > 1)
        return api_error_set(err, API_UNAUTHORIZED, "unauthorized",
                             "send one Authorization header, not %u", count);
    if (strncasecmp(header, scheme, slen) == 0 && header[slen] == '\0')
        return api_error_set(err, API_UNAUTHORIZED, "unauthorized", "the bearer token is empty");
    if (strncasecmp(header, scheme, slen) != 0 || (header[slen] != ' ' && header[slen] != '\t'))
        return api_error_set(err, API_UNAUTHORIZED, "unauthorized",
                             "the Authorization header must use the Bearer scheme");
    given = header + slen;
    while (*given == ' ' || *given == '\t')
        given++;
    if (!auth_token_equal(given, strlen(given), token, strlen(token)))
        return api_error_set(err, API_UNAUTHORIZED, "unauthorized", "invalid bearer token");
    return 0;
}

int auth_authorize(void *ctx, const struct http_request *req, struct api_error *err)
{
    const struct apiserver_ctx *c = ctx;
    const struct command_config *cfg = c->ext;
    const char *header;
    unsigned count;
    char q[300], qm[40];

    if (cfg == NULL || cfg->auth_mode != AUTH_TOKEN || !auth_required(req->match))
        return 0;
    count = http_request_header_count(req, "Authorization", &header);
    if (auth_check(count, header, cfg->api_token, err) == 0)
        return 0;
    /* never the header itself: it may hold a real token with a typo */
    log_info("request refused", "method=%s path=%s status=401 reason=%s",
             log_quote(qm, sizeof qm, req->method), log_quote(q, sizeof q, req->path),
             count == 0  ? "no_token"
             : count > 1 ? "several_headers"
                         : "bad_token");
    return -1;
}
