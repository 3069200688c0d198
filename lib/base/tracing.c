#include "base/tracing.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

bool tracing_request_id_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= TRACING_REQUEST_ID_MAX || c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return n > 0;
}

/* Fills buf with len random bytes: getrandom(2), else (never expected) the clock. */
static void random_bytes(unsigned char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < len) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = got; i < len; i++)
            buf[i] =
                (unsigned char)((unsigned long long)ts.tv_nsec >> (8 * (i % 4))) ^ (unsigned char)i;
    }
}

/* n random bytes as 2n lowercase hex digits at out (NUL-terminated). */
static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];

    random_bytes(b, nbytes);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

void tracing_request_id_new(char out[TRACING_REQUEST_ID_MAX + 1])
{
    random_hex(out, 16);
}

/* Whether s[0..n) are lowercase hex digits, not all '0' when nonzero is set. */
static bool hex_field(const char *s, size_t n, bool nonzero)
{
    bool any = false;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        any = any || c != '0';
    }
    return any || !nonzero;
}

bool tracing_traceparent_valid(const char *s)
{
    if (s == NULL || strlen(s) != TRACING_TRACEPARENT_LEN)
        return false;
    return s[0] == '0' && s[1] == '0' && s[2] == '-' && hex_field(s + 3, 32, true) &&
           s[35] == '-' && hex_field(s + 36, 16, true) && s[52] == '-' &&
           hex_field(s + 53, 2, false);
}

void tracing_traceparent_new(char out[TRACING_TRACEPARENT_LEN + 1])
{
    char trace[33], parent[17];

    do
        random_hex(trace, 16);
    while (!hex_field(trace, 32, true));
    do
        random_hex(parent, 8);
    while (!hex_field(parent, 16, true));
    snprintf(out, TRACING_TRACEPARENT_LEN + 1, "00-%s-%s-00", trace, parent);
}

void tracing_trace_id(const char *traceparent, char out[TRACING_TRACE_ID_LEN + 1])
{
    out[0] = '\0';
    if (!tracing_traceparent_valid(traceparent))
        return;
    memcpy(out, traceparent + 3, TRACING_TRACE_ID_LEN);
    out[TRACING_TRACE_ID_LEN] = '\0';
}
