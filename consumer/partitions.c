/* partitions: the consumer's share of the partition queues (partitions.h). */
#include "partitions.h"

#include "base/deadline.h"
#include "base/log.h"
#include "pg/pg.h"
#include "ports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void partitions_init(struct partitions *p, long count, long lease_ms)
{
    char host[64];

    memset(p, 0, sizeof *p);
    p->count = count < 1 ? 1 : count > MQ_MAX_PARTITIONS ? MQ_MAX_PARTITIONS : count;
    p->lease_ms = lease_ms;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(p->holder, sizeof p->holder, "%s:%ld:%lld", host, (long)getpid(), deadline_wall_ms());
}

void partitions_mq_reset(struct partitions *p)
{
    memset(p->subscribed, 0, sizeof p->subscribed);
    p->next_tick_ms = 0;
}

void partitions_pg_reset(struct partitions *p)
{
    p->next_tick_ms = 0;
}

/* The partitions held, as "0,2,5" ("" for none), into buf. */
static const char *partitions_text(const struct partitions *p, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (long k = 0; k < p->count && off < len; k++)
        if (p->held[k]) {
            int n = snprintf(buf + off, len - off, "%s%ld", off > 0 ? "," : "", k);
            if (n < 0)
                break;
            off += (size_t)n;
        }
    return buf;
}

/* Makes the subscriptions match p->held: cancels first (a partition given up goes to its new
 * holder sooner), then subscribes. Returns 0, or -1 with err (the broker connection failed). */
static int reconcile(struct partitions *p, const struct consumer_ports *io,
                     amqp_connection_state_t mq, const struct mq_topology *t, long prefetch,
                     char *err, size_t errlen)
{
    char queue[300];

    for (long k = 0; k < p->count; k++)
        if (p->subscribed[k] && !p->held[k]) {
            mq_partition_queue(t, k, queue, sizeof queue);
            if (io->cancel(mq, queue, err, errlen) != 0)
                return -1;
            p->subscribed[k] = false;
            log_info("stopped consuming partition", "queue=%s", queue);
        }
    for (long k = 0; k < p->count; k++)
        if (p->held[k] && !p->subscribed[k]) {
            mq_partition_queue(t, k, queue, sizeof queue);
            if (io->subscribe(mq, queue, queue, prefetch, err, errlen) != 0)
                return -1;
            p->subscribed[k] = true;
            log_info("consuming partition", "queue=%s prefetch=%ld", queue, prefetch);
        }
    return 0;
}

int partitions_tick(struct partitions *p, const struct consumer_ports *io,
                    amqp_connection_state_t mq, PGconn *pg, const struct mq_topology *t,
                    long prefetch, char *err, size_t errlen)
{
    long long now = deadline_now_ms();
    bool held[MQ_MAX_PARTITIONS] = {false};
    char text[1024], q[600];
    long n = 0;
    int rc;

    if (p->count <= 1 || now < p->next_tick_ms)
        return 0;
    if (!p->joined) {
        rc = io->join(pg, p->holder, p->lease_ms, err, errlen);
        if (rc == -2)
            return -2;
        if (rc != 0) {
            log_warn("could not join the consumers, claiming anyway", "error=%s",
                     log_quote(q, sizeof q, err));
        } else {
            log_info("joined the consumers", "holder=%s partitions=%ld claim_in_ms=%ld", p->holder,
                     p->count, p->lease_ms / 3);
            p->next_tick_ms = now + p->lease_ms / 3;
        }
        p->joined = true;
        return 0;
    }
    rc = io->claim(pg, p->holder, p->count, p->lease_ms, held, err, errlen);
    if (rc != 0) {
        p->next_tick_ms = now + p->lease_ms / 10; /* try again soon, well within the lease */
        if (p->valid_until_ms != 0 && now >= p->valid_until_ms) {
            char detail[512];
            snprintf(detail, sizeof detail, "%s", err);
            snprintf(err, errlen, "the partition lease ended (could not renew it: %s)", detail);
            p->valid_until_ms = 0;
            memset(p->held, 0, sizeof p->held); /* nothing is held until a claim succeeds */
            p->nheld = 0;
            return -1;
        }
        if (rc == -2)
            return -2;
        log_warn("could not claim partitions, retrying", "error=%s", log_quote(q, sizeof q, err));
        return 0;
    }
    p->valid_until_ms = now + p->lease_ms;
    p->next_tick_ms = now + p->lease_ms / 3;
    if (memcmp(p->held, held, sizeof held) != 0) {
        memcpy(p->held, held, sizeof p->held);
        for (long k = 0; k < p->count; k++)
            n += held[k];
        p->nheld = n;
        log_info("partitions claimed", "holder=%s partitions=\"%s\" count=%ld of=%ld", p->holder,
                 partitions_text(p, text, sizeof text), n, p->count);
    }
    return reconcile(p, io, mq, t, prefetch, err, errlen);
}

/* Parses a PostgreSQL int[] in text form ("{0,2,5}") into held[0..count). */
static int parse_array(const char *text, long count, bool *held)
{
    const char *s = text;

    if (*s++ != '{')
        return -1;
    while (*s != '}' && *s != '\0') {
        char *end;
        long k = strtol(s, &end, 10);
        if (end == s || k < 0 || k >= count)
            return -1;
        held[k] = true;
        s = *end == ',' ? end + 1 : end;
    }
    return *s == '}' ? 0 : -1;
}

int partitions_claim_sql(PGconn *pg, const char *holder, long count, long lease_ms, bool *held,
                         char *err, size_t errlen)
{
    char pcount[24], lease_text[24];
    const char *params[3] = {holder, pcount, lease_text};
    PGresult *res;
    int rc = 0;

    snprintf(pcount, sizeof pcount, "%ld", count);
    snprintf(lease_text, sizeof lease_text, "%ld", lease_ms);
    res = PQexecParams(pg, "SELECT consumer_claim_partitions($1, $2::int, $3::int)", 3, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pg_error_text(pg, res, err, errlen);
        rc = PQstatus(pg) == CONNECTION_BAD ? -2 : -1;
    } else if (parse_array(PQgetvalue(res, 0, 0), count, held) != 0) {
        snprintf(err, errlen, "consumer_claim_partitions returned an unexpected value");
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int partitions_join_sql(PGconn *pg, const char *holder, long lease_ms, char *err, size_t errlen)
{
    char lease_text[24];
    const char *params[2] = {holder, lease_text};
    PGresult *res;
    int rc = 0;

    snprintf(lease_text, sizeof lease_text, "%ld", lease_ms);
    res = PQexecParams(pg, "SELECT consumer_join_partitions($1, $2::int)", 2, NULL, params, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error_text(pg, res, err, errlen);
        rc = PQstatus(pg) == CONNECTION_BAD ? -2 : -1;
    }
    PQclear(res);
    return rc;
}

void partitions_leave_sql(PGconn *pg, const char *holder)
{
    const char *params[1] = {holder};
    PGresult *res =
        PQexecParams(pg, "SELECT consumer_leave_partitions($1)", 1, NULL, params, NULL, NULL, 0);
    char err[512], q[600];

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error_text(pg, res, err, sizeof err);
        log_warn("could not give the partitions up (their leases end by themselves)", "error=%s",
                 log_quote(q, sizeof q, err));
    } else {
        log_info("gave the partitions up", "holder=%s", holder);
    }
    PQclear(res);
}
