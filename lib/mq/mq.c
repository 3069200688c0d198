/* mq: connections (the broker address, AMQP_HEARTBEAT_S, log-in, channel, close) and the
 * error texts the other files of the module share (internal.h). Topology, headers, frames and
 * publisher confirms live in files of their own (topology.c, headers.c, frames.c, confirms.c). */
#include "mq/internal.h"
#include "mq/mq.h"

#include "base/backoff.h"
#include "base/config.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/xalloc.h"

#include <amqp_tcp_socket.h>

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
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

static const struct config_var mq_option_vars[] = {
    /* the heartbeat asked for at login (the broker may lower it; 0 = none): a frozen peer is
     * noticed after about two heartbeats, and a frozen consumer's unacked deliveries go back */
    {"AMQP_HEARTBEAT_S", CONFIG_INT, "10", offsetof(struct mq_options, heartbeat_s), 0, 3600},
    /* classic (one node) or quorum (a cluster: every queue replicated, docs/scaling.md) */
    {"AMQP_QUEUE_TYPE", CONFIG_STRING, "classic", offsetof(struct mq_options, queue_type), 0, 0},
    /* quorum queues: deliveries of one message before it is dead-lettered (or dropped) */
    {"AMQP_DELIVERY_LIMIT", CONFIG_INT, "20", offsetof(struct mq_options, delivery_limit), 1,
     1000000},
    /* 1: one work queue that the consumers share; P > 1: P partition queues, events routed by
     * aggregate id (mq_topology_partition); every program declares the same topology */
    {"CONSUMER_PARTITIONS", CONFIG_INT, "1", offsetof(struct mq_options, partitions), 1,
     MQ_MAX_PARTITIONS},
};

const struct config_table mq_config_table = CONFIG_TABLE(mq_option_vars);

static pthread_once_t mq_options_once = PTHREAD_ONCE_INIT;
static struct mq_options mq_opts;
static char mq_opts_err[256];

static void mq_options_load(void)
{
    if (config_load(&mq_opts, mq_option_vars, sizeof mq_option_vars / sizeof mq_option_vars[0],
                    mq_opts_err, sizeof mq_opts_err) != 0) {
        mq_opts =
            (struct mq_options){10, "classic", 20, 1, false}; /* mq_check_options() reports it */
        return;
    }
    if (strcmp(mq_opts.queue_type, "quorum") == 0) {
        mq_opts.quorum = true;
    } else if (strcmp(mq_opts.queue_type, "classic") != 0) {
        snprintf(mq_opts_err, sizeof mq_opts_err,
                 "invalid value for AMQP_QUEUE_TYPE: expected classic or quorum");
        mq_opts = (struct mq_options){10, "classic", 20, 1, false};
    }
}

const struct mq_options *mq_options_get(void)
{
    pthread_once(&mq_options_once, mq_options_load);
    return &mq_opts;
}

long mq_partitions(void)
{
    return mq_options_get()->partitions;
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

/* Parses one node's URL, the NUL-terminated url (in b->buf), into b->nodes[b->nnodes++]. */
static int broker_add(struct mq_broker *b, char *url, char *err, size_t errlen)
{
    struct amqp_connection_info *info;

    if (b->nnodes == MQ_BROKER_MAX_NODES) {
        snprintf(err, errlen, "invalid broker URL: at most %d nodes", MQ_BROKER_MAX_NODES);
        return -1;
    }
    info = &b->nodes[b->nnodes];
    amqp_default_connection_info(info);
    if (amqp_parse_url(url, info) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "invalid broker URL: expected amqp://user:password@host:port/vhost");
        return -1;
    }
    if (info->ssl) {
        snprintf(err, errlen, "invalid broker URL: amqps is not supported");
        return -1;
    }
    if (info->host == NULL || *info->host == '\0') {
        snprintf(err, errlen, "invalid broker URL: missing host");
        return -1;
    }
    b->nnodes++;
    return 0;
}

int mq_broker_parse(struct mq_broker *b, const char *url, char *err, size_t errlen)
{
    char *p, *end;

    memset(b, 0, sizeof *b);
    b->buf = xstrdup(url);
    for (p = b->buf;; p = end + 1) {
        end = p + strcspn(p, ",");
        bool last = *end == '\0';
        *end = '\0';
        p += strspn(p, " \t");
        for (char *q = end; q > p && (q[-1] == ' ' || q[-1] == '\t');)
            *--q = '\0';
        if (broker_add(b, p, err, errlen) != 0)
            goto fail;
        if (last)
            break;
    }
    if (b->nnodes > 1)
        for (size_t i = 1; i < b->nnodes; i++)
            if (strcmp(b->nodes[i].vhost, b->nodes[0].vhost) != 0 ||
                strcmp(b->nodes[i].user, b->nodes[0].user) != 0) {
                snprintf(err, errlen,
                         "invalid broker URL: every node of the list needs the same user and "
                         "vhost (one broker)");
                goto fail;
            }
    b->next = xmalloc(sizeof *b->next);
    atomic_init(b->next, 0);
    return 0;
fail:
    mq_broker_release(b);
    return -1;
}

