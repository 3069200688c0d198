#include "crashguard.h"

#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a failed statement lost the connection (reconnect) or is worth retrying. */
static enum project_status pg_failure(PGconn *pg, const PGresult *res, char *err, size_t errlen)
{
    pg_error_text(pg, res, err, errlen);
    return PQstatus(pg) != CONNECTION_OK ? PROJECT_PG_LOST : PROJECT_PG_RETRY;
}

enum project_status crashguard_check(const struct crashguard_ctx *ctx, struct receive_batch *b,
                                     bool *counted, char *err, size_t errlen)
{
    struct delivery *d = &b->items[0];
    const char *params[1] = {d->info.event_id};
    char keys[192], reason[96];
    PGresult *res;
    long attempts;
    int status;

    *counted = false;
    if (!receive_batch_redelivered(b) || d->settled || d->bad)
        return PROJECT_DONE; /* a bad body is dead-lettered at once anyway */
    res =
        PQexecParams(ctx->pg, "SELECT event_redelivered($1::uuid)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "22P02") == 0) { /* not a uuid: nothing to count */
            PQclear(res);
            return PROJECT_DONE;
        }
        enum project_status st = pg_failure(ctx->pg, res, err, errlen);
        PQclear(res);
        return st;
    }
    attempts = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (attempts == 0) { /* applied already (a partition handed over): a duplicate, acked */
        status = amqp_basic_ack(ctx->mq, MQ_CHANNEL, d->env.delivery_tag, 0);
        d->settled = true;
        b->duplicates++;
        /* the engine's line for a redelivered event applied alone, with its counts */
        log_info("applied redelivered event", "%s applied=0 duplicates=1 dead=0",
                 event_info_keys(&d->info, keys, sizeof keys));
        return project_acked(status, d->env.delivery_tag, err, errlen);
    }
    *counted = true;
    event_info_keys(&d->info, keys, sizeof keys);
    if (attempts < ctx->max_attempts) {
        log_warn("redelivered event: applying it alone",
                 "%s event_type=%s crashes=%ld max_attempts=%ld", keys, d->info.event_type,
                 attempts, ctx->max_attempts);
        return PROJECT_DONE;
    }
    snprintf(reason, sizeof reason, "crashed the consumer %ld times", attempts);
    if (deadletter_send(ctx->dl, &d->env, DEADLETTER_DEAD, attempts, reason, "", 0, err, errlen) !=
        0)
        return PROJECT_MQ_LOST;
    status = amqp_basic_ack(ctx->mq, MQ_CHANNEL, d->env.delivery_tag, 0);
    d->settled = true;
    b->dead++;
    log_error("dead-lettered event",
              "%s event_type=%s attempts=%ld sqlstate= queue=%s reason=\"%s\"", keys,
              d->info.event_type, attempts, ctx->dl->topo->dead_queue, reason);
    return project_acked(status, d->env.delivery_tag, err, errlen);
}

void crashguard_settled(PGconn *pg, const struct receive_batch *b)
{
    const char *params[1] = {b->items[0].info.event_id};
    char detail[256], q[300];
    PGresult *res;

    if (pg == NULL || b->n != 1 || PQstatus(pg) != CONNECTION_OK)
        return;
    res = PQexecParams(pg, "SELECT event_attempt_clear($1::uuid)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error_text(pg, res, detail, sizeof detail);
        log_warn("could not clear the attempt count", "event_id=%s error=%s",
                 b->items[0].info.event_id, log_quote(q, sizeof q, detail));
    }
    PQclear(res);
}
