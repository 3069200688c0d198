/* config: the consumer's own variables (the ones every daemon reads are lib/service/daemon.h's,
 * the domain's names lib/domain's), one declaration each, loaded once into a read-only struct. */
#ifndef CQ_CONSUMER_CONFIG_H
#define CQ_CONSUMER_CONFIG_H

#include "base/config.h"

#include <stddef.h>

struct consumer_config {
    long prefetch;
    long batch_size;
    long mv_refresh_interval_ms;
    long max_attempts;
    long early_max_attempts;
    long retry_delay_ms;
    const char *processed_events_retention; /* a PostgreSQL interval */
    long purge_interval_ms;
    long status_interval_ms;
    long partition_lease_ms; /* CONSUMER_PARTITIONS > 1: the partitions' leases (partitions.h) */
    long fault_pause_before_commit_ms; /* test-only fault hooks, see project.h */
    long fault_pause_after_commit_ms;
    const char *fault_abort_marker; /* test only: abort() on an event whose body holds it */
};

extern const struct config_table consumer_config_table;

#endif
