/* topology: the domain's names (lib/domain) as the broker topology every program declares
 * (lib/mq): the events exchange, the read-model queue bound with "#" (with its retry and dead
 * queues) and the mood queue bound with "mood.#". The one place that joins the two layers. */
#ifndef CQ_SVC_TOPOLOGY_H
#define CQ_SVC_TOPOLOGY_H

#include "domain/domain.h"
#include "mq/mq.h"

#include <stddef.h>

/* Fills t from n (whose strings must outlive it). Returns 0, or -1 with err (a queue name too
 * long: the caller names AMQP_QUEUE). */
__attribute__((warn_unused_result)) int
svc_topology_init(struct mq_topology *t, const struct domain_names *n, char *err, size_t errlen);

#endif
