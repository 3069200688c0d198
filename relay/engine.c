/* engine: the relay's loop (engine.h): connecting, one turn, the exit. The lease is lease.c's,
 * the batches in flight batches.c's, the waits wait.c's. */
#include "engine.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/signals.h"
#include "outbox.h"
#include "service/svc_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Drops the PostgreSQL connection and every batch in flight: their rows cannot be marked on the
 * dead connection, so they are fetched and published again later (the consumer deduplicates). */
void relay_drop_pg(struct relay *r, const char *err)
{
    char q[600];
    log_warn("lost postgres connection", "error=%s in_flight=%zu", log_quote(q, sizeof q, err),
             r->ring.len);
    inflight_clear(&r->ring);
    r->io->pg_close(r->pg);
    r->pg = NULL;
    r->leader = false;
    relay_metrics_db_lost(&r->metrics);
}

/* Closes the broker connection (nothing may be in flight any more) and pauses before the
 * reconnect. */
void relay_drop_mq(struct relay *r, const char *err)
{
    long retry_ms = backoff_next(&r->mq_retry);
    char q[600];

    log_warn("dropping rabbitmq connection", "error=%s retry_ms=%ld", log_quote(q, sizeof q, err),
             retry_ms);
    r->io->mq_close(r->pub.conn, false);
    r->pub.conn = NULL;
    r->watch.blocked = false;
    relay_metrics_blocked(&r->metrics, false);
    svc_metrics_broker(r->metrics.base, false);
    r->io->sleep_ms(retry_ms);
}

/* Connects what is missing. Returns -1 only when a stop was requested meanwhile. */
static int relay_connect(struct relay *r)
{
    if (r->pg == NULL) {
        r->pg = r->io->pg_connect(r->env->database_url);
        if (r->pg == NULL)
            return -1;
        r->leader = false;
        r->flag = FLAG_UNKNOWN;
        svc_metrics_db(r->metrics.base, true);
    }
    if (!r->retention_checked) {
        char err[512];
        int rc = r->io->check_retention(r->pg, r->cfg->outbox_retention, err, sizeof err);
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
        r->pub.conn = r->io->mq_connect(&r->env->broker, &r->env->topo);
        if (r->pub.conn == NULL)
            return -1;
        r->pub.next_tag = 1;
        r->watch.blocked = false;
        r->watch.blocked_reason[0] = '\0';
        char err[512];
        if (r->io->status_open(r->pub.conn, err, sizeof err) != 0) {
            relay_drop_mq(r, err);
            return 0;
        }
        svc_metrics_broker(r->metrics.base, true);
    }
    return 0;
}

/* The leader's status message, when due (status.h). Returns 0, or -1 when the broker failed. */
static int relay_report(struct relay *r)
{
    struct relay_status_figures f = {.leader = true, .blocked = r->watch.blocked};
    char err[512];

    if (r->watch.blocked || !relay_metrics_backlog(&r->metrics, &f.backlog, &f.oldest_age_ms) ||
        !relay_status_due(&r->status, deadline_now_ms()))
        return 0;
    f.at_ms = deadline_wall_ms();
    f.unroutable = relay_metrics_returned(&r->metrics);
    if (r->io->status_publish(&r->status, r->pub.conn, r->env->topo.exchange, &f, err,
                              sizeof err) != 0) {
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
void relay_turn(struct relay *r)
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
    if (r->io->read_confirms(r->pub.conn, cs, n, &r->watch, err, sizeof err) != 0) {
        relay_broker_failed(r, err);
        return;
    }
    relay_metrics_blocked(&r->metrics, r->watch.blocked);
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
        if (r->io->read_confirms(r->pub.conn, cs, n, &r->watch, err, sizeof err) != 0)
            log_warn("could not read the last publisher confirms", "error=\"%s\"", err);
    }
    if (r->leader && relay_settle_all(r) == 0 && r->pg != NULL &&
        r->io->lease_release(r->pg, r->holder, err, sizeof err) != 0)
        log_warn("could not release the relay lease", "error=\"%s\"", err);
    inflight_release(&r->ring);
}

/* This relay's id in relay_lease: host:pid:random, unique among the relays of a deployment. */
static void relay_holder_id(char *buf, size_t len)
{
    char host[64] = "relay";
    unsigned long long seed =
        (unsigned long long)deadline_now_us() ^ ((unsigned long long)deadline_wall_ms() << 20);

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "relay");
    host[sizeof host - 1] = '\0';
    snprintf(buf, len, "%s:%ld:%08lx", host, (long)getpid(), (unsigned long)(seed & 0xffffffffULL));
}

void relay_init(struct relay *r, const struct relay_ports *io, const struct relay_config *cfg,
                const struct daemon_env *env)
{
    memset(r, 0, sizeof *r);
    r->io = io;
    r->cfg = cfg;
    r->env = env;
    r->purge.retention = cfg->outbox_retention;
    r->purge.key_ttl_s = cfg->idem.key_ttl_s;
    r->purge.interval_ms = cfg->purge_interval_ms;
    r->purge.batch = 500;
    r->purge.budget_ms = 200;
    r->idle_mode = strcmp(cfg->notify_mode, "idle") == 0;
    r->pub.exchange = env->topo.exchange;
    backoff_init(&r->mq_retry, 100, 5000);
    backoff_init(&r->return_retry, 100, 5000);
    r->watch.on_return = relay_on_return;
    r->watch.arg = r;
    relay_holder_id(r->holder, sizeof r->holder);
    relay_status_init(&r->status, cfg->status_interval_ms);
    relay_metrics_init(&r->metrics, env->metrics);
    inflight_init(&r->ring, (size_t)cfg->max_in_flight);
}

int relay_step(struct relay *r)
{
    if (relay_connect(r) != 0)
        return -1;
    if (r->pg != NULL && r->pub.conn != NULL)
        relay_turn(r);
    return 0;
}

int relay_close(struct relay *r)
{
    relay_finish(r);
    /* a blocked broker reads nothing: a polite close would wait for its reply in vain */
    if (r->pub.conn != NULL)
        r->io->mq_close(r->pub.conn, !r->watch.blocked);
    r->pub.conn = NULL;
    if (r->pg != NULL)
        r->io->pg_close(r->pg);
    r->pg = NULL;
    return r->config_error ? 2 : 0;
}

int relay_run(struct relay *r)
{
    while (!signals_stop_requested())
        if (relay_step(r) != 0)
            break;
    return relay_close(r);
}
