/* config: the relay's own variables (the ones every daemon reads are lib/service/daemon.h's, the
 * domain's names lib/domain's), one declaration each, loaded once into a read-only struct. */
#ifndef CQ_RELAY_CONFIG_H
#define CQ_RELAY_CONFIG_H

#include "base/config.h"
#include "domain/domain.h"

#include <stddef.h>

struct relay_config {
    const char *notify_mode; /* RELAY_NOTIFY_MODE: idle or always */
    long batch_size;
    long poll_interval_ms;
    long status_interval_ms;
    long confirm_timeout_ms;
    long max_in_flight;
    long lease_ms;
    const char *outbox_retention;
    long purge_interval_ms;
    long fault_pause_after_publish_ms; /* test-only fault hook */
    struct domain_idempotency idem;    /* IDEMPOTENCY_KEY_TTL_S (lib/domain) */
};

extern const struct config_table relay_config_table;

/* After the table was loaded: checks RELAY_NOTIFY_MODE and loads IDEMPOTENCY_KEY_TTL_S. Returns 0,
 * or -1 with err naming the variable. (OUTBOX_RETENTION is checked by the database once
 * connected: purge.h.) */
__attribute__((warn_unused_result)) int relay_config_check(void *cfg, char *err, size_t errlen);

#endif
