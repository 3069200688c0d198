#include "service/topology.h"

int svc_topology_init(struct mq_topology *t, const struct domain_names *n, char *err, size_t errlen)
{
    if (mq_topology_init(t, n->exchange, n->queue, DOMAIN_BIND_READ_MODEL, err, errlen) != 0)
        return -1;
    if (mq_topology_partition(t, mq_partitions(), DOMAIN_HDR_AGGREGATE_ID, err, errlen) != 0)
        return -1;
    return mq_topology_add_tap(t, n->mood_queue, DOMAIN_BIND_MOOD, err, errlen);
}
