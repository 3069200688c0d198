/* mq topology: the exchange and the queues a caller names, declared identically by every
 * program (mq.h). */
#include "mq/internal.h"
#include "mq/mq.h"

#include <stdio.h>
#include <string.h>

int mq_topology_init(struct mq_topology *t, const char *exchange, const char *queue,
                     const char *binding, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->exchange = exchange;
    t->queue = queue;
    t->queue_binding = binding;
    if (strlen(queue) > 249) {
        snprintf(err, errlen,
                 "queue name is too long: at most 249 bytes, to leave room for .retry");
        return -1;
    }
    snprintf(t->retry_queue, sizeof t->retry_queue, "%s.retry", queue);
    snprintf(t->dead_queue, sizeof t->dead_queue, "%s.dead", queue);
    t->partitions = 1;
    return 0;
}

int mq_topology_partition(struct mq_topology *t, long partitions, const char *header, char *err,
                          size_t errlen)
{
    if (partitions < 1 || partitions > MQ_MAX_PARTITIONS) {
        snprintf(err, errlen, "partitions must be 1 to %d, not %ld", MQ_MAX_PARTITIONS, partitions);
        return -1;
    }
    if (partitions == 1)
        return 0;
    /* the longest derived name: <queue>.partitions.retry */
    if (strlen(t->queue) > 255 - strlen(".partitions.retry")) {
        snprintf(err, errlen, "queue name is too long for partitions: at most %zu bytes",
                 255 - strlen(".partitions.retry"));
        return -1;
    }
    t->partitions = partitions;
    t->partition_header = header;
    snprintf(t->partition_exchange, sizeof t->partition_exchange, "%s.partitions", t->queue);
    snprintf(t->retry_queue, sizeof t->retry_queue, "%s.partitions.retry", t->queue);
    return 0;
}

const char *mq_partition_queue(const struct mq_topology *t, long k, char *buf, size_t len)
{
    snprintf(buf, len, "%s.p%ld", t->queue, k);
    return buf;
}

int mq_topology_add_tap(struct mq_topology *t, const char *queue, const char *binding, char *err,
                        size_t errlen)
{
    if (t->ntaps == MQ_TOPOLOGY_MAX_TAPS) {
        snprintf(err, errlen, "too many queues: at most %d besides \"%s\"", MQ_TOPOLOGY_MAX_TAPS,
                 t->queue);
        return -1;
    }
    t->taps[t->ntaps].queue = queue;
    t->taps[t->ntaps].binding = binding;
    t->ntaps++;
    return 0;
}

