#include "config.h"

#include <stdio.h>
#include <string.h>

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct relay_config, field), min, max                            \
    }
static const struct config_var relay_config_vars[] = {
    VAR("RELAY_NOTIFY_MODE", CONFIG_STRING, "idle", notify_mode, 0, 0),
    VAR("RELAY_BATCH_SIZE", CONFIG_INT, "1000", batch_size, 1, 10000),
    VAR("RELAY_POLL_INTERVAL_MS", CONFIG_INT, "250", poll_interval_ms, 10, 60000),
    /* the leader's status message to the read side (status.h) */
    VAR("RELAY_STATUS_INTERVAL_MS", CONFIG_INT, "1000", status_interval_ms, 100, 60000),
    VAR("RELAY_CONFIRM_TIMEOUT_MS", CONFIG_INT, "30000", confirm_timeout_ms, 100, 600000),
    VAR("RELAY_MAX_IN_FLIGHT", CONFIG_INT, "32", max_in_flight, 1, 64),
    /* a frozen leader is replaced within this; the leader renews every third of it */
    VAR("RELAY_LEASE_MS", CONFIG_INT, "5000", lease_ms, 300, 600000),
    VAR("OUTBOX_RETENTION", CONFIG_STRING, "7 days", outbox_retention, 0, 0),
    VAR("RELAY_PURGE_INTERVAL_MS", CONFIG_INT, "5000", purge_interval_ms, 100, 3600000),
    VAR("FAULT_PAUSE_AFTER_PUBLISH_MS", CONFIG_INT, "0", fault_pause_after_publish_ms, 0, 600000),
};
#undef VAR
const struct config_table relay_config_table = CONFIG_TABLE(relay_config_vars);

int relay_config_check(void *cfg, char *err, size_t errlen)
{
    struct relay_config *c = cfg;

    if (domain_idempotency_load(&c->idem, err, errlen) != 0)
        return -1;
    if (strcmp(c->notify_mode, "idle") != 0 && strcmp(c->notify_mode, "always") != 0) {
        snprintf(err, errlen, "invalid value for RELAY_NOTIFY_MODE: expected idle or always");
        return -1;
    }
    return 0;
}
