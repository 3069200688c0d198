/* dlq: acts on the read model's dead-letter queue (<queue>.dead, mq.h): lists its dead letters,
 * requeues or drops some of them by event id. Used by tools/deadletters (scripts/deadletters.sh)
 * and by the command API's dead-letter actions (POST /api/dead-letters/{eventId}/requeue|drop).
 *
 * Every dead letter is taken with basic.get without auto-ack, on MQ_CHANNEL of a confirm-mode
 * connection. A message that is requeued is published (persistent, with publisher confirms) to
 * the read-model queue through the default exchange, so only the read model sees it again (not
 * the other queues bound to the exchange), without our headers and the broker's dead-letter
 * history (a fresh attempt count), and acked only after the broker confirmed the copy; a message
 * that is dropped is acked; every other message is nacked back to the queue, in its place, at the
 * end. A crash in between leaves the message in the queue (and maybe its requeued copy: the read
 * DB drops a second copy by event id). */
#ifndef CQ_DLQ_H
#define CQ_DLQ_H

#include "mq/mq.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dlq_action { DLQ_LIST, DLQ_REQUEUE, DLQ_DROP };

/* What a dead letter says about itself ("-" for what it does not say). */
struct dlq_letter {
    char id[128]; /* message_id, else the body's eventId */
    char type[128];
    char sqlstate[16];
    char routing_key[256];
    char reason[1024];
    char failed_at[32]; /* ISO 8601 UTC */
    long long attempts;
};

/* Called for every dead letter with DLQ_LIST, else for every one acted on. */
typedef void (*dlq_visit_fn)(void *arg, const struct dlq_letter *l);

struct dlq_request {
    enum dlq_action action;
    bool all;               /* every dead letter (requeue, drop) */
    const char *const *ids; /* else these event ids */
    int nids;
    bool *found;        /* nids entries, set for the ids met; may be NULL */
    dlq_visit_fn visit; /* may be NULL */
    void *arg;
    long confirm_timeout_ms;
};

/* Runs r over the dead-letter queue of t on conn (confirm mode; *next_tag its next publish
 * tag). *count: the dead letters seen, *done: those acted on. Returns 0, or -1 with err (the
 * caller closes the connection: unacked dead letters go back to the queue). */
__attribute__((warn_unused_result)) int dlq_run(amqp_connection_state_t conn, uint64_t *next_tag,
                                                const struct mq_topology *t,
                                                const struct dlq_request *r, long *count,
                                                long *done, char *err, size_t errlen);

#endif
