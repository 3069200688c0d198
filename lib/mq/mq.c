#include "mq/mq.h"

#include "base/backoff.h"
#include "base/config.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/xalloc.h"

#include <amqp_tcp_socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define MQ_FRAME_MAX 131072
#define MQ_CONNECT_TIMEOUT_S 5
#define MQ_RPC_TIMEOUT_S 15

/* --- options -------------------------------------------------------------------------------- */

struct mq_options {
    long heartbeat_s;
};

static const struct config_var mq_option_vars[] = {
    /* the heartbeat asked for at login (the broker may lower it; 0 = none): a frozen peer is
     * noticed after about two heartbeats, and a frozen consumer's unacked deliveries go back */
    {"AMQP_HEARTBEAT_S", CONFIG_INT, "10", offsetof(struct mq_options, heartbeat_s), 0, 3600},
};

const struct config_table mq_config_table = CONFIG_TABLE(mq_option_vars);

static pthread_once_t mq_options_once = PTHREAD_ONCE_INIT;
static struct mq_options mq_opts;
static char mq_opts_err[256];

static void mq_options_load(void)
{
    if (config_load(&mq_opts, mq_option_vars, sizeof mq_option_vars / sizeof mq_option_vars[0],
                    mq_opts_err, sizeof mq_opts_err) != 0)
        mq_opts.heartbeat_s = 10; /* mq_check_options() reports it at start */
}

int mq_check_options(char *err, size_t errlen)
{
    pthread_once(&mq_options_once, mq_options_load);
    if (mq_opts_err[0] != '\0') {
        snprintf(err, errlen, "%s", mq_opts_err);
        return -1;
    }
    return 0;
}

/* --- broker address ------------------------------------------------------------------------- */

int mq_broker_parse(struct mq_broker *b, const char *url, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->buf = xstrdup(url);
    amqp_default_connection_info(&b->info);
    if (amqp_parse_url(b->buf, &b->info) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "invalid broker URL: expected amqp://user:password@host:port/vhost");
        goto fail;
    }
    if (b->info.ssl) {
        snprintf(err, errlen, "invalid broker URL: amqps is not supported");
        goto fail;
    }
    if (b->info.host == NULL || *b->info.host == '\0') {
        snprintf(err, errlen, "invalid broker URL: missing host");
        goto fail;
    }
    return 0;
fail:
    mq_broker_release(b);
    return -1;
}

void mq_broker_release(struct mq_broker *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* --- errors --------------------------------------------------------------------------------- */

const char *mq_status_text(int status, char *buf, size_t len)
{
    snprintf(buf, len, "%s", amqp_error_string2(status));
    return buf;
}

/* Formats a channel.close / connection.close method: "channel closed by broker: 404 NOT_FOUND". */
static void close_text(const amqp_method_t *m, char *buf, size_t len)
{
    if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *c = m->decoded;
        snprintf(buf, len, "connection closed by broker: %u %.*s", c->reply_code,
                 (int)c->reply_text.len, (const char *)c->reply_text.bytes);
    } else if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *c = m->decoded;
        snprintf(buf, len, "channel closed by broker: %u %.*s", c->reply_code,
                 (int)c->reply_text.len, (const char *)c->reply_text.bytes);
    } else {
        snprintf(buf, len, "unexpected method %s", amqp_method_name(m->id));
    }
}

const char *mq_reply_text(amqp_rpc_reply_t r, char *buf, size_t len)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(buf, len, "ok");
        break;
    case AMQP_RESPONSE_NONE:
        snprintf(buf, len, "missing reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        mq_status_text(r.library_error, buf, len);
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        close_text(&r.reply, buf, len);
        break;
    default:
        snprintf(buf, len, "unknown reply type %d", (int)r.reply_type);
        break;
    }
    return buf;
}

/* Checks the reply of the last synchronous call. Returns 0, or -1 with err "could not <what>: ..".
 */
static int check_reply(amqp_connection_state_t conn, const char *what, char *err, size_t errlen)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
    char detail[256];

    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    snprintf(err, errlen, "could not %s: %s", what, mq_reply_text(r, detail, sizeof detail));
    return -1;
}

/* --- topology ------------------------------------------------------------------------------- */

int mq_topology_init(struct mq_topology *t, const char *exchange, const char *queue,
                     const char *mood_queue, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->exchange = exchange;
    t->queue = queue;
    t->mood_queue = mood_queue;
    if (strlen(queue) > 249) {
        snprintf(err, errlen,
                 "queue name is too long: at most 249 bytes, to leave room for .retry");
        return -1;
    }
    snprintf(t->retry_queue, sizeof t->retry_queue, "%s.retry", queue);
    snprintf(t->dead_queue, sizeof t->dead_queue, "%s.dead", queue);
    return 0;
}

