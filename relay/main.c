/* relay: publishes the write DB's outbox to RabbitMQ (transactional outbox pattern).
 *
 * One relay at a time is the leader: it holds a lease in the write DB (relay_lease, renewed from
 * this loop every RELAY_LEASE_MS / 3), which keeps per-aggregate order; others stand by and try
 * to take the lease every poll interval. A standby takes over once the lease has expired and
 * fences the old leader (terminating its session); a leader that cannot renew stops publishing,
 * drops its batches in flight without marking them and stands by, and its marks are refused by
 * the database once it is deposed. The leader fetches unpublished rows in id order,
 * publishes them with publisher confirms and marks only the confirmed rows published. Failures
 * never mark a row, so a row is published at least once; the consumer drops duplicates by event
 * id. Several batches are in flight at once (up to RELAY_MAX_IN_FLIGHT, a ring: inflight.h): each
 * turn of the loop (relay_turn) settles the confirms already received, marks and drops the oldest
 * batches once fully confirmed, fetches the next rows (leaving out every in-flight row by id) and
 * sends them at once, without waiting for confirms; with nothing to send it waits on both sockets
 * (a confirm, or a NOTIFY) until the oldest batch's confirm deadline, 1 ms at most while nobody
 * notifies, so that a row committed meanwhile never waits for a confirm. When the outbox is
 * drained and nothing is in flight the relay asks for NOTIFYs (relay_state.notify_wanted, in
 * RELAY_NOTIFY_MODE=idle) and sleeps on the connection's socket, with the poll interval as a
 * fallback; after a send it switches them off so committing writers don't pay for them. A failure
 * drops the connection that failed and releases every batch in flight (after a broker failure
 * their acked rows are marked first). The leader also purges published rows older than
 * OUTBOX_RETENTION and old idempotency keys (purge.h).
 *
 * A row the broker returns as unroutable (mandatory publish, no queue bound) is a failed publish:
 * it is not marked, nor is any row sent after it (inflight.h), and the relay publishes nothing
 * new until the ring drained and a backoff passed, then publishes again from the oldest
 * unpublished row, one batch at a time, until a batch comes back without returns; /health is
 * degraded meanwhile. While the broker blocks the connection (connection.blocked: a resource
 * alarm) the relay publishes nothing, and every publish waits for a writable socket only until a
 * deadline, so a stop request is honoured within a second.
 *
 * FAULT_PAUSE_AFTER_PUBLISH_MS (tests only, 0 = off) makes the relay sleep after the broker
 * confirmed a batch and before it marks the rows published, logging "fault hook: ..." first, so
 * that a test can kill it exactly there. */
#include "base/backoff.h"
#include "service/cli.h"
#include "base/config.h"
#include "inflight.h"
#include "base/log.h"
#include "mq/mq.h"
#include "outbox.h"
#include "pg/pg.h"
#include "publish.h"
#include "purge.h"
#include "relay_metrics.h"
#include "status.h"
#include "base/signals.h"
#include "service/svc_metrics.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct relay_config {
    const char *database_url;       /* RELAY_DATABASE_URL, else DATABASE_URL (the owner's) */
    const char *owner_database_url; /* DATABASE_URL */
    const char *broker_url;
    const char *exchange;
    const char *queue;
    const char *mood_queue;
    const char *notify_mode;
    const char *log_level;
    long batch_size;
    long poll_interval_ms;
    long status_interval_ms;
    long confirm_timeout_ms;
    long max_in_flight;
    long lease_ms;
    const char *outbox_retention;
    long idempotency_key_ttl_s;
    long purge_interval_ms;
    long fault_pause_after_publish_ms; /* test-only fault hook */
};

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct relay_config, field), min, max                            \
    }
