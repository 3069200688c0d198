/* deadletters: lists, requeues or drops the read model's dead letters (<AMQP_QUEUE>.dead).
 *
 *   deadletters list                     one line per dead letter (tab-separated, with a header)
 *   deadletters requeue --all | ID...    back to <AMQP_QUEUE> with a fresh attempt count
 *   deadletters drop --all | ID...       delete for good
 *
 * ID is an event id (the message_id the relay set). Reads BROKER_URL, AMQP_EXCHANGE, AMQP_QUEUE
 * and MOOD_QUEUE like the services (scripts/deadletters.sh loads .env for it).
 *
 * Every dead letter is taken with basic.get without auto-ack. A message that is requeued is
 * published (persistent, with publisher confirms) to the read-model queue through the default
 * exchange, so only the read model sees it again (not the other queues bound to the exchange),
 * and acked only after the broker confirmed the copy; a message that is dropped is acked; every
 * other message stays unacked and goes back to the dead-letter queue, in its place, when the
 * channel closes. Exit status: 0, 1 when an ID was not found, 2 on a usage or broker error. */
#include "cli.h"
#include "config.h"
#include "event_batch.h"
#include "mq.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONFIRM_TIMEOUT_MS 30000

struct dl_config {
    const char *broker_url;
    const char *exchange;
    const char *queue;
    const char *mood_queue;
};

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct dl_config, field), min, max                               \
    }
static const struct config_var dl_vars[] = {
    VAR("BROKER_URL", CONFIG_STRING, NULL, broker_url, 0, 0),
    VAR("AMQP_EXCHANGE", CONFIG_STRING, "cqrs.events", exchange, 0, 0),
    VAR("AMQP_QUEUE", CONFIG_STRING, "read_model", queue, 0, 0),
    VAR("MOOD_QUEUE", CONFIG_STRING, "mood_events", mood_queue, 0, 0),
};
#undef VAR

enum action { LIST, REQUEUE, DROP };

/* Copies b into buf with tabs and line breaks turned into spaces; "-" when empty. */
static const char *field(amqp_bytes_t b, char *buf, size_t len)
{
    size_t n = b.len < len - 1 ? b.len : len - 1;

    memcpy(buf, b.bytes, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    if (n == 0)
        snprintf(buf, len, "-");
    return buf;
}

static const char *header_field(const amqp_table_t *h, const char *key, char *buf, size_t len)
{
    if (!mq_header_str(h, key, buf, len) || buf[0] == '\0')
        snprintf(buf, len, "-");
    for (char *c = buf; *c != '\0'; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r')
            *c = ' ';
    return buf;
}

/* The event id and type of a dead letter: its properties, else its body, else "-". */
static void identify(const amqp_message_t *m, char *id, size_t idlen, char *type, size_t typelen)
{
    const amqp_basic_properties_t *p = &m->properties;
    struct event_info info;
    char why[128];
    bool parsed = event_info_parse(m->body.bytes, m->body.len, &info, why, sizeof why) == 0;

    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0)
        field(p->message_id, id, idlen);
    else
        snprintf(id, idlen, "%s", parsed ? info.event_id : "-");
    if ((p->_flags & AMQP_BASIC_TYPE_FLAG) && p->type.len > 0)
        field(p->type, type, typelen);
    else
        snprintf(type, typelen, "%s", parsed ? info.event_type : "-");
}

static bool wanted(const char *id, bool all, char **ids, int nids, bool *found)
{
    if (all)
        return true;
    for (int i = 0; i < nids; i++) {
        if (strcmp(ids[i], id) == 0) {
            found[i] = true;
            return true;
        }
    }
    return false;
}

/* Publishes a copy of m to the read-model queue without our headers and the broker's
 * dead-letter history, so that it starts with a fresh attempt count. */
static int requeue(amqp_connection_state_t conn, uint64_t *next_tag, const struct mq_topology *t,
                   const amqp_message_t *m, char *err, size_t errlen)
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
    return mq_publish_confirmed(conn, next_tag, "", t->queue, &props, m->body, CONFIRM_TIMEOUT_MS,
                                err, errlen);
}

