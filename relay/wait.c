/* wait: with nothing sent, the relay waits (engine.h): idle on the PostgreSQL socket for a
 * NOTIFY, or busy on both sockets for a confirm or a NOTIFY. */
#include "engine.h"

#include "base/deadline.h"
#include "base/log.h"
#include "outbox.h"

/* Nothing in flight and nothing fetched. In idle mode, first ask for NOTIFYs and return: the next
 * turn looks once more, since a row committed before the flag was set sent none. Then sleep on
 * the PostgreSQL socket until a NOTIFY or the poll interval. */
void relay_idle(struct relay *r)
{
    char err[512];
    bool notified = false;

    if (r->idle_mode && r->flag != FLAG_ON) {
        (void)relay_set_flag(r, FLAG_ON);
        return;
    }
    if (r->io->wait_notify(r->pg, r->cfg->poll_interval_ms, &notified, err, sizeof err) != 0)
        relay_drop_pg(r, err);
}

/* Batches in flight and nothing new fetched: waits until the broker sends a frame (a confirm)
 * or, when the ring has room, the PostgreSQL socket has input (a NOTIFY), bounded by the oldest
 * batch's confirm deadline and the poll interval. With the ring not full and no NOTIFY coming
 * (flag off), 1 ms at most: the next turn fetches again, so a new row never waits for a confirm. */
void relay_wait_busy(struct relay *r)
{
    amqp_connection_state_t conn = r->pub.conn;
    struct inflight_batch *oldest = inflight_at(&r->ring, 0);
    bool pg = !inflight_full(&r->ring), notified = false;
    long timeout = r->cfg->confirm_timeout_ms - (long)(deadline_now_ms() - oldest->sent_ms);
    char err[512];

    if (timeout > r->cfg->poll_interval_ms)
        timeout = r->cfg->poll_interval_ms;
    if (pg && r->flag != FLAG_ON && timeout > 1)
        timeout = 1;
    if (timeout <= 0 || r->io->mq_buffered(conn))
        return;
    if (pg) {
        /* a notification libpq read during the last statements counts too */
        if (r->io->wait_notify(r->pg, 0, &notified, err, sizeof err) != 0) {
            relay_drop_pg(r, err);
            return;
        }
        if (notified)
            return;
    }
    r->io->wait_sockets(conn, r->pg, pg, timeout);
}
