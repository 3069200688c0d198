#include "pg/pgwatch.h"

#include "base/backoff.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "pg/pg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PGWATCH_BACKOFF_MIN_MS 100
#define PGWATCH_BACKOFF_MAX_MS 5000
#define PGWATCH_MAX_SLEEP_MS 60000

struct pgwatch {
    struct pgwatch_opts opts;
    char names[128]; /* the channels, for the log */
    pthread_t thread;
    int wake[2]; /* pipe: pgwatch_wake and pgwatch_stop interrupt poll() */
    atomic_bool stop;
};

static void drain_wake(struct pgwatch *w)
{
    char buf[64];

    while (read(w->wake[0], buf, sizeof buf) > 0)
        ;
}

/* LISTENs on every channel. 0, or -1 with err. */
static int listen_all(struct pgwatch *w, PGconn *conn, char *err, size_t errlen)
{
    for (size_t i = 0; i < w->opts.nchannels; i++) {
        const char *ch = w->opts.channels[i];
        char *ident = PQescapeIdentifier(conn, ch, strlen(ch));
        char sql[160];
        PGresult *res;
        bool ok;

        if (ident == NULL) {
            pg_error_text(conn, NULL, err, errlen);
            return -1;
        }
        snprintf(sql, sizeof sql, "LISTEN %s", ident);
        PQfreemem(ident);
        res = PQexec(conn, sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            pg_error_text(conn, res, err, errlen);
        PQclear(res);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Reads what the server sent and hands each notification to on_notify; returns their number, or
 * -1 when the connection broke. */
static int drain_notifications(struct pgwatch *w, PGconn *conn)
{
    PGnotify *n;
    int count = 0;

    if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
        return -1;
    while ((n = PQnotifies(conn)) != NULL) {
        if (w->opts.on_notify != NULL)
            w->opts.on_notify(w->opts.cls, n->relname, n->extra != NULL ? n->extra : "");
        PQfreemem(n);
        count++;
    }
    return count;
}

/* Connects, LISTENs and tells the owner. The connection, or NULL with err. */
static PGconn *watch_connect(struct pgwatch *w, char *err, size_t errlen)
{
    PGconn *conn = pg_connect(w->opts.dsn, w->opts.app, NULL, 0, err, errlen);

    if (conn == NULL)
        return NULL;
    if (listen_all(w, conn, err, errlen) != 0)
        goto fail;
    /* from here on a commit is notified; one before is in what on_connect reads */
    if (w->opts.on_connect != NULL && w->opts.on_connect(w->opts.cls, conn) != 0)
        goto lost;
    /* notifications that came during on_connect's queries wait in libpq's buffer */
    if (drain_notifications(w, conn) < 0)
        goto lost;
    return conn;
lost:
    pg_error_text(conn, NULL, err, errlen);
    if (w->opts.on_lost != NULL)
        w->opts.on_lost(w->opts.cls);
fail:
    PQfinish(conn);
    return NULL;
}

static void watch_lost(struct pgwatch *w, PGconn *conn)
{
    char err[512], q[600];

    pg_error_text(conn, NULL, err, sizeof err);
    log_warn("lost the notification connection", "channels=%s error=%s", w->names,
             log_quote(q, sizeof q, err));
    if (w->opts.on_lost != NULL)
        w->opts.on_lost(w->opts.cls);
    PQfinish(conn);
}

static void *watch_main(void *arg)
{
    struct pgwatch *w = arg;
    PGconn *conn = NULL;
    struct backoff backoff;
    long long next_connect = 0;
    unsigned attempts = 0;
    char err[512], q[600];

    backoff_init(&backoff, PGWATCH_BACKOFF_MIN_MS, PGWATCH_BACKOFF_MAX_MS);
    while (!atomic_load(&w->stop)) {
        long long now = deadline_now_ms();
        if (conn == NULL && now >= next_connect) {
            conn = watch_connect(w, err, sizeof err);
            attempts++;
            if (conn != NULL) {
                log_info("listening for notifications", "channels=%s attempts=%u", w->names,
                         attempts);
                attempts = 0;
                backoff_reset(&backoff);
            } else {
                long delay = backoff_next(&backoff);
                log_warn("could not listen for notifications",
                         "channels=%s attempt=%u retry_ms=%ld error=%s", w->names, attempts, delay,
                         log_quote(q, sizeof q, err));
                next_connect = deadline_now_ms() + delay;
            }
        }

        /* the owner's work, then sleep until a notification, the time it asked for, the next
         * connect attempt, a wake-up or a stop */
        now = deadline_now_ms();
        long long wake_at = now + PGWATCH_MAX_SLEEP_MS;
        if (w->opts.on_tick != NULL && w->opts.on_tick(w->opts.cls, conn, now, &wake_at) != 0 &&
            conn != NULL) {
            watch_lost(w, conn);
            conn = NULL;
            next_connect = 0; /* at once; backoff if that fails */
            continue;
        }
        /* notifications that came while the tick's queries ran wait in libpq's buffer, where
         * poll() does not see them: hand them over now and tick again */
        if (conn != NULL) {
            int n = drain_notifications(w, conn);
            if (n > 0)
                continue;
            if (n < 0) {
                watch_lost(w, conn);
                conn = NULL;
                next_connect = 0;
                continue;
            }
        }
        if (conn == NULL && next_connect < wake_at)
            wake_at = next_connect;
        now = deadline_now_ms();
        long long wait = wake_at - now;
        if (wait > PGWATCH_MAX_SLEEP_MS)
            wait = PGWATCH_MAX_SLEEP_MS;
        struct pollfd p[2] = {{.fd = w->wake[0], .events = POLLIN},
                              {.fd = conn != NULL ? PQsocket(conn) : -1, .events = POLLIN}};
        int r = poll(p, 2, wait < 0 ? 0 : (int)wait);

        if (r < 0 && errno != EINTR) {
            log_error("poll failed", "channels=%s errno=%d", w->names, errno);
            break;
        }
        if (r > 0 && (p[0].revents & POLLIN))
            drain_wake(w);
        if (r > 0 && conn != NULL && p[1].revents != 0 && drain_notifications(w, conn) < 0) {
            watch_lost(w, conn);
            conn = NULL;
            next_connect = 0;
        }
    }
    if (conn != NULL && w->opts.on_lost != NULL)
        w->opts.on_lost(w->opts.cls);
    PQfinish(conn);
    return NULL;
}

struct pgwatch *pgwatch_start(const struct pgwatch_opts *opts, char *err, size_t errlen)
{
    struct pgwatch *w = xcalloc(1, sizeof *w);
    size_t o = 0;
    int rc;

    if (opts->nchannels == 0 || opts->nchannels > PGWATCH_MAX_CHANNELS) {
        snprintf(err, errlen, "could not start the watch thread: %zu channels (1 to %d)",
                 opts->nchannels, PGWATCH_MAX_CHANNELS);
        free(w);
        return NULL;
    }
    w->opts = *opts;
    for (size_t i = 0; i < opts->nchannels && o < sizeof w->names; i++)
        o += (size_t)snprintf(w->names + o, sizeof w->names - o, "%s%s", i > 0 ? "," : "",
                              opts->channels[i]);
    atomic_init(&w->stop, false);
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "could not create a pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc != 0) {
        snprintf(err, errlen, "could not start the watch thread: %s", strerror(rc));
        close(w->wake[0]);
        close(w->wake[1]);
        free(w);
        return NULL;
    }
    return w;
}

void pgwatch_wake(struct pgwatch *w)
{
    /* non-blocking: a full pipe already means "wake up" */
    if (write(w->wake[1], "x", 1) < 0 && errno != EAGAIN)
        log_warn("could not wake the watch thread", "errno=%d", errno);
}

void pgwatch_stop(struct pgwatch *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    pgwatch_wake(w);
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w);
}
