/* ports: the live table (ports.h): the write DB, the broker and the clock of a running relay. */
#include "ports.h"

#include "base/log.h"
#include "base/signals.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

static PGconn *live_pg_connect(const char *dsn)
{
    return pg_connect_retry(dsn, "relay", outbox_stmts, outbox_nstmts);
}

static int live_housekeeping(PGconn *pg, struct purge *p, char *err, size_t errlen)
{
    if (purge_run(pg, p, err, errlen) != 0)
        return -1;
    return outbox_forget_notifications(pg, err, errlen);
}

static amqp_connection_state_t live_mq_connect(const struct mq_broker *b,
                                               const struct mq_topology *t)
{
    return mq_connect_retry(b, t, MQ_CONFIRMS);
}

static bool live_mq_buffered(amqp_connection_state_t conn)
{
    return amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn);
}

static void live_wait_sockets(amqp_connection_state_t conn, PGconn *pg, bool pg_too,
                              long timeout_ms)
{
    struct pollfd pfd[2];

    pfd[0].fd = amqp_get_sockfd(conn);
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    pfd[1].fd = PQsocket(pg);
    pfd[1].events = POLLIN;
    pfd[1].revents = 0;
    if (poll(pfd, pg_too ? 2 : 1, (int)timeout_ms) < 0 && errno != EINTR)
        log_warn("could not wait for confirms", "error=\"%s\"", strerror(errno));
}

const struct relay_ports relay_ports_live = {
    .pg_connect = live_pg_connect,
    .pg_close = PQfinish,
    .check_retention = purge_check_retention,
    .lease_acquire = outbox_lease_acquire,
    .lease_renew = outbox_lease_renew,
    .lease_release = outbox_lease_release,
    .listen = outbox_listen,
    .set_notify_wanted = outbox_set_notify_wanted,
    .sample_backlog = relay_metrics_sample_backlog,
    .housekeeping = live_housekeeping,
    .fetch = outbox_fetch,
    .mark = outbox_mark_published,
    .wait_notify = outbox_wait,
    .mq_connect = live_mq_connect,
    .status_open = relay_status_open,
    .mq_close = mq_close,
    .send = publish_send,
    .read_confirms = mq_confirms_read,
    .service = mq_service,
    .status_publish = relay_status_publish,
    .mq_buffered = live_mq_buffered,
    .wait_sockets = live_wait_sockets,
    .sleep_ms = signals_sleep_ms,
};
