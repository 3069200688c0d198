#include "config.h"

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct consumer_config, field), min, max                         \
    }
static const struct config_var consumer_config_vars[] = {
    VAR("CONSUMER_PREFETCH", CONFIG_INT, "1000", prefetch, 1, 65535),
    VAR("CONSUMER_BATCH_SIZE", CONFIG_INT, "500", batch_size, 1, 10000),
    VAR("MV_REFRESH_INTERVAL_MS", CONFIG_INT, "500", mv_refresh_interval_ms, 0, 3600000),
    VAR("CONSUMER_MAX_ATTEMPTS", CONFIG_INT, "5", max_attempts, 1, 1000),
    VAR("CONSUMER_EARLY_MAX_ATTEMPTS", CONFIG_INT, "60", early_max_attempts, 1, 100000),
    VAR("CONSUMER_RETRY_DELAY_MS", CONFIG_INT, "1000", retry_delay_ms, 0, 3600000),
    VAR("FAULT_PAUSE_BEFORE_COMMIT_MS", CONFIG_INT, "0", fault_pause_before_commit_ms, 0, 600000),
    VAR("FAULT_PAUSE_AFTER_COMMIT_MS", CONFIG_INT, "0", fault_pause_after_commit_ms, 0, 600000),
    VAR("FAULT_ABORT_ON_MARKER", CONFIG_STRING, "", fault_abort_marker, 0, 0),
    /* processed_events rows (the deduplication record) are kept this long, then purged by the
     * refresher thread every CONSUMER_PURGE_INTERVAL_MS (docs/reliability.md) */
    VAR("PROCESSED_EVENTS_RETENTION", CONFIG_STRING, "7 days", processed_events_retention, 0, 0),
    VAR("CONSUMER_PURGE_INTERVAL_MS", CONFIG_INT, "5000", purge_interval_ms, 0, 86400000),
    /* the queue readings for the dashboard (status.h) */
    VAR("CONSUMER_STATUS_INTERVAL_MS", CONFIG_INT, "1000", status_interval_ms, 100, 60000),
    /* with CONSUMER_PARTITIONS > 1: how long a consumer's claim on its partitions lasts unless
     * renewed (every third of it); a consumer that dies gives its partitions up after this
     * (partitions.h) */
    VAR("CONSUMER_PARTITION_LEASE_MS", CONFIG_INT, "6000", partition_lease_ms, 300, 600000),
};
#undef VAR
const struct config_table consumer_config_table = CONFIG_TABLE(consumer_config_vars);