static const struct config_var relay_vars[] = {
    /* the relay's own role (least privilege); "" falls back to DATABASE_URL in main */
    VAR("RELAY_DATABASE_URL", CONFIG_STRING, "", database_url, 0, 0),
    VAR("DATABASE_URL", CONFIG_STRING, "", owner_database_url, 0, 0),
    VAR("BROKER_URL", CONFIG_STRING, NULL, broker_url, 0, 0),
    VAR("AMQP_EXCHANGE", CONFIG_STRING, "cqrs.events", exchange, 0, 0),
    VAR("AMQP_QUEUE", CONFIG_STRING, "read_model", queue, 0, 0),
    VAR("MOOD_QUEUE", CONFIG_STRING, "mood_events", mood_queue, 0, 0),
    VAR("RELAY_NOTIFY_MODE", CONFIG_STRING, "idle", notify_mode, 0, 0),
    VAR("LOG_LEVEL", CONFIG_STRING, "info", log_level, 0, 0),
    VAR("RELAY_BATCH_SIZE", CONFIG_INT, "1000", batch_size, 1, 10000),
    VAR("RELAY_POLL_INTERVAL_MS", CONFIG_INT, "250", poll_interval_ms, 10, 60000),
    /* the leader's status message to the read side (status.h) */
    VAR("RELAY_STATUS_INTERVAL_MS", CONFIG_INT, "1000", status_interval_ms, 100, 60000),
    VAR("RELAY_CONFIRM_TIMEOUT_MS", CONFIG_INT, "30000", confirm_timeout_ms, 100, 600000),
    VAR("RELAY_MAX_IN_FLIGHT", CONFIG_INT, "32", max_in_flight, 1, 64),
    /* a frozen leader is replaced within this; the leader renews every third of it */
    VAR("RELAY_LEASE_MS", CONFIG_INT, "5000", lease_ms, 300, 600000),
    VAR("OUTBOX_RETENTION", CONFIG_STRING, "7 days", outbox_retention, 0, 0),
    VAR("IDEMPOTENCY_KEY_TTL_S", CONFIG_INT, "86400", idempotency_key_ttl_s, 1, 315360000),
    VAR("RELAY_PURGE_INTERVAL_MS", CONFIG_INT, "5000", purge_interval_ms, 100, 3600000),
    VAR("FAULT_PAUSE_AFTER_PUBLISH_MS", CONFIG_INT, "0", fault_pause_after_publish_ms, 0, 600000),
};
#undef VAR

/* What the relay last wrote to relay_state.notify_wanted (unknown after a (re)connect). */
enum notify_flag { FLAG_UNKNOWN, FLAG_ON, FLAG_OFF };

struct relay {
    const struct relay_config *cfg;
    const struct mq_broker *broker;
    struct mq_topology topo;
    bool idle_mode; /* RELAY_NOTIFY_MODE=idle */
    PGconn *pg;
    bool leader;
    bool standby_logged;
    enum notify_flag flag;
    struct publisher pub; /* pub.conn is NULL while disconnected */
    /* The batches sent and not yet marked, oldest first, with consecutive delivery tags. Empty
     * whenever either connection is down: a failure releases them (relay_drop_pg,
     * relay_broker_failed), and their unmarked rows are fetched and published again. */
    struct inflight ring;
    struct mq_watch watch;       /* returns and connection.blocked of pub.conn */
    struct backoff mq_retry;     /* pause before reconnecting after a failed batch */
    char holder[128];            /* this relay's id in relay_lease: host:pid:random */
    long long lease_until_ms;    /* the leader publishes only before this (mq_now_ms clock) */
    long long renew_at_ms;       /* when the leader renews next */
    struct backoff return_retry; /* pause before publishing returned events again */
    long long hold_until_ms;     /* the ring stalled on a return: publish again after this */
    bool unroutable;             /* returned events are held back (health degraded) */
    struct purge purge;
    bool retention_checked;
    bool config_error;             /* OUTBOX_RETENTION turned out invalid: stop, exit 2 */
    struct relay_metrics *metrics; /* GET /metrics on RELAY_METRICS_PORT (relay_metrics.h) */
    struct relay_status status;    /* the leader's status message (status.h) */
};

/* Drops the PostgreSQL connection and every batch in flight: their rows cannot be marked on the
 * dead connection, so they are fetched and published again later (the consumer deduplicates). */
static void relay_drop_pg(struct relay *r, const char *err)
{
    char q[600];
    log_warn("lost postgres connection", "error=%s in_flight=%zu", log_quote(q, sizeof q, err),
             r->ring.len);
    inflight_clear(&r->ring);
    PQfinish(r->pg);
    r->pg = NULL;
    r->leader = false;
    relay_metrics_db_lost(r->metrics);
}

/* Closes the broker connection (nothing may be in flight any more) and pauses before the
 * reconnect. */
