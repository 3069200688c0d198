#include "http/api_error.h"

#include "base/xalloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const unsigned http_status[] = {
    [API_OK] = 200,
    [API_BAD_REQUEST] = 400,
    [API_UNAUTHORIZED] = 401,
    [API_NOT_FOUND] = 404,
    [API_METHOD_NOT_ALLOWED] = 405,
    [API_CONFLICT] = 409,
    [API_PAYLOAD_TOO_LARGE] = 413,
    [API_UNSUPPORTED_MEDIA_TYPE] = 415,
    [API_UNPROCESSABLE] = 422,
    [API_TOO_MANY_REQUESTS] = 429,
    [API_INTERNAL] = 500,
    [API_UNAVAILABLE] = 503,
    [API_TIMEOUT] = 504,
};

unsigned api_status_http(enum api_status kind)
{
    if ((size_t)kind >= sizeof http_status / sizeof http_status[0])
        return 500;
    return http_status[kind];
}

/* Cuts an incomplete UTF-8 sequence off the end of s: snprintf truncates by bytes, and a field
 * or message quoting client input must stay valid UTF-8 to be sent (api_error_json). */
static void utf8_trim_tail(char *s)
{
    size_t len = strlen(s), i = len, need;
    unsigned char lead;

    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && len - i < 3)
        i--;
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    if (lead < 0xC0)
        return;
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (len - (i - 1) < need)
        s[i - 1] = '\0';
}

int api_error_set(struct api_error *e, enum api_status kind, const char *code, const char *fmt, ...)
{
    va_list ap;

    e->kind = kind;
    snprintf(e->code, sizeof e->code, "%s", code);
    e->field[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    utf8_trim_tail(e->message);
    return -1;
}

int api_error_rate_limited(struct api_error *e, unsigned retry_after_s, const char *fmt, ...)
{
    va_list ap;

    e->kind = API_TOO_MANY_REQUESTS;
    snprintf(e->code, sizeof e->code, "%s", "rate_limited");
    e->field[0] = '\0';
    e->retry_after_s = retry_after_s > 0 ? retry_after_s : 1;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

int api_error_field(struct api_error *e, const char *field, const char *fmt, ...)
{
    va_list ap;
    char detail[256];

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    e->kind = API_BAD_REQUEST;
    snprintf(e->code, sizeof e->code, "%s", "validation_error");
    snprintf(e->field, sizeof e->field, "%s", field);
    utf8_trim_tail(e->field);
    snprintf(e->message, sizeof e->message, "%s: %s", e->field, detail);
    utf8_trim_tail(e->message);
    return -1;
}

char *api_error_json(const struct api_error *e, size_t *len)
{
    json_t *inner = json_object();
    json_t *root = json_object();
    char *out;

    /* json_string rejects invalid UTF-8; messages may quote client input, so fall back */
    json_object_set_new(inner, "code", json_string(e->code));
    json_t *msg = json_string(e->message);
    json_object_set_new(inner, "message", msg != NULL ? msg : json_string("invalid request"));
    if (e->field[0] != '\0') {
        json_t *f = json_string(e->field);
        if (f != NULL)
            json_object_set_new(inner, "field", f);
    }
    json_object_set_new(root, "error", inner);
    out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (out == NULL)
        out = xstrdup("{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}");
    *len = strlen(out);
    return out;
}
