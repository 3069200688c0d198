/* http: the course of a request through lib/http/http.h's server (libmicrohttpd's callbacks):
 * headers in (its state, id, route and the authorize hook's verdict), body accumulated, then
 * answered by its route's handler or refused, counted in the request metrics, and sent with the
 * headers every answer carries. The server's start and stop are lib/http/http_server.c; what
 * handlers call, lib/http/http_handler.c. */
#include "http/http_internal.h"

#include "http/etag.h"
#include "http/httpmetrics.h"
#include "http/router.h"

#include "base/buf.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/tracing.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Per-request state: created on MHD's first call, freed in the completion callback. */
struct http_request_state {
    struct buf body;
    bool too_large;
    bool refused; /* the authorize hook said no: the body is discarded, refusal answered */
    struct api_error refusal;
    struct route_match match;                /* made once, when the headers are in */
    char id[TRACING_REQUEST_ID_MAX + 1];     /* X-Request-Id */
    char log_kv[TRACING_REQUEST_ID_MAX + 8]; /* "req_id=<id>": the log context */
    long long start_us;                      /* headers in (lib/base/deadline.h): for metrics */
    void *handler_state;                     /* http_request_set_state */
    void (*handler_state_free)(void *);
};

/* The address the request counts against (lib/http/clientaddr.h), "" when unknown. */
static void client_address(const struct http_server *s, struct MHD_Connection *conn, char *buf,
                           size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
    char peer[INET6_ADDRSTRLEN] = "";

    buf[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer,
                  sizeof peer);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer,
                  sizeof peer);
    if (s->opts.trusted_proxies == NULL) {
        snprintf(buf, len, "%s", peer);
        return;
    }
    clientaddr_resolve(s->opts.trusted_proxies, peer,
                       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For"), buf,
                       len);
}

/* The request's id: the client's X-Request-Id when it sent exactly one valid one, else new. */
static void request_id(struct MHD_Connection *conn, struct http_request_state *st)
{
    struct http_request probe = {.conn = conn};
    const char *sent = NULL;

    if (http_request_header_count(&probe, "X-Request-Id", &sent) == 1 &&
        tracing_request_id_valid(sent))
        snprintf(st->id, sizeof st->id, "%s", sent);
    else
        tracing_request_id_new(st->id);
    snprintf(st->log_kv, sizeof st->log_kv, "req_id=%s", st->id);
}

static void handler_state_release(struct http_request_state *st)
{
    if (st->handler_state_free != NULL)
        st->handler_state_free(st->handler_state);
    st->handler_state = NULL;
    st->handler_state_free = NULL;
}

void http_request_set_state(const struct http_request *req, void *state,
                            void (*free_fn)(void *state))
{
    handler_state_release(req->state);
    req->state->handler_state = state;
    req->state->handler_state_free = free_fn;
}

void *http_request_get_state(const struct http_request *req)
{
    return req->state->handler_state;
}

static void response_release(struct http_response *resp)
{
    if (!resp->body_static)
        free(resp->body);
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        free(resp->header_values[i]);
    if (resp->stream_free != NULL)
        resp->stream_free(resp->stream_cls);
    memset(resp, 0, sizeof *resp);
}

static bool is_json(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof json - 1;

    if (ct == NULL || strncasecmp(ct, json, n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static void error_response(struct http_response *resp, const struct api_error *err)
{
    size_t len;
    char *body = api_error_json(err, &len);

    response_release(resp);
    http_response_json(resp, api_status_http(err->kind), body, len);
    /* RFC 9110: a 401 names the scheme the client should use */
    if (err->kind == API_UNAUTHORIZED)
        http_response_header(resp, "WWW-Authenticate", "Bearer");
    if (err->kind == API_TOO_MANY_REQUESTS) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", err->retry_after_s > 0 ? err->retry_after_s : 1);
        http_response_header(resp, "Retry-After", secs);
    }
}

/* Whether resp sets header name itself. */
static bool response_has_header(const struct http_response *resp, const char *name)
{
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        if (resp->header_names[i] != NULL && strcasecmp(resp->header_names[i], name) == 0)
            return true;
    return false;
}

/* Headers every answer carries: no content sniffing; JSON (the API's answers and errors) is never
 * stored by a cache unless the handler said otherwise; while draining, the connection closes
 * after the answer. */
static void add_common_headers(struct MHD_Response *r, const struct http_response *resp,
                               bool draining)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (resp->content_type != NULL && is_json(resp->content_type) &&
        !response_has_header(resp, "Cache-Control"))
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (draining)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Conditional GET (lib/http/etag.h): a complete 200 answer to GET or HEAD carries its ETag, and one
 * whose If-None-Match names that tag becomes 304 Not Modified, without the body. */
static void conditional_get(const struct http_request *req, struct http_response *resp)
{
    char tag[ETAG_LEN + 1];

    if (resp->status != 200 || resp->stream_read != NULL || resp->body == NULL ||
        (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) ||
        response_has_header(resp, "ETag"))
        return;
    etag_of(resp->body, resp->len, tag);
    if (http_response_header(resp, "ETag", tag) != 0)
        return; /* no room for the header: answered without a validator */
    if (!etag_none_match(http_request_header(req, "If-None-Match"), tag))
        return;
    if (!resp->body_static)
        free(resp->body);
    resp->body = (char *)(uintptr_t) "";
    resp->body_static = true;
    resp->len = 0;
    resp->status = 304;
    resp->content_type = NULL;
}

/* Queues resp on conn with the headers every answer carries; releases resp. */
static enum MHD_Result send_response(struct MHD_Connection *conn, const char *request_id,
                                     bool draining, struct http_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (resp->stream_read != NULL)
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, resp->stream_read,
                                              resp->stream_cls, resp->stream_free);
    else if (resp->body_static)
        r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_PERSISTENT);
    else
        r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        response_release(resp);
        return MHD_NO;
    }
    resp->body = NULL; /* MHD owns it now, and the stream's cls */
    resp->body_static = true;
    resp->stream_read = NULL;
    resp->stream_free = NULL;
    resp->stream_cls = NULL;
    if (resp->content_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (int i = 0; i < HTTP_MAX_HEADERS; i++) {
        if (resp->header_names[i] != NULL)
            MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
    }
    add_common_headers(r, resp, draining);
    MHD_add_response_header(r, "X-Request-Id", request_id);
    ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    response_release(resp);
    return ret;
}