static void relay_drop_mq(struct relay *r, const char *err)
{
    long retry_ms = backoff_next(&r->mq_retry);
    char q[600];

    log_warn("dropping rabbitmq connection", "error=%s retry_ms=%ld", log_quote(q, sizeof q, err),
             retry_ms);
    mq_close(r->pub.conn, false);
    r->pub.conn = NULL;
    r->watch.blocked = false;
    relay_metrics_blocked(r->metrics, false);
    svc_metrics_broker(relay_metrics_base(r->metrics), false);
    signals_sleep_ms(retry_ms);
}

/* Connects what is missing. Returns -1 only when a stop was requested meanwhile. */
static int relay_connect(struct relay *r)
{
    if (r->pg == NULL) {
        r->pg = pg_connect_retry(r->cfg->database_url, "relay", outbox_stmts, outbox_nstmts);
        if (r->pg == NULL)
            return -1;
        r->leader = false;
        r->flag = FLAG_UNKNOWN;
        svc_metrics_db(relay_metrics_base(r->metrics), true);
    }
    if (!r->retention_checked) {
        char err[512];
        int rc = purge_check_retention(r->pg, r->cfg->outbox_retention, err, sizeof err);
        if (rc > 0) {
            log_error("invalid configuration", "error=\"%s\"", err);
            r->config_error = true;
            return -1;
        }
        if (rc < 0) {
            relay_drop_pg(r, err);
            return 0;
        }
        r->retention_checked = true;
    }
    if (r->pub.conn == NULL) {
        r->pub.conn = mq_connect_retry(r->broker, &r->topo, MQ_CONFIRMS);
        if (r->pub.conn == NULL)
            return -1;
        r->pub.next_tag = 1;
        r->watch.blocked = false;
        r->watch.blocked_reason[0] = '\0';
        char err[512];
        if (relay_status_open(r->pub.conn, err, sizeof err) != 0) {
            relay_drop_mq(r, err);
            return 0;
        }
        svc_metrics_broker(relay_metrics_base(r->metrics), true);
    }
    return 0;
}

