/* http: libmicrohttpd plumbing shared by the command and query APIs and the metrics listener.
 *
 * The server owns one struct http_request per request (allocated on MHD's first call, freed in
 * the completion callback). When its headers are in, the request is matched against the server's
 * route table, once (lib/http/router.h); the match is the request's (req->match) and serves every
 * later stage: the authorize hook, the handler, the request metrics. The body is accumulated up
 * to max_body bytes; a larger body is read and discarded and answered 413. A non-empty body whose
 * Content-Type is not application/json is answered 415. Everything else goes to the matched
 * route's handler (or is answered 404 or 405), which fills a struct http_response or returns -1
 * with a struct api_error that this module turns into the JSON error response.
 *
 * A handler may also answer with a body produced piece by piece (http_response_stream, used for
 * server-sent events): the daemon runs with MHD_ALLOW_SUSPEND_RESUME, so such a reader may
 * suspend its connection instead of blocking a pool thread (see lib/http/sse.h).
 *
 * A handler that must wait for something (read-your-writes, api/query/consistency.h) suspends
 * the request instead: it calls http_connection_suspend(req->conn) and returns HTTP_SUSPENDED,
 * which parks the connection without holding a pool thread; once another thread calls
 * http_connection_resume(conn), the handler is called again for the same request (and match).
 * What it needs across calls it keeps with http_request_set_state (freed when the request
 * completes, also if the client went away).
 *
 * Every answer carries X-Request-Id (see struct http_request's id).
 *
 * An optional authorize hook sees every request once its headers are in, before its body is
 * read: a refused request's body is read and discarded, not kept, and the request is answered
 * with the hook's error (a 401 gets "WWW-Authenticate: Bearer"), keeping the connection alive.
 *
 * The module's files: http.c a request's course (libmicrohttpd's callbacks), http_server.c the
 * server's start, drain and stop (lib/http/http_internal.h joins the two), http_handler.c what
 * handlers call. */
#ifndef CQ_HTTP_H
#define CQ_HTTP_H

#include "http/api_error.h"
#include "http/clientaddr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct MHD_Connection;
struct route;
struct route_match;
struct http_metrics;

/* A streamed body, with the contract of MHD's content reader: returns the bytes written to buf
 * (at most max), 0 only after suspending the connection, or -1 at the end of the stream. */
typedef ssize_t (*http_stream_read_fn)(void *cls, uint64_t pos, char *buf, size_t max);
/* Called once when the response is done with cls (also when it could not be sent). */
typedef void (*http_stream_free_fn)(void *cls);

struct http_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path; /* without the query string */
    char *body;       /* NUL-terminated, owned by the server */
    size_t body_len;
    /* the request id (lib/base/tracing.h): the client's X-Request-Id when valid, else a new one;
     * the answer carries it as X-Request-Id, and every line logged while a handler runs carries it
     * as req_id=... (lib/base/log.h's context); the same on every call */
    const char *id;
    char client[48]; /* the client's address (IPv4/IPv6 text; behind a trusted proxy, the one it
                        named), "" if unknown: what per-address limits count */
    struct http_request_state *state; /* the server's per-request state (opaque) */
    /* the route the request was matched to when its headers came in (lib/http/router.h): the
     * same on every call, NULL only in a request made up by a test */
    const struct route_match *match;
};

/* What a handler returns after http_connection_suspend(): no response yet, call me again. */
#define HTTP_SUSPENDED 1

#define HTTP_MAX_HEADERS 6

struct http_response {
    unsigned status;
    char *body; /* owned by the response unless body_static */
    size_t len;
    bool body_static; /* body is a literal or lives as long as the server */
    const char *content_type;
    const char *header_names[HTTP_MAX_HEADERS];
    char *header_values[HTTP_MAX_HEADERS]; /* owned by the response */
    http_stream_read_fn stream_read;       /* set: the body comes from stream_read */
    http_stream_free_fn stream_free;
    void *stream_cls; /* owned by the response until stream_free is called */
};

