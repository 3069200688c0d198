#include "http/http.h"

#include "http/etag.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/tracing.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_opts opts;
    /* Requests whose headers are in and whose completion callback has not run yet (also the
     * suspended ones and the streams): what a drain waits for. */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    size_t in_flight;
    atomic_bool draining; /* quiesced: answers say Connection: close */
    MHD_socket listen_fd; /* returned by MHD_quiesce_daemon, closed after the stop */
};

/* Per-request state: created on MHD's first call, freed in on_completed. */
struct http_request_state {
    char *body;
    size_t len, cap;
    bool too_large;
    bool refused; /* the authorize hook said no: the body is discarded, refusal answered */
    struct api_error refusal;
    char id[TRACING_REQUEST_ID_MAX + 1];     /* X-Request-Id */
    char log_kv[TRACING_REQUEST_ID_MAX + 8]; /* "req_id=<id>": the log context */
    void *handler_state;                     /* http_request_set_state */
    struct timespec start;                   /* headers in: for the observe hook */
    void (*handler_state_free)(void *);
};

const char *http_request_arg(const struct http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_request_header(const struct http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

struct header_count {
    const char *key;
    const char *first;
    unsigned n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct header_count *hc = cls;

    (void)kind;
    if (key != NULL && strcasecmp(key, hc->key) == 0) {
        if (hc->n++ == 0)
            hc->first = value;
    }
    return MHD_YES;
}

unsigned http_request_header_count(const struct http_request *req, const char *key,
                                   const char **value)
{
    struct header_count hc = {.key = key};

    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &hc);
    if (value != NULL)
        *value = hc.first;
    return hc.n;
}

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

void http_connection_suspend(struct MHD_Connection *conn)
{
    MHD_suspend_connection(conn);
}

void http_connection_resume(struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
}

void http_response_json(struct http_response *resp, unsigned status, char *body, size_t len)
{
    resp->status = status;
    resp->body = body;
    resp->len = len;
    resp->body_static = false;
    resp->content_type = "application/json";
}

void http_response_static(struct http_response *resp, unsigned status, const char *content_type,
                          const char *body, size_t len)
{
    resp->status = status;
    resp->body = (char *)(uintptr_t)body;
    resp->len = len;
    resp->body_static = true;
    resp->content_type = content_type;
}

void http_response_stream(struct http_response *resp, unsigned status, const char *content_type,
                          http_stream_read_fn stream_read, http_stream_free_fn stream_free,
                          void *cls)
{
    resp->status = status;
    resp->body = NULL;
    resp->len = 0;
    resp->body_static = true;
    resp->content_type = content_type;
    resp->stream_read = stream_read;
    resp->stream_free = stream_free;
    resp->stream_cls = cls;
}

int http_response_header(struct http_response *resp, const char *name, const char *value)
{
    for (int i = 0; i < HTTP_MAX_HEADERS; i++) {
        if (resp->header_names[i] == NULL) {
            resp->header_names[i] = name;
            resp->header_values[i] = xstrdup(value);
            return 0;
        }
    }
    return -1;
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

static bool is_json_content_type(const char *ct)
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
static void add_common_headers(const struct http_server *s, struct MHD_Response *r,
                               const struct http_response *resp)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (resp->content_type != NULL && is_json_content_type(resp->content_type) &&
        !response_has_header(resp, "Cache-Control"))
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (atomic_load(&s->draining))
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

static enum MHD_Result send_response(const struct http_server *s, struct MHD_Connection *conn,
                                     const struct http_request_state *st,
                                     struct http_response *resp)
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
    add_common_headers(s, r, resp);
    MHD_add_response_header(r, "X-Request-Id", st->id);
    ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    response_release(resp);
    return ret;
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

static enum MHD_Result handle_request(struct http_server *s, struct MHD_Connection *conn,
                                      const char *url, const char *method, const char *upload_data,
                                      size_t *upload_data_size, void **req_cls)
{
    struct http_request_state *st = *req_cls;
    struct http_response resp;
    struct api_error err;
    struct http_request req;
    int rc;

    req.conn = conn;
    req.method = method;
    req.path = url;
    req.body = (char *)(uintptr_t) "";
    req.body_len = 0;
    client_address(s, conn, req.client, sizeof req.client);
    if (st == NULL) {
        /* first call: set up state only, so MHD keeps the connection alive; the authorize hook
         * decides now, so a refused body is never kept */
        st = xcalloc(1, sizeof *st);
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        request_id(conn, st);
        log_context_set(st->log_kv);
        *req_cls = st;
        pthread_mutex_lock(&s->mu);
        s->in_flight++;
        pthread_mutex_unlock(&s->mu);
        req.id = st->id;
        req.state = st;
        if (s->opts.authorize != NULL && s->opts.authorize(s->opts.ctx, &req, &st->refusal) != 0)
            st->refused = true;
        return MHD_YES;
    }
    log_context_set(st->log_kv);
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        if (!st->too_large && !st->refused && st->len + n > s->opts.max_body) {
            st->too_large = true;
            free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
        }
        if (!st->too_large && !st->refused) {
            if (st->len + n + 1 > st->cap) {
                st->cap = (st->len + n + 1) * 2;
                if (st->cap > s->opts.max_body + 1)
                    st->cap = s->opts.max_body + 1;
                st->body = xrealloc(st->body, st->cap);
            }
            memcpy(st->body + st->len, upload_data, n);
            st->len += n;
            st->body[st->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    memset(&resp, 0, sizeof resp);
    memset(&err, 0, sizeof err);
    req.body = st->body != NULL ? st->body : (char *)(uintptr_t) "";
    req.body_len = st->len;
    req.id = st->id;
    req.state = st;

    if (st->refused) {
        error_response(&resp, &st->refusal);
    } else if (st->too_large) {
        api_error_set(&err, API_PAYLOAD_TOO_LARGE, "payload_too_large",
                      "request body exceeds %zu bytes", s->opts.max_body);
        error_response(&resp, &err);
    } else if (st->len > 0 &&
               !is_json_content_type(http_request_header(&req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        api_error_set(&err, API_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                      "request body must be sent as application/json");
        error_response(&resp, &err);
    } else if ((rc = s->opts.handler(s->opts.ctx, &req, &resp, &err)) == HTTP_SUSPENDED) {
        /* parked by the handler; MHD calls again once it is resumed */
        response_release(&resp);
        return MHD_YES;
    } else if (rc != 0) {
        error_response(&resp, &err);
        if (err.kind == API_INTERNAL || err.kind == API_UNAVAILABLE)
            log_warn("request failed", "status=%u code=%s", api_status_http(err.kind), err.code);
    }
    conditional_get(&req, &resp);
    if (s->opts.observe != NULL) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        s->opts.observe(s->opts.ctx, &req, resp.status,
                        (double)(now.tv_sec - st->start.tv_sec) +
                            (double)(now.tv_nsec - st->start.tv_nsec) / 1e9);
    }
    return send_response(s, conn, st, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    enum MHD_Result ret;

    (void)version;
    ret = handle_request(cls, conn, url, method, upload_data, upload_data_size, req_cls);
    log_context_set(NULL); /* the pool thread serves other requests next */
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_request_state *st = *req_cls;

    (void)conn;
    (void)toe;
    if (st != NULL) {
        handler_state_release(st);
        free(st->body);
        free(st);
        *req_cls = NULL;
        pthread_mutex_lock(&s->mu);
        if (--s->in_flight == 0)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
    }
}

/* libmicrohttpd's own messages, as log lines. "Failed to send ..." means the client went away
 * while a response was being written: routine for event streams, whose clients just leave. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512], q[600];
    size_t n;

    (void)cls;
    vsnprintf(text, sizeof text, fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    log_emit(strncmp(text, "Failed to send", 14) == 0 ? LOG_DEBUG : LOG_WARN, "libmicrohttpd",
             "text=%s", log_quote(q, sizeof q, text));
}

static void http_server_free(struct http_server *s)
{
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

struct http_server *http_server_start(const struct http_server_opts *opts, char *err, size_t errlen)
{
    struct http_server *s = xcalloc(1, sizeof *s);
    struct sockaddr_in addr;

    s->opts = *opts;
    s->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(opts->port);
    if (inet_pton(AF_INET, opts->bind_address, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "invalid bind address \"%s\"", opts->bind_address);
        http_server_free(s);
        return NULL;
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC,
        opts->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, opts->threads,
        MHD_OPTION_CONNECTION_LIMIT, opts->connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        opts->per_ip_connection_limit, MHD_OPTION_CONNECTION_TIMEOUT, opts->connection_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(err, errlen, "could not listen on %s:%u", opts->bind_address,
                 (unsigned)opts->port);
        http_server_free(s);
        return NULL;
    }
    return s;
}

void http_server_quiesce(struct http_server *s)
{
    if (atomic_exchange(&s->draining, true))
        return;
    s->listen_fd = MHD_quiesce_daemon(s->daemon);
}

size_t http_server_in_flight(struct http_server *s)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool http_server_wait_idle(struct http_server *s, long timeout_ms)
{
    bool idle;

    pthread_mutex_lock(&s->mu);
    idle = deadline_wait_zero(&s->mu, &s->idle, &s->in_flight, timeout_ms);
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void http_server_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    if (s->listen_fd != MHD_INVALID_SOCKET)
        close(s->listen_fd);
    http_server_free(s);
}
