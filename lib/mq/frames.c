/* mq frames: what a connection's reader does with a frame it did not wait for (returns,
 * connection.blocked, closes), servicing an idle connection, and waiting for a writable socket. */
#include "mq/internal.h"
#include "mq/mq.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/signals.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* Copies an amqp_bytes_t into a NUL-terminated buffer (truncating). */
static const char *bytes_str(amqp_bytes_t b, char *buf, size_t len)
{
    size_t n = b.len < len - 1 ? b.len : len - 1;
    if (n > 0)
        memcpy(buf, b.bytes, n);
    buf[n] = '\0';
    return buf;
}

/* Reads the content of a basic.return, logs it as a warning (event id and routing key) and hands
 * it to w's on_return, if any. */
static int handle_return(amqp_connection_state_t conn, const amqp_frame_t *frame,
                         struct mq_watch *w, char *err, size_t errlen)
{
    const amqp_basic_return_t *ret = frame->payload.method.decoded;
    char text[128], key[256], id[128], q1[300], q2[300];
    struct mq_returned returned;
    amqp_message_t msg;
    amqp_rpc_reply_t r;

    bytes_str(ret->reply_text, text, sizeof text);
    bytes_str(ret->routing_key, key, sizeof key);
    r = amqp_read_message(conn, frame->channel, &msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        char detail[256];
        snprintf(err, errlen, "could not read a returned message: %s",
                 mq_reply_text(r, detail, sizeof detail));
        return -1;
    }
    id[0] = '\0';
    if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        bytes_str(msg.properties.message_id, id, sizeof id);
    /* a caller that handles returns logs them its own way (the relay: once per held batch) */
    if (w != NULL && w->on_return != NULL)
        log_debug("message returned by broker as unroutable",
                  "reply_code=%u reply_text=%s routing_key=%s event_id=%s", ret->reply_code,
                  log_quote(q1, sizeof q1, text), log_quote(q2, sizeof q2, key), id);
    else
        log_warn("message returned by broker as unroutable",
                 "reply_code=%u reply_text=%s routing_key=%s event_id=%s", ret->reply_code,
                 log_quote(q1, sizeof q1, text), log_quote(q2, sizeof q2, key), id);
    amqp_destroy_message(&msg);
    if (w != NULL && w->on_return != NULL) {
        returned.message_id = id;
        returned.routing_key = key;
        returned.reply_code = ret->reply_code;
        w->on_return(w->arg, &returned);
    }
    return 0;
}

/* connection.blocked / connection.unblocked: the broker stopped (or resumed) reading what this
 * connection publishes (a memory or disk alarm). */
static void handle_blocked(const amqp_frame_t *frame, struct mq_watch *w)
{
    char reason[128], q[200];

    if (frame->payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD) {
        const amqp_connection_blocked_t *b = frame->payload.method.decoded;
        bytes_str(b->reason, reason, sizeof reason);
        log_warn("broker blocked this connection: not publishing until it unblocks", "reason=%s",
                 log_quote(q, sizeof q, reason));
        if (w != NULL) {
            w->blocked = true;
            snprintf(w->blocked_reason, sizeof w->blocked_reason, "%s", reason);
        }
    } else {
        log_info("broker unblocked this connection", NULL);
        if (w != NULL) {
            w->blocked = false;
            w->blocked_reason[0] = '\0';
        }
    }
}

/* internal.h */
int mq_frame_handle(amqp_connection_state_t conn, const amqp_frame_t *frame, struct mq_watch *w,
                    char *err, size_t errlen)
{
    if (frame->frame_type != AMQP_FRAME_METHOD)
        return 0; /* heartbeat, or a stray header/body frame */
    switch (frame->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_NACK_METHOD:
        return 0;
    case AMQP_BASIC_RETURN_METHOD:
        return handle_return(conn, frame, w, err, errlen);
    case AMQP_CONNECTION_BLOCKED_METHOD:
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
        handle_blocked(frame, w);
        return 0;
    case AMQP_CHANNEL_CLOSE_METHOD: {
        amqp_channel_close_ok_t ok = {0};
        mq_close_text(&frame->payload.method, err, errlen);
        (void)amqp_send_method(conn, frame->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        return -1;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_connection_close_ok_t ok = {0};
        mq_close_text(&frame->payload.method, err, errlen);
        (void)amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        return -1;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        snprintf(err, errlen, "consumer cancelled by broker");
        return -1;
    case AMQP_BASIC_DELIVER_METHOD:
        /* a delivery nobody will ack: reconnecting makes the broker redeliver it */
        snprintf(err, errlen, "unexpected delivery on channel %u", frame->channel);
        return -1;
    default:
        log_warn("ignored unexpected amqp method", "method=%s",
                 amqp_method_name(frame->payload.method.id));
        return 0;
    }
}

int mq_handle_frame(amqp_connection_state_t conn, const amqp_frame_t *frame, char *err,
                    size_t errlen)
{
    return mq_frame_handle(conn, frame, NULL, err, errlen);
}

int mq_service(amqp_connection_state_t conn, struct mq_watch *w, char *err, size_t errlen)
{
    for (;;) {
        struct timeval zero = {0, 0};
        amqp_frame_t frame;
        char detail[256];
        int status = amqp_simple_wait_frame_noblock(conn, &frame, &zero);

        if (status == AMQP_STATUS_TIMEOUT)
            return 0;
        if (status != AMQP_STATUS_OK) {
            snprintf(err, errlen, "connection lost: %s",
                     mq_status_text(status, detail, sizeof detail));
            return -1;
        }
        int rc = mq_frame_handle(conn, &frame, w, err, errlen);
        amqp_maybe_release_buffers(conn);
        if (rc != 0)
            return -1;
    }
}

int mq_wait_writable(amqp_connection_state_t conn, long long deadline_ms, char *err, size_t errlen)
{
    struct pollfd pfd = {.fd = amqp_get_sockfd(conn), .events = POLLOUT};

    for (;;) {
        long long left = deadline_ms - deadline_now_ms();
        int r;

        if (signals_stop_requested()) {
            snprintf(err, errlen, "stop requested while waiting to publish");
            return -1;
        }
        if (left <= 0) {
            snprintf(err, errlen,
                     "could not publish before the deadline: the socket took nothing "
                     "(a broker that stopped reading), or the relay lease ran out");
            return -1;
        }
        pfd.revents = 0;
        r = poll(&pfd, 1, left > 100 ? 100 : (int)left);
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "could not wait to publish: %s", strerror(errno));
            return -1;
        }
        if (r > 0)
            return 0; /* writable, or an error the publish itself reports */
    }
}
