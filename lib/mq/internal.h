/* mq internal: what the files of lib/mq share and nothing else includes (mq.h is the module's
 * interface). */
#ifndef CQ_MQ_INTERNAL_H
#define CQ_MQ_INTERNAL_H

#include "mq/mq.h"

#include <stdbool.h>
#include <stddef.h>

/* The module's options (AMQP_HEARTBEAT_S, AMQP_QUEUE_TYPE, AMQP_DELIVERY_LIMIT,
 * CONSUMER_PARTITIONS), loaded once. */
struct mq_options {
    long heartbeat_s;
    const char *queue_type; /* "classic" or "quorum" */
    long delivery_limit;
    long partitions;
    bool quorum;
};
const struct mq_options *mq_options_get(void);

/* Formats a channel.close / connection.close method: "channel closed by broker: 404 NOT_FOUND". */
void mq_close_text(const amqp_method_t *m, char *buf, size_t len);
/* Checks the reply of the last synchronous call. Returns 0, or -1 with err "could not <what>: ..".
 */
int mq_check_reply(amqp_connection_state_t conn, const char *what, char *err, size_t errlen);
/* mq_handle_frame, with what a publisher watches (w may be NULL). */
int mq_frame_handle(amqp_connection_state_t conn, const amqp_frame_t *frame, struct mq_watch *w,
                    char *err, size_t errlen);

#endif
