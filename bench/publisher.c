/* publisher: the relay benchmark's baseline, a minimal librabbitmq-c publisher.
 *
 * usage: publisher BROKER_URL EXCHANGE QUEUE FILE [CONFIRM_EVERY]
 *
 * Reads FILE, one message per line as "routing_key TAB message_id TAB type TAB payload" (what
 * bench/relay.sh dumps from the outbox), into memory. Declares EXCHANGE (durable topic) and QUEUE
 * (durable classic queue bound with "#"), puts the channel in confirm mode and publishes every
 * message persistent with the relay's properties (mq_json_props, lib/mq), waiting for the broker's
 * confirms after every CONFIRM_EVERY messages (default 1000). Prints one JSON line:
 * {"messages": n, "seconds": s, "rate": n/s}, timed from the first publish to the last confirm,
 * then deletes QUEUE (a benchmark leaves nothing behind). Exits 0 when every message was acked,
 * 1 on any failure. Memory: everything lives until exit. */
#include "domain/domain.h"
#include "mq/mq.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define CHANNEL 1
#define CONFIRM_TIMEOUT_S 30

struct message {
    amqp_bytes_t routing_key, message_id, type, body;
};

struct messages {
    char *buf; /* the whole file; the messages point into it */
    struct message *items;
    size_t n;
};

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL) {
        fprintf(stderr, "publisher: out of memory\n");
        abort();
    }
    return q;
}

static amqp_bytes_t bytes(char *start, size_t len)
{
    amqp_bytes_t b;
    b.bytes = start;
    b.len = len;
    return b;
}

/* Splits one line (without its newline) into the four fields. Returns 0, or -1 when a field is
 * missing. */
static int parse_line(char *line, size_t len, struct message *m)
{
    amqp_bytes_t *fields[3] = {&m->routing_key, &m->message_id, &m->type};
    char *p = line, *end = line + len;

    for (int i = 0; i < 3; i++) {
        char *tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL)
            return -1;
        *fields[i] = bytes(p, (size_t)(tab - p));
        p = tab + 1;
    }
    m->body = bytes(p, (size_t)(end - p));
    return m->body.len > 0 ? 0 : -1;
}

static int messages_load(struct messages *ms, const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 0, len = 0, got, line_no = 0;
    char *p, *end;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    ms->buf = NULL;
    do {
        if (cap - len < 65536) {
            cap = cap == 0 ? 1 << 20 : cap * 2;
            ms->buf = xrealloc(ms->buf, cap + 1);
        }
        got = fread(ms->buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        perror(path);
        fclose(f);
        return -1;
    }
    fclose(f);
    ms->buf[len] = '\0';

    ms->items = NULL;
    ms->n = 0;
    cap = 0;
    for (p = ms->buf, end = ms->buf + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        line_no++;
        if (l > 0) {
            if (ms->n == cap) {
                cap = cap == 0 ? 1024 : cap * 2;
                ms->items = xrealloc(ms->items, cap * sizeof *ms->items);
            }
            if (parse_line(p, l, &ms->items[ms->n]) != 0) {
                fprintf(stderr, "publisher: %s:%zu: expected 4 tab-separated fields\n", path,
                        line_no);
                return -1;
            }
            ms->n++;
        }
        p += l + 1;
    }
    return 0;
}

static bool rpc_ok(amqp_connection_state_t conn, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);

    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return true;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf(stderr, "publisher: could not %s: %s\n", what, amqp_error_string2(r.library_error));
    else
        fprintf(stderr, "publisher: could not %s: broker closed the channel or connection\n", what);
    return false;
}

static amqp_connection_state_t connect_broker(char *url, const char *exchange, const char *queue)
{
    struct amqp_connection_info info;
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    amqp_table_entry_t arg;
    amqp_table_t args;
    amqp_rpc_reply_t r;
    int status;

    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
        fprintf(stderr, "publisher: cannot parse the broker URL\n");
        goto fail;
    }
    status = amqp_socket_open(sock, info.host, info.port);
    if (status != AMQP_STATUS_OK) {
        fprintf(stderr, "publisher: could not connect to %s:%d: %s\n", info.host, info.port,
                amqp_error_string2(status));
        goto fail;
    }
    r = amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                   info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "publisher: could not log in to vhost %s\n", info.vhost);
        goto fail;
    }
    amqp_channel_open(conn, CHANNEL);
    if (!rpc_ok(conn, "open the channel"))
        goto fail;

    amqp_exchange_declare(conn, CHANNEL, amqp_cstring_bytes(exchange), amqp_cstring_bytes("topic"),
                          0, 1, 0, 0, amqp_empty_table);
    if (!rpc_ok(conn, "declare the exchange"))
        goto fail;
    arg = mq_utf8_entry("x-queue-type", "classic");
    args.num_entries = 1;
    args.entries = &arg;
    amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    if (!rpc_ok(conn, "declare the queue"))
        goto fail;
    amqp_queue_bind(conn, CHANNEL, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes("#"), amqp_empty_table);
    if (!rpc_ok(conn, "bind the queue"))
        goto fail;
    amqp_confirm_select(conn, CHANNEL);
    if (!rpc_ok(conn, "select confirm mode"))
        goto fail;
    return conn;