void mq_broker_release(struct mq_broker *b)
{
    free(b->buf);
    free(b->next);
    memset(b, 0, sizeof *b);
}

/* --- errors --------------------------------------------------------------------------------- */

const char *mq_status_text(int status, char *buf, size_t len)
{
    snprintf(buf, len, "%s", amqp_error_string2(status));
    return buf;
}

/* Formats a channel.close / connection.close method: "channel closed by broker: 404 NOT_FOUND". */
void mq_close_text(const amqp_method_t *m, char *buf, size_t len)
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
        mq_close_text(&r.reply, buf, len);
        break;
    default:
        snprintf(buf, len, "unknown reply type %d", (int)r.reply_type);
        break;
    }
    return buf;
}

/* Checks the reply of the last synchronous call. Returns 0, or -1 with err "could not <what>: ..".
 */
int mq_check_reply(amqp_connection_state_t conn, const char *what, char *err, size_t errlen)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
    char detail[256];

    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    snprintf(err, errlen, "could not %s: %s", what, mq_reply_text(r, detail, sizeof detail));
    return -1;
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

/* Connects to one node: mq_connect's work. */
static amqp_connection_state_t connect_node(const struct amqp_connection_info *info,
                                            const struct mq_topology *t, unsigned flags, char *err,
                                            size_t errlen)
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
    status = amqp_socket_open_noblock(sock, info->host, info->port, &connect_tv);
    if (status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not connect to %s:%d: %s", info->host, info->port,
                 mq_status_text(status, detail, sizeof detail));
        goto fail;
    }
    if (amqp_set_handshake_timeout(conn, &rpc_tv) != AMQP_STATUS_OK ||
        amqp_set_rpc_timeout(conn, &rpc_tv) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "could not set AMQP time-outs");
        goto fail;
    }
    /* librabbitmq merges these capabilities into its own: the broker then sends
     * connection.blocked / connection.unblocked (handled in frames.c) */
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
        conn, info->vhost, 0, MQ_FRAME_MAX, (int)mq_opts.heartbeat_s, &props_table,
        AMQP_SASL_METHOD_PLAIN, info->user, info->password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "could not log in to vhost \"%s\" as \"%s\": %s", info->vhost,
                 info->user, mq_reply_text(r, detail, sizeof detail));
        goto fail;
    }
    amqp_channel_open(conn, MQ_CHANNEL);
    if (mq_check_reply(conn, "open channel", err, errlen) != 0)
        goto fail;
    if (flags & MQ_CONFIRMS) {
        amqp_confirm_select(conn, MQ_CHANNEL);
        if (mq_check_reply(conn, "enable publisher confirms", err, errlen) != 0)
            goto fail;
    }
    if (mq_declare_topology(conn, t, err, errlen) != 0)
        goto fail;
    return conn;
fail:
    amqp_destroy_connection(conn);
    return NULL;
}

amqp_connection_state_t mq_connect(const struct mq_broker *b, const struct mq_topology *t,
                                   unsigned flags, char *err, size_t errlen)
{
    unsigned first = atomic_load(b->next);

    for (size_t k = 0; k < b->nnodes; k++) {
        size_t i = (first + k) % b->nnodes;
        char detail[400];
        char q[600];
        amqp_connection_state_t conn = connect_node(&b->nodes[i], t, flags, detail, sizeof detail);

        if (conn != NULL) {
            /* the next connection (after this one is lost) starts with the next node */
            atomic_store(b->next, (unsigned)((i + 1) % b->nnodes));
            return conn;
        }
        if (b->nnodes == 1) {
            snprintf(err, errlen, "%s", detail);
        } else {
            snprintf(err, errlen, "%zu of %zu nodes tried, the last: %s", k + 1, b->nnodes, detail);
            if (k + 1 < b->nnodes)
                log_warn("could not connect to rabbitmq node, trying the next",
                         "node=%zu nodes=%zu error=%s", i + 1, b->nnodes,
                         log_quote(q, sizeof q, detail));
        }
    }
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
            /* the node mq_connect reached is the one before next */
            const struct amqp_connection_info *node =
                &b->nodes[(atomic_load(b->next) + b->nnodes - 1) % b->nnodes];
            log_info("connected to rabbitmq",
                     "host=%s port=%d vhost=%s node=%zu nodes=%zu attempts=%u",
                     log_quote(q, sizeof q, node->host), node->port, node->vhost,
                     (size_t)(node - b->nodes) + 1, b->nnodes, attempt + 1);
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
