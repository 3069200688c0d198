#include "publish.h"

#include "base/log.h"
#include "base/tracing.h"
#include "domain/domain.h"

#include <stdio.h>
#include <string.h>

/* Wraps a PGresult value (NUL-terminated, owned by the result) as AMQP bytes without copying. */
static amqp_bytes_t value_bytes(const struct outbox_batch *b, int row, enum outbox_col col)
{
    amqp_bytes_t out;
    out.len = (size_t)outbox_length(b, row, col);
    out.bytes = (void *)(uintptr_t)outbox_value(b, row, col);
    return out;
}

int publish_send(struct publisher *p, const struct outbox_batch *b, struct mq_confirms *c,
                 long long deadline_ms, char *err, size_t errlen)
{
    amqp_basic_properties_t props;
    char detail[256];

    mq_confirms_reset(c, p->next_tag, (size_t)b->n);
    mq_json_props(&props);
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    for (int i = 0; i < b->n; i++) {
        amqp_table_entry_t headers[2];
        int status;

        if (mq_wait_writable(p->conn, deadline_ms, err, errlen) != 0)
            return -1;
        props.message_id = value_bytes(b, i, OUTBOX_EVENT_ID);
        props.type = value_bytes(b, i, OUTBOX_EVENT_TYPE);
        /* the aggregate's id, on which the partition exchange hashes (lib/mq/mq.h), and the
         * request's trace context as the header "traceparent" (W3C) */
        headers[0] =
            mq_utf8_entry(DOMAIN_HDR_AGGREGATE_ID, outbox_value(b, i, OUTBOX_AGGREGATE_ID));
        props.headers.num_entries = 1;
        if (outbox_length(b, i, OUTBOX_TRACEPARENT) > 0) {
            headers[1] = mq_utf8_entry("traceparent", outbox_value(b, i, OUTBOX_TRACEPARENT));
            props.headers.num_entries = 2;
        }
        props.headers.entries = headers;
        status = amqp_basic_publish(p->conn, MQ_CHANNEL, amqp_cstring_bytes(p->exchange),
                                    value_bytes(b, i, OUTBOX_ROUTING_KEY), 1, 0, &props,
                                    value_bytes(b, i, OUTBOX_PAYLOAD));
        if (status != AMQP_STATUS_OK) {
            snprintf(err, errlen, "could not publish outbox row %s to \"%s\": %s",
                     outbox_value(b, i, OUTBOX_ID), p->exchange,
                     mq_status_text(status, detail, sizeof detail));
            return -1;
        }
        p->next_tag++;
    }
    return 0;
}

void publish_log_rows(const struct outbox_batch *b, size_t n)
{
    /* info level: one order can be followed through all four services' logs */
    if (!log_enabled(LOG_INFO))
        return;
    for (int i = 0; i < b->n && (size_t)i < n; i++) {
        const char *agg = outbox_value(b, i, OUTBOX_AGGREGATE_TYPE);
        const char *key = strcmp(agg, "order") == 0     ? "order_id"
                          : strcmp(agg, "product") == 0 ? "product_id"
                          : strcmp(agg, "todo") == 0    ? "todo_id"
                                                        : "aggregate_id";
        const char *tp = outbox_value(b, i, OUTBOX_TRACEPARENT);
        char trace_id[TRACING_TRACE_ID_LEN + 1];

        tracing_trace_id(tp, trace_id);
        log_info("published event", "event_id=%s type=%s routing_key=%s %s=%s outbox_id=%s%s%s",
                 outbox_value(b, i, OUTBOX_EVENT_ID), outbox_value(b, i, OUTBOX_EVENT_TYPE),
                 outbox_value(b, i, OUTBOX_ROUTING_KEY), key,
                 outbox_value(b, i, OUTBOX_AGGREGATE_ID), outbox_value(b, i, OUTBOX_ID),
                 *trace_id != '\0' ? " trace_id=" : "", trace_id);
    }
}
