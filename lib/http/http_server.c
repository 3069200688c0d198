/* http_server: the life of lib/http/http.h's server: libmicrohttpd's daemon started on the
 * bind address with the request callbacks of lib/http/http.c, the drain (stop accepting, wait
 * for the requests in flight) and the stop; libmicrohttpd's own messages as log lines. */
#include "http/http_internal.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        opts->port, NULL, NULL, http_on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, opts->threads,
        MHD_OPTION_CONNECTION_LIMIT, opts->connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        opts->per_ip_connection_limit, MHD_OPTION_CONNECTION_TIMEOUT, opts->connection_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, s, MHD_OPTION_END);
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
