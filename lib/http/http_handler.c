/* http_handler: what a route's handler calls (lib/http/http.h): its request's query arguments and
 * headers, the suspension of its connection, and the answer it fills. */
#include "http/http.h"

#include "base/xalloc.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