static int relay_set_flag(struct relay *r, enum notify_flag flag)
{
    char err[512];

    if (outbox_set_notify_wanted(r->pg, flag == FLAG_ON, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    r->flag = flag;
    return 0;
}

/* The leader, once a third of the lease has passed since the last renewal: renews it. A failed
 * renewal (the old leader's session was terminated by the one that took over, or the database is
 * unreachable) or a lease taken over drops the connection, and with it every batch in flight,
 * unmarked; the relay then stands by. Returns 0 while leading, else -1. */
static int relay_keep_lease(struct relay *r)
{
    long long now = mq_now_ms();
    bool held = false;
    char err[512];

    if (now < r->renew_at_ms)
        return 0;
    if (outbox_lease_renew(r->pg, r->holder, r->cfg->lease_ms, &held, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    if (!held) {
        relay_drop_pg(r, "this relay lost its lease to another relay: standing by");
        return -1;
    }
    r->lease_until_ms = now + r->cfg->lease_ms;
    r->renew_at_ms = now + r->cfg->lease_ms / 3;
    return 0;
}

/* Takes the leader lease if it is free or expired (fencing the old holder). Returns 0 when this
 * relay leads, 1 when another one does, -1 when the connection failed. */
static int relay_lead(struct relay *r)
{
    struct outbox_lease lease;
    long long t0 = mq_now_ms();
    char err[512], q[300];

    if (outbox_lease_acquire(r->pg, r->holder, r->cfg->lease_ms, &lease, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    if (!lease.acquired) {
        if (!r->standby_logged)
            log_info("another relay is the leader, standing by", "leader=%s retry_ms=%ld",
                     log_quote(q, sizeof q, lease.holder), r->cfg->poll_interval_ms);
        r->standby_logged = true;
        return 1;
    }
    r->lease_until_ms = t0 + r->cfg->lease_ms;
    r->renew_at_ms = t0 + r->cfg->lease_ms / 3;
    if (lease.fenced_pid != 0)
        log_warn("took the relay lease over from a leader that stopped renewing",
                 "fenced_backend_pid=%d epoch=%lld", lease.fenced_pid, lease.epoch);
    /* only the leader listens: a standby would leave notifications unread, holding back the
     * server's notification queue */
    if (outbox_listen(r->pg, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    r->leader = true;
    relay_metrics_leader(r->metrics, true);
    r->standby_logged = false;
    log_info("became leader", "holder=%s epoch=%lld lease_ms=%ld notify_mode=%s max_in_flight=%ld",
             log_quote(q, sizeof q, r->holder), lease.epoch, r->cfg->lease_ms, r->cfg->notify_mode,
             r->cfg->max_in_flight);
    if (!r->idle_mode && relay_set_flag(r, FLAG_ON) != 0)
        return -1;
    return 0;
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Marks the acked prefix of s published (inflight_markable said it may) and logs it; s stays in
 * the ring (the caller pops it). Only on a live connection. Returns 0, or -1 after dropping the
 * connection (which released the ring, s with it): a failed statement, or the lease lost (the
 * database refused the mark: this relay was deposed). */
static int relay_mark(struct relay *r, struct inflight_batch *s)
{
    char err[512];
    size_t marked = 0;
    long publish_ms = elapsed_ms(&s->sent);
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (outbox_mark_published(r->pg, r->holder, &s->b, &s->c, &marked, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    publish_log_rows(&s->b, marked);
    if (marked > 0)
        log_info("published batch", "count=%zu first_id=%s last_id=%s publish_ms=%ld mark_ms=%ld",
                 marked, outbox_value(&s->b, 0, OUTBOX_ID),
                 outbox_value(&s->b, s->b.n - 1, OUTBOX_ID), publish_ms, elapsed_ms(&t0));
    return 0;
}

/* A batch leaves the ring (confirmed, or released after a broker failure): its metrics. */
static void relay_account(struct relay *r, const struct inflight_batch *s)
{
    const struct mq_confirms *c = &s->c;

    relay_metrics_batch(r->metrics, c->n, c->n - c->pending - c->nacked, c->nacked, c->returned,
                        (double)elapsed_ms(&s->sent) / 1000.0);
}

/* Marks the acked prefix of each batch in flight while the ring has not stalled (never a row
 * after one that failed or is pending), then releases every batch and ends the stall: their
 * other rows are fetched and published again. Returns 0, or -1 when the PostgreSQL connection
 * was lost meanwhile (which released the ring). */
static int relay_settle_all(struct relay *r)
{
    struct inflight_batch *s;

    while ((s = inflight_at(&r->ring, 0)) != NULL) {
        size_t k = inflight_markable(&r->ring);
        relay_account(r, s);
        if (k > 0 && (r->pg == NULL || relay_mark(r, s) != 0))
            return -1; /* the PostgreSQL connection is gone, and the ring with it */
        inflight_pop(&r->ring);
    }
    inflight_resume(&r->ring);
    return 0;
}

/* basic.return of a message in flight: its row counts as a failed publish (mq_watch.on_return;
 * the broker's line with the event id and routing key is logged by lib/mq/mq). */
static void relay_on_return(void *arg, const struct mq_returned *ret)
{
    struct relay *r = arg;

    (void)inflight_return(&r->ring, ret->message_id);
}

/* The oldest batch came back with returned rows and stalled the ring: hold back every row from
 * the first returned one on (unmarked), and publish again from there after a backoff. */
static void relay_hold_returns(struct relay *r, const struct inflight_batch *s, size_t k)
{
    long retry_ms = backoff_next(&r->return_retry);

    r->hold_until_ms = mq_now_ms() + retry_ms;
    if (!r->unroutable)
        relay_metrics_unroutable(r->metrics, true);
    r->unroutable = true;
    log_warn("broker returned events as unroutable: not marking them, retrying",
             "returned=%zu first_held_id=%s event_id=%s routing_key=%s retry_ms=%ld", s->c.returned,
             outbox_value(&s->b, (int)k, OUTBOX_ID), outbox_value(&s->b, (int)k, OUTBOX_EVENT_ID),
             outbox_value(&s->b, (int)k, OUTBOX_ROUTING_KEY), retry_ms);
}

/* A broker failure (connection lost, confirm time-out, nack, unknown tag): marks the acked rows
 * of every batch in flight (the broker has them), releases the batches and drops the broker
 * connection. Their other rows are fetched and published again after the reconnect. */
static void relay_broker_failed(struct relay *r, const char *err)
{
    (void)relay_settle_all(r);
    inflight_clear(&r->ring);
    inflight_resume(&r->ring);
    relay_drop_mq(r, err);
}

/* The test hook: pause after a batch was confirmed, before its mark. */
static void relay_fault_pause(const struct relay *r, const struct inflight_batch *s)
{
    if (r->cfg->fault_pause_after_publish_ms <= 0)
        return;
    log_warn("fault hook: pausing after publish, before mark (test only)",
             "ms=%ld count=%d first_id=%s last_id=%s", r->cfg->fault_pause_after_publish_ms, s->b.n,
             outbox_value(&s->b, 0, OUTBOX_ID), outbox_value(&s->b, s->b.n - 1, OUTBOX_ID));
    signals_sleep_ms(r->cfg->fault_pause_after_publish_ms);
}

/* While the oldest batch in flight is fully confirmed: marks its acked prefix (inflight.h: none
 * once the ring stalled) and drops it. A batch with returned rows stalls the ring and holds them
 * back (relay_hold_returns). Returns 0 (also when the PostgreSQL connection was lost meanwhile),
 * or -1 with err when the broker nacked rows or the oldest batch's confirms are overdue: the
 * caller drops the broker. */
static int relay_retire(struct relay *r, char *err, size_t errlen)
{
    struct inflight_batch *s;

    while ((s = inflight_at(&r->ring, 0)) != NULL && mq_confirms_done(&s->c)) {
        size_t nacked = s->c.nacked;
        bool stalled = inflight_stalled(&r->ring);
        size_t k = inflight_markable(&r->ring);
        int n = s->b.n;

        relay_account(r, s);
        if (!stalled && k < (size_t)n && nacked == 0)
            relay_hold_returns(r, s, k);
        if (k > 0) {
            relay_fault_pause(r, s);
            if (relay_mark(r, s) != 0)
                return 0;
        }
        inflight_pop(&r->ring);
        if (nacked > 0) {
            snprintf(err, errlen, "broker nacked %zu of %d events", nacked, n);
            return -1;
        }
        if (k == (size_t)n) {
            backoff_reset(&r->mq_retry);
            if (r->unroutable) {
                log_info("events are routable again: publishing resumed", NULL);
                r->unroutable = false;
                relay_metrics_unroutable(r->metrics, false);
                backoff_reset(&r->return_retry);
            }
        }
    }
    if (s != NULL && elapsed_ms(&s->sent) >= r->cfg->confirm_timeout_ms) {
        snprintf(err, errlen,
                 "timed out after %ld ms waiting for publisher confirms: %zu of %zu pending",
                 r->cfg->confirm_timeout_ms, s->c.pending, s->c.n);
        return -1;
    }
    return 0;
}

/* The PostgreSQL work before a fetch (the backlog sample and a purge, each only when due; dropping
 * the notifications the fetch answers), then the fetch of up to a batch into b, leaving out the
 * rows of exclude_ids (NULL: none). Returns 0, or -1 after dropping the connection. */
static int relay_fetch(struct relay *r, const char *exclude_ids, struct outbox_batch *b)
{
    char err[512];

    relay_metrics_sample_backlog(r->metrics, r->pg); /* at most once a second */
    if (purge_run(r->pg, &r->purge, err, sizeof err) != 0 ||
        outbox_forget_notifications(r->pg, err, sizeof err) != 0 ||
        outbox_fetch(r->pg, r->cfg->batch_size, exclude_ids, b, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    return 0;
}

/* Until when a batch may go on being sent: the lease, and at most the confirm time-out (a broker
 * that stopped reading our socket). */
static long long relay_publish_deadline(const struct relay *r)
{
    long long bound = mq_now_ms() + r->cfg->confirm_timeout_ms;

    return r->lease_until_ms < bound ? r->lease_until_ms : bound;
}

/* When the ring has room: fetches the next rows, leaving out every row in flight by its id, and
 * sends them at once as a new batch in flight. *sent says whether rows went out. Then, awake with
 * work, writers need not notify until the relay is idle again (switched off after the send, so
 * that it never delays an event; a failure drops the connection). Returns 0, or -1 after
 * dropping the connection that failed. */
static int relay_feed(struct relay *r, bool *sent)
{
    struct inflight_batch *s = inflight_next(&r->ring);
    size_t count = 0;
    char err[512];
    char *ids;
    int rc;

    *sent = false;
    if (s == NULL || r->watch.blocked)
        return 0; /* a full ring; or the broker blocks publishing: send nothing */
    if (inflight_stalled(&r->ring)) {
        /* rows were returned: wait until the ring drained and the backoff passed */
        if (r->ring.len > 0 || mq_now_ms() < r->hold_until_ms)
            return 0;
        inflight_resume(&r->ring);
        log_info("publishing the returned events again", NULL);
    }
    if (r->unroutable && r->ring.len > 0)
        return 0; /* after returns, one batch at a time until one comes back clean */
    if (mq_now_ms() >= r->lease_until_ms)
        return 0; /* the lease must be renewed first */
    ids = inflight_id_array(&r->ring, &count);
    rc = relay_fetch(r, ids, &s->b);
    free(ids);
    if (rc != 0)
        return -1;
    if (s->b.n == 0) {
        outbox_batch_release(&s->b);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &s->sent);
    if (publish_send(&r->pub, &s->b, &s->c, relay_publish_deadline(r), err, sizeof err) != 0) {
        relay_metrics_batch(r->metrics, (size_t)(r->pub.next_tag - s->c.first_tag), 0, 0, 0, 0.0);
        outbox_batch_release(&s->b);
        relay_broker_failed(r, err);
        return -1;
    }
    inflight_push(&r->ring);
    *sent = true;
    if (r->idle_mode && r->flag != FLAG_OFF)
        (void)relay_set_flag(r, FLAG_OFF);
    return 0;
}

/* Nothing in flight and nothing fetched. In idle mode, first ask for NOTIFYs and return: the next
 * turn looks once more, since a row committed before the flag was set sent none. Then sleep on
 * the PostgreSQL socket until a NOTIFY or the poll interval. */
static void relay_idle(struct relay *r)
{
    char err[512];
    bool notified = false;

    if (r->idle_mode && r->flag != FLAG_ON) {
        (void)relay_set_flag(r, FLAG_ON);
        return;
    }
    if (outbox_wait(r->pg, r->cfg->poll_interval_ms, &notified, err, sizeof err) != 0)
        relay_drop_pg(r, err);
}

/* Batches in flight and nothing new fetched: waits until the broker sends a frame (a confirm)
 * or, when the ring has room, the PostgreSQL socket has input (a NOTIFY), bounded by the oldest
 * batch's confirm deadline and the poll interval. With the ring not full and no NOTIFY coming
 * (flag off), 1 ms at most: the next turn fetches again, so a new row never waits for a confirm. */
static void relay_wait_busy(struct relay *r)
{
    amqp_connection_state_t conn = r->pub.conn;
    struct inflight_batch *oldest = inflight_at(&r->ring, 0);
    bool pg = !inflight_full(&r->ring), notified = false;
    long timeout = r->cfg->confirm_timeout_ms - elapsed_ms(&oldest->sent);
    struct pollfd pfd[2];
    char err[512];

    if (timeout > r->cfg->poll_interval_ms)
        timeout = r->cfg->poll_interval_ms;
    if (pg && r->flag != FLAG_ON && timeout > 1)
        timeout = 1;
    if (timeout <= 0 || amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn))
        return;
    if (pg) {
        /* a notification libpq read during the last statements counts too */
        if (outbox_wait(r->pg, 0, &notified, err, sizeof err) != 0) {
            relay_drop_pg(r, err);
            return;
        }
        if (notified)
            return;
    }
    pfd[0].fd = amqp_get_sockfd(conn);
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    pfd[1].fd = PQsocket(r->pg);
    pfd[1].events = POLLIN;
    pfd[1].revents = 0;
    if (poll(pfd, pg ? 2 : 1, (int)timeout) < 0 && errno != EINTR)
        log_warn("could not wait for confirms", "error=\"%s\"", strerror(errno));
}

/* Not leading (nothing in flight): a backlog sample, then the leader lock. Returns 0 when this
 * relay leads, else -1 (standing by after a pause, or a connection was lost). */
static int relay_start(struct relay *r)
{
    char err[512];
    int rc;

    relay_metrics_sample_backlog(r->metrics, r->pg); /* at most once a second */
    rc = relay_lead(r);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        if (mq_service(r->pub.conn, &r->watch, err, sizeof err) != 0)
            relay_drop_mq(r, err);
        else
            signals_sleep_ms(r->cfg->poll_interval_ms);
        relay_metrics_blocked(r->metrics, r->pub.conn != NULL && r->watch.blocked);
        return -1;
    }
    return 0;
}

/* The leader's status message, when due (status.h). Returns 0, or -1 when the broker failed. */
static int relay_report(struct relay *r)
{
    struct relay_status_figures f = {.leader = true, .blocked = r->watch.blocked};
    struct timespec now;
    char err[512];

    if (r->watch.blocked || !relay_metrics_backlog(r->metrics, &f.backlog, &f.oldest_age_ms) ||
        !relay_status_due(&r->status, mq_now_ms()))
        return 0;
    clock_gettime(CLOCK_REALTIME, &now);
    f.at_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    f.unroutable = relay_metrics_returned(r->metrics);
    if (relay_status_publish(&r->status, r->pub.conn, r->topo.exchange, &f, err, sizeof err) != 0) {
        relay_broker_failed(r, err);
        return -1;
    }
    return 0;
}

/* One turn of the loop: (1) settle every confirm frame already read or readable without
 * blocking, (2) mark and drop the oldest batches while they are fully confirmed, (3) if the ring
 * has room, fetch the next rows (leaving out those in flight) and send them at once, (4) with
 * nothing sent: go idle when nothing is in flight, else wait for a confirm or a NOTIFY. A failure
 * drops the connection that failed, which releases every batch in flight; the loop starts again
 * from a plain fetch. */
static void relay_turn(struct relay *r)
{
    struct mq_confirms *const *cs;
    char err[512];
    bool sent = false;
    size_t n = 0;

    if (!r->leader && relay_start(r) != 0)
        return;
    if (relay_keep_lease(r) != 0)
        return;
    cs = inflight_confirms(&r->ring, &n);
    if (mq_confirms_read(r->pub.conn, cs, n, &r->watch, err, sizeof err) != 0) {
        relay_broker_failed(r, err);
        return;
    }
    relay_metrics_blocked(r->metrics, r->watch.blocked);
    if (relay_report(r) != 0)
        return;
    if (relay_retire(r, err, sizeof err) != 0) {
        relay_broker_failed(r, err);
        return;
    }
    if (r->pg == NULL || relay_feed(r, &sent) != 0 || sent)
        return; /* after a send, the next turn fetches more if the ring has room */
    if (r->pg == NULL || r->pub.conn == NULL)
        return;
    if (r->ring.len == 0)
        relay_idle(r);
    else
        relay_wait_busy(r);
}

/* At exit: reads the confirms already there, marks the acked prefix of the batches in flight,
 * releases the rest (their rows are published again by the next relay) and gives the lease up,
 * so that a standby takes over at once. */
static void relay_finish(struct relay *r)
{
    char err[512];
    size_t n = 0;

    if (r->pub.conn != NULL && r->ring.len > 0) {
        struct mq_confirms *const *cs = inflight_confirms(&r->ring, &n);
        if (mq_confirms_read(r->pub.conn, cs, n, &r->watch, err, sizeof err) != 0)
            log_warn("could not read the last publisher confirms", "error=\"%s\"", err);
    }
    if (r->leader && relay_settle_all(r) == 0 && r->pg != NULL &&
        outbox_lease_release(r->pg, r->holder, err, sizeof err) != 0)
        log_warn("could not release the relay lease", "error=\"%s\"", err);
    inflight_release(&r->ring);
}

/* This relay's id in relay_lease: host:pid:random, unique among the relays of a deployment. */
static void relay_holder_id(char *buf, size_t len)
{
    char host[64] = "relay";
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "relay");
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s:%ld:%08lx", host, (long)getpid(),
             (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)) & 0xffffffffUL);
}

static void relay_run(struct relay *r)
{
    while (!signals_stop_requested()) {
        if (relay_connect(r) != 0)
            break;
        if (r->pg == NULL || r->pub.conn == NULL)
            continue;
        relay_turn(r);
    }
    relay_finish(r);
}

int main(int argc, char **argv)
{
    struct config_var metrics_vars[SVC_METRICS_NVARS];
    const struct config_table tables[] = {CONFIG_TABLE(relay_vars), CONFIG_TABLE(metrics_vars),
                                          pg_config_table, mq_config_table};
    const struct cli_spec cli = {"relay", "relay: publishes the outbox to RabbitMQ", NULL, 0,
                                 tables,  sizeof tables / sizeof tables[0],          NULL};
    struct relay_config cfg;
    struct mq_broker broker;
    struct relay r;
    char err[512];
    int rc;

    relay_metrics_config_vars(metrics_vars);
    if ((rc = cli_handle(&cli, argc, argv)) >= 0)
        return rc;
    if (log_init("relay", "info") != 0) /* sets svc= for configuration errors */
        return 2;
    if (config_load(&cfg, relay_vars, sizeof relay_vars / sizeof relay_vars[0], err, sizeof err) !=
        0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        return 2;
    }
    if (*cfg.database_url == '\0')
        cfg.database_url = cfg.owner_database_url;
    if (*cfg.database_url == '\0') {
        log_error("invalid configuration", "error=\"missing required environment variable "
                                           "RELAY_DATABASE_URL (or DATABASE_URL)\"");
        return 2;
    }
    if (log_init("relay", cfg.log_level) != 0) {
        log_error("invalid configuration",
                  "error=\"invalid value for LOG_LEVEL: expected debug, info, warn or error\"");
        return 2;
    }
    if (strcmp(cfg.notify_mode, "idle") != 0 && strcmp(cfg.notify_mode, "always") != 0) {
        log_error("invalid configuration",
                  "error=\"invalid value for RELAY_NOTIFY_MODE: expected idle or always\"");
        return 2;
    }
    if (mq_broker_parse(&broker, cfg.broker_url, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"BROKER_URL: %s\"", err);
        return 2;
    }
    if (pg_check_options(err, sizeof err) != 0 || mq_check_options(err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        mq_broker_release(&broker);
        return 2;
    }
    if (signals_install() != 0) {
        log_error("could not install signal handlers", NULL);
        mq_broker_release(&broker);
        return 1;
    }

    memset(&r, 0, sizeof r);
    r.cfg = &cfg;
    r.broker = &broker;
    if (mq_topology_init(&r.topo, cfg.exchange, cfg.queue, cfg.mood_queue, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"AMQP_QUEUE: %s\"", err);
        mq_broker_release(&broker);
        return 2;
    }
    r.purge.retention = cfg.outbox_retention;
    r.purge.key_ttl_s = cfg.idempotency_key_ttl_s;
    r.purge.interval_ms = cfg.purge_interval_ms;
    r.purge.batch = 500;
    r.purge.budget_ms = 200;
    r.idle_mode = strcmp(cfg.notify_mode, "idle") == 0;
    r.pub.exchange = cfg.exchange;
    backoff_init(&r.mq_retry, 100, 5000);
    backoff_init(&r.return_retry, 100, 5000);
    r.watch.on_return = relay_on_return;
    r.watch.arg = &r;
    relay_holder_id(r.holder, sizeof r.holder);
    relay_status_init(&r.status, cfg.status_interval_ms);
    r.metrics = relay_metrics_start();
    if (r.metrics == NULL) {
        mq_broker_release(&broker);
        return 1;
    }
    inflight_init(&r.ring, (size_t)cfg.max_in_flight);

    char q[300];
    log_info("starting",
             "holder=%s exchange=%s batch_size=%ld max_in_flight=%ld lease_ms=%ld "
             "poll_interval_ms=%ld notify_mode=%s "
             "outbox_retention=%s idempotency_key_ttl_s=%ld purge_interval_ms=%ld",
             r.holder, cfg.exchange, cfg.batch_size, cfg.max_in_flight, cfg.lease_ms,
             cfg.poll_interval_ms, cfg.notify_mode, log_quote(q, sizeof q, cfg.outbox_retention),
             cfg.idempotency_key_ttl_s, cfg.purge_interval_ms);
    if (cfg.fault_pause_after_publish_ms > 0)
        log_warn("fault hooks on: for tests only, never in production",
                 "fault_pause_after_publish_ms=%ld", cfg.fault_pause_after_publish_ms);
    relay_run(&r);

    /* a blocked broker reads nothing: a polite close would wait for its reply in vain */
    mq_close(r.pub.conn, !r.watch.blocked);
    PQfinish(r.pg);
    relay_metrics_stop(r.metrics);
    mq_broker_release(&broker);
    log_info("stopped", NULL);
    return r.config_error ? 2 : 0;
}