/* MHD's first call for a request: its state, id, log context and route, and the authorize
 * hook's verdict, so that a refused body is never kept. Nothing is answered yet, so that MHD
 * keeps the connection alive. */
static void request_start(struct http_server *s, struct http_request *req, const char *url,
                          const char *method, void **req_cls)
{
    struct http_request_state *st = xcalloc(1, sizeof *st);

    st->start_us = deadline_now_us();
    request_id(req->conn, st);
    log_context_set(st->log_kv);
    *req_cls = st;
    pthread_mutex_lock(&s->mu);
    s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    router_find(s->opts.routes, s->opts.nroutes, method, url, &st->match);
    req->id = st->id;
    req->state = st;
    req->match = &st->match;
    if (s->opts.authorize != NULL && s->opts.authorize(s->opts.ctx, req, &st->refusal) != 0)
        st->refused = true;
}

/* A piece of the body: kept up to max_body bytes, past that (or when refused) discarded. */
static void request_body(struct http_server *s, struct http_request_state *st, const char *data,
                         size_t n)
{
    if (!st->too_large && !st->refused && st->body.len + n > s->opts.max_body) {
        st->too_large = true;
        buf_free(&st->body);
    }
    if (!st->too_large && !st->refused)
        buf_put(&st->body, data, n);
}

static enum MHD_Result handle_request(struct http_server *s, struct MHD_Connection *conn,
                                      const char *url, const char *method, const char *upload_data,
                                      size_t *upload_data_size, void **req_cls)
{
    struct http_request_state *st = *req_cls;
    struct http_response resp;
    struct api_error err;
    struct http_request req;
    int rc;

    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.method = method;
    req.path = url;
    req.body = (char *)(uintptr_t) "";
    client_address(s, conn, req.client, sizeof req.client);
    if (st == NULL) {
        request_start(s, &req, url, method, req_cls);
        return MHD_YES;
    }
    log_context_set(st->log_kv);
    if (*upload_data_size > 0) {
        request_body(s, st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    memset(&resp, 0, sizeof resp);
    memset(&err, 0, sizeof err);
    if (st->body.s != NULL)
        req.body = st->body.s;
    req.body_len = st->body.len;
    req.id = st->id;
    req.state = st;
    req.match = &st->match;

    if (st->refused) {
        error_response(&resp, &st->refusal);
    } else if (st->too_large) {
        api_error_set(&err, API_PAYLOAD_TOO_LARGE, "payload_too_large",
                      "request body exceeds %zu bytes", s->opts.max_body);
        error_response(&resp, &err);
    } else if (st->body.len > 0 && !is_json(MHD_lookup_connection_value(
                                       conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        api_error_set(&err, API_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                      "request body must be sent as application/json");
        error_response(&resp, &err);
    } else if ((rc = router_call(&st->match, s->opts.ctx, &req, &resp, &err)) == HTTP_SUSPENDED) {
        /* parked by the handler; MHD calls again once it is resumed */
        response_release(&resp);
        return MHD_YES;
    } else if (rc != 0) {
        error_response(&resp, &err);
        if (err.kind == API_INTERNAL || err.kind == API_UNAVAILABLE)
            log_warn("request failed", "status=%u code=%s", api_status_http(err.kind), err.code);
    }
    conditional_get(&req, &resp);
    http_metrics_observe(s->opts.metrics, &st->match, method, resp.status,
                         (double)(deadline_now_us() - st->start_us) / 1e6);
    return send_response(conn, st->id, atomic_load(&s->draining), &resp);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls)
{
    enum MHD_Result ret;

    (void)version;
    ret = handle_request(cls, conn, url, method, upload_data, upload_data_size, req_cls);
    log_context_set(NULL); /* the pool thread serves other requests next */
    return ret;
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_request_state *st = *req_cls;

    (void)conn;
    (void)toe;
    if (st != NULL) {
        handler_state_release(st);
        buf_free(&st->body);
        free(st);
        *req_cls = NULL;
        pthread_mutex_lock(&s->mu);
        if (--s->in_flight == 0)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
    }
}