static amqp_table_entry_t utf8_entry(const char *key, const char *value)
{
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

/* Declares a durable queue with args; bound to the exchange with binding unless that is NULL. */
static int declare_queue(amqp_connection_state_t conn, const struct mq_topology *t,
                         const char *queue, amqp_table_t args, const char *binding, char *err,
                         size_t errlen)
{
    char what[600];

    amqp_queue_declare(conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    snprintf(what, sizeof what, "declare queue \"%s\"", queue);
    if (check_reply(conn, what, err, errlen) != 0)
        return -1;
    if (binding == NULL)
        return 0;
    amqp_queue_bind(conn, MQ_CHANNEL, amqp_cstring_bytes(queue), amqp_cstring_bytes(t->exchange),
                    amqp_cstring_bytes(binding), amqp_empty_table);
    snprintf(what, sizeof what, "bind queue \"%s\" to \"%s\"", queue, t->exchange);
    return check_reply(conn, what, err, errlen);
}

/* One place for every declaration, so that every program declares the same arguments (a queue
 * re-declared with different arguments fails with PRECONDITION_FAILED: change a queue's arguments
 * only together with its name). */
int mq_declare_topology(amqp_connection_state_t conn, const struct mq_topology *t, char *err,
                        size_t errlen)
{
    amqp_table_entry_t classic_entries[1] = {utf8_entry("x-queue-type", "classic")};
    amqp_table_t classic = {1, classic_entries};
    /* expired retries go back to the read-model queue through the default exchange */
    amqp_table_entry_t retry_entries[5] = {
        utf8_entry("x-queue-type", "quorum"),
        utf8_entry("x-dead-letter-exchange", ""),
        utf8_entry("x-dead-letter-routing-key", t->queue),
        utf8_entry("x-dead-letter-strategy", "at-least-once"),
        utf8_entry("x-overflow", "reject-publish"),
    };
    amqp_table_t retry = {5, retry_entries};
    char what[300];

    amqp_exchange_declare(conn, MQ_CHANNEL, amqp_cstring_bytes(t->exchange),
                          amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
    snprintf(what, sizeof what, "declare exchange \"%s\"", t->exchange);
    if (check_reply(conn, what, err, errlen) != 0)
        return -1;
    if (declare_queue(conn, t, t->queue, classic, "#", err, errlen) != 0 ||
        declare_queue(conn, t, t->mood_queue, classic, "mood.#", err, errlen) != 0 ||
        declare_queue(conn, t, t->retry_queue, retry, NULL, err, errlen) != 0 ||
        declare_queue(conn, t, t->dead_queue, classic, NULL, err, errlen) != 0)
        return -1;
    return 0;
}

/* --- headers -------------------------------------------------------------------------------- */

static const amqp_field_value_t *header_find(const amqp_table_t *t, const char *key)
{
    size_t klen = strlen(key);

    if (t == NULL)
        return NULL;
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len == klen && memcmp(e->key.bytes, key, klen) == 0)
            return &e->value;
    }
    return NULL;
}

bool mq_header_int(const amqp_table_t *t, const char *key, long long *out)
{
    const amqp_field_value_t *v = header_find(t, key);

    if (v == NULL)
        return false;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        *out = v->value.i8;
        return true;
    case AMQP_FIELD_KIND_U8:
        *out = v->value.u8;
        return true;
    case AMQP_FIELD_KIND_I16:
        *out = v->value.i16;
        return true;
    case AMQP_FIELD_KIND_U16:
        *out = v->value.u16;
        return true;
    case AMQP_FIELD_KIND_I32:
        *out = v->value.i32;
        return true;
    case AMQP_FIELD_KIND_U32:
        *out = v->value.u32;
        return true;
    case AMQP_FIELD_KIND_I64:
        *out = (long long)v->value.i64;
        return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        *out = (long long)v->value.u64;
        return true;
    default:
        return false;
    }
}

