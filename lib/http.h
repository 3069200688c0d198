/* http: libmicrohttpd plumbing shared by the command and query APIs.
 *
 * The server owns one struct http_request per request (allocated on MHD's first call, freed in
 * the completion callback). The body is accumulated up to max_body bytes; a larger body is read
 * and discarded and answered 413. A non-empty body whose Content-Type is not application/json is
 * answered 415. Everything else goes to the handler, which fills a struct http_response or
 * returns -1 with a struct api_error that this module turns into the JSON error response.
 *
 * A handler may also answer with a body produced piece by piece (http_response_stream, used for
 * server-sent events): the daemon runs with MHD_ALLOW_SUSPEND_RESUME, so such a reader may
 * suspend its connection instead of blocking a pool thread (see lib/sse.h). */
#ifndef CQ_HTTP_H
#define CQ_HTTP_H

#include "api_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct MHD_Connection;

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
    unsigned long long id; /* request id, for logs */
};

#define HTTP_MAX_HEADERS 4

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

/* Returns 0 with resp filled, or -1 with err filled. */
typedef int (*http_handler_fn)(void *ctx, const struct http_request *req,
                               struct http_response *resp, struct api_error *err);

struct http_server_opts {
    const char *bind_address; /* IPv4 literal, e.g. 127.0.0.1 */
    uint16_t port;
    unsigned threads;
    size_t max_body;
    unsigned connection_limit;
    unsigned connection_timeout_s;
    http_handler_fn handler;
    void *ctx;
    const char *svc; /* for logs */
};

struct http_server;

/* Starts listening on opts->bind_address. NULL with err on failure. */
struct http_server *http_server_start(const struct http_server_opts *opts, char *err,
                                      size_t errlen);
void http_server_stop(struct http_server *s);

const char *http_request_arg(const struct http_request *req, const char *key);
const char *http_request_header(const struct http_request *req, const char *key);

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