static int run(amqp_connection_state_t conn, const struct mq_topology *t, enum action action,
               bool all, char **ids, int nids, bool *found)
{
    uint64_t next_tag = 1;
    long count = 0, done = 0;
    char err[512], detail[256];

    if (action == LIST)
        printf("event_id\tevent_type\tattempts\tsqlstate\tfailed_at\trouting_key\treason\n");
    for (;;) {
        amqp_rpc_reply_t r = amqp_basic_get(conn, MQ_CHANNEL, amqp_cstring_bytes(t->dead_queue), 0);
        amqp_message_t m;
        uint64_t tag;

        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            fprintf(stderr, "deadletters: could not get from \"%s\": %s\n", t->dead_queue,
                    mq_reply_text(r, detail, sizeof detail));
            return 2;
        }
        if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
            break;
        tag = ((const amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
        r = amqp_read_message(conn, MQ_CHANNEL, &m, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            fprintf(stderr, "deadletters: could not read a dead letter: %s\n",
                    mq_reply_text(r, detail, sizeof detail));
            return 2;
        }
        count++;

        const amqp_table_t *h = mq_headers(&m.properties);
        char id[128], type[128], sqlstate[16], key[256], reason[1024], at[32] = "-";
        long long attempts = 0, failed_at = 0;
        identify(&m, id, sizeof id, type, sizeof type);
        (void)mq_header_int(h, MQ_HDR_ATTEMPTS, &attempts);
        if (mq_header_int(h, MQ_HDR_FAILED_AT, &failed_at) && failed_at > 0) {
            time_t secs = (time_t)failed_at;
            struct tm tm;
            gmtime_r(&secs, &tm);
            strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        if (action == LIST) {
            printf("%s\t%s\t%lld\t%s\t%s\t%s\t%s\n", id, type, attempts,
                   header_field(h, MQ_HDR_SQLSTATE, sqlstate, sizeof sqlstate), at,
                   header_field(h, MQ_HDR_ROUTING_KEY, key, sizeof key),
                   header_field(h, MQ_HDR_REASON, reason, sizeof reason));
        } else if (wanted(id, all, ids, nids, found)) {
            if (action == REQUEUE && requeue(conn, &next_tag, t, &m, err, sizeof err) != 0) {
                fprintf(stderr, "deadletters: could not requeue %s: %s\n", id, err);
                amqp_destroy_message(&m);
                return 2;
            }
            if (amqp_basic_ack(conn, MQ_CHANNEL, tag, 0) != AMQP_STATUS_OK) {
                fprintf(stderr, "deadletters: could not ack %s\n", id);
                amqp_destroy_message(&m);
                return 2;
            }
            printf("%s %s (%s, %lld attempts)\n", action == REQUEUE ? "requeued" : "dropped", id,
                   type, attempts);
            done++;
        }
        amqp_destroy_message(&m);
        amqp_maybe_release_buffers(conn);
    }
    if (action == LIST)
        fprintf(stderr, "deadletters: %ld dead letter%s in \"%s\"\n", count, count == 1 ? "" : "s",
                t->dead_queue);
    else
        fprintf(stderr, "deadletters: %s %ld of %ld dead letters\n",
                action == REQUEUE ? "requeued" : "dropped", done, count);
    return 0;
}

static const char usage_text[] = "usage: deadletters list\n"
                                 "       deadletters requeue --all | EVENT_ID...\n"
                                 "       deadletters drop --all | EVENT_ID...\n"
                                 "       deadletters --help | --version\n";

static int usage(void)
{
    fputs(usage_text, stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const struct config_table tables[] = {CONFIG_TABLE(dl_vars), mq_config_table};
    const struct cli_spec cli = {
        "deadletters", "deadletters: lists, requeues and drops the dead-letter queue",
        NULL,          0,
        tables,        sizeof tables / sizeof tables[0],
        usage_text};
    struct dl_config cfg;
    struct mq_broker broker;
    struct mq_topology topo;
    amqp_connection_state_t conn;
    enum action action;
    bool all = false, *found = NULL;
    char **ids = NULL;
    int nids = 0, rc;
    char err[512];

    if (argc < 2)
        return usage();
    if (argv[1][0] == '-')
        return cli_handle(&cli, argc, argv);
    if (strcmp(argv[1], "list") == 0 && argc == 2)
        action = LIST;
    else if (strcmp(argv[1], "requeue") == 0 && argc > 2)
        action = REQUEUE;
    else if (strcmp(argv[1], "drop") == 0 && argc > 2)
        action = DROP;
    else
        return usage();
    if (action != LIST) {
        all = strcmp(argv[2], "--all") == 0;
        if (all && argc != 3)
            return usage();
        ids = argv + 2;
        nids = all ? 0 : argc - 2;
    }
    if (config_load(&cfg, dl_vars, sizeof dl_vars / sizeof dl_vars[0], err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: %s\n", err);
        return 2;
    }
    if (mq_broker_parse(&broker, cfg.broker_url, err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: BROKER_URL: %s\n", err);
        return 2;
    }
    if (mq_topology_init(&topo, cfg.exchange, cfg.queue, cfg.mood_queue, err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: AMQP_QUEUE: %s\n", err);
        mq_broker_release(&broker);
        return 2;
    }
    conn = mq_connect(&broker, &topo, MQ_CONFIRMS, err, sizeof err);
    if (conn == NULL) {
        fprintf(stderr, "deadletters: %s\n", err);
        mq_broker_release(&broker);
        return 2;
    }
    found = calloc((size_t)nids + 1, sizeof *found);
    if (found == NULL) {
        fprintf(stderr, "deadletters: out of memory\n");
        abort();
    }
    rc = run(conn, &topo, action, all, ids, nids, found);
    for (int i = 0; rc == 0 && i < nids; i++) {
        if (!found[i]) {
            fprintf(stderr, "deadletters: no dead letter with event id %s\n", ids[i]);
            rc = 1;
        }
    }
    fflush(stdout);
    mq_close(conn, true); /* unacked dead letters go back to the queue */
    free(found);
    mq_broker_release(&broker);
    return rc;
}
