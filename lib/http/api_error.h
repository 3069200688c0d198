/* api_error: the typed error every handler returns, and the one place that maps it to an HTTP
 * status. Bodies are {"error": {"code": "...", "message": "...", "field": "..."}} ("field" only
 * when one input field is to blame). */
#ifndef CQ_API_ERROR_H
#define CQ_API_ERROR_H

#include <stddef.h>

enum api_status {
    API_OK = 0,
    API_BAD_REQUEST,
    API_UNAUTHORIZED,
    API_NOT_FOUND,
    API_METHOD_NOT_ALLOWED,
    API_CONFLICT,
    API_PAYLOAD_TOO_LARGE,
    API_UNSUPPORTED_MEDIA_TYPE,
    API_UNPROCESSABLE,
    API_TOO_MANY_REQUESTS,
    API_INTERNAL,
    API_UNAVAILABLE,
    API_TIMEOUT,
};

struct api_error {
    enum api_status kind;
    char code[48];
    char message[384];
    char field[96];
    unsigned retry_after_s; /* API_TOO_MANY_REQUESTS: sent as Retry-After (at least 1) */
};

/* Fills e and returns -1, so handlers can `return api_error_set(...)`. */
int api_error_set(struct api_error *e, enum api_status kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like api_error_set, naming the input field to blame. */
int api_error_field(struct api_error *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 429 rate_limited, to be retried after retry_after_s seconds (Retry-After). */
int api_error_rate_limited(struct api_error *e, unsigned retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

unsigned api_status_http(enum api_status kind);

/* Returns the JSON body for e; the caller frees it. */
char *api_error_json(const struct api_error *e, size_t *len);

#endif
