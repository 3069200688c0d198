#include "consistency.h"

#include "service/apiserver.h"
#include "base/backoff.h"
#include "base/deadline.h"
#include "base/log.h"
#include "pg/pg.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long consistency_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the token ----------------------------------------------------------------------------------
 */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != CONSISTENCY_UUID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

int consistency_token_parse(const char *value, struct consistency_token *tok, struct api_error *err)
{
    const char *p = value;

    tok->n = 0;
    for (;;) {
        const char *end;
        size_t n;

        while (*p == ' ' || *p == '\t')
            p++;
        end = p;
        while (*end != '\0' && *end != ',')
            end++;
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (!is_uuid(p, n))
            return api_error_field(err, CONSISTENCY_HEADER,
                                   "must be the event ids (UUIDs, comma-separated) a command "
                                   "answered with");
        if (tok->n == CONSISTENCY_MAX_IDS)
            return api_error_field(err, CONSISTENCY_HEADER, "must hold at most %d event ids",
                                   CONSISTENCY_MAX_IDS);
        for (size_t i = 0; i < n; i++)
            tok->ids[tok->n][i] = (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
        tok->ids[tok->n][n] = '\0';
        tok->n++;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

void consistency_token_array(const struct consistency_token *tok, char *buf, size_t len)
{
    size_t o = 0;

    o += (size_t)snprintf(buf + o, len - o, "{");
    for (size_t i = 0; i < tok->n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i > 0 ? "," : "", tok->ids[i]);
    if (o < len)
        snprintf(buf + o, len - o, "}");
}

/* --- the hub ------------------------------------------------------------------------------------
 */

/* One request's wait. Linked into the hub's list while parked; every field but the token and the
 * deadline is guarded by the hub's mutex. */
struct consistency_wait {
    struct consistency_wait *prev, *next;
    struct consistency_hub *hub;
    struct MHD_Connection *conn;
    bool parked;
    bool done; /* the read model had every event: no more checks (handler thread only) */
    long long deadline_ms;
    long long started_ms;
    char client[48]; /* the client's address: "" counts against no per-address limit */
    char array[CONSISTENCY_ARRAY_MAX];
};

struct consistency_hub {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    struct consistency_wait parked; /* circular list head */
    size_t nparked, max_waiters;
    size_t per_ip;      /* parked waits per client address; 0: no limit */
    size_t nwaits;      /* waits alive (parked or not) */
    uint64_t seq;       /* notifications so far */
    long long armed_ms; /* the watch thread sleeps until then at the latest */
    bool closed;
    void (*suspend)(struct MHD_Connection *);
    void (*resume)(struct MHD_Connection *);
    void (*wake)(void *);
    void *wake_cls;
};

struct consistency_hub *consistency_hub_new(size_t max_waiters)
{
    struct consistency_hub *h = xcalloc(1, sizeof *h);

    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->parked.prev = h->parked.next = &h->parked;
    h->max_waiters = max_waiters;
    h->armed_ms = LLONG_MAX;
    h->suspend = http_connection_suspend;
    h->resume = http_connection_resume;
    return h;
}

void consistency_hub_free(struct consistency_hub *h)
{
    if (h == NULL)
        return;
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void consistency_hub_set_conn_ops(struct consistency_hub *h,
                                  void (*suspend)(struct MHD_Connection *),
                                  void (*resume)(struct MHD_Connection *))
{
    h->suspend = suspend;
    h->resume = resume;
}

void consistency_hub_set_waker(struct consistency_hub *h, void (*wake)(void *cls), void *cls)
{
    pthread_mutex_lock(&h->mu);
    h->wake = wake;
    h->wake_cls = cls;
    pthread_mutex_unlock(&h->mu);
}

struct consistency_wait *consistency_wait_new(struct consistency_hub *h,
                                              const struct consistency_token *tok,
                                              long long deadline_ms)
{
    struct consistency_wait *w = xcalloc(1, sizeof *w);

    w->hub = h;
    w->deadline_ms = deadline_ms;
    w->started_ms = consistency_now_ms();
    consistency_token_array(tok, w->array, sizeof w->array);
    pthread_mutex_lock(&h->mu);
    h->nwaits++;
    pthread_mutex_unlock(&h->mu);
    return w;
}

/* Called with the hub's mutex held. */
static void unlink_wait(struct consistency_hub *h, struct consistency_wait *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->parked = false;
    h->nparked--;
}

void consistency_wait_free(void *p)
{
    struct consistency_wait *w = p;
    struct consistency_hub *h;

    if (w == NULL)
        return;
    h = w->hub;
    pthread_mutex_lock(&h->mu);
    if (w->parked) /* only if the server stopped with it parked: never resume it */
        unlink_wait(h, w);
    if (--h->nwaits == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
    free(w);
}

void consistency_wait_set_client(struct consistency_wait *w, const char *client)
{
    snprintf(w->client, sizeof w->client, "%s", client);
}

void consistency_hub_set_per_ip_limit(struct consistency_hub *h, size_t per_ip)
{
    pthread_mutex_lock(&h->mu);
    h->per_ip = per_ip;
    pthread_mutex_unlock(&h->mu);
}

/* Parked waits of client address client. Called with the hub's mutex held. */
static size_t parked_of(const struct consistency_hub *h, const char *client)
{
    size_t n = 0;

    for (const struct consistency_wait *w = h->parked.next; w != &h->parked; w = w->next)
        n += strcmp(w->client, client) == 0;
    return n;
}

const char *consistency_wait_array(const struct consistency_wait *w)
{
    return w->array;
}

long long consistency_wait_deadline(const struct consistency_wait *w)
{
    return w->deadline_ms;
}

uint64_t consistency_hub_seq(struct consistency_hub *h)
{
    uint64_t seq;

    pthread_mutex_lock(&h->mu);
    seq = h->seq;
    pthread_mutex_unlock(&h->mu);
    return seq;
}

enum consistency_park consistency_hub_park(struct consistency_hub *h, struct consistency_wait *w,
                                           struct MHD_Connection *conn, uint64_t seen)
{
    enum consistency_park r = CONSISTENCY_PARKED;

    pthread_mutex_lock(&h->mu);
    if (h->closed) {
        r = CONSISTENCY_CLOSED;
    } else if (h->seq != seen) {
        r = CONSISTENCY_RECHECK;
    } else if (h->nparked >= h->max_waiters) {
        r = CONSISTENCY_FULL;
    } else if (h->per_ip > 0 && w->client[0] != '\0' && parked_of(h, w->client) >= h->per_ip) {
        r = CONSISTENCY_PER_IP_FULL;
    } else {
        w->conn = conn;
        w->parked = true;
        w->next = &h->parked;
        w->prev = h->parked.prev;
        w->prev->next = w;
        h->parked.prev = w;
        h->nparked++;
        h->suspend(conn);
        if (w->deadline_ms < h->armed_ms) {
            h->armed_ms = w->deadline_ms;
            if (h->wake != NULL)
                h->wake(h->wake_cls);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return r;
}

/* Resumes the parked waits: all, or those due by now_ms. Called with the hub's mutex held. */
static void resume_where(struct consistency_hub *h, long long now_ms, bool expired_only)
{
    struct consistency_wait *w = h->parked.next;

    while (w != &h->parked) {
        struct consistency_wait *next = w->next;
        if (!expired_only || w->deadline_ms <= now_ms) {
            struct MHD_Connection *conn = w->conn;
            unlink_wait(h, w);
            h->resume(conn);
        }
        w = next;
    }
}

void consistency_hub_notify(struct consistency_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->seq++;
    resume_where(h, 0, false);
    pthread_mutex_unlock(&h->mu);
}

long long consistency_hub_expire(struct consistency_hub *h, long long now_ms)
{
    long long next = LLONG_MAX;

    pthread_mutex_lock(&h->mu);
    resume_where(h, now_ms, true);
    for (struct consistency_wait *w = h->parked.next; w != &h->parked; w = w->next) {
        if (w->deadline_ms < next)
            next = w->deadline_ms;
    }
    h->armed_ms = next;
    pthread_mutex_unlock(&h->mu);
    return next == LLONG_MAX ? -1 : next;
}

void consistency_hub_close(struct consistency_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    resume_where(h, 0, false);
    pthread_mutex_unlock(&h->mu);
}

bool consistency_hub_wait_idle(struct consistency_hub *h, long timeout_ms)
{
    bool idle;

    pthread_mutex_lock(&h->mu);
    idle = deadline_wait_zero(&h->mu, &h->idle, &h->nwaits, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return idle;
}

size_t consistency_hub_parked(struct consistency_hub *h)
{
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = h->nparked;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* --- the LISTEN thread --------------------------------------------------------------------------
 */

struct consistency {
    struct consistency_opts opts;
    struct consistency_hub *hub;
    pthread_t thread;
    bool running;
    int wake[2]; /* pipe: stop and the hub's waker interrupt poll() */
    atomic_bool stop;
};

static void wake_thread(void *cls)
{
    struct consistency *c = cls;

    /* non-blocking: a full pipe already means "wake up" */
    if (write(c->wake[1], "x", 1) < 0 && errno != EAGAIN)
        log_warn("could not wake the consistency thread", "errno=%d", errno);
}

static void drain_wake(struct consistency *c)
{
    char buf[64];

    while (read(c->wake[0], buf, sizeof buf) > 0)
        ;
}

static PGconn *listen_connect(struct consistency *c, char *err, size_t errlen)
{
    PGconn *conn = pg_connect(c->opts.dsn, c->opts.app, NULL, 0, err, errlen);
    PGresult *res;

    if (conn == NULL)
        return NULL;
    res = PQexec(conn, "LISTEN " CONSISTENCY_CHANNEL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_error_text(conn, res, err, errlen);
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    PQclear(res);
    return conn;
}

/* Reads what the server sent, handing each payload to on_payload; returns the number of
 * notifications, or -1 when the connection broke. */
static int drain_notifications(struct consistency *c, PGconn *conn)
{
    PGnotify *n;
    int count = 0;

    if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
        return -1;
    while ((n = PQnotifies(conn)) != NULL) {
        if (c->opts.on_payload != NULL)
            c->opts.on_payload(c->opts.cls, n->extra != NULL ? n->extra : "");
        PQfreemem(n);
        count++;
    }
    return count;
}

static void tell_listening(struct consistency *c, PGconn *conn)
{
    if (c->opts.on_listen != NULL)
        c->opts.on_listen(c->opts.cls, conn);
}

static void *listen_main(void *arg)
{
    struct consistency *c = arg;
    PGconn *conn = NULL;
    struct backoff backoff;
    long long next_connect = 0;
    unsigned attempts = 0;
    char err[512], q[600];

    backoff_init(&backoff, 100, 5000);
    while (!atomic_load(&c->stop)) {
        long long now = consistency_now_ms();
        if (conn == NULL && now >= next_connect) {
            conn = listen_connect(c, err, sizeof err);
            attempts++;
            if (conn != NULL) {
                log_info("listening for notifications", "channel=%s attempts=%u",
                         CONSISTENCY_CHANNEL, attempts);
                attempts = 0;
                backoff_reset(&backoff);
                tell_listening(c, conn);
                /* notifications that came during on_listen's queries wait in libpq's buffer */
                if (drain_notifications(c, conn) < 0) {
                    tell_listening(c, NULL);
                    PQfinish(conn);
                    conn = NULL;
                }
                /* whatever was committed while nobody listened: every parked request checks */
                consistency_hub_notify(c->hub);
            } else {
                long delay = backoff_next(&backoff);
                log_warn("could not listen for notifications",
                         "channel=%s attempt=%u retry_ms=%ld error=%s", CONSISTENCY_CHANNEL,
                         attempts, delay, log_quote(q, sizeof q, err));
                next_connect = now + delay;
            }
        }

        /* sleep until a notification, the next deadline, the next connect attempt or a stop */
        now = consistency_now_ms();
        long long wake_at = consistency_hub_expire(c->hub, now);
        if (wake_at < 0 || wake_at > now + 60000)
            wake_at = now + 60000;
        if (conn == NULL && next_connect < wake_at)
            wake_at = next_connect;
        long long wait = wake_at - now;
        struct pollfd p[2] = {{.fd = c->wake[0], .events = POLLIN},
                              {.fd = conn != NULL ? PQsocket(conn) : -1, .events = POLLIN}};
        int r = poll(p, 2, wait < 0 ? 0 : (int)wait);

        if (r < 0 && errno != EINTR) {
            log_error("poll failed", "channel=%s errno=%d", CONSISTENCY_CHANNEL, errno);
            break;
        }
        if (r > 0 && (p[0].revents & POLLIN))
            drain_wake(c);
        if (r > 0 && conn != NULL && p[1].revents != 0) {
            int n = drain_notifications(c, conn);
            if (n > 0) {
                consistency_hub_notify(c->hub);
            } else if (n < 0) {
                pg_error_text(conn, NULL, err, sizeof err);
                log_warn("lost the notification connection", "channel=%s error=%s",
                         CONSISTENCY_CHANNEL, log_quote(q, sizeof q, err));
                tell_listening(c, NULL);
                PQfinish(conn);
                conn = NULL;
                next_connect = 0; /* at once; backoff if that fails */
            }
        }
    }
    if (conn != NULL)
        tell_listening(c, NULL);
    PQfinish(conn);
    return NULL;
}

struct consistency *consistency_start(const struct consistency_opts *opts, char *err, size_t errlen)
{
    struct consistency *c = xcalloc(1, sizeof *c);
    int rc;

    c->opts = *opts;
    atomic_init(&c->stop, false);
    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "could not create a pipe: %s", strerror(errno));
        free(c);
        return NULL;
    }
    c->hub = consistency_hub_new(opts->max_waiters);
    consistency_hub_set_per_ip_limit(c->hub, opts->per_ip_waiters);
    consistency_hub_set_waker(c->hub, wake_thread, c);
    rc = pthread_create(&c->thread, NULL, listen_main, c);
    if (rc != 0) {
        snprintf(err, errlen, "could not start the consistency thread: %s", strerror(rc));
        consistency_hub_free(c->hub);
        close(c->wake[0]);
        close(c->wake[1]);
        free(c);
        return NULL;
    }
    c->running = true;
    return c;
}

void consistency_stop(struct consistency *c)
{
    size_t parked;

    if (c == NULL || !c->running)
        return;
    atomic_store(&c->stop, true);
    wake_thread(c);
    pthread_join(c->thread, NULL);
    c->running = false;
    parked = consistency_hub_parked(c->hub);
    consistency_hub_close(c->hub);
    /* the resumed requests answer 503; MHD must not stop while one is still suspended */
    if (!consistency_hub_wait_idle(c->hub, 2000))
        log_warn("requests still waiting for consistency at shutdown", NULL);
    log_info("consistency waits closed", "parked=%zu", parked);
}

void consistency_free(struct consistency *c)
{
    if (c == NULL)
        return;
    consistency_stop(c);
    consistency_hub_free(c->hub);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c);
}

/* --- the handler side ---------------------------------------------------------------------------
 */

int consistency_gate(struct consistency *c, PGconn *conn, const struct http_request *req,
                     struct api_error *err)
{
    struct consistency_wait *w = http_request_get_state(req);

    if (w == NULL) {
        struct consistency_token tok;
        const char *value;
        unsigned count = http_request_header_count(req, CONSISTENCY_HEADER, &value);

        if (count == 0)
            return 0;
        if (count > 1)
            return api_error_field(err, CONSISTENCY_HEADER, "must be sent once, not %u times",
                                   count);
        if (consistency_token_parse(value != NULL ? value : "", &tok, err) != 0)
            return -1;
        if (c == NULL)
            return api_error_set(err, API_UNAVAILABLE, "unavailable",
                                 "read-your-writes is not running, retry later");
        w = consistency_wait_new(c->hub, &tok, consistency_now_ms() + c->opts.wait_ms);
        consistency_wait_set_client(w, req->client);
        http_request_set_state(req, w, consistency_wait_free);
    }
    if (w->done)
        return 0;
    for (;;) {
        uint64_t seen = consistency_hub_seq(c->hub);
        const char *params[] = {w->array};
        PGresult *res = PQexecPrepared(conn, "events_applied", 1, params, NULL, NULL, 0);
        bool applied;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            int rc = PQstatus(conn) != CONNECTION_OK ? -2 : apiserver_db_error(conn, res, err);
            PQclear(res);
            return rc;
        }
        applied = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (applied) {
            w->done = true;
            log_debug("read model caught up", "waited_ms=%lld",
                      consistency_now_ms() - w->started_ms);
            return 0;
        }
        if (consistency_now_ms() >= w->deadline_ms) {
            log_info("consistency wait timed out", "waited_ms=%lld token=%s",
                     consistency_now_ms() - w->started_ms, w->array);
            return api_error_set(err, API_TIMEOUT, "consistency_timeout",
                                 "the read model did not include the events of "
                                 "X-Consistency-Token within %ld ms; retry later",
                                 c->opts.wait_ms);
        }
        switch (consistency_hub_park(c->hub, w, req->conn, seen)) {
        case CONSISTENCY_PARKED:
            return HTTP_SUSPENDED;
        case CONSISTENCY_RECHECK:
            continue;
        case CONSISTENCY_CLOSED:
            return api_error_set(err, API_UNAVAILABLE, "unavailable",
                                 "the server is shutting down, retry later");
        case CONSISTENCY_FULL:
            return api_error_set(err, API_UNAVAILABLE, "unavailable",
                                 "too many requests are waiting for their writes, retry later");
        case CONSISTENCY_PER_IP_FULL:
            return api_error_rate_limited(err, CONSISTENCY_PER_IP_RETRY_S,
                                          "too many requests of this address are waiting for "
                                          "their writes");
        }
    }
}