/* Declares a durable queue with args; bound to exchange with binding unless that is NULL. */
static int declare_queue(amqp_connection_state_t conn, const char *exchange, const char *queue,
                         amqp_table_t args, const char *binding, char *err, size_t errlen)
{
    char what[600];

    amqp_queue_declare(conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    snprintf(what, sizeof what, "declare queue \"%s\"", queue);
    if (mq_check_reply(conn, what, err, errlen) != 0)
        return -1;
    if (binding == NULL)
        return 0;
    amqp_queue_bind(conn, MQ_CHANNEL, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes(binding), amqp_empty_table);
    snprintf(what, sizeof what, "bind queue \"%s\" to \"%s\"", queue, exchange);
    return mq_check_reply(conn, what, err, errlen);
}

/* The partitions (mq.h): the consistent-hash exchange bound to the events exchange, and the P
 * queues bound to it with weight 1 each (the plugin's jump consistent hash spreads the hashes
 * evenly over the bindings). */
static int declare_partitions(amqp_connection_state_t conn, const struct mq_topology *t,
                              bool quorum, long delivery_limit, char *err, size_t errlen)
{
    amqp_table_entry_t hash_on = mq_utf8_entry("hash-header", t->partition_header);
    amqp_table_t xargs = {.num_entries = 1, .entries = &hash_on};
    struct mq_queue_args a;
    char what[600], queue[300];

    amqp_exchange_declare(conn, MQ_CHANNEL, amqp_cstring_bytes(t->partition_exchange),
                          amqp_cstring_bytes("x-consistent-hash"), 0, 1, 0, 0, xargs);
    snprintf(what, sizeof what,
             "declare exchange \"%s\" (x-consistent-hash: is the broker's plugin "
             "rabbitmq_consistent_hash_exchange enabled?)",
             t->partition_exchange);
    if (mq_check_reply(conn, what, err, errlen) != 0)
        return -1;
    amqp_exchange_bind(conn, MQ_CHANNEL, amqp_cstring_bytes(t->partition_exchange),
                       amqp_cstring_bytes(t->exchange), amqp_cstring_bytes(t->queue_binding),
                       amqp_empty_table);
    snprintf(what, sizeof what, "bind exchange \"%s\" to \"%s\"", t->partition_exchange,
             t->exchange);
    if (mq_check_reply(conn, what, err, errlen) != 0)
        return -1;
    mq_queue_args(&a, t, MQ_QUEUE_PARTITION, quorum, delivery_limit);
    for (long k = 0; k < t->partitions; k++)
        if (declare_queue(conn, t->partition_exchange,
                          mq_partition_queue(t, k, queue, sizeof queue), a.table, "1", err,
                          errlen) != 0)
            return -1;
    return 0;
}

static amqp_table_entry_t int_entry(const char *key, long value)
{
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = value;
    return e;
}

void mq_queue_args(struct mq_queue_args *a, const struct mq_topology *t, enum mq_queue_role role,
                   bool quorum, long delivery_limit)
{
    amqp_table_entry_t *e = a->entries;
    int n = 0;

    e[n++] = mq_utf8_entry("x-queue-type", quorum || role == MQ_QUEUE_RETRY ? "quorum" : "classic");
    if (role == MQ_QUEUE_RETRY && t->partitions > 1) {
        /* expired retries go back through the partition exchange, to their partition */
        e[n++] = mq_utf8_entry("x-dead-letter-exchange", t->partition_exchange);
        e[n++] = mq_utf8_entry("x-dead-letter-strategy", "at-least-once");
        e[n++] = mq_utf8_entry("x-overflow", "reject-publish");
    } else if (role == MQ_QUEUE_RETRY) {
        /* expired retries go back to the read-model queue through the default exchange */
        e[n++] = mq_utf8_entry("x-dead-letter-exchange", "");
        e[n++] = mq_utf8_entry("x-dead-letter-routing-key", t->queue);
        e[n++] = mq_utf8_entry("x-dead-letter-strategy", "at-least-once");
        e[n++] = mq_utf8_entry("x-overflow", "reject-publish");
    } else if ((role == MQ_QUEUE_WORK || role == MQ_QUEUE_PARTITION) && quorum) {
        /* a message delivered delivery_limit times (its consumer crashed on it each time) goes
         * to the dead queue, at least once, not away */
        e[n++] = mq_utf8_entry("x-dead-letter-exchange", "");
        e[n++] = mq_utf8_entry("x-dead-letter-routing-key", t->dead_queue);
        e[n++] = mq_utf8_entry("x-dead-letter-strategy", "at-least-once");
        e[n++] = mq_utf8_entry("x-overflow", "reject-publish");
    }
    if (role == MQ_QUEUE_PARTITION) {
        e[n].key = amqp_cstring_bytes("x-single-active-consumer");
        e[n].value.kind = AMQP_FIELD_KIND_BOOLEAN;
        e[n++].value.value.boolean = 1;
    }
    if (quorum)
        e[n++] = int_entry("x-delivery-limit",
                           role == MQ_QUEUE_DEAD ? MQ_DEAD_DELIVERY_LIMIT : delivery_limit);
    a->table.num_entries = n;
    a->table.entries = a->entries;
}

/* One place for every declaration, so that every program declares the same arguments (a queue
 * re-declared with different arguments fails with PRECONDITION_FAILED: change a queue's arguments
 * only together with its name). */
int mq_declare_topology(amqp_connection_state_t conn, const struct mq_topology *t, char *err,
                        size_t errlen)
{
    const struct mq_options *o = mq_options_get();
    struct mq_queue_args a;
    char what[300];

    amqp_exchange_declare(conn, MQ_CHANNEL, amqp_cstring_bytes(t->exchange),
                          amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
    snprintf(what, sizeof what, "declare exchange \"%s\"", t->exchange);
    if (mq_check_reply(conn, what, err, errlen) != 0)
        return -1;
    if (t->partitions > 1) {
        if (declare_partitions(conn, t, o->quorum, o->delivery_limit, err, errlen) != 0)
            return -1;
    } else {
        mq_queue_args(&a, t, MQ_QUEUE_WORK, o->quorum, o->delivery_limit);
        if (declare_queue(conn, t->exchange, t->queue, a.table, t->queue_binding, err, errlen) != 0)
            return -1;
    }
    mq_queue_args(&a, t, MQ_QUEUE_TAP, o->quorum, o->delivery_limit);
    for (size_t i = 0; i < t->ntaps; i++)
        if (declare_queue(conn, t->exchange, t->taps[i].queue, a.table, t->taps[i].binding, err,
                          errlen) != 0)
            return -1;
    mq_queue_args(&a, t, MQ_QUEUE_RETRY, o->quorum, o->delivery_limit);
    if (declare_queue(conn, t->exchange, t->retry_queue, a.table, NULL, err, errlen) != 0)
        return -1;
    mq_queue_args(&a, t, MQ_QUEUE_DEAD, o->quorum, o->delivery_limit);
    return declare_queue(conn, t->exchange, t->dead_queue, a.table, NULL, err, errlen);
}
