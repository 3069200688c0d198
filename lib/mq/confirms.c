/* mq confirms: publisher-confirm book-keeping (pure), reading confirms off a connection and
 * publishing one message with its confirm (mq.h). */
#include "mq/internal.h"
#include "mq/mq.h"

#include "base/deadline.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* An entry's state byte: its enum mq_confirm_state (pending, acked, nacked) plus this bit once
 * the broker returned the message (the return comes before the ack of the same message). */
#define RETURNED_BIT 0x80

void mq_confirms_init(struct mq_confirms *c)
{
    memset(c, 0, sizeof *c);
}

void mq_confirms_release(struct mq_confirms *c)
{
    free(c->state);
    memset(c, 0, sizeof *c);
}

void mq_confirms_reset(struct mq_confirms *c, uint64_t first_tag, size_t n)
{
    if (n > c->cap) {
        c->state = xrealloc(c->state, n);
        c->cap = n;
    }
    if (n > 0)
        memset(c->state, MQ_PENDING, n);
    c->first_tag = first_tag;
    c->n = n;
    c->low = 0;
    c->pending = n;
    c->nacked = 0;
    c->returned = 0;
}

long mq_confirms_settle(struct mq_confirms *c, uint64_t tag, bool multiple, bool ack)
{
    unsigned char to = ack ? MQ_ACKED : MQ_NACKED;
    size_t from, upto;
    long settled = 0;

    if (tag < c->first_tag)
        return 0;
    if (tag - c->first_tag >= c->n)
        return -1;
    upto = (size_t)(tag - c->first_tag);
    from = multiple ? c->low : upto;
    for (size_t i = from; i <= upto; i++) {
        if ((c->state[i] & ~RETURNED_BIT) == MQ_PENDING) {
            c->state[i] = (unsigned char)(c->state[i] | to);
            settled++;
        }
    }
    c->pending -= (size_t)settled;
    if (!ack)
        c->nacked += (size_t)settled;
    while (c->low < c->n && (c->state[c->low] & ~RETURNED_BIT) != MQ_PENDING)
        c->low++;
    return settled;
}

bool mq_confirms_done(const struct mq_confirms *c)
{
    return c->pending == 0;
}

enum mq_confirm_state mq_confirms_state(const struct mq_confirms *c, size_t i)
{
    unsigned char st = c->state[i] & ~RETURNED_BIT;

    if (st == MQ_ACKED && (c->state[i] & RETURNED_BIT))
        return MQ_RETURNED;
    return (enum mq_confirm_state)st;
}

void mq_confirms_return(struct mq_confirms *c, size_t i)
{
    if (i >= c->n || (c->state[i] & RETURNED_BIT))
        return;
    c->state[i] |= RETURNED_BIT;
    c->returned++;
}

size_t mq_confirms_acked_prefix(const struct mq_confirms *c)
{
    size_t k = 0;

    while (k < c->n && c->state[k] == MQ_ACKED)
        k++;
    return k;
}

long mq_confirms_settle_span(struct mq_confirms *const *cs, size_t n, uint64_t tag, bool multiple,
                             bool ack)
{
    long total = 0;

    if (n == 0)
        return 0;
    if (tag >= cs[n - 1]->first_tag + cs[n - 1]->n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct mq_confirms *c = cs[i];
        uint64_t last = c->first_tag + c->n - 1;
        long r;

        if (c->n == 0 || tag < c->first_tag)
            continue;
        if (tag > last && !multiple)
            continue;
        r = mq_confirms_settle(c, tag > last ? last : tag, multiple, ack);
        if (r < 0)
            return -1;
        total += r;
    }
    return total;
}

/* Applies one frame read on a confirm-mode connection to the n consecutive batches cs: a confirm
 * settles them; anything else goes to mq_frame_handle (a basic.return to w's on_return, which finds
 * the message by its id). Returns 0, or -1 with err. */
