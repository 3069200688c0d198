#include "receive.h"

#include "base/log.h"
#include "status.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void receive_batch_init(struct receive_batch *b, size_t cap)
{
    b->items = xcalloc(cap, sizeof *b->items);
    b->n = 0;
    b->cap = cap;
    b->retried = 0;
    b->dead = 0;
    b->applied = b->duplicates = 0;
    b->newest_occurred_at = 0;
    b->has_carry = false;
}

void receive_batch_clear(struct receive_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        amqp_destroy_envelope(&b->items[i].env);
    b->n = 0;
    b->retried = 0;
    b->dead = 0;
    b->applied = b->duplicates = 0;
    b->newest_occurred_at = 0;
}

void receive_batch_reset(struct receive_batch *b)
{
    receive_batch_clear(b);
    if (b->has_carry)
        amqp_destroy_envelope(&b->carry.env);
    b->has_carry = false;
}

bool receive_batch_redelivered(const struct receive_batch *b)
{
    return b->n == 1 && b->items[0].env.redelivered;
}

void receive_batch_release(struct receive_batch *b)
{
    receive_batch_reset(b);
    free(b->items);
    b->items = NULL;
    b->cap = 0;
}

size_t receive_batch_unsettled(const struct receive_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += !b->items[i].settled;
    return n;
}

/* The trace id of the message's "traceparent" header (set by the relay), "" when it has none
 * or an invalid one. */
static void receive_trace_id(const amqp_basic_properties_t *props,
                             char trace_id[TRACING_TRACE_ID_LEN + 1])
{
    const amqp_table_t *h = mq_headers(props);
    char tp[TRACING_TRACEPARENT_LEN + 2];

    trace_id[0] = '\0';
    if (h != NULL && mq_header_str(h, "traceparent", tp, sizeof tp))
        tracing_trace_id(tp, trace_id);
}

/* Takes one delivery. Returns 1 when one was added (or another frame handled), 0 when none came
 * within timeout, -1 with err on a connection or channel failure. */
static int take_one(amqp_connection_state_t conn, struct receive_batch *b, long timeout_ms,
                    char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct delivery *d = &b->items[b->n];
    char detail[256];
    amqp_rpc_reply_t r;
    amqp_frame_t frame;
    int status;

    amqp_maybe_release_buffers(conn);
    r = amqp_consume_message(conn, &d->env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        char msg[96], keys[192];
        d->settled = false;
        d->held = false;
        if (consumer_status_is_notice(&d->env)) { /* not an event: status.h takes it */
            memset(&d->info, 0, sizeof d->info);
            snprintf(d->why, sizeof d->why, "a notice, not an event");
            d->bad = true;
            b->n++;
            return 1;
        }
        d->bad = event_info_parse(d->env.message.body.bytes, d->env.message.body.len, &d->info,
                                  d->why, sizeof d->why) != 0;
        b->n++;
        if (d->bad) {
            const amqp_basic_properties_t *p = &d->env.message.properties;
            char id[128] = "", q1[160], q2[600];
            if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0)
                snprintf(id, sizeof id, "%.*s", (int)p->message_id.len,
                         (const char *)p->message_id.bytes);
            log_error("received poison message", "event_id=%s delivery_tag=%llu bytes=%zu error=%s",
                      log_quote(q1, sizeof q1, id), (unsigned long long)d->env.delivery_tag,
                      d->env.message.body.len, log_quote(q2, sizeof q2, d->why));
            return 1;
        }
        d->why[0] = '\0';
        receive_trace_id(&d->env.message.properties, d->info.trace_id);
        snprintf(msg, sizeof msg, "received %s", d->info.event_type);
        log_info(msg, "%s%s", event_info_keys(&d->info, keys, sizeof keys),
                 d->env.redelivered ? " redelivered=true" : "");
        return 1;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        /* a frame other than basic.deliver: the library put it back for us to read */
        status = amqp_simple_wait_frame(conn, &frame);
        if (status != AMQP_STATUS_OK) {
            snprintf(err, errlen, "connection lost: %s",
                     mq_status_text(status, detail, sizeof detail));
            return -1;
        }
        return mq_handle_frame(conn, &frame, err, errlen) == 0 ? 1 : -1;
    }
    snprintf(err, errlen, "could not receive: %s", mq_reply_text(r, detail, sizeof detail));
    return -1;
}

int receive_fill(amqp_connection_state_t conn, struct receive_batch *b, long first_wait_ms,
                 char *err, size_t errlen)
{
    long wait_ms = first_wait_ms;

    if (b->has_carry) {
        b->items[b->n++] = b->carry;
        b->has_carry = false;
        if (b->items[0].env.redelivered)
            return 0; /* alone */
        wait_ms = 0;
    }
    while (b->n < b->cap) {
        size_t before = b->n;
        int rc = take_one(conn, b, wait_ms, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (b->n > before && b->items[b->n - 1].env.redelivered) {
            if (b->n > 1) { /* it goes alone, in the next batch */
                b->carry = b->items[--b->n];
                b->has_carry = true;
            }
            break;
        }
        if (b->n > before)
            wait_ms = 0; /* after the first, take only what is already here */
    }
    return 0;
}
