#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Read-only after log_init(), which runs before any thread starts. */
static struct {
    const char *svc;
    enum log_level level;
} log_cfg = {"cqrs", LOG_INFO};

/* log_context_set: this thread's pairs, or NULL */
static _Thread_local const char *log_context;

void log_context_set(const char *kv)
{
    log_context = kv;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_init(const char *svc, const char *level_name)
{
    log_cfg.svc = svc;
    for (int i = 0; i < 4; i++) {
        if (strcmp(level_name, level_names[i]) == 0) {
            log_cfg.level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(enum log_level level)
{
    return level >= log_cfg.level;
}

const char *log_quote(char *buf, size_t len, const char *s)
{
    size_t o = 0;

    if (len < 3) {
        if (len > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s != NULL && *s != '\0' && o + 3 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void log_emit(enum log_level level, const char *msg, const char *kv_fmt, ...)
{
    char line[2048];
    char qmsg[512];
    struct timespec ts;
    struct tm tm;
    int n;

    if (!log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(
        line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s msg=%s",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000, level_names[level], log_cfg.svc, log_quote(qmsg, sizeof qmsg, msg));
    if (n < 0)
        return;
    if (log_context != NULL && (size_t)n + 1 < sizeof line) {
        int m = snprintf(line + n, sizeof line - (size_t)n, " %s", log_context);
        if (m > 0)
            n += m;
        if ((size_t)n >= sizeof line)
            n = (int)sizeof line - 1;
    }
    if (kv_fmt != NULL && (size_t)n + 1 < sizeof line) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, kv_fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, kv_fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* one fwrite per line keeps lines from different threads whole */
    fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
}