/* Returns 0 to let the request through, or -1 with err filled (typically API_UNAUTHORIZED).
 * Sees the method, path, headers and match (the route's access, lib/http/router.h); body is
 * empty. Runs in a pool thread: must not block. */
typedef int (*http_authorize_fn)(void *ctx, const struct http_request *req, struct api_error *err);

struct http_server_opts {
    const char *bind_address; /* IPv4 literal, e.g. 127.0.0.1 */
    uint16_t port;
    unsigned threads;
    size_t max_body;
    unsigned connection_limit;
    unsigned per_ip_connection_limit; /* 0: none */
    unsigned connection_timeout_s;
    /* reverse proxies whose X-Forwarded-For names the client (lib/http/clientaddr.h); NULL: none */
    const struct clientaddr_trust *trusted_proxies;
    /* the routes (lib/http/router.h; the table outlives the server): each handler returns 0
     * with resp filled, -1 with err filled, or HTTP_SUSPENDED (see above) */
    const struct route *routes;
    size_t nroutes;
    http_authorize_fn authorize; /* optional */
    /* optional: counts every answered request (also refusals and errors) by its route and status,
     * with the time from its headers to its answer being queued (lib/http/httpmetrics.h) */
    struct http_metrics *metrics;
    void *ctx;       /* the handlers' and the authorize hook's */
    const char *svc; /* for logs */
};

struct http_server;

/* Starts listening on opts->bind_address. NULL with err on failure. */
struct http_server *http_server_start(const struct http_server_opts *opts, char *err,
                                      size_t errlen);
/* Drain, step 1: stops accepting connections (the listening socket is closed by the stop);
 * requests already in keep on, and their answers close their connections. Idempotent. */
void http_server_quiesce(struct http_server *s);
/* Requests whose headers are in and whose answer has not been sent completely (also suspended
 * requests and open streams). */
size_t http_server_in_flight(struct http_server *s);
/* Waits up to timeout_ms until no request is in flight; returns true if none is. */
bool http_server_wait_idle(struct http_server *s, long timeout_ms);
/* Stops the daemon: connections still open are closed, answers not sent are lost (drain first). */
void http_server_stop(struct http_server *s);

const char *http_request_arg(const struct http_request *req, const char *key);
const char *http_request_header(const struct http_request *req, const char *key);
/* How many times header key (case-insensitive) was sent; *value is the first one, or NULL. */
unsigned http_request_header_count(const struct http_request *req, const char *key,
                                   const char **value);

/* Handler state kept across the calls of one suspended request: state is freed with
 * free_fn(state) when the request completes (or the server stops). Setting it again frees the
 * previous one. */
void http_request_set_state(const struct http_request *req, void *state,
                            void (*free_fn)(void *state));
void *http_request_get_state(const struct http_request *req);
/* Parks a request's connection: only from its handler, which then returns HTTP_SUSPENDED
 * without filling resp. */
void http_connection_suspend(struct MHD_Connection *conn);
/* Wakes a connection parked by http_connection_suspend: from any thread, exactly once per
 * suspend, and never after the request completed. Its handler is then called again. */
void http_connection_resume(struct MHD_Connection *conn);

/* Sets a JSON response; takes ownership of body (malloc'd). */
void http_response_json(struct http_response *resp, unsigned status, char *body, size_t len);
/* Sets a response whose body is a literal or otherwise outlives the request. */
void http_response_static(struct http_response *resp, unsigned status, const char *content_type,
                          const char *body, size_t len);
/* Sets a response of unknown length whose body stream_read produces (chunked); the response
 * owns cls and calls stream_free(cls) when done with it, whatever happens. */
void http_response_stream(struct http_response *resp, unsigned status, const char *content_type,
                          http_stream_read_fn stream_read, http_stream_free_fn stream_free,
                          void *cls);
/* Adds a header; value is copied. Returns 0, or -1 when there is no room. */
int http_response_header(struct http_response *resp, const char *name, const char *value);

#endif