bool mq_header_str(const amqp_table_t *t, const char *key, char *buf, size_t len)
{
    const amqp_field_value_t *v = header_find(t, key);
    size_t n;

    buf[0] = '\0';
    if (v == NULL || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return false;
    n = v->value.bytes.len < len - 1 ? v->value.bytes.len : len - 1;
    if (n > 0)
        memcpy(buf, v->value.bytes.bytes, n);
    buf[n] = '\0';
    return true;
}

const amqp_table_t *mq_headers(const amqp_basic_properties_t *props)
{
    return (props->_flags & AMQP_BASIC_HEADERS_FLAG) ? &props->headers : NULL;
}

/* --- connections ---------------------------------------------------------------------------- */

static amqp_table_entry_t bool_entry(const char *key)
{
    amqp_table_entry_t e;

    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e.value.value.boolean = 1;
    return e;
}

amqp_connection_state_t mq_connect(const struct mq_broker *b, const struct mq_topology *t,
                                   unsigned flags, char *err, size_t errlen)
{
    amqp_connection_state_t conn = amqp_new_connection();
    struct timeval connect_tv = {MQ_CONNECT_TIMEOUT_S, 0};
    struct timeval rpc_tv = {MQ_RPC_TIMEOUT_S, 0};
    amqp_socket_t *sock;
    char detail[256];
    int status;

    if (conn == NULL) {
        snprintf(err, errlen, "could not allocate an AMQP connection");
        return NULL;
    }
    sock = amqp_tcp_socket_new(conn);
    if (sock == NULL) {
        snprintf(err, errlen, "could not create a TCP socket");
        goto fail;
    }
    status = amqp_socket_open_noblock(sock, b->info.host, b->info.port, &connect_tv);
    if (status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not connect to %s:%d: %s", b->info.host, b->info.port,
                 mq_status_text(status, detail, sizeof detail));
        goto fail;
    }
    if (amqp_set_handshake_timeout(conn, &rpc_tv) != AMQP_STATUS_OK ||
        amqp_set_rpc_timeout(conn, &rpc_tv) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not set AMQP time-outs");
        goto fail;
    }
    /* librabbitmq merges these capabilities into its own: the broker then sends
     * connection.blocked / connection.unblocked (handled in handle_frame) */
    amqp_table_entry_t caps[] = {
        bool_entry("connection.blocked"),
        bool_entry("publisher_confirms"),
        bool_entry("basic.nack"),
        bool_entry("consumer_cancel_notify"),
    };
    amqp_table_entry_t props[1];
    amqp_table_t props_table = {1, props};

    props[0].key = amqp_cstring_bytes("capabilities");
    props[0].value.kind = AMQP_FIELD_KIND_TABLE;
    props[0].value.value.table.num_entries = (int)(sizeof caps / sizeof caps[0]);
    props[0].value.value.table.entries = caps;
    pthread_once(&mq_options_once, mq_options_load);
    amqp_rpc_reply_t r = amqp_login_with_properties(
        conn, b->info.vhost, 0, MQ_FRAME_MAX, (int)mq_opts.heartbeat_s, &props_table,
        AMQP_SASL_METHOD_PLAIN, b->info.user, b->info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not log in to vhost \"%s\" as \"%s\": %s", b->info.vhost,
                 b->info.user, mq_reply_text(r, detail, sizeof detail));
        goto fail;
    }
    amqp_channel_open(conn, MQ_CHANNEL);
    if (check_reply(conn, "open channel", err, errlen) != 0)
        goto fail;
    if (flags & MQ_CONFIRMS) {
        amqp_confirm_select(conn, MQ_CHANNEL);
        if (check_reply(conn, "enable publisher confirms", err, errlen) != 0)
            goto fail;
    }
    if (mq_declare_topology(conn, t, err, errlen) != 0)
        goto fail;
    return conn;
fail:
    amqp_destroy_connection(conn);
    return NULL;
}

amqp_connection_state_t mq_connect_retry(const struct mq_broker *b, const struct mq_topology *t,
                                         unsigned flags)
{
    struct backoff delay;
    unsigned attempt = 0;

    backoff_init(&delay, 100, 5000);
    while (!signals_stop_requested()) {
        char err[512];
        char q[600];
        amqp_connection_state_t conn = mq_connect(b, t, flags, err, sizeof err);
        long delay_ms;
        if (conn != NULL) {
            log_info("connected to rabbitmq", "host=%s port=%d vhost=%s attempts=%u",
                     log_quote(q, sizeof q, b->info.host), b->info.port, b->info.vhost,
                     attempt + 1);
            return conn;
        }
        attempt++;
        delay_ms = backoff_next(&delay);
        log_warn("could not connect to rabbitmq", "attempt=%u retry_ms=%ld error=%s", attempt,
                 delay_ms, log_quote(q, sizeof q, err));
        signals_sleep_ms(delay_ms);
    }
    return NULL;
}

void mq_close(amqp_connection_state_t conn, bool polite)
{
    if (conn == NULL)
        return;
    if (polite) {
        (void)amqp_channel_close(conn, MQ_CHANNEL, AMQP_REPLY_SUCCESS);
        (void)amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn);
}

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

/* mq_handle_frame, with what a publisher watches (w may be NULL). */
static int handle_frame(amqp_connection_state_t conn, const amqp_frame_t *frame, struct mq_watch *w,
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
        close_text(&frame->payload.method, err, errlen);
        (void)amqp_send_method(conn, frame->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        return -1;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_connection_close_ok_t ok = {0};
        close_text(&frame->payload.method, err, errlen);
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
    return handle_frame(conn, frame, NULL, err, errlen);
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
        int rc = handle_frame(conn, &frame, w, err, errlen);
        amqp_maybe_release_buffers(conn);
        if (rc != 0)
            return -1;
    }
}

int mq_wait_writable(amqp_connection_state_t conn, long long deadline_ms, char *err, size_t errlen)
{
    struct pollfd pfd = {.fd = amqp_get_sockfd(conn), .events = POLLOUT};

    for (;;) {
        long long left = deadline_ms - mq_now_ms();
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

/* --- publisher confirms --------------------------------------------------------------------- */

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

long long mq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
 * settles them; anything else goes to handle_frame (a basic.return to w's on_return, which finds
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
    return handle_frame(conn, frame, w, err, errlen);
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
    long long deadline = mq_now_ms() + timeout_ms;
    struct mq_confirms *const one[1] = {c};
    struct mq_watch w = {.on_return = c->n == 1 ? return_single : NULL, .arg = c};

    while (!mq_confirms_done(c)) {
        long long left = deadline - mq_now_ms();
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
    if (mq_wait_writable(conn, mq_now_ms() + timeout_ms, err, errlen) != 0)
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
