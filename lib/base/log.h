/* log: one logfmt line per event on stdout:
 *   ts=2026-11-22T10:00:00.123Z level=info svc=relay msg="published batch" count=500
 * log_init() is called once by main before any thread starts; afterwards the settings are
 * read-only. Callers pass extra key=value pairs as a printf format; values that may contain
 * spaces or quotes go through log_quote(). Never pass secrets. */
#ifndef CQ_LOG_H
#define CQ_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Returns 0, or -1 if level_name is not debug|info|warn|error. */
__attribute__((warn_unused_result)) int log_init(const char *svc, const char *level_name);

int log_enabled(enum log_level level);

/* msg is quoted; kv_fmt (may be NULL) is appended verbatim after formatting. */
void log_emit(enum log_level level, const char *msg, const char *kv_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The calling thread's context: kv (pairs such as "req_id=abc") is written after msg on every
 * line this thread logs until log_context_set(NULL). kv is not copied: it must stay valid until
 * then (lib/http/http.c sets the request's id for each call of a handler). */
void log_context_set(const char *kv);

/* Writes s as a logfmt-safe quoted value into buf (always NUL-terminated); returns buf. */
const char *log_quote(char *buf, size_t len, const char *s);

#define log_debug(...) log_emit(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERROR, __VA_ARGS__)

#endif
