/* lease: the leader lease (engine.h; docs/architecture.md, "The leader lease") and the notify
 * flag it goes with. */
#include "engine.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/signals.h"
#include "outbox.h"

int relay_set_flag(struct relay *r, enum notify_flag flag)
{
    char err[512];

    if (r->io->set_notify_wanted(r->pg, flag == FLAG_ON, err, sizeof err) != 0) {
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
int relay_keep_lease(struct relay *r)
{
    long long now = deadline_now_ms();
    bool held = false;
    char err[512];

    if (now < r->renew_at_ms)
        return 0;
    if (r->io->lease_renew(r->pg, r->holder, r->cfg->lease_ms, &held, err, sizeof err) != 0) {
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
    long long t0 = deadline_now_ms();
    char err[512], q[300];

    if (r->io->lease_acquire(r->pg, r->holder, r->cfg->lease_ms, &lease, err, sizeof err) != 0) {
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
    if (r->io->listen(r->pg, err, sizeof err) != 0) {
        relay_drop_pg(r, err);
        return -1;
    }
    r->leader = true;
    relay_metrics_leader(&r->metrics, true);
    r->standby_logged = false;
    log_info("became leader", "holder=%s epoch=%lld lease_ms=%ld notify_mode=%s max_in_flight=%ld",
             log_quote(q, sizeof q, r->holder), lease.epoch, r->cfg->lease_ms, r->cfg->notify_mode,
             r->cfg->max_in_flight);
    if (!r->idle_mode && relay_set_flag(r, FLAG_ON) != 0)
        return -1;
    return 0;
}

/* Not leading (nothing in flight): a backlog sample, then the leader lock. Returns 0 when this
 * relay leads, else -1 (standing by after a pause, or a connection was lost). */
int relay_start(struct relay *r)
{
    char err[512];
    int rc;

    r->io->sample_backlog(&r->metrics, r->pg); /* at most once a second */
    rc = relay_lead(r);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        if (r->io->service(r->pub.conn, &r->watch, err, sizeof err) != 0)
            relay_drop_mq(r, err);
        else
            r->io->sleep_ms(r->cfg->poll_interval_ms);
        relay_metrics_blocked(&r->metrics, r->pub.conn != NULL && r->watch.blocked);
        return -1;
    }
    return 0;
}
