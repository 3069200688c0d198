#include "deadletter.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Headers of our own and the broker's dead-letter history are replaced, every other is kept. */
static bool header_replaced(amqp_bytes_t key)
{
    static const char *const prefixes[] = {"x-cqrs-", "x-death", "x-first-death-", "x-last-death-"};

    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (key.len >= n && memcmp(key.bytes, prefixes[i], n) == 0)
            return true;
    }
    return false;
}

long deadletter_prior_attempts(const amqp_envelope_t *env)
{
    long long n = 0;

    if (!mq_header_int(mq_headers(&env->message.properties), MQ_HDR_ATTEMPTS, &n) || n < 0)
        return 0;
    return n > 1000000 ? 1000000 : (long)n;
}

static amqp_table_entry_t text_entry(const char *key, const char *value)
{
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

int deadletter_send(struct deadletter *dl, const amqp_envelope_t *env,
                    enum deadletter_target target, long attempts, const char *reason,
                    const char *sqlstate, long delay_ms, char *err, size_t errlen)
{
    const amqp_basic_properties_t *in = &env->message.properties;
    const amqp_table_t *old = mq_headers(in);
    amqp_table_entry_t entries[64];
    amqp_basic_properties_t props = *in;
    char routing_key[256], expiration[24];
    int n = 0;

    /* the relay's routing key, kept across retries (a retried copy comes back with the queue's
     * name as its routing key) */
    if (!mq_header_str(old, MQ_HDR_ROUTING_KEY, routing_key, sizeof routing_key))
        snprintf(routing_key, sizeof routing_key, "%.*s", (int)env->routing_key.len,
                 (const char *)env->routing_key.bytes);
    for (int i = 0; old != NULL && i < old->num_entries && n < 58; i++)
        if (!header_replaced(old->entries[i].key))
            entries[n++] = old->entries[i];
    entries[n].key = amqp_cstring_bytes(MQ_HDR_ATTEMPTS);
    entries[n].value.kind = AMQP_FIELD_KIND_I64;
    entries[n++].value.value.i64 = attempts;
    entries[n++] = text_entry(MQ_HDR_REASON, reason);
    entries[n++] = text_entry(MQ_HDR_SQLSTATE, sqlstate);
    entries[n++] = text_entry(MQ_HDR_ROUTING_KEY, routing_key);
    entries[n].key = amqp_cstring_bytes(MQ_HDR_FAILED_AT);
    entries[n].value.kind = AMQP_FIELD_KIND_TIMESTAMP;
    entries[n++].value.value.u64 = (uint64_t)time(NULL);

    props._flags |= AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.headers.num_entries = n;
    props.headers.entries = entries;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props._flags &= ~AMQP_BASIC_EXPIRATION_FLAG;
    if (target == DEADLETTER_RETRY) {
        snprintf(expiration, sizeof expiration, "%ld", delay_ms > 0 ? delay_ms : 0);
        props.expiration = amqp_cstring_bytes(expiration);
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    }
    return mq_publish_confirmed(dl->conn, &dl->next_tag, "",
                                target == DEADLETTER_RETRY ? dl->topo->retry_queue
                                                           : dl->topo->dead_queue,
                                &props, env->message.body, dl->confirm_timeout_ms, err, errlen);
}