static int confirm_frame(amqp_connection_state_t conn, const amqp_frame_t *frame,
                         struct mq_confirms *const *cs, size_t n, struct mq_watch *w, char *err,
                         size_t errlen)
{
    if (frame->frame_type == AMQP_FRAME_METHOD && frame->channel == MQ_CHANNEL &&
        (frame->payload.method.id == AMQP_BASIC_ACK_METHOD ||
         frame->payload.method.id == AMQP_BASIC_NACK_METHOD)) {
        uint64_t tag;
        bool multiple, ack = frame->payload.method.id == AMQP_BASIC_ACK_METHOD;
        if (ack) {
            const amqp_basic_ack_t *a = frame->payload.method.decoded;
            tag = a->delivery_tag;
            multiple = a->multiple != 0;
        } else {
            const amqp_basic_nack_t *k = frame->payload.method.decoded;
            tag = k->delivery_tag;
            multiple = k->multiple != 0;
        }
        if (mq_confirms_settle_span(cs, n, tag, multiple, ack) < 0) {
            snprintf(err, errlen, "broker confirmed unknown delivery tag %llu (last sent %llu)",
                     (unsigned long long)tag,
                     (unsigned long long)(cs[n - 1]->first_tag + cs[n - 1]->n - 1));
            return -1;
        }
        return 0;
    }
    return mq_frame_handle(conn, frame, w, err, errlen);
}

/* For mq_confirms_wait's single message: any return is that message's. */
static void return_single(void *arg, const struct mq_returned *ret)
{
    (void)ret;
    mq_confirms_return(arg, 0);
}

int mq_confirms_wait(amqp_connection_state_t conn, struct mq_confirms *c, long timeout_ms,
                     char *err, size_t errlen)
{
    long long deadline = deadline_now_ms() + timeout_ms;
    struct mq_confirms *const one[1] = {c};
    struct mq_watch w = {.on_return = c->n == 1 ? return_single : NULL, .arg = c};

    while (!mq_confirms_done(c)) {
        long long left = deadline - deadline_now_ms();
        struct timeval tv;
        amqp_frame_t frame;
        char detail[256];
        int status, rc;

        if (left <= 0) {
            snprintf(err, errlen,
                     "timed out after %ld ms waiting for publisher confirms: %zu of "
                     "%zu pending",
                     timeout_ms, c->pending, c->n);
            return -1;
        }
        tv.tv_sec = (time_t)(left / 1000);
        tv.tv_usec = (suseconds_t)((left % 1000) * 1000);
        status = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
        if (status == AMQP_STATUS_TIMEOUT)
            continue;
        if (status != AMQP_STATUS_OK) {
            snprintf(err, errlen, "connection lost waiting for publisher confirms: %s",
                     mq_status_text(status, detail, sizeof detail));
            return -1;
        }
        rc = confirm_frame(conn, &frame, one, 1, &w, err, errlen);
        amqp_maybe_release_buffers(conn);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int mq_confirms_read(amqp_connection_state_t conn, struct mq_confirms *const *cs, size_t n,
                     struct mq_watch *w, char *err, size_t errlen)
{
    for (;;) {
        struct timeval zero = {0, 0};
        amqp_frame_t frame;
        char detail[256];
        int status = amqp_simple_wait_frame_noblock(conn, &frame, &zero), rc;

        if (status == AMQP_STATUS_TIMEOUT)
            return 0;
        if (status != AMQP_STATUS_OK) {
            snprintf(err, errlen, "connection lost reading publisher confirms: %s",
                     mq_status_text(status, detail, sizeof detail));
            return -1;
        }
        rc = confirm_frame(conn, &frame, cs, n, w, err, errlen);
        amqp_maybe_release_buffers(conn);
        if (rc != 0)
            return -1;
    }
}

int mq_publish_confirmed(amqp_connection_state_t conn, uint64_t *next_tag, const char *exchange,
                         const char *routing_key, const amqp_basic_properties_t *props,
                         amqp_bytes_t body, long timeout_ms, char *err, size_t errlen)
{
    struct mq_confirms c;
    char detail[256];
    int status, rc = -1;

    mq_confirms_init(&c);
    mq_confirms_reset(&c, *next_tag, 1);
    if (mq_wait_writable(conn, deadline_now_ms() + timeout_ms, err, errlen) != 0)
        goto out;
    status = amqp_basic_publish(conn, MQ_CHANNEL, amqp_cstring_bytes(exchange),
                                amqp_cstring_bytes(routing_key), 1, 0, props, body);
    if (status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not publish to \"%s\": %s", routing_key,
                 mq_status_text(status, detail, sizeof detail));
        goto out;
    }
    (*next_tag)++;
    if (mq_confirms_wait(conn, &c, timeout_ms, err, errlen) != 0)
        goto out;
    if (c.returned > 0) {
        snprintf(err, errlen, "broker returned the message to \"%s\" as unroutable", routing_key);
        goto out;
    }
    if (mq_confirms_state(&c, 0) != MQ_ACKED) {
        snprintf(err, errlen, "broker nacked the message to \"%s\"", routing_key);
        goto out;
    }
    rc = 0;
out:
    mq_confirms_release(&c);
    return rc;
}
