#include "status.h"

#include <stdio.h>
#include <time.h>

void relay_status_init(struct relay_status *s, long interval_ms)
{
    s->interval_ms = interval_ms;
    s->next_ms = 0;
}

int relay_status_open(amqp_connection_state_t conn, char *err, size_t errlen)
{
    char detail[256];
    amqp_rpc_reply_t r;

    amqp_channel_open(conn, RELAY_STATUS_CHANNEL);
    r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not open the status channel: %s",
                 mq_reply_text(r, detail, sizeof detail));
        return -1;
    }
    return 0;
}

int relay_status_format(const struct relay_status_figures *f, char *buf, size_t len)
{
    time_t secs = (time_t)(f->at_ms / 1000);
    struct tm tm;
    char at[32];
    int n;

    gmtime_r(&secs, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(buf, len,
                 "{\"at\":\"%s.%03dZ\",\"backlog\":%lld,\"oldestAgeMs\":%lld,\"leader\":%s,"
                 "\"unroutable\":%lld,\"blocked\":%s}",
                 at, (int)(f->at_ms % 1000), f->backlog, f->oldest_age_ms,
                 f->leader ? "true" : "false", f->unroutable, f->blocked ? "true" : "false");
    return n < 0 || (size_t)n >= len ? -1 : n;
}

bool relay_status_due(struct relay_status *s, long long now_ms)
{
    if (now_ms < s->next_ms)
        return false;
    s->next_ms = now_ms + s->interval_ms;
    return true;
}

int relay_status_publish(const struct relay_status *s, amqp_connection_state_t conn,
                         const char *exchange, const struct relay_status_figures *f, char *err,
                         size_t errlen)
{
    amqp_basic_properties_t props;
    char body[512], expiration[24], detail[128];
    int n = relay_status_format(f, body, sizeof body), status;

    if (n < 0) {
        snprintf(err, errlen, "could not format the relay status");
        return -1;
    }
    snprintf(expiration, sizeof expiration, "%ld", s->interval_ms * RELAY_STATUS_TTL_FACTOR);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_EXPIRATION_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 1; /* transient */
    props.type = amqp_cstring_bytes(DOMAIN_RELAY_STATUS_TYPE);
    props.expiration = amqp_cstring_bytes(expiration);
    status = amqp_basic_publish(conn, RELAY_STATUS_CHANNEL, amqp_cstring_bytes(exchange),
                                amqp_cstring_bytes(RELAY_STATUS_ROUTING_KEY), 0, 0, &props,
                                (amqp_bytes_t){.len = (size_t)n, .bytes = body});
    if (status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not publish the relay status: %s",
                 mq_status_text(status, detail, sizeof detail));
        return -1;
    }
    return 0;
}
