#include "mq/dlq.h"

#include "mq/event_batch.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Copies b into buf with tabs and line breaks turned into spaces; "-" when empty. */
static void field(amqp_bytes_t b, char *buf, size_t len)
{
    size_t n = b.len < len - 1 ? b.len : len - 1;

    memcpy(buf, b.bytes, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    if (n == 0)
        snprintf(buf, len, "-");
}

static void header_field(const amqp_table_t *h, const char *key, char *buf, size_t len)
{
    if (!mq_header_str(h, key, buf, len) || buf[0] == '\0')
        snprintf(buf, len, "-");
    for (char *c = buf; *c != '\0'; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r')
            *c = ' ';
}

/* Fills l from m: the event id and type from its properties, else its body, else "-". */
static void describe(const amqp_message_t *m, struct dlq_letter *l)
{
    const amqp_basic_properties_t *p = &m->properties;
    const amqp_table_t *h = mq_headers(p);
    struct event_info info;
    char why[128];
    bool parsed = event_info_parse(m->body.bytes, m->body.len, &info, why, sizeof why) == 0;
    long long failed_at = 0;

    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0)
        field(p->message_id, l->id, sizeof l->id);
    else
        snprintf(l->id, sizeof l->id, "%s", parsed ? info.event_id : "-");
    if ((p->_flags & AMQP_BASIC_TYPE_FLAG) && p->type.len > 0)
        field(p->type, l->type, sizeof l->type);
    else
        snprintf(l->type, sizeof l->type, "%s", parsed ? info.event_type : "-");
    l->attempts = 0;
    (void)mq_header_int(h, MQ_HDR_ATTEMPTS, &l->attempts);
    snprintf(l->failed_at, sizeof l->failed_at, "-");
    if (mq_header_int(h, MQ_HDR_FAILED_AT, &failed_at) && failed_at > 0) {
        time_t secs = (time_t)failed_at;
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(l->failed_at, sizeof l->failed_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    header_field(h, MQ_HDR_SQLSTATE, l->sqlstate, sizeof l->sqlstate);
    header_field(h, MQ_HDR_ROUTING_KEY, l->routing_key, sizeof l->routing_key);
    header_field(h, MQ_HDR_REASON, l->reason, sizeof l->reason);
}

static bool wanted(const struct dlq_request *r, const char *id)
{
    if (r->all)
        return true;
    for (int i = 0; i < r->nids; i++) {
        if (strcmp(r->ids[i], id) == 0) {
            if (r->found != NULL)
                r->found[i] = true;
            return true;
        }
    }
    return false;
}

/* Publishes a copy of m to the read-model queue without our headers and the broker's
 * dead-letter history, so that it starts with a fresh attempt count. */
static int requeue(amqp_connection_state_t conn, uint64_t *next_tag, const struct mq_topology *t,
                   const amqp_message_t *m, long timeout_ms, char *err, size_t errlen)
{
    amqp_basic_properties_t props = m->properties;
    const amqp_table_t *old = mq_headers(&m->properties);
    amqp_table_entry_t entries[64];
    int n = 0;

    for (int i = 0; old != NULL && i < old->num_entries && n < 64; i++) {
        amqp_bytes_t k = old->entries[i].key;
        if ((k.len >= 7 && memcmp(k.bytes, "x-cqrs-", 7) == 0) ||
            (k.len >= 7 && memcmp(k.bytes, "x-death", 7) == 0) ||
            (k.len >= 8 && memcmp(k.bytes, "x-first-", 8) == 0) ||
            (k.len >= 7 && memcmp(k.bytes, "x-last-", 7) == 0))
            continue;
        entries[n++] = old->entries[i];
    }
    props.headers.num_entries = n;
    props.headers.entries = entries;
    props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    props._flags &= ~AMQP_BASIC_EXPIRATION_FLAG;
    if (n > 0)
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
    else
        props._flags &= ~AMQP_BASIC_HEADERS_FLAG;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    /* back to the work queue; with partitions, through the partition exchange, which sends it to
     * its partition by the header it kept */
    if (t->partitions > 1)
        return mq_publish_confirmed(conn, next_tag, t->partition_exchange, t->queue, &props,
                                    m->body, timeout_ms, err, errlen);
    return mq_publish_confirmed(conn, next_tag, "", t->queue, &props, m->body, timeout_ms, err,
                                errlen);
}

int dlq_run(amqp_connection_state_t conn, uint64_t *next_tag, const struct mq_topology *t,
            const struct dlq_request *r, long *count, long *done, char *err, size_t errlen)
{
    uint64_t last_kept = 0; /* the newest delivery tag left unacked */
    char detail[256];

    *count = *done = 0;
    for (;;) {
        amqp_rpc_reply_t rep =
            amqp_basic_get(conn, MQ_CHANNEL, amqp_cstring_bytes(t->dead_queue), 0);
        struct dlq_letter l;
        amqp_message_t m;
        uint64_t tag;

        if (rep.reply_type != AMQP_RESPONSE_NORMAL) {
            snprintf(err, errlen, "could not get from \"%s\": %s", t->dead_queue,
                     mq_reply_text(rep, detail, sizeof detail));
            return -1;
        }
        if (rep.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
            break;
        tag = ((const amqp_basic_get_ok_t *)rep.reply.decoded)->delivery_tag;
        rep = amqp_read_message(conn, MQ_CHANNEL, &m, 0);
        if (rep.reply_type != AMQP_RESPONSE_NORMAL) {
            snprintf(err, errlen, "could not read a dead letter: %s",
                     mq_reply_text(rep, detail, sizeof detail));
            return -1;
        }
        (*count)++;
        describe(&m, &l);
        if (r->action == DLQ_LIST) {
            if (r->visit != NULL)
                r->visit(r->arg, &l);
            last_kept = tag;
        } else if (wanted(r, l.id)) {
            if (r->action == DLQ_REQUEUE &&
                requeue(conn, next_tag, t, &m, r->confirm_timeout_ms, err, errlen) != 0) {
                amqp_destroy_message(&m);
                return -1;
            }
            if (amqp_basic_ack(conn, MQ_CHANNEL, tag, 0) != AMQP_STATUS_OK) {
                snprintf(err, errlen, "could not ack dead letter %s", l.id);
                amqp_destroy_message(&m);
                return -1;
            }
            (*done)++;
            if (r->visit != NULL)
                r->visit(r->arg, &l);
        } else {
            last_kept = tag;
        }
        amqp_destroy_message(&m);
        amqp_maybe_release_buffers(conn);
    }
    /* every message not acted on goes back, in its place */
    if (last_kept != 0 && amqp_basic_nack(conn, MQ_CHANNEL, last_kept, 1, 1) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not give the other dead letters back");
        return -1;
    }
    return 0;
}