fail:
    amqp_destroy_connection(conn);
    return NULL;
}

/* Reads frames until every tag up to last is acked (honouring `multiple`). Returns 0, or -1 on a
 * nack, a time-out or a closed channel. */
static int wait_confirms(amqp_connection_state_t conn, uint64_t last)
{
    uint64_t acked = 0;

    while (acked < last) {
        struct timeval tv = {CONFIRM_TIMEOUT_S, 0};
        amqp_frame_t frame;
        int status = amqp_simple_wait_frame_noblock(conn, &frame, &tv);

        if (status != AMQP_STATUS_OK) {
            fprintf(stderr, "publisher: waiting for confirms: %s\n", amqp_error_string2(status));
            return -1;
        }
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const amqp_basic_ack_t *ack = frame.payload.method.decoded;
            /* acks arrive in order; a single ack may settle a tag out of order, which cannot
             * happen on one channel of one queue, so the highest tag seen is what counts */
            if (ack->delivery_tag > acked)
                acked = ack->delivery_tag;
            break;
        }
        case AMQP_BASIC_NACK_METHOD:
            fprintf(stderr, "publisher: broker nacked a message\n");
            return -1;
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            fprintf(stderr, "publisher: broker closed the channel\n");
            return -1;
        default:
            break;
        }
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int publish_all(amqp_connection_state_t conn, const char *exchange,
                       const struct messages *ms, size_t confirm_every)
{
    amqp_basic_properties_t props;
    amqp_bytes_t exchange_b = amqp_cstring_bytes(exchange);
    uint64_t tag = 0;

    mq_json_props(&props);
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    for (size_t i = 0; i < ms->n; i++) {
        const struct message *m = &ms->items[i];
        amqp_table_entry_t aggregate;
        int status;

        props.message_id = m->message_id;
        props.type = m->type;
        /* the relay's partition header (relay/publish.c), the event id standing in for the
         * aggregate id the file does not carry: a value of about the same size */
        aggregate.key = amqp_cstring_bytes(DOMAIN_HDR_AGGREGATE_ID);
        aggregate.value.kind = AMQP_FIELD_KIND_UTF8;
        aggregate.value.value.bytes = m->message_id;
        props.headers.num_entries = 1;
        props.headers.entries = &aggregate;
        status =
            amqp_basic_publish(conn, CHANNEL, exchange_b, m->routing_key, 0, 0, &props, m->body);
        if (status != AMQP_STATUS_OK) {
            fprintf(stderr, "publisher: could not publish message %zu: %s\n", i,
                    amqp_error_string2(status));
            return -1;
        }
        tag++;
        if (tag % confirm_every == 0 && wait_confirms(conn, tag) != 0)
            return -1;
    }
    return tag % confirm_every != 0 ? wait_confirms(conn, tag) : 0;
}

int main(int argc, char **argv)
{
    struct messages ms;
    amqp_connection_state_t conn;
    long confirm_every = 1000;
    double t0, seconds;
    int rc;

    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: publisher BROKER_URL EXCHANGE QUEUE FILE [CONFIRM_EVERY]\n");
        return 2;
    }
    if (argc == 6) {
        char *end;
        confirm_every = strtol(argv[5], &end, 10);
        if (*end != '\0' || confirm_every < 1 || confirm_every > 100000) {
            fprintf(stderr, "publisher: CONFIRM_EVERY must be 1..100000\n");
            return 2;
        }
    }
    if (messages_load(&ms, argv[4]) != 0)
        return 1;
    if (ms.n == 0) {
        fprintf(stderr, "publisher: %s holds no messages\n", argv[4]);
        return 1;
    }
    conn = connect_broker(argv[1], argv[2], argv[3]);
    if (conn == NULL)
        return 1;

    t0 = now_s();
    rc = publish_all(conn, argv[2], &ms, (size_t)confirm_every);
    seconds = now_s() - t0;
    if (rc == 0)
        printf("{\"messages\": %zu, \"seconds\": %.6f, \"rate\": %.1f}\n", ms.n, seconds,
               (double)ms.n / seconds);
    amqp_queue_delete(conn, CHANNEL, amqp_cstring_bytes(argv[3]), 0, 0);
    if (!rpc_ok(conn, "delete the queue"))
        rc = -1;

    (void)amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS);
    (void)amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    free(ms.items);
    free(ms.buf);
    return rc == 0 ? 0 : 1;
}
