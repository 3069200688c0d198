#include "deadletter.h"

#include "mq/event_batch.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

static void note_dead(struct deadletter *dl, const amqp_envelope_t *env, long attempts,
                      const char *reason, const char *sqlstate);

long deadletter_prior_attempts(const amqp_envelope_t *env)
{
    long long n = 0;

    if (!mq_header_int(mq_headers(&env->message.properties), MQ_HDR_ATTEMPTS, &n) || n < 0)
        return 0;
    return n > 1000000 ? 1000000 : (long)n;
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
    entries[n++] = mq_utf8_entry(MQ_HDR_REASON, reason);
    entries[n++] = mq_utf8_entry(MQ_HDR_SQLSTATE, sqlstate);
    entries[n++] = mq_utf8_entry(MQ_HDR_ROUTING_KEY, routing_key);
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
    if (mq_publish_confirmed(dl->conn, &dl->next_tag, "",
                             target == DEADLETTER_RETRY ? dl->topo->retry_queue
                                                        : dl->topo->dead_queue,
                             &props, env->message.body, dl->confirm_timeout_ms, err, errlen) != 0)
        return -1;
    if (target == DEADLETTER_DEAD)
        note_dead(dl, env, attempts, reason, sqlstate);
    return 0;
}

static void copy_bytes(char *buf, size_t len, amqp_bytes_t b)
{
    size_t n = b.len < len - 1 ? b.len : len - 1;

    memcpy(buf, b.bytes, n);
    buf[n] = '\0';
}

bool deadletter_note_init(struct deadletter_note *note, const amqp_envelope_t *env, long attempts,
                          const char *reason, const char *sqlstate)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    struct event_info info;
    char why[128];
    bool parsed = event_info_parse(env->message.body.bytes, env->message.body.len, &info, why,
                                   sizeof why) == 0;

    memset(note, 0, sizeof *note);
    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0)
        copy_bytes(note->event_id, sizeof note->event_id, p->message_id);
    else if (parsed)
        snprintf(note->event_id, sizeof note->event_id, "%s", info.event_id);
    if ((p->_flags & AMQP_BASIC_TYPE_FLAG) && p->type.len > 0)
        copy_bytes(note->event_type, sizeof note->event_type, p->type);
    else if (parsed)
        snprintf(note->event_type, sizeof note->event_type, "%s", info.event_type);
    if (parsed) {
        snprintf(note->aggregate_type, sizeof note->aggregate_type, "%s", info.aggregate_type);
        if (info.aggregate_id != 0)
            snprintf(note->aggregate_id, sizeof note->aggregate_id, "%lld", info.aggregate_id);
    }
    snprintf(note->reason, sizeof note->reason, "%s", reason);
    snprintf(note->sqlstate, sizeof note->sqlstate, "%s", sqlstate);
    note->attempts = attempts;
    return note->event_id[0] != '\0';
}

static void note_dead(struct deadletter *dl, const amqp_envelope_t *env, long attempts,
                      const char *reason, const char *sqlstate)
{
    struct deadletter_note note;

    if (!deadletter_note_init(&note, env, attempts, reason, sqlstate))
        return;
    if (dl->pending == NULL)
        dl->pending = xcalloc(DEADLETTER_PENDING_MAX, sizeof *dl->pending);
    if (dl->npending == DEADLETTER_PENDING_MAX) {
        log_warn("too many dead letters to record, forgetting the oldest", "event_id=%s",
                 dl->pending[0].event_id);
        memmove(dl->pending, dl->pending + 1, (DEADLETTER_PENDING_MAX - 1) * sizeof *dl->pending);
        dl->npending--;
    }
    dl->pending[dl->npending++] = note;
}

int deadletter_flush(struct deadletter *dl, PGconn *pg, char *err, size_t errlen)
{
    size_t done = 0;
    int rc = 0;

    if (dl->npending == 0)
        return 0;
    while (done < dl->npending) {
        const struct deadletter_note *n = &dl->pending[done];
        char attempts[24];
        const char *params[7] = {n->event_id, n->event_type, n->aggregate_type, n->aggregate_id,
                                 n->reason,   n->sqlstate,   attempts};
        PGresult *res;

        snprintf(attempts, sizeof attempts, "%ld", n->attempts);
        res = PQexecParams(pg, "SELECT record_dead_letter($1, $2, $3, $4, $5, $6, $7::integer)", 7,
                           NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            pg_error_text(pg, res, err, errlen);
            PQclear(res);
            rc = -1;
            break;
        }
        PQclear(res);
        done++;
    }
    memmove(dl->pending, dl->pending + done, (dl->npending - done) * sizeof *dl->pending);
    dl->npending -= done;
    return rc;
}

void deadletter_release(struct deadletter *dl)
{
    free(dl->pending);
    dl->pending = NULL;
    dl->npending = 0;
}
