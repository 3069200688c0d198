/* partitions: which partition queues this consumer consumes, when the work queue is split
 * (CONSUMER_PARTITIONS = P > 1, lib/mq/mq.h).
 *
 * The consumers share the P partitions through leases in the read DB
 * (migrations/read/functions/70_partitions.sql). A consumer first joins (consumer_join_partitions:
 * a member, holding nothing), so that consumers started together all count when the first of them
 * claims and none has to hand a partition over; a third of a lease later, and then every
 * CONSUMER_PARTITION_LEASE_MS / 3, it calls consumer_claim_partitions, which renews its lease as a
 * member and on the partitions it keeps, gives up those beyond its fair share (P divided by the
 * live members), takes free ones up to it, and names the partitions it holds. The consumer then
 * cancels its subscription to each partition it no longer holds and subscribes to each new one.
 * Every partition queue has single-active-consumer, so a consumer that subscribes to a partition
 * whose former holder has not cancelled yet waits until it has: one partition is applied by one
 * consumer at a time, in order. A consumer that cannot renew its lease in time (its read DB is
 * gone) drops its broker connection when the lease ends, which returns its unacknowledged
 * deliveries and ends its subscriptions, so that the partitions' new holders receive them. A
 * consumer that stops cleanly gives its partitions up at once (consumer_leave_partitions).
 *
 * Nothing is owned but the struct itself. */
#ifndef CQ_CONSUMER_PARTITIONS_H
#define CQ_CONSUMER_PARTITIONS_H

#include "mq/mq.h"

#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>

struct consumer_ports;

struct partitions {
    long count;       /* P: the topology's partitions (1: not partitioned, nothing to do) */
    long lease_ms;    /* CONSUMER_PARTITION_LEASE_MS */
    char holder[160]; /* this consumer's name among the members: host:pid:start-ms */
    bool held[MQ_MAX_PARTITIONS];       /* what the last claim returned */
    bool subscribed[MQ_MAX_PARTITIONS]; /* what the consuming connection consumes */
    long nheld;
    bool joined;            /* consumer_join_partitions done: claim from now on */
    long long next_tick_ms; /* when to claim again (0: at once) */
    long long
        valid_until_ms; /* the end of the lease as last renewed (counted from before the call) */
};

/* Fills p; holder names this process (its host name, pid and start time). */
void partitions_init(struct partitions *p, long count, long lease_ms);

/* The consuming connection was lost or made again: nothing is subscribed, claim at once. */
void partitions_mq_reset(struct partitions *p);
/* The read DB connection was made again: claim at once (the session's shard is set by the claim).
 */
void partitions_pg_reset(struct partitions *p);

/* When due, joins (io->join, the first time) or claims (io->claim) and makes the subscriptions of
 * mq match what is held (io->subscribe with the queue's name as consumer tag, io->cancel). Returns
 * 0; -1 with err when the broker connection failed or the lease ended (the caller drops it); -2
 * with err when the read DB connection was lost (the caller makes it again). */
__attribute__((warn_unused_result)) int
partitions_tick(struct partitions *p, const struct consumer_ports *io, amqp_connection_state_t mq,
                PGconn *pg, const struct mq_topology *t, long prefetch, char *err, size_t errlen);

/* The live claim (consumer_ports.claim): SELECT consumer_claim_partitions(holder, count, lease_ms),
 * the partitions held into held[0..count). Returns 0, -1 with err on an SQL error, -2 with err when
 * the connection is lost. */
int partitions_claim_sql(PGconn *pg, const char *holder, long count, long lease_ms, bool *held,
                         char *err, size_t errlen);
/* The live join (consumer_ports.join): SELECT consumer_join_partitions(holder, lease_ms). Returns
 * 0, -1 with err on an SQL error, -2 with err when the connection is lost. */
int partitions_join_sql(PGconn *pg, const char *holder, long lease_ms, char *err, size_t errlen);
/* The live leave (consumer_ports.leave): gives the holder's partitions up at once; errors are
 * logged (the leases end by themselves). */
void partitions_leave_sql(PGconn *pg, const char *holder);

#endif
